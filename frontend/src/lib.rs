//! `cavra-console`: the approvers' console, a Yew single-page app.
//!
//! [`app`] holds the routes; [`pages`] the four screens (queue, one request's audit detail,
//! break-glass, session); [`components`] the parts they share (the decision dialog, state
//! badges, error notices); [`api`] the typed client. Everything that can be decided without a
//! browser — formatting ([`format`]), state labels ([`states`]), token display ([`token`]),
//! form checks and request bodies ([`forms`]), queue filters ([`queue_query`]) and audit
//! checks ([`audit`]) — is plain functions with native unit tests.
//!
//! The console never pretends (CONTRACT §9): a failed call shows the server's message and
//! nothing changes on screen until the server says it changed.

pub mod api;
pub mod app;
pub mod audit;
pub mod components;
pub mod format;
pub mod forms;
pub mod lead;
pub mod pages;
pub mod queue_query;
pub mod session;
pub mod states;
pub mod token;

#[cfg(test)]
mod testing;
