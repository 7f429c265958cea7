//! JSON file store.
