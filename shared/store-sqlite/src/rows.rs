//! Mapping between [`Approval`] records and `approvals` rows, and the list statements.

use std::path::Path;

use cavra_core::approval::{Approval, ApprovalState};
use cavra_core::store::{Cursor, ListQuery, RecordJson, StoreError, record_json};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension as _, Params};
use serde_json::value::RawValue;

use crate::sql_error;

/// Converts a counter to SQLite's integer type.
pub(crate) fn to_i64(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| {
        StoreError::Unexpected(anyhow::anyhow!(
            "{what} {value} does not fit a SQLite integer"
        ))
    })
}

/// Every column of one row, computed from a record.
#[derive(Debug)]
pub(crate) struct NewRow {
    pub(crate) approval_id: String,
    pub(crate) decision_id: String,
    session_id: String,
    state: &'static str,
    approver_group: String,
    requested_by: String,
    requested_at: String,
    expires_at: String,
    decided_by: Option<String>,
    decided_at: Option<String>,
    external_ref: Option<String>,
    break_glass: i64,
    payload: String,
    version: i64,
    decision_digest: Option<String>,
    requested_at_us: i64,
    expires_at_us: i64,
}

const COLUMNS: &str = "approval_id, decision_id, session_id, state, approver_group, requested_by, requested_at, \
     expires_at, decided_by, decided_at, external_ref, break_glass, payload, version, decision_digest, \
     requested_at_us, expires_at_us, payload_version, reserve";

/// The size a row's record is padded to when inserted (migration 007): just over half of a
/// 4 KiB leaf (two cells of 2,043 bytes or more no longer share one), so every record has a
/// leaf to itself and a transition's growth is written in place instead of rebalancing the
/// leaf with its neighbours. SQLite's default page size is 4 KiB and this store never changes
/// it; on larger pages the padding only means fewer records per leaf.
const ROW_FLOOR: usize = 2_048;

impl NewRow {
    /// The row for `approval`; `payload` is the record as JSON with sorted keys.
    pub(crate) fn from_approval(approval: &Approval) -> Result<Self, StoreError> {
        let payload = serde_json::to_string(&approval.to_sorted_value()).map_err(|e| {
            StoreError::Unexpected(anyhow::Error::new(e).context(format!(
                "could not serialise approval {}",
                approval.approval_id
            )))
        })?;
        Ok(Self {
            approval_id: approval.approval_id.clone(),
            decision_id: approval.decision_id.clone(),
            session_id: approval.session_id.clone(),
            state: approval.state.as_str(),
            approver_group: approval.approver_group.clone(),
            requested_by: approval.requested_by.clone(),
            requested_at: approval.requested_at.to_string(),
            expires_at: approval.expires_at.to_string(),
            decided_by: approval.decided_by.clone(),
            decided_at: approval.decided_at.map(|t| t.to_string()),
            external_ref: approval.external_ref.clone(),
            break_glass: i64::from(approval.break_glass.unwrap_or(false)),
            payload,
            version: to_i64(approval.version, "version")?,
            decision_digest: approval.decision_digest.clone(),
            requested_at_us: approval.requested_at.unix_micros(),
            expires_at_us: approval.expires_at.unix_micros(),
        })
    }

    /// The zero bytes that bring this row's record to at least [`ROW_FLOOR`]. The record's
    /// size is estimated from below (its text, one header byte per column, integers at their
    /// narrowest), so the padded record is never under the floor (and over it by the few
    /// dozen bytes of integers and wider header entries).
    fn reserve_len(&self) -> i64 {
        let text = [
            &self.approval_id,
            &self.decision_id,
            &self.session_id,
            &self.approver_group,
            &self.requested_by,
            &self.requested_at,
            &self.expires_at,
            &self.payload,
        ]
        .iter()
        .map(|s| s.len())
        .chain(
            [
                &self.decided_by,
                &self.decided_at,
                &self.external_ref,
                &self.decision_digest,
            ]
            .iter()
            .map(|s| s.as_ref().map_or(0, String::len)),
        )
        .chain([self.state.len()])
        .fold(0_usize, usize::saturating_add);
        // A header byte per column (20) and one for the header's own size.
        let estimate = text.saturating_add(21);
        i64::try_from(ROW_FLOOR.saturating_sub(estimate)).unwrap_or(0)
    }

