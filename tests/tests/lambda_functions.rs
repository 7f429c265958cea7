//! The HTTP suites against the real function binaries: each route's binary runs under the
//! Lambda runtime emulator (`cargo lambda watch --only-lambda-apis`), on a DynamoDB table of
//! its own on the AWS emulator, with OIDC and RBAC configured as in the cloud. Requests
//! arrive as function-URL events that `lambda_http` parses inside each binary.

use cavra_e2e::deployment::{Deployment, Setup};
use cavra_e2e::emulator;
use cavra_e2e::http_suite::{self, Api, FunctionUrls};
use cavra_e2e::lambda::LambdaFunctions;
use cavra_e2e::original_cases;

/// Instances per function: more than one, so racing decisions run in separate processes.
const INSTANCES: usize = 3;

async fn deploy(setup: Setup) -> Deployment {
    let client = emulator::dynamodb_client();
    let table = emulator::fresh_table(&client, "lambda").await;
    let store_env = emulator::table_env(&table);
    let functions = LambdaFunctions::start(&setup, &store_env, INSTANCES);
    Deployment {
        api: Api::new(FunctionUrls(functions.base.clone())),
        console_base: None,
        store_mode: "dynamodb",
        guard: Box::new(functions),
    }
}

#[tokio::test]
async fn the_seed_flow_through_the_functions() {
    let deployment = deploy(Setup::suite()).await;
    http_suite::seed_flow(&deployment.api).await;
}

#[tokio::test]
async fn the_negative_cases_through_the_functions() {
    let deployment = deploy(Setup::suite()).await;
    http_suite::negative_cases(&deployment.api).await;
}

#[tokio::test]
async fn original_cases_23_to_34_through_the_functions() {
    original_cases::run(deploy).await;
}
