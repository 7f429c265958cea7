//! An in-memory [`ApprovalStore`] for unit tests and the contract suite's reference run.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::approval::{Approval, ApprovalState};
use crate::store::{ApprovalPage, ApprovalStore, ListQuery, StoreError, sort_for_listing};
use crate::time::Timestamp;

/// Records in a map behind a mutex; same semantics as the durable stores.
#[derive(Debug, Default)]
pub struct MemoryStore {
    records: Mutex<BTreeMap<String, Approval>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Approval>> {
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl ApprovalStore for MemoryStore {
    async fn insert(&self, approval: &Approval) -> Result<(), StoreError> {
        let mut records = self.lock();
        if records.contains_key(&approval.approval_id) {
            return Err(StoreError::DuplicateId(approval.approval_id.clone()));
        }
        if approval.state == ApprovalState::Pending
            && records
                .values()
                .any(|r| r.state == ApprovalState::Pending && r.decision_id == approval.decision_id)
        {
            return Err(StoreError::DuplicateOpenDecision(
                approval.decision_id.clone(),
            ));
        }
        records.insert(approval.approval_id.clone(), approval.clone());
        Ok(())
    }

    async fn get(&self, approval_id: &str) -> Result<Option<Approval>, StoreError> {
        Ok(self.lock().get(approval_id).cloned())
    }

    async fn replace(
        &self,
        approval: &Approval,
        expected_version: u64,
        expected_state: ApprovalState,
    ) -> Result<(), StoreError> {
        let mut records = self.lock();
        let stored = records
            .get_mut(&approval.approval_id)
            .ok_or_else(|| StoreError::NotFound(approval.approval_id.clone()))?;
        if stored.version != expected_version || stored.state != expected_state {
            return Err(StoreError::VersionConflict(approval.approval_id.clone()));
        }
        *stored = approval.clone();
        Ok(())
    }

    async fn find_open_by_decision(
        &self,
        decision_id: &str,
    ) -> Result<Option<Approval>, StoreError> {
        Ok(self
            .lock()
            .values()
            .find(|r| r.state == ApprovalState::Pending && r.decision_id == decision_id)
            .cloned())
    }

    async fn list(&self, query: &ListQuery) -> Result<ApprovalPage, StoreError> {
        let mut matching: Vec<Approval> = self
            .lock()
            .values()
            .filter(|r| query.matches(r))
            .cloned()
            .collect();
        sort_for_listing(&mut matching);
        let total = matching.len() as u64;
        let fetched: Vec<Approval> = matching
            .into_iter()
            .filter(|r| query.cursor.as_ref().is_none_or(|c| c.precedes(r)))
            .skip(query.effective_offset() as usize)
            .take((query.limit as usize).saturating_add(1))
            .collect();
        Ok(ApprovalPage::from_fetched(fetched, total, query))
    }

    async fn overdue(&self, now: Timestamp, limit: u32) -> Result<Vec<Approval>, StoreError> {
        let mut due: Vec<Approval> = self
            .lock()
            .values()
            .filter(|r| r.state == ApprovalState::Pending && r.expires_at < now)
            .cloned()
            .collect();
        due.sort_by_key(|r| r.expires_at);
        due.truncate(limit as usize);
        Ok(due)
    }
}
