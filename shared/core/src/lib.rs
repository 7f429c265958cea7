//! `cavra-core`: the CAVRA Approvals domain.
//!
//! Decisions from the policy engine become approval requests ([`approval::Approval`]); they are
//! routed to approver groups ([`routing`]), decided by actors whose identity ([`identity`],
//! [`oidc`]) and rights ([`rbac`]) are checked, and every change is a hash-chained history entry
//! ([`history`]). The state machine lives in [`workflow`] as pure functions; [`service`] runs it
//! against the ports in [`store`] and [`time`]. [`notify`] builds the providers' notification
//! payloads and request specs. No I/O happens here beyond reading the
//! configuration files users name, so the crate also builds for `wasm32-unknown-unknown` (without
//! its default features `runtime` and `oidc`, as the console uses it).

// Issue E §6: outside input never panics here. Tests may unwrap.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

pub mod action;
pub mod approval;
pub mod chain_key;
pub mod decision;
pub mod digest;
pub mod error;
pub mod evidence;
pub mod files;
pub mod groups;
pub mod history;
pub mod identity;
pub mod ids;
pub mod integrity;
pub mod memory;
pub mod notify;
#[cfg(feature = "oidc")]
pub mod oidc;
pub mod policy;
pub mod ports;
pub mod rbac;
pub mod routing;
pub mod service;
pub mod store;
pub mod text;
pub mod time;
pub mod workflow;
