//! `cavra-store-json`: the approval store as one JSON file (original §9.1), made safe
//! (CONTRACT §1).
//!
//! The file holds `{"items": [<record>, ...]}` with sorted keys and 2-space indent. Every
//! operation holds a lock on the sidecar `<file>.lock` (shared for reads, exclusive for writes);
//! a write goes to a temporary file in the same folder, is fsynced, renamed over the store and
//! the folder is fsynced, so the file is always either the old or the new complete document —
//! even if the process is killed mid-write.
//!
//! Parsing the whole document on every operation dominates the cost once the file grows, so
//! each handle keeps the last document it read or wrote, keyed by the file's identity (device,
//! inode, length, modification and change times). Every write renames a fresh inode over the
//! store, so a write by any process changes the identity and the next operation re-reads.

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

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;
use async_trait::async_trait;
use cavra_core::approval::{Approval, ApprovalState};
use cavra_core::store::{ApprovalPage, ApprovalStore, ListQuery, StoreError, sort_for_listing};
use cavra_core::time::Timestamp;
use serde_json::Value;

/// The default file of the CLI.
pub const DEFAULT_PATH: &str = ".cavra/approvals.json";

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A JSON file store.
#[derive(Debug, Clone)]
pub struct JsonFileStore {
    path: PathBuf,
    lock_path: PathBuf,
    cache: Arc<Mutex<Option<Cached>>>,
}

/// The last document this handle saw, and the identity of the file it came from.
#[derive(Debug)]
struct Cached {
    stamp: FileStamp,
    records: Arc<Document>,
}

/// The store file's items: the records that read, and (issue E §6) the items that do not,
/// kept verbatim so a write never drops them and a list reports them by id instead of failing.
#[derive(Debug, Clone, Default)]
struct Document {
    records: Vec<Approval>,
    unreadable: Vec<Unreadable>,
}

/// An item that is not an approval record.
#[derive(Debug, Clone)]
struct Unreadable {
    /// Its `approval_id`, or `item N` when it has none.
    id: String,
    raw: Value,
    detail: String,
}

impl Document {
    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.records.is_empty() && self.unreadable.is_empty()
    }

    fn unreadable(&self, id: &str) -> Option<&Unreadable> {
        self.unreadable.iter().find(|u| u.id == id)
    }
}

/// What changes whenever the store file is replaced or edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

/// Seconds and nanoseconds as one nanosecond count (saturating: a file time never overflows
/// an i128, but the arithmetic stays checked).
#[cfg(unix)]
fn nanos(seconds: i64, nanos: i64) -> i128 {
    i128::from(seconds)
        .saturating_mul(1_000_000_000)
        .saturating_add(i128::from(nanos))
}

impl FileStamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime_ns: nanos(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: nanos(meta.ctime(), meta.ctime_nsec()),
        }
    }
}

#[derive(Clone, Copy)]
enum LockMode {
    Shared,
    Exclusive,
}

impl JsonFileStore {
    /// A store at `path` (created on first write; a missing file is an empty store).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut lock_name = path
            .file_name()
            .map(std::ffi::OsStr::to_os_string)
            .unwrap_or_default();
        lock_name.push(".lock");
        let store = Self {
            path: path.to_path_buf(),
            lock_path: path.with_file_name(lock_name),
            cache: Arc::new(Mutex::new(None)),
        };
        // Surface a corrupt file at open, not at the first command that reads it.
        store.with_lock(LockMode::Shared, |_| Ok(()))?;
        Ok(store)
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn shown(&self) -> String {
        self.path.display().to_string()
    }

