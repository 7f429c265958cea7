//! Mapping between [`Approval`] records and `approvals` rows, and the list statements.

use std::path::Path;

use cavra_core::approval::{Approval, ApprovalState};
use cavra_core::store::{ListQuery, StoreError};
use rusqlite::types::Value;
use rusqlite::{Connection, Params};

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
     requested_at_us, expires_at_us";

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

    /// `INSERT`s the row.
    pub(crate) fn insert(&self, conn: &Connection) -> rusqlite::Result<usize> {
        let sql = format!(
            "INSERT INTO approvals ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
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
        ])
    }

    /// Overwrites every column of the stored row if it still has `expected_version` and
    /// `expected_state`; returns the number of rows changed (0 or 1).
    pub(crate) fn update_if(
        &self,
        conn: &Connection,
        expected_version: i64,
        expected_state: ApprovalState,
    ) -> rusqlite::Result<usize> {
        let sql = "UPDATE approvals SET decision_id = ?2, session_id = ?3, state = ?4, approver_group = ?5, \
                   requested_by = ?6, requested_at = ?7, expires_at = ?8, decided_by = ?9, decided_at = ?10, \
                   external_ref = ?11, break_glass = ?12, payload = ?13, version = ?14, decision_digest = ?15, \
                   requested_at_us = ?16, expires_at_us = ?17 \
                   WHERE approval_id = ?1 AND version = ?18 AND state = ?19";
        conn.prepare_cached(sql)?.execute(rusqlite::params![
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
            expected_version,
            expected_state.as_str(),
        ])
    }
}

/// Runs a `SELECT approval_id, version, payload …` and decodes every row.
pub(crate) fn read_approvals<P: Params>(
    conn: &Connection,
    path: &Path,
    sql: &str,
    params: P,
) -> Result<Vec<Approval>, StoreError> {
    let mut statement = conn
        .prepare_cached(sql)
        .map_err(|e| sql_error(path, "preparing a read of", e))?;
    let mut rows = statement
        .query(params)
        .map_err(|e| sql_error(path, "reading", e))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| sql_error(path, "reading", e))? {
        out.push(decode_row(path, row)?);
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

/// Like [`read_approvals`] for lists: a row that does not decode is left out and its id
/// returned (issue E §6), so one bad row never fails a whole page.
pub(crate) fn read_approvals_lenient<P: Params>(
    conn: &Connection,
    path: &Path,
    sql: &str,
    params: P,
) -> Result<(Vec<Approval>, Vec<String>), StoreError> {
    let mut statement = conn
        .prepare_cached(sql)
        .map_err(|e| sql_error(path, "preparing a read of", e))?;
    let mut rows = statement
        .query(params)
        .map_err(|e| sql_error(path, "reading", e))?;
    let mut out = Vec::new();
    let mut unreadable = Vec::new();
    while let Some(row) = rows.next().map_err(|e| sql_error(path, "reading", e))? {
        match decode_row(path, row) {
            Ok(approval) => out.push(approval),
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
    pub(crate) fn page(query: &ListQuery) -> Self {
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
        if let Some(cursor) = &query.cursor {
            // (t < T) OR (t = T AND id > I), written so that `t <= T` bounds the index range.
            conditions.push("requested_at_us <= ? AND (requested_at_us < ? OR approval_id > ?)");
            params.push(Value::Integer(cursor.requested_at_us));
            params.push(Value::Integer(cursor.requested_at_us));
            params.push(Value::Text(cursor.approval_id.clone()));
        }
        let mut sql = String::from(crate::SELECT_RECORD);
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
