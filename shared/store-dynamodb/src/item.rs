//! Pure mapping between [`Approval`] records and DynamoDB items: the record item with its GSI
//! keys, the open-decision guard item, the list sort key, and how a transaction's cancellation
//! reasons read. No I/O here; everything is unit-tested below.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason};
use cavra_core::approval::{Approval, ApprovalState};
use cavra_core::store::{ListQuery, StoreError};

/// An item as the SDK holds it.
pub type Item = HashMap<String, AttributeValue>;

/// The table's hash key.
pub const PK: &str = "pk";
/// What an item is: [`KIND_APPROVAL`] or [`KIND_OPEN_DECISION`].
pub const KIND: &str = "kind";
/// The hash key of `gsi_all`: the same value on every record.
pub const ALL_PK: &str = "all_pk";
/// The record's state; hash key of `gsi_state` and `gsi_expiry`.
pub const STATE: &str = "state";
/// The record's approver group; hash key of `gsi_group`.
pub const GROUP: &str = "approver_group";
/// `"{state}#{approver_group}"`; hash key of `gsi_state_group`.
pub const STATE_GROUP: &str = "state_group";
/// The list order as one string; range key of the four list indexes.
pub const SORT: &str = "sort";
/// `expires_at` in epoch microseconds; range key of `gsi_expiry`.
pub const EXPIRES_AT_US: &str = "expires_at_us";
/// `requested_at` in epoch microseconds (informational; the order is in [`SORT`]).
pub const REQUESTED_AT_US: &str = "requested_at_us";
/// The approval id.
pub const APPROVAL_ID: &str = "approval_id";
/// The decision id.
pub const DECISION_ID: &str = "decision_id";
/// The compare-and-set counter (authoritative over the copy inside [`RECORD`]).
pub const VERSION: &str = "version";
/// The full record as JSON with sorted keys.
pub const RECORD: &str = "record";

/// [`KIND`] of a record item.
pub const KIND_APPROVAL: &str = "approval";
/// [`KIND`] of a guard item.
pub const KIND_OPEN_DECISION: &str = "open_decision";
/// The one [`ALL_PK`] value.
pub const ALL_PK_VALUE: &str = "approval";

/// The list indexes and the overdue index.
pub const GSI_ALL: &str = "gsi_all";
/// Lists filtered by state.
pub const GSI_STATE: &str = "gsi_state";
/// Lists filtered by approver group.
pub const GSI_GROUP: &str = "gsi_group";
/// Lists filtered by state and approver group.
pub const GSI_STATE_GROUP: &str = "gsi_state_group";
/// Pending records by expiry.
pub const GSI_EXPIRY: &str = "gsi_expiry";

/// The record item's key value for `approval_id`.
pub fn record_pk(approval_id: &str) -> String {
    format!("approval#{approval_id}")
}

/// The guard item's key value for `decision_id`: the item exists while the decision has an
/// open (`pending`) request, and names it.
pub fn guard_pk(decision_id: &str) -> String {
    format!("open#{decision_id}")
}

/// `{PK: value}`, the key of one item.
pub fn key(pk: String) -> Item {
    HashMap::from([(PK.to_owned(), AttributeValue::S(pk))])
}

/// The list sort key: ascending order of this string is the port's list order
/// (`requested_at` descending, then `approval_id` ascending). The time part is
/// `u64::MAX - (requested_at_us with its sign bit flipped)`, zero-padded to 20 digits, so every
/// `i64` microsecond value keeps its (reversed) order under string comparison.
pub fn sort_key(requested_at_us: i64, approval_id: &str) -> String {
    let ordered = (requested_at_us as u64) ^ (1 << 63);
    format!("{:020}#{approval_id}", u64::MAX.saturating_sub(ordered))
}

