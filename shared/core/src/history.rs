//! The tamper-evident history chain (CONTRACT §6).
//!
//! Each entry carries `prev_hash` (the previous entry's `hash`; 64 zeros for the first) and
//! `hash` = SHA-256 over the text `prev_hash` followed by the entry's canonical JSON (RFC 8785)
//! without its `hash` key. Changing, dropping, inserting or reordering any entry breaks every
//! hash after it.

use serde::Serialize;

use crate::approval::HistoryEntry;
use crate::digest::{canonical_json, sha256_hex};

/// The `prev_hash` of a chain's first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[allow(clippy::expect_used)] // history entries always serialise
fn entry_hash(entry: &HistoryEntry) -> String {
    let mut unhashed = entry.clone();
    unhashed.hash = None;
    let prev = unhashed.prev_hash.clone().unwrap_or_default();
    let text = canonical_json(&unhashed).expect("history entries always serialise");
    sha256_hex(format!("{prev}{text}"))
}

/// Links `entry` onto `history` and appends it.
pub fn append(history: &mut Vec<HistoryEntry>, mut entry: HistoryEntry) {
    let prev = history
        .last()
        .and_then(|last| last.hash.clone())
        .unwrap_or_else(|| GENESIS_HASH.to_owned());
    entry.prev_hash = Some(prev);
    entry.hash = None;
    entry.hash = Some(entry_hash(&entry));
    history.push(entry);
}

/// The outcome of recomputing a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// Whether every link holds.
    pub valid: bool,
    /// How many entries were checked.
    pub entries: usize,
    /// The last entry's hash, when valid.
    pub head: Option<String>,
    /// What is wrong, when not valid.
    pub error: Option<String>,
}

/// Recomputes every link of `history`.
pub fn verify(history: &[HistoryEntry]) -> ChainReport {
    let fail = |error: String| ChainReport {
        valid: false,
        entries: history.len(),
        head: None,
        error: Some(error),
    };
    if history.is_empty() {
        return fail("history is empty".to_owned());
    }
    let mut expected_prev = GENESIS_HASH.to_owned();
    for (index, entry) in history.iter().enumerate() {
        let position = index.saturating_add(1);
        let (Some(prev), Some(hash)) = (&entry.prev_hash, &entry.hash) else {
            return fail(format!(
                "history entry {position} ({}) is not hash-chained",
                entry.event
            ));
        };
        if *prev != expected_prev {
            return fail(format!(
                "history entry {position} ({}) does not follow the previous entry",
                entry.event
            ));
        }
        if entry_hash(entry) != *hash {
            return fail(format!(
                "history entry {position} ({}) hash does not match its content",
                entry.event
            ));
        }
        expected_prev.clone_from(hash);
    }
    ChainReport {
        valid: true,
        entries: history.len(),
        head: Some(expected_prev),
        error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    fn chain(n: usize) -> Vec<HistoryEntry> {
        let at: Timestamp = "2026-05-18T12:35:00+00:00".parse().unwrap();
        let mut history = Vec::new();
        for i in 0..n {
            append(
                &mut history,
                HistoryEntry::new("event", &format!("actor-{i}"), at, None),
            );
        }
        history
    }

    #[test]
    fn a_fresh_chain_verifies_and_starts_at_the_genesis_hash() {
        let history = chain(3);
        assert_eq!(history[0].prev_hash.as_deref(), Some(GENESIS_HASH));
        assert_eq!(history[1].prev_hash, history[0].hash);
        let report = verify(&history);
        assert!(report.valid, "{report:?}");
        assert_eq!(report.head, history[2].hash);
    }

    #[test]
    fn editing_an_entry_breaks_the_chain() {
        let mut history = chain(3);
        history[1].reason = Some("rewritten".into());
        let report = verify(&history);
        assert!(!report.valid);
        assert_eq!(
            report.error.as_deref(),
            Some("history entry 2 (event) hash does not match its content")
        );
    }

    #[test]
    fn dropping_or_reordering_entries_breaks_the_chain() {
        let mut dropped = chain(3);
        dropped.remove(1);
        assert!(!verify(&dropped).valid);
        let mut swapped = chain(3);
        swapped.swap(0, 1);
        assert!(!verify(&swapped).valid);
    }

    #[test]
    fn legacy_unchained_history_is_reported_not_accepted() {
        let at: Timestamp = "2026-05-18T12:35:00+00:00".parse().unwrap();
        let report = verify(&[HistoryEntry::new("requested", "dev", at, None)]);
        assert_eq!(
            report.error.as_deref(),
            Some("history entry 1 (requested) is not hash-chained")
        );
    }
}
