//! The cavra CLI.
fn main() {}