/// The record as JSON text with sorted keys.
pub fn record_json(approval: &Approval) -> Result<String, StoreError> {
    serde_json::to_string(&approval.to_sorted_value()).map_err(|e| {
        StoreError::Unexpected(anyhow::Error::new(e).context(format!(
            "could not serialise approval {}",
            approval.approval_id
        )))
    })
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The record item: key, GSI keys, the fields conditions test, and the full record JSON.
/// An empty approver group (never produced by routing) leaves the record out of the two
/// group indexes instead of failing: DynamoDB refuses empty strings as index keys.
pub fn to_item(approval: &Approval) -> Result<Item, StoreError> {
    let mut item = HashMap::from([
        (PK.to_owned(), s(record_pk(&approval.approval_id))),
        (KIND.to_owned(), s(KIND_APPROVAL)),
        (ALL_PK.to_owned(), s(ALL_PK_VALUE)),
        (STATE.to_owned(), s(approval.state.as_str())),
        (
            SORT.to_owned(),
            s(sort_key(
                approval.requested_at.unix_micros(),
                &approval.approval_id,
            )),
        ),
        (
            EXPIRES_AT_US.to_owned(),
            n(approval.expires_at.unix_micros()),
        ),
        (
            REQUESTED_AT_US.to_owned(),
            n(approval.requested_at.unix_micros()),
        ),
        (APPROVAL_ID.to_owned(), s(&approval.approval_id)),
        (DECISION_ID.to_owned(), s(&approval.decision_id)),
        (VERSION.to_owned(), n(approval.version)),
        (RECORD.to_owned(), s(record_json(approval)?)),
    ]);
    if !approval.approver_group.is_empty() {
        item.insert(GROUP.to_owned(), s(&approval.approver_group));
        item.insert(
            STATE_GROUP.to_owned(),
            s(state_group(approval.state, &approval.approver_group)),
        );
    }
    Ok(item)
}

/// `gsi_state_group`'s hash key value. State names contain no `#`, so the first `#` splits it.
pub fn state_group(state: ApprovalState, group: &str) -> String {
    format!("{}#{group}", state.as_str())
}

/// The guard item for a pending `approval`.
pub fn guard_item(approval: &Approval) -> Item {
    HashMap::from([
        (PK.to_owned(), s(guard_pk(&approval.decision_id))),
        (KIND.to_owned(), s(KIND_OPEN_DECISION)),
        (DECISION_ID.to_owned(), s(&approval.decision_id)),
        (APPROVAL_ID.to_owned(), s(&approval.approval_id)),
    ])
}

/// The counter items' `kind`.
pub const KIND_COUNTER: &str = "counter";
/// A counter item's count attribute.
pub const COUNT: &str = "n";

/// The key of the counter item that holds how many records `index` lists (issue G §5): a
/// list page reads it with one GetItem beside its one Query instead of counting the index.
/// Counter items have no index keys, so no list sees them.
pub fn counter_pk(index: &ListIndex) -> String {
    format!("count#{}#{}", index.hash_attribute, index.hash_value)
}

/// The four list indexes a record of `state` and `group` is listed in: all, by state, by
/// group, by both — the counters a write that adds, removes or moves the record changes.
pub fn counted_indexes(state: ApprovalState, group: &str) -> [ListIndex; 4] {
    [
        ListIndex {
            index: GSI_ALL,
            hash_attribute: ALL_PK,
            hash_value: ALL_PK_VALUE.to_owned(),
        },
        ListIndex {
            index: GSI_STATE,
            hash_attribute: STATE,
            hash_value: state.as_str().to_owned(),
        },
        ListIndex {
            index: GSI_GROUP,
            hash_attribute: GROUP,
            hash_value: group.to_owned(),
        },
        ListIndex {
            index: GSI_STATE_GROUP,
            hash_attribute: STATE_GROUP,
            hash_value: state_group(state, group),
        },
    ]
}

/// The counter changes of a write that turns `before` (state, group; `None` for a new
/// record) into `after`: `(counter key, delta)`, the counters both sides share left out.
pub fn counter_deltas(
    before: Option<(ApprovalState, &str)>,
    after: (ApprovalState, &str),
) -> Vec<(String, i64)> {
    // Most writes (votes, deliveries, reminders) keep state and group: nothing to build.
    if before == Some(after) {
        return Vec::new();
    }
    let old: Vec<String> = before
        .map(|(state, group)| {
            counted_indexes(state, group)
                .iter()
                .map(counter_pk)
                .collect()
        })
        .unwrap_or_default();
    let new: Vec<String> = counted_indexes(after.0, after.1)
        .iter()
        .map(counter_pk)
        .collect();
    let mut deltas: Vec<(String, i64)> = old
        .iter()
        .filter(|k| !new.contains(k))
        .map(|k| (k.clone(), -1))
        .collect();
    deltas.extend(
        new.iter()
            .filter(|k| !old.contains(k))
            .map(|k| (k.clone(), 1)),
    );
    deltas
}

/// A counter item's count; `0` for a counter never written (an index nothing was ever listed
/// in). `None` when the item is not a counter (corrupt).
pub fn count_of(item: Option<&Item>) -> Option<u64> {
    let Some(item) = item else {
        return Some(0);
    };
    match item.get(COUNT) {
        // A count below zero can only come from a table written before the counters
        // existed and not recounted (`cavra approval migrate --dynamodb-table`).
        Some(AttributeValue::N(text)) => text.parse::<i64>().ok().map(|n| n.max(0).unsigned_abs()),
        _ => None,
    }
}

/// A string attribute.
pub fn string<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

/// Where an item is, for error messages: the table and the item's key.
pub fn location(table: &str, item: &Item) -> String {
    format!(
        "DynamoDB table {table} item {PK}={}",
        string(item, PK).unwrap_or("<missing>")
    )
}

/// Reads a record item back. Fails with [`StoreError::Corrupt`] naming the table and the
/// item's key when the item is not a readable record.
pub fn from_item(table: &str, item: &Item) -> Result<Approval, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        location: location(table, item),
        detail,
    };
    let pk = string(item, PK).ok_or_else(|| corrupt(format!("no string attribute {PK}")))?;
    let json =
        string(item, RECORD).ok_or_else(|| corrupt(format!("no string attribute {RECORD}")))?;
    let mut approval: Approval = serde_json::from_str(json)
        .map_err(|e| corrupt(format!("{RECORD} is not an approval record: {e}")))?;
    if pk != record_pk(&approval.approval_id) {
        return Err(corrupt(format!(
            "{RECORD} belongs to {}",
            approval.approval_id
        )));
    }
    approval.version = match item.get(VERSION) {
        Some(AttributeValue::N(text)) => text
            .parse()
            .map_err(|_| corrupt(format!("{VERSION} {text} is not a counter")))?,
        _ => return Err(corrupt(format!("no number attribute {VERSION}"))),
    };
    Ok(approval)
}

