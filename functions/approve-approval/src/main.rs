//! `POST /approvals/{approval_id}/approve` as its own Lambda function.

use cavra_api::Route;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    cavra_lambda::serve(Route::Approve).await
}
