-- Issue H: the write path. Every index costs each write that touches its columns (an approve
-- changes `state`, so every index over `state` is rewritten: a delete in the pending range and
-- an insert in the approved one). Indexes that no query of this store needs are dropped; the
-- ones over `state` that only ever look at pending rows become partial indexes over pending rows
-- (an approve then only removes one entry). Idempotent (IF EXISTS / IF NOT EXISTS), and it
-- upgrades a database made by 002 + 003 in place.
--
-- The indexes that remain on `approvals`, each with the query it answers:
--
--   (primary key approval_id)        get: WHERE approval_id = ?; insert's duplicate check;
--                                    replace's read-check-write.
--   idx_approvals_open_decision      find_open_by_decision: WHERE decision_id = ? AND
--     UNIQUE (decision_id)             state = 'pending' AND open_duplicate = 0; and the rule
--     WHERE pending, not duplicate     "at most one open request per decision".
--   idx_approvals_open_duplicates    find_open_by_decision on databases of the original program
--     (decision_id, requested_at_us    with extra open requests: WHERE decision_id = ? AND
--     DESC, approval_id)               state = 'pending' AND open_duplicate = 1 ORDER BY
--     WHERE open_duplicate = 1         requested_at_us DESC, approval_id LIMIT 1. Empty
--                                      otherwise, and never touched by a transition.
--   idx_approvals_list_all           list, no filter: ORDER BY requested_at_us DESC, approval_id.
--   idx_approvals_list_state         list ?state=: WHERE state = ? ORDER BY ….
--   idx_approvals_list_group         list ?approver_group=: WHERE approver_group = ? ORDER BY ….
--   idx_approvals_list_state_group   list ?state=&approver_group=: WHERE state = ? AND
--                                    approver_group = ? ORDER BY ….
--   idx_approvals_pending_expiry     overdue (the expiry sweep): WHERE state = 'pending' AND
--     (expires_at_us, approval_id)     expires_at_us < ? ORDER BY expires_at_us, approval_id
--     WHERE state = 'pending'          LIMIT ?.
--
-- (approval_counts keeps its primary key (state, approver_group) for list totals with a state,
-- and idx_approval_counts_group for totals by group alone; a transition only changes `n`,
-- which neither holds.)

-- The original program's list index on the text timestamp: no query here sorts or filters on
-- requested_at (lists use requested_at_us). The original program, if it still writes to this
-- file, lists by a scan.
DROP INDEX IF EXISTS idx_approvals_requested_at;

-- Lookups by decision: the unique partial index answers the open request; legacy duplicates
-- get their own partial index, empty unless the original program left some.
DROP INDEX IF EXISTS idx_approvals_decision;
CREATE INDEX IF NOT EXISTS idx_approvals_open_duplicates
    ON approvals (decision_id, requested_at_us DESC, approval_id ASC) WHERE open_duplicate = 1;

-- The overdue sweep only reads pending rows.
DROP INDEX IF EXISTS idx_approvals_state_expires;
CREATE INDEX IF NOT EXISTS idx_approvals_pending_expiry
    ON approvals (expires_at_us ASC, approval_id ASC) WHERE state = 'pending';
