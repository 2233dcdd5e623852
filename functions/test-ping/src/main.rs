#[shared::tokio::main(flavor = "current_thread", crate = "shared::tokio")]
async fn main() -> Result<(), shared::lambda_http::Error> {
    // The outbound client's root store (the system's certificates, parsed) is built during init.
    shared::run_prepared(test_ping::handle, |app| {
        let _ = app.deliverer();
    })
    .await
}
