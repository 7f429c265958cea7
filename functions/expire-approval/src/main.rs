//! `POST /approvals/{approval_id}/expire` as its own Lambda function.

use cavra_api::Route;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    cavra_lambda::serve(Route::Expire).await
}
