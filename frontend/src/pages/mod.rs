//! The console's screens, one per route.

pub mod break_glass;
pub mod detail;
pub mod queue;
pub mod session;