    /// `INSERT`s the row, padded to [`ROW_FLOOR`].
    pub(crate) fn insert(&self, conn: &Connection) -> rusqlite::Result<usize> {
        let sql = format!(
            "INSERT INTO approvals ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?14, zeroblob(?18))"
        );
        conn.prepare_cached(&sql)?.execute(rusqlite::params![
            self.approval_id,
            self.decision_id,
            self.session_id,
            self.state,
            self.approver_group,
            self.requested_by,
            self.requested_at,
            self.expires_at,
            self.decided_by,
            self.decided_at,
            self.external_ref,
            self.break_glass,
            self.payload,
            self.version,
            self.decision_digest,
            self.requested_at_us,
            self.expires_at_us,
            self.reserve_len(),
        ])
    }

    /// Compare-and-set of the stored row (CONTRACT §1) that writes only what changed: given
    /// the row's version, state and other columns as read in this transaction (`stored`;
    /// `None` when there is no row), and when the version and state are the expected ones,
    /// `UPDATE`s the payload, the version and the columns whose value differs. A column left
    /// out of the `SET` list leaves its indexes untouched (issue H: an approve rewrites the
    /// state-keyed indexes only, not all of them).
    ///
    /// Runs inside the writer's transaction, so nothing moves between the read and the write.
    pub(crate) fn update_changed(
        &self,
        conn: &Connection,
        stored: Option<Stored>,
        expected_version: i64,
        expected_state: ApprovalState,
    ) -> rusqlite::Result<Cas> {
        let Some(Stored {
            version,
            values: stored,
        }) = stored
        else {
            return Ok(Cas::Missing);
        };
        let state_index = MUTABLE.iter().position(|c| *c == "state");
        let stored_state = state_index.and_then(|i| stored.get(i));
        if version != Value::Integer(expected_version)
            || stored_state != Some(&Value::Text(expected_state.as_str().to_owned()))
        {
            return Ok(Cas::Conflict);
        }
        // The payload is this store's, in the API's form, at the new version.
        let mut sql =
            String::from("UPDATE approvals SET payload = ?1, version = ?2, payload_version = ?2");
        let mut params = vec![
            Value::Text(self.payload.clone()),
            Value::Integer(self.version),
        ];
        for ((name, new), old) in MUTABLE.iter().zip(self.mutable_values()).zip(stored) {
            if new != old {
                sql.push_str(", ");
                sql.push_str(name);
                sql.push_str(" = ?");
                params.push(new);
            }
        }
        // The compare stays in the statement too: one more guard, no extra cost.
        sql.push_str(" WHERE approval_id = ? AND version = ? AND state = ?");
        params.push(Value::Text(self.approval_id.clone()));
        params.push(Value::Integer(expected_version));
        params.push(Value::Text(expected_state.as_str().to_owned()));
        let changed = conn
            .prepare_cached(&sql)?
            .execute(rusqlite::params_from_iter(params))?;
        Ok(if changed == 1 {
            Cas::Written
        } else {
            Cas::Conflict
        })
    }

    /// The values of [`MUTABLE`], in its order.
    fn mutable_values(&self) -> [Value; 14] {
        let text = |s: &str| Value::Text(s.to_owned());
        let optional = |s: &Option<String>| s.as_deref().map_or(Value::Null, text);
        [
            text(&self.decision_id),
            text(&self.session_id),
            text(self.state),
            text(&self.approver_group),
            text(&self.requested_by),
            text(&self.requested_at),
            text(&self.expires_at),
            optional(&self.decided_by),
            optional(&self.decided_at),
            optional(&self.external_ref),
            Value::Integer(self.break_glass),
            optional(&self.decision_digest),
            Value::Integer(self.requested_at_us),
            Value::Integer(self.expires_at_us),
        ]
    }
}

/// The outcome of [`NewRow::update_changed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cas {
    /// The row had the expected version and state and now holds the new record.
    Written,
    /// The row's version or state moved on.
    Conflict,
    /// No row has this id.
    Missing,
}

/// Every column but the key, the payload and the version (which every change writes), in the
/// order [`Stored`] holds them after the version.
const MUTABLE: [&str; 14] = [
    "decision_id",
    "session_id",
    "state",
    "approver_group",
    "requested_by",
    "requested_at",
    "expires_at",
    "decided_by",
    "decided_at",
    "external_ref",
    "break_glass",
    "decision_digest",
    "requested_at_us",
    "expires_at_us",
];

/// The columns [`Stored`] holds, in its order (a macro, so the statements below are constants
/// rather than strings formatted on every transition).
macro_rules! stored_columns {
    () => {
        "version, decision_id, session_id, state, approver_group, requested_by, requested_at, \
         expires_at, decided_by, decided_at, external_ref, break_glass, decision_digest, \
         requested_at_us, expires_at_us"
    };
}

/// [`Stored::read`].
const READ_STORED: &str = concat!(
    "SELECT ",
    stored_columns!(),
    " FROM approvals WHERE approval_id = ?1"
);

