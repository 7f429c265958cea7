//! `POST /approvals/{approval_id}/consume` as its own Lambda function (issue F §2).

use cavra_api::Route;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    cavra_lambda::serve(Route::Consume).await
}
