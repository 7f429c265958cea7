//! Parts the pages share.

pub mod decision_dialog;
pub mod fields;
pub mod focus_trap;
pub mod icon;
pub mod lead;
pub mod notice;
pub mod state_badge;
pub mod token_form;
