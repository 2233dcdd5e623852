#[shared::tokio::main(flavor = "current_thread", crate = "shared::tokio")]
async fn main() -> Result<(), shared::lambda_http::Error> {
    shared::queue::worker::run_sqs(recover::handle).await
}
