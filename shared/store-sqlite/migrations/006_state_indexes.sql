-- Issue H §2, second step: an approve moved a row between the ranges of two state-keyed list
-- indexes (a delete in the pending range, an insert in the approved one, and the rebalances as
-- the pending range drains: ~7 of an approve's ~15 WAL pages) and out of the expiry index.
-- State now keys two partial indexes instead, one over pending rows and one over decided rows,
-- so a transition removes one entry from the first and adds one to the second. Idempotent
-- (IF EXISTS / IF NOT EXISTS); it upgrades a database made by 002–005 in place.
--
-- The indexes on `approvals` after this migration, each with the query it answers (the store
-- names the list index it walks with INDEXED BY, so a plan never falls back to a scan):
--
--   (primary key approval_id)        get: WHERE approval_id = ?; insert's duplicate check;
--                                    a transition's read-check-write.
--   idx_approvals_open_decision      find_open_by_decision, and the rule "at most one open
--     UNIQUE (decision_id)             request per decision" (004).
--     WHERE pending, not duplicate
--   idx_approvals_open_duplicates    find_open_by_decision on databases of the original program
--     WHERE open_duplicate = 1         with extra open requests (004); empty otherwise.
--   idx_approvals_list_all           list, no filter: ORDER BY requested_at_us DESC, approval_id.
--   idx_approvals_list_group         list ?approver_group=: WHERE approver_group = ? ORDER BY ….
--   idx_approvals_pending            the work queue, every query over pending rows:
--     (requested_at_us DESC,           list ?state=pending (a range in list order);
--      approval_id, approver_group,    list ?state=pending&approver_group= (the group is checked
--      expires_at_us)                  on the index entry, never on the row);
--     WHERE state = 'pending'          overdue (the expiry sweep): the pending entries whose
--                                      expires_at_us has passed, the oldest LIMIT ? of them.
--                                      It reads the pending entries, not the records, and only
--                                      sorts the overdue ones.
--   idx_approvals_decided            list ?state=<any other state>, with or without
--     (state, requested_at_us DESC,    ?approver_group= (checked on the index entry): a range
--      approval_id, approver_group)    of one state in list order.
--     WHERE state <> 'pending'
--
-- (approval_counts is unchanged: list totals.)

DROP INDEX IF EXISTS idx_approvals_list_state;
DROP INDEX IF EXISTS idx_approvals_list_state_group;
DROP INDEX IF EXISTS idx_approvals_pending_expiry;

CREATE INDEX IF NOT EXISTS idx_approvals_pending
    ON approvals (requested_at_us DESC, approval_id ASC, approver_group, expires_at_us)
    WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS idx_approvals_decided
    ON approvals (state, requested_at_us DESC, approval_id ASC, approver_group)
    WHERE state <> 'pending';
