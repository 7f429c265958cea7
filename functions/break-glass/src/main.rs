//! `POST /approvals/break-glass` as its own Lambda function.

use cavra_api::Route;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    cavra_lambda::serve(Route::BreakGlass).await
}
