#[shared::tokio::main(flavor = "current_thread", crate = "shared::tokio")]
async fn main() -> Result<(), shared::lambda_http::Error> {
    shared::run(recover_webhook::handle).await
}