/// [`read_for_update`]: the record's columns, then [`Stored`]'s.
const READ_FOR_UPDATE: &str = concat!(
    "SELECT approval_id, version, payload, ",
    stored_columns!(),
    " FROM approvals WHERE approval_id = ?1"
);

/// A row's version and [`MUTABLE`] columns as stored: what [`NewRow::update_changed`] compares
/// and diffs against.
#[derive(Debug)]
pub(crate) struct Stored {
    version: Value,
    values: Vec<Value>,
}

impl Stored {
    /// From a row whose column `first` is the version, followed by [`MUTABLE`] in order.
    fn from_row(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<Self> {
        let version = row.get(first)?;
        let mut values = Vec::with_capacity(MUTABLE.len());
        for index in (first.saturating_add(1)..).take(MUTABLE.len()) {
            values.push(row.get::<_, Value>(index)?);
        }
        Ok(Self { version, values })
    }

    /// The stored columns of row `approval_id`, if there is one.
    pub(crate) fn read(conn: &Connection, approval_id: &str) -> rusqlite::Result<Option<Self>> {
        conn.prepare_cached(READ_STORED)?
            .query_row([approval_id], |row| Self::from_row(row, 0))
            .optional()
    }
}

/// Row `approval_id` read once for a transition: the record (decoded as [`read_approvals`]
/// does) and its stored columns.
pub(crate) fn read_for_update(
    conn: &Connection,
    path: &Path,
    approval_id: &str,
) -> Result<Option<(Approval, Stored)>, StoreError> {
    fn decode_for_update(
        path: &Path,
        row: &rusqlite::Row<'_>,
    ) -> Result<(Approval, Stored), StoreError> {
        let record = decode_row(path, row)?;
        let stored =
            Stored::from_row(row, 3).map_err(|e| sql_error(path, "reading a row of", e))?;
        Ok((record, stored))
    }
    Ok(read_rows(
        conn,
        path,
        READ_FOR_UPDATE,
        [approval_id],
        decode_for_update,
    )?
    .pop())
}

/// Runs a `SELECT approval_id, version, payload …` and decodes every row.
pub(crate) fn read_approvals<P: Params>(
    conn: &Connection,
    path: &Path,
    sql: &str,
    params: P,
) -> Result<Vec<Approval>, StoreError> {
    read_rows(conn, path, sql, params, decode_row)
}

/// Runs `sql` and decodes every row with `decode`; the first row that does not decode fails
/// the read.
fn read_rows<P: Params, T>(
    conn: &Connection,
    path: &Path,
    sql: &str,
    params: P,
    decode: fn(&Path, &rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = conn
        .prepare_cached(sql)
        .map_err(|e| sql_error(path, "preparing a read of", e))?;
    let mut rows = statement
        .query(params)
        .map_err(|e| sql_error(path, "reading", e))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| sql_error(path, "reading", e))? {
        out.push(decode(path, row)?);
    }
    Ok(out)
}

fn decode_row(path: &Path, row: &rusqlite::Row<'_>) -> Result<Approval, StoreError> {
    let id: String = row
        .get(0)
        .map_err(|e| sql_error(path, "reading a row of", e))?;
    let version: i64 = row
        .get(1)
        .map_err(|e| sql_error(path, "reading a row of", e))?;
    let payload: String = row
        .get(2)
        .map_err(|e| sql_error(path, "reading a row of", e))?;
    decode(path, &id, version, &payload)
}

/// A record's JSON with its list position.
pub(crate) type Positioned = (Cursor, RecordJson);

/// The columns [`json_of_row`] reads.
pub(crate) const SELECT_JSON: &str =
    "SELECT approval_id, version, payload, payload_version, requested_at_us FROM approvals";

/// Whether `payload`, in this store's form (the record's JSON, keys sorted, compact), says it
/// is record `id` at `version`: sorted keys make `approval_id` its first member and `version`
/// its last. Checked on the text, so a read costs one pass over the payload (the JSON check by
/// the caller), not two; an id JSON would escape never matches and takes the parsing path.
fn stamped(payload: &str, id: &str, version: i64) -> bool {
    let plain = id.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    plain
        && payload
            .strip_prefix("{\"approval_id\":\"")
            .and_then(|rest| rest.strip_prefix(id))
            .is_some_and(|rest| rest.starts_with("\","))
        && payload
            .strip_suffix('}')
            .and_then(|rest| rest.strip_suffix(version.to_string().as_str()))
            .is_some_and(|rest| rest.ends_with(",\"version\":"))
}

/// A row selected by [`SELECT_JSON`] as the API's JSON and its list position (issue H §3).
///
/// The stored payload is answered as it is when this store wrote it at the row's version
/// (`payload_version = version`: then it is the record's sorted, compact JSON) and it still
/// names this record at this version. Anything else (rows of the original program or of an
/// older CAVRA, a payload edited by hand) is parsed and written out again, exactly as
/// [`read_approvals`] would read it, with its errors.
fn json_of_row(path: &Path, row: &rusqlite::Row<'_>) -> Result<Positioned, StoreError> {
    let read = |e| sql_error(path, "reading a row of", e);
    let id: String = row.get(0).map_err(read)?;
    let version: i64 = row.get(1).map_err(read)?;
    let payload: String = row.get(2).map_err(read)?;
    let payload_version: Option<i64> = row.get(3).map_err(read)?;
    let requested_at_us: i64 = row.get(4).map_err(read)?;
    if payload_version == Some(version) && stamped(&payload, &id, version) {
        // One pass: is it one JSON value (then its first and last members are what the text
        // check saw)? If not, the parsing path below says what is wrong.
        match RawValue::from_string(payload) {
            Ok(json) => {
                let cursor = Cursor {
                    requested_at_us,
                    approval_id: id,
                };
                return Ok((cursor, json));
            }
            Err(e) => {
                return Err(StoreError::Corrupt {
                    location: format!("{} approvals/{id}", path.display()),
                    detail: format!("payload is not an approval record: {e}"),
                });
            }
        }
    }
    let approval = decode(path, &id, version, &payload)?;
    Ok((Cursor::after(&approval), record_json(&approval)?))
}

/// One record (a read by primary key) as the API's JSON (see [`json_of_row`]).
pub(crate) fn read_json<P: Params>(
    conn: &Connection,
    path: &Path,
    sql: &str,
    params: P,
) -> Result<Option<RecordJson>, StoreError> {
    Ok(read_rows(conn, path, sql, params, json_of_row)?
        .pop()
        .map(|(_, json)| json))
}

/// Like [`read_approvals_lenient`], as the API's JSON (see [`json_of_row`]).
pub(crate) fn read_json_lenient<P: Params>(
    conn: &Connection,
    path: &Path,
    sql: &str,
    params: P,
) -> Result<(Vec<Positioned>, Vec<String>), StoreError> {
    read_lenient(conn, path, sql, params, json_of_row)
}

/// Like [`read_approvals`] for lists: a row that does not decode is left out and its id
/// returned (issue E §6), so one bad row never fails a whole page.
pub(crate) fn read_approvals_lenient<P: Params>(
    conn: &Connection,
    path: &Path,
    sql: &str,
    params: P,
) -> Result<(Vec<Approval>, Vec<String>), StoreError> {
    read_lenient(conn, path, sql, params, decode_row)
}

/// Runs `sql` and decodes every row with `decode`; a row that does not decode is left out
/// (and logged) and its id returned beside the others.
fn read_lenient<P: Params, T>(
    conn: &Connection,
    path: &Path,
    sql: &str,
    params: P,
    decode: fn(&Path, &rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<(Vec<T>, Vec<String>), StoreError> {
    let mut statement = conn
        .prepare_cached(sql)
        .map_err(|e| sql_error(path, "preparing a read of", e))?;
    let mut rows = statement
        .query(params)
        .map_err(|e| sql_error(path, "reading", e))?;
    let mut out = Vec::new();
    let mut unreadable = Vec::new();
    while let Some(row) = rows.next().map_err(|e| sql_error(path, "reading", e))? {
        match decode(path, row) {
            Ok(item) => out.push(item),
            Err(StoreError::Corrupt { location, detail }) => {
                tracing::warn!(%location, %detail, "skipping an unreadable approval row");
                unreadable.push(row.get::<_, String>(0).unwrap_or(location));
            }
            Err(other) => return Err(other),
        }
    }
    Ok((out, unreadable))
}

/// Parses a stored payload. The `version` column is authoritative (writers that only know the
/// original columns leave the payload's version behind).
fn decode(
    path: &Path,
    approval_id: &str,
    version: i64,
    payload: &str,
) -> Result<Approval, StoreError> {
    let corrupt = |detail: String| StoreError::Corrupt {
        location: format!("{} approvals/{approval_id}", path.display()),
        detail,
    };
    let mut approval: Approval = serde_json::from_str(payload)
        .map_err(|e| corrupt(format!("payload is not an approval record: {e}")))?;
    if approval.approval_id != approval_id {
        return Err(corrupt(format!(
            "payload belongs to {}",
            approval.approval_id
        )));
    }
    approval.version =
        u64::try_from(version).map_err(|_| corrupt(format!("negative version {version}")))?;
    Ok(approval)
}

/// A statement with its parameters.
pub(crate) struct ListSql {
    pub(crate) sql: String,
    pub(crate) params: Vec<Value>,
}

impl ListSql {
    /// The page: filters, then the keyset condition or the offset, in list order, one row more
    /// than the limit (it proves there is a next page).
    /// The page walks the one index whose range holds the filter's rows in list order (named
    /// with `INDEXED BY`, so SQLite refuses the statement rather than ever scanning the table):
    /// pending rows have their own partial index, every other state shares the decided one.
    /// The partial indexes are only usable when the statement repeats their condition as
    /// written, hence the literal `'pending'` terms.
    pub(crate) fn page(query: &ListQuery, select: &str) -> Self {
        let mut conditions = Vec::new();
        let mut params = Vec::new();
        let index = match (query.state, &query.approver_group) {
            (Some(ApprovalState::Pending), _) => {
                conditions.push("state = 'pending'");
                "idx_approvals_pending"
            }
            (Some(state), _) => {
                conditions.push("state <> 'pending' AND state = ?");
                params.push(Value::Text(state.as_str().to_owned()));
                "idx_approvals_decided"
            }
            (None, Some(_)) => "idx_approvals_list_group",
            (None, None) => "idx_approvals_list_all",
        };
        if let Some(group) = &query.approver_group {
            conditions.push("approver_group = ?");
            params.push(Value::Text(group.clone()));
        }
        if let Some(cursor) = &query.cursor {
            // (t < T) OR (t = T AND id > I), written so that `t <= T` bounds the index range.
            conditions.push("requested_at_us <= ? AND (requested_at_us < ? OR approval_id > ?)");
            params.push(Value::Integer(cursor.requested_at_us));
            params.push(Value::Integer(cursor.requested_at_us));
            params.push(Value::Text(cursor.approval_id.clone()));
        }
        let mut sql = format!("{select} INDEXED BY {index}");
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        sql.push_str(" ORDER BY requested_at_us DESC, approval_id ASC LIMIT ? OFFSET ?");
        params.push(Value::Integer(i64::from(query.limit).saturating_add(1)));
        params.push(Value::Integer(i64::from(query.effective_offset())));
        Self { sql, params }
    }

    /// The total for the filters, from the count table.
    pub(crate) fn total(query: &ListQuery) -> Self {
        let mut conditions = Vec::new();
        let mut params = Vec::new();
        if let Some(state) = query.state {
            conditions.push("state = ?");
            params.push(Value::Text(state.as_str().to_owned()));
        }
        if let Some(group) = &query.approver_group {
            conditions.push("approver_group = ?");
            params.push(Value::Text(group.clone()));
        }
        let mut sql = String::from("SELECT COALESCE(SUM(n), 0) FROM approval_counts");
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        Self { sql, params }
    }
}

#[cfg(test)]
mod tests {
    use super::stamped;

    #[test]
    fn the_text_stamp_matches_only_this_stores_form_of_this_record_at_this_version() {
        let ours =
            r#"{"approval_id":"apr_1","history":[{"version":9}],"state":"pending","version":12}"#;
        assert!(stamped(ours, "apr_1", 12));
        for (payload, id, version) in [
            (ours, "apr_", 12),                                         // a prefix of the id
            (ours, "apr_12", 12),                                       // a longer id
            (ours, "apr_1", 2),                                         // a suffix of the version
            (ours, "apr_1", 112),                                       // a longer version
            (ours, "apr_1", -12),                                       // a negative one
            (ours, "apr_1", 9),                                         // a nested version
            (r#"{ "approval_id":"apr_1","version":12}"#, "apr_1", 12),  // not compact
            (r#"{"approval_id":"apr_1","version":12} "#, "apr_1", 12),  // trailing space
            (r#"{"approval_id":"apr_1","version":"12"}"#, "apr_1", 12), // a string version
            (r#"{"approval_id":"apr_1","x":{"version":12}}"#, "apr_1", 12), // nested last
            (r#"{"a":1,"approval_id":"apr_1","version":12}"#, "apr_1", 12), // not first
            (r#"{"approval_id":"apr_1\"","version":12}"#, "apr_1\\", 12), // an escaped id
            (r#"{"approval_id":"a\u0022","version":12}"#, "a\"", 12),   // an id JSON escapes
            ("", "apr_1", 12),
            ("{", "", 0),
        ] {
            assert!(!stamped(payload, id, version), "{payload} {id} {version}");
        }
    }
}
