#[shared::tokio::main(flavor = "current_thread", crate = "shared::tokio")]
async fn main() -> Result<(), shared::lambda_http::Error> {
    shared::run(resend_event::handle).await
}
