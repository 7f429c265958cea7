//! The expiry sweeper (CONTRACT §4), run on a schedule.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cavra_lambda::serve_sweeper().await
}
