#[shared::tokio::main(flavor = "current_thread", crate = "shared::tokio")]
async fn main() -> Result<(), shared::lambda_http::Error> {
    shared::run(event_types::handle).await
}