    fn lock_file(&self, mode: LockMode) -> Result<File, StoreError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&self.lock_path)
            .with_context(|| format!("opening lock file {}", self.lock_path.display()))?;
        match mode {
            LockMode::Shared => file.lock_shared(),
            LockMode::Exclusive => file.lock(),
        }
        .with_context(|| format!("locking {}", self.lock_path.display()))?;
        Ok(file)
    }

    /// The current document; the caller holds the lock.
    fn read_records(&self) -> Result<Arc<Document>, StoreError> {
        let stamp = match std::fs::metadata(&self.path) {
            Ok(meta) => FileStamp::of(&meta),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Arc::default()),
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("reading {}", self.shown()))
                    .into());
            }
        };
        if let Some(cached) = self.cached(stamp) {
            return Ok(cached);
        }
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Arc::default()),
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("reading {}", self.shown()))
                    .into());
            }
        };
        let records = Arc::new(self.parse(&text)?);
        self.remember(stamp, &records);
        Ok(records)
    }

    fn cached(&self, stamp: FileStamp) -> Option<Arc<Document>> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache
            .as_ref()
            .filter(|c| c.stamp == stamp)
            .map(|c| Arc::clone(&c.records))
    }

    fn remember(&self, stamp: FileStamp, records: &Arc<Document>) {
        *self.cache.lock().unwrap_or_else(PoisonError::into_inner) = Some(Cached {
            stamp,
            records: Arc::clone(records),
        });
    }

    fn parse(&self, text: &str) -> Result<Document, StoreError> {
        let corrupt = |detail: String| StoreError::Corrupt {
            location: self.shown(),
            detail,
        };
        let document: Value =
            serde_json::from_str(text).map_err(|e| corrupt(format!("invalid JSON: {e}")))?;
        let Some(Value::Array(items)) = document.get("items") else {
            return Err(corrupt(
                "expected an object with an \"items\" list".to_owned(),
            ));
        };
        let mut document = Document::default();
        for (index, item) in items.iter().enumerate() {
            match serde_json::from_value::<Approval>(item.clone()) {
                Ok(record) => document.records.push(record),
                Err(e) => {
                    let id = item
                        .get("approval_id")
                        .and_then(Value::as_str)
                        .map_or_else(|| format!("item {index}"), str::to_owned);
                    tracing::warn!(store = %self.shown(), %id, error = %e, "an unreadable approval item is kept and skipped");
                    document.unreadable.push(Unreadable {
                        id,
                        raw: item.clone(),
                        detail: format!("item {index}: {e}"),
                    });
                }
            }
        }
        Ok(document)
    }

    fn corrupt_item(&self, item: &Unreadable) -> StoreError {
        StoreError::Corrupt {
            location: format!("{} {}", self.shown(), item.id),
            detail: item.detail.clone(),
        }
    }

    fn write_records(&self, document: &Document) -> Result<(), StoreError> {
        let items: Vec<Value> = document
            .records
            .iter()
            .map(Approval::to_sorted_value)
            .chain(document.unreadable.iter().map(|u| u.raw.clone()))
            .collect();
        let mut text = serde_json::to_string_pretty(&serde_json::json!({ "items": items }))
            .context("serialising the approval store")?;
        text.push('\n');
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let temp = dir.join(format!(
            ".{}.{}.{}.tmp",
            self.path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("approvals.json"),
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let result = (|| -> anyhow::Result<()> {
            let mut file =
                File::create(&temp).with_context(|| format!("creating {}", temp.display()))?;
            file.write_all(text.as_bytes())
                .with_context(|| format!("writing {}", temp.display()))?;
            file.sync_all()
                .with_context(|| format!("syncing {}", temp.display()))?;
            std::fs::rename(&temp, &self.path)
                .with_context(|| format!("replacing {}", self.shown()))?;
            // Still under the exclusive lock: nobody else can have replaced it since.
            let stamp = FileStamp::of(
                &std::fs::metadata(&self.path)
                    .with_context(|| format!("reading metadata of {}", self.shown()))?,
            );
            self.remember(stamp, &Arc::new(document.clone()));
            File::open(dir)
                .and_then(|d| d.sync_all())
                .with_context(|| format!("syncing folder {}", dir.display()))?;
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        Ok(result?)
    }

    fn with_lock<T>(
        &self,
        mode: LockMode,
        work: impl FnOnce(&Document) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let lock = self.lock_file(mode)?;
        let records = self.read_records()?;
        let out = work(&records);
        drop(lock);
        out
    }

    /// Runs `check` on the current document and, when it passes, `work` on a copy that is then
    /// written back; all under the exclusive lock. Checking first keeps the losers of a race
    /// (the common case under contention) from copying the document.
    fn mutate<T>(
        &self,
        check: impl FnOnce(&Document) -> Result<(), StoreError>,
        work: impl FnOnce(&mut Vec<Approval>) -> T,
    ) -> Result<T, StoreError> {
        let _lock = self.lock_file(LockMode::Exclusive)?;
        let current = self.read_records()?;
        check(&current)?;
        let mut document: Document = current.as_ref().clone();
        let out = work(&mut document.records);
        self.write_records(&document)?;
        Ok(out)
    }

    async fn blocking<T: Send + 'static>(
        &self,
        job: impl FnOnce(Self) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || job(store))
            .await
            .context("JSON store task failed")?
    }
}

#[async_trait]
impl ApprovalStore for JsonFileStore {
    async fn insert(&self, approval: &Approval) -> Result<(), StoreError> {
        let approval = approval.clone();
        self.blocking(move |store| {
            let (id, decision_id, pending) = (
                approval.approval_id.clone(),
                approval.decision_id.clone(),
                approval.state == ApprovalState::Pending,
            );
            store.mutate(
                |document| {
                    if document.records.iter().any(|r| r.approval_id == id)
                        || document.unreadable(&id).is_some()
                    {
                        return Err(StoreError::DuplicateId(id));
                    }
                    if pending
                        && document.records.iter().any(|r| {
                            r.state == ApprovalState::Pending && r.decision_id == decision_id
                        })
                    {
                        return Err(StoreError::DuplicateOpenDecision(decision_id));
                    }
                    Ok(())
                },
                |records| records.push(approval),
            )
        })
        .await
    }

    async fn get(&self, approval_id: &str) -> Result<Option<Approval>, StoreError> {
        let id = approval_id.to_owned();
        self.blocking(move |store| {
            store.with_lock(LockMode::Shared, |document| {
                if let Some(item) = document.unreadable(&id) {
                    return Err(store.corrupt_item(item));
                }
                Ok(document
                    .records
                    .iter()
                    .find(|r| r.approval_id == id)
                    .cloned())
            })
        })
        .await
    }

    async fn replace(
        &self,
        approval: &Approval,
        expected_version: u64,
        expected_state: ApprovalState,
    ) -> Result<(), StoreError> {
        let approval = approval.clone();
        self.blocking(move |store| {
            let id = approval.approval_id.clone();
            store.mutate(
                |document| {
                    if let Some(item) = document.unreadable(&id) {
                        return Err(store.corrupt_item(item));
                    }
                    let stored = document
                        .records
                        .iter()
                        .find(|r| r.approval_id == id)
                        .ok_or_else(|| StoreError::NotFound(id.clone()))?;
                    if stored.version != expected_version || stored.state != expected_state {
                        return Err(StoreError::VersionConflict(id.clone()));
                    }
                    Ok(())
                },
                |records| {
                    if let Some(stored) = records.iter_mut().find(|r| r.approval_id == id) {
                        *stored = approval;
                    }
                },
            )
        })
        .await
    }

    async fn find_open_by_decision(
        &self,
        decision_id: &str,
    ) -> Result<Option<Approval>, StoreError> {
        let id = decision_id.to_owned();
        self.blocking(move |store| {
            store.with_lock(LockMode::Shared, |document| {
                Ok(document
                    .records
                    .iter()
                    .find(|r| r.state == ApprovalState::Pending && r.decision_id == id)
                    .cloned())
            })
        })
        .await
    }

    async fn list(&self, query: &ListQuery) -> Result<ApprovalPage, StoreError> {
        let query = query.clone();
        self.blocking(move |store| {
            store.with_lock(LockMode::Shared, |document| {
                let mut matching: Vec<Approval> = document
                    .records
                    .iter()
                    .filter(|r| query.matches(r))
                    .cloned()
                    .collect();
                sort_for_listing(&mut matching);
                let total = matching.len() as u64;
                let fetched = matching
                    .into_iter()
                    .filter(|r| query.cursor.as_ref().is_none_or(|c| c.precedes(r)))
                    .skip(query.effective_offset() as usize)
                    .take((query.limit as usize).saturating_add(1))
                    .collect();
                let mut page = ApprovalPage::from_fetched(fetched, total, &query);
                page.unreadable = document.unreadable.iter().map(|u| u.id.clone()).collect();
                Ok(page)
            })
        })
        .await
    }

    async fn overdue(&self, now: Timestamp, limit: u32) -> Result<Vec<Approval>, StoreError> {
        self.blocking(move |store| {
            store.with_lock(LockMode::Shared, |document| {
                let mut due: Vec<Approval> = document
                    .records
                    .iter()
                    .filter(|r| r.state == ApprovalState::Pending && r.expires_at < now)
                    .cloned()
                    .collect();
                due.sort_by_key(|r| r.expires_at);
                due.truncate(limit as usize);
                Ok(due)
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_an_empty_store_and_nothing_is_created_until_a_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/approvals.json");
        let store = JsonFileStore::open(&path).unwrap();
        assert!(store.read_records().unwrap().is_empty());
        assert!(!path.exists());
    }

    #[test]
    fn a_corrupt_file_is_a_clear_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("approvals.json");
        std::fs::write(&path, "{\"items\": [").unwrap();
        let err = JsonFileStore::open(&path).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "approval store {} is corrupt: invalid JSON",
                path.display()
            )),
            "{err}"
        );
        std::fs::write(&path, "[]").unwrap();
        let err = JsonFileStore::open(&path).unwrap_err().to_string();
        assert!(
            err.contains("expected an object with an \"items\" list"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn regression_one_unreadable_item_is_reported_by_id_kept_and_never_fails_a_list() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("approvals.json");
        std::fs::write(
            &path,
            r#"{"items": [{"approval_id": "apr_1", "state": "approved"}, {"no_id": true}]}"#,
        )
        .unwrap();
        let store = JsonFileStore::open(&path).unwrap();
        let page = store
            .list(&ListQuery::new(None, None, None, None))
            .await
            .unwrap();
        assert!(page.items.is_empty());
        assert_eq!(page.unreadable, ["apr_1", "item 1"]);
        let error = store.get("apr_1").await.unwrap_err().to_string();
        assert!(
            error.contains("apr_1") && error.contains("item 0"),
            "{error}"
        );
        assert!(store.get("apr_2").await.unwrap().is_none());
        // A write elsewhere in the file keeps both unreadable items verbatim.
        let text = std::fs::read_to_string(&path).unwrap();
        let record: Approval = serde_json::from_value(serde_json::json!({
            "schema_version": "cavra.approval.v1", "product": "CAVRA",
            "approval_id": "apr_000000000002", "decision_id": "dec_2", "session_id": "local",
            "correlation_id": null, "state": "pending", "approver_group": "IAM",
            "requested_by": "dev", "requested_at": "2026-05-18T12:00:00+00:00",
            "expires_at": "2026-05-19T12:00:00+00:00", "decision": {"decision_id": "dec_2"},
            "history": [], "evidence_refs": []
        }))
        .unwrap();
        store.insert(&record).await.unwrap();
        let after: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let items = after["items"].as_array().unwrap();
        assert_eq!(items.len(), 3, "before: {text}");
        assert!(
            items
                .iter()
                .any(|i| i == &serde_json::json!({"no_id": true}))
        );
        assert!(
            items
                .iter()
                .any(|i| i["approval_id"] == "apr_1" && i.get("product").is_none())
        );
    }
}