/// Which index answers a list, and the hash key value to query it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListIndex {
    /// The GSI.
    pub index: &'static str,
    /// Its hash key attribute.
    pub hash_attribute: &'static str,
    /// The value the query's records share.
    pub hash_value: String,
}

impl ListIndex {
    /// The index for `query`'s filters: state and group → `gsi_state_group`, state →
    /// `gsi_state`, group → `gsi_group`, none → `gsi_all`.
    pub fn for_query(query: &ListQuery) -> Self {
        let (index, hash_attribute, hash_value) = match (query.state, &query.approver_group) {
            (Some(state), Some(group)) => (GSI_STATE_GROUP, STATE_GROUP, state_group(state, group)),
            (Some(state), None) => (GSI_STATE, STATE, state.as_str().to_owned()),
            (None, Some(group)) => (GSI_GROUP, GROUP, group.clone()),
            (None, None) => (GSI_ALL, ALL_PK, ALL_PK_VALUE.to_owned()),
        };
        Self {
            index,
            hash_attribute,
            hash_value,
        }
    }
}

/// How one item of a transaction ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// Not the cause (`None`).
    Passed,
    /// Its condition failed; the item as it was, when the request asked for it and it exists.
    ConditionFailed(Option<Item>),
    /// Another transaction had the item (`TransactionConflict`): worth retrying.
    Conflict,
    /// Any other code (throttling, validation, size limits).
    Other(String),
}

