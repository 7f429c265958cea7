//! End-to-end suites shared by the test binaries in `tests/tests/`:
//! [`store_contract`] is the one behaviour every [`ApprovalStore`](cavra_core::store::ApprovalStore)
//! adapter must show, and [`fixtures`] builds decisions and records.

pub mod emulator;
pub mod fixtures;
pub mod http_suite;
pub mod store_contract;
