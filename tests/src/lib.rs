//! End-to-end suites shared by the test binaries in `tests/tests/` and `cli/tests/`:
//! [`store_contract`] is the one behaviour every [`ApprovalStore`](cavra_core::store::ApprovalStore)
//! adapter must show; [`http_suite`] and [`original_cases`] drive any deployment of the nine
//! routes over HTTP, configured by a [`deployment::Setup`]; [`lambda`] runs the function
//! binaries under a Lambda runtime emulator and [`emulator`] gives each test its own DynamoDB
//! table on the AWS emulator; [`fixtures`] builds decisions and records.

pub mod deployment;
pub mod emulator;
pub mod fixtures;
pub mod http_suite;
pub mod lambda;
pub mod original_cases;
pub mod store_contract;
pub mod workspace;