/// Reads the SDK's cancellation reasons, one per transaction item, in order.
pub fn reasons(reasons: &[CancellationReason]) -> Vec<Reason> {
    reasons
        .iter()
        .map(|r| match r.code() {
            None | Some("None") => Reason::Passed,
            Some("ConditionalCheckFailed") => Reason::ConditionFailed(r.item().cloned()),
            Some("TransactionConflict") => Reason::Conflict,
            Some(other) => Reason::Other(other.to_owned()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use cavra_core::store::Cursor;
    use cavra_core::time::Timestamp;
    use serde_json::json;

    fn record(id: &str, state: ApprovalState, group: &str, requested_at: &str) -> Approval {
        let requested: Timestamp = requested_at.parse().unwrap();
        let mut approval: Approval = serde_json::from_value(json!({
            "schema_version": "cavra.approval.v1", "product": "CAVRA", "approval_id": id,
            "decision_id": "dec_1", "session_id": "local", "correlation_id": null, "state": "pending",
            "approver_group": group, "requested_by": "developer", "requested_at": requested.to_string(),
            "expires_at": requested.plus_hours(24).to_string(),
            "decision": {"decision_id": "dec_1", "decision": "require_approval"},
            "history": [], "evidence_refs": [format!("approval://{id}")], "version": 3,
        }))
        .unwrap();
        approval.state = state;
        approval
    }

    #[test]
    fn a_new_record_counts_once_in_each_of_its_four_lists() {
        // GIVEN a new pending IAM record WHEN its counter changes are computed
        let deltas = counter_deltas(None, (ApprovalState::Pending, "IAM"));
        // THEN all, state, group and state+group each gain one
        assert_eq!(
            deltas,
            vec![
                ("count#all_pk#approval".to_owned(), 1),
                ("count#state#pending".to_owned(), 1),
                ("count#approver_group#IAM".to_owned(), 1),
                ("count#state_group#pending#IAM".to_owned(), 1),
            ]
        );
    }

    #[test]
    fn a_state_change_moves_the_record_between_state_counters_only() {
        // GIVEN a pending IAM record that becomes approved
        let deltas = counter_deltas(
            Some((ApprovalState::Pending, "IAM")),
            (ApprovalState::Approved, "IAM"),
        );
        // THEN the state and state+group counters move; all and group stay
        assert_eq!(
            deltas,
            vec![
                ("count#state#pending".to_owned(), -1),
                ("count#state_group#pending#IAM".to_owned(), -1),
                ("count#state#approved".to_owned(), 1),
                ("count#state_group#approved#IAM".to_owned(), 1),
            ]
        );
        // AND a change that keeps state and group changes no counter
        assert!(
            counter_deltas(
                Some((ApprovalState::Pending, "IAM")),
                (ApprovalState::Pending, "IAM")
            )
            .is_empty()
        );
    }

    #[test]
    fn a_counter_reads_as_its_count_zero_when_absent_and_never_below_zero() {
        let counter = |n: &str| HashMap::from([(COUNT.to_owned(), AttributeValue::N(n.into()))]);
        assert_eq!(count_of(None), Some(0));
        assert_eq!(count_of(Some(&counter("42"))), Some(42));
        assert_eq!(count_of(Some(&counter("-3"))), Some(0));
        assert_eq!(
            count_of(Some(&HashMap::from([(
                COUNT.to_owned(),
                AttributeValue::S("x".into())
            )]))),
            None
        );
        // a hostile group name cannot reach another index's counter: the attribute name is
        // part of the key
        assert_ne!(
            counter_pk(&ListIndex::for_query(&ListQuery::new(
                None,
                Some("pending#IAM".into()),
                None,
                None
            ))),
            counter_pk(&ListIndex::for_query(&ListQuery::new(
                Some(ApprovalState::Pending),
                Some("IAM".into()),
                None,
                None
            )))
        );
    }

    #[test]
    fn a_record_item_carries_its_keys_the_index_keys_and_the_full_record() {
        // GIVEN a pending record
        let approval = record(
            "apr_000000000001",
            ApprovalState::Pending,
            "IAM",
            "2026-05-18T12:00:00+00:00",
        );
        // WHEN it is mapped to an item
        let item = to_item(&approval).unwrap();
        // THEN the key, the index keys and the conditions' fields are attributes
        assert_eq!(string(&item, PK), Some("approval#apr_000000000001"));
        assert_eq!(string(&item, ALL_PK), Some("approval"));
        assert_eq!(string(&item, STATE), Some("pending"));
        assert_eq!(string(&item, GROUP), Some("IAM"));
        assert_eq!(string(&item, STATE_GROUP), Some("pending#IAM"));
        assert_eq!(
            item[EXPIRES_AT_US],
            AttributeValue::N(approval.expires_at.unix_micros().to_string())
        );
        assert_eq!(item[VERSION], AttributeValue::N("3".into()));
        assert_eq!(
            string(&item, SORT),
            Some(sort_key(approval.requested_at.unix_micros(), "apr_000000000001").as_str())
        );
        // AND the record JSON has sorted keys and reads back as the same record
        let json = string(&item, RECORD).unwrap();
        assert!(json.starts_with("{\"approval_id\":"), "{json}");
        assert_eq!(from_item("t", &item).unwrap(), approval);
    }

    #[test]
    fn the_version_attribute_is_authoritative_when_reading_back() {
        let approval = record(
            "apr_000000000001",
            ApprovalState::Approved,
            "IAM",
            "2026-05-18T12:00:00+00:00",
        );
        let mut item = to_item(&approval).unwrap();
        item.insert(VERSION.into(), AttributeValue::N("7".into()));
        assert_eq!(from_item("t", &item).unwrap().version, 7);
    }

    #[test]
    fn an_empty_group_leaves_the_record_out_of_the_group_indexes() {
        let approval = record(
            "apr_000000000001",
            ApprovalState::Pending,
            "",
            "2026-05-18T12:00:00+00:00",
        );
        let item = to_item(&approval).unwrap();
        assert!(!item.contains_key(GROUP) && !item.contains_key(STATE_GROUP));
        assert_eq!(from_item("t", &item).unwrap(), approval);
    }

    #[test]
    fn a_guard_names_the_open_request_of_its_decision() {
        let approval = record(
            "apr_000000000009",
            ApprovalState::Pending,
            "IAM",
            "2026-05-18T12:00:00+00:00",
        );
        let guard = guard_item(&approval);
        assert_eq!(string(&guard, PK), Some("open#dec_1"));
        assert_eq!(string(&guard, APPROVAL_ID), Some("apr_000000000009"));
        // a guard has no index keys, so no list or sweep ever sees it
        for index_key in [ALL_PK, STATE, GROUP, STATE_GROUP, SORT, EXPIRES_AT_US] {
            assert!(!guard.contains_key(index_key), "{index_key}");
        }
    }

    #[test]
    fn unreadable_items_are_corrupt_and_name_the_item() {
        let approval = record(
            "apr_000000000001",
            ApprovalState::Pending,
            "IAM",
            "2026-05-18T12:00:00+00:00",
        );
        let good = to_item(&approval).unwrap();
        let cases: Vec<(&str, Item)> = vec![
            ("no string attribute record", {
                let mut i = good.clone();
                i.remove(RECORD);
                i
            }),
            ("record is not an approval record", {
                let mut i = good.clone();
                i.insert(
                    RECORD.into(),
                    AttributeValue::S("{\"approval_id\": 3".into()),
                );
                i
            }),
            ("record belongs to apr_000000000001", {
                let mut i = good.clone();
                i.insert(
                    PK.into(),
                    AttributeValue::S("approval#apr_00000000beef".into()),
                );
                i
            }),
            ("version x is not a counter", {
                let mut i = good.clone();
                i.insert(VERSION.into(), AttributeValue::N("x".into()));
                i
            }),
            ("no number attribute version", {
                let mut i = good.clone();
                i.insert(VERSION.into(), AttributeValue::S("1".into()));
                i
            }),
        ];
        for (expected, item) in cases {
            match from_item("approvals", &item) {
                Err(StoreError::Corrupt { location, detail }) => {
                    assert!(detail.contains(expected), "{detail} vs {expected}");
                    assert!(location.starts_with("DynamoDB table approvals item pk=approval#apr_"));
                }
                other => panic!("{expected}: {other:?}"),
            }
        }
    }

    #[test]
    fn sort_keys_order_as_the_port_lists() {
        // GIVEN times across the whole i64 range, and ties broken by id
        let times = [
            i64::MIN,
            -1_000_000,
            -1,
            0,
            1,
            1_779_105_600_000_000,
            i64::MAX,
        ];
        let mut pairs = Vec::new();
        for t in times {
            for id in ["apr_0", "apr_00", "apr_1", "apr_a"] {
                pairs.push((t, id));
            }
        }
        // WHEN sorted by their sort keys as strings
        let mut by_key = pairs.clone();
        by_key.sort_by_key(|(t, id)| sort_key(*t, id));
        // THEN the order is requested_at descending, then approval_id ascending
        let mut expected = pairs;
        expected.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        assert_eq!(by_key, expected);
        assert!(sort_key(0, "x").starts_with("09223372036854775807#"));
    }

    #[test]
    fn a_cursor_position_is_exclusive_under_the_sort_key() {
        // "sort > key(cursor)" is exactly Cursor::precedes.
        let cursor = Cursor {
            requested_at_us: 5,
            approval_id: "apr_b".into(),
        };
        let bound = sort_key(cursor.requested_at_us, &cursor.approval_id);
        for (t, id, after) in [
            (5, "apr_a", false),
            (5, "apr_b", false),
            (5, "apr_c", true),
            (4, "apr_a", true),
            (6, "apr_z", false),
        ] {
            assert_eq!(sort_key(t, id) > bound, after, "{t} {id}");
        }
    }

    #[test]
    fn each_filter_shape_has_its_index() {
        let q = |state, group: Option<&str>| {
            ListIndex::for_query(&ListQuery::new(state, group.map(str::to_owned), None, None))
        };
        assert_eq!(q(None, None).index, GSI_ALL);
        assert_eq!(q(None, None).hash_value, "approval");
        assert_eq!(q(Some(ApprovalState::Denied), None).index, GSI_STATE);
        assert_eq!(q(Some(ApprovalState::Denied), None).hash_value, "denied");
        assert_eq!(q(None, Some("IAM")).index, GSI_GROUP);
        let both = q(
            Some(ApprovalState::BreakGlass),
            Some("Change Advisory Board"),
        );
        assert_eq!(
            (both.index, both.hash_attribute, both.hash_value.as_str()),
            (
                GSI_STATE_GROUP,
                STATE_GROUP,
                "break_glass#Change Advisory Board"
            )
        );
    }

    #[test]
    fn cancellation_reasons_read_in_item_order() {
        let old = key("approval#apr_1".into());
        let reasons = reasons(&[
            CancellationReason::builder().code("None").build(),
            CancellationReason::builder()
                .code("ConditionalCheckFailed")
                .set_item(Some(old.clone()))
                .build(),
            CancellationReason::builder()
                .code("ConditionalCheckFailed")
                .build(),
            CancellationReason::builder()
                .code("TransactionConflict")
                .build(),
            CancellationReason::builder()
                .code("ThrottlingError")
                .build(),
            CancellationReason::builder().build(),
        ]);
        assert_eq!(
            reasons,
            vec![
                Reason::Passed,
                Reason::ConditionFailed(Some(old)),
                Reason::ConditionFailed(None),
                Reason::Conflict,
                Reason::Other("ThrottlingError".into()),
                Reason::Passed,
            ]
        );
    }
}
