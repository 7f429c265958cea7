//! `POST /approvals/{approval_id}/deliver` as its own Lambda function.

use cavra_api::Route;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    cavra_lambda::serve(Route::Deliver).await
}
