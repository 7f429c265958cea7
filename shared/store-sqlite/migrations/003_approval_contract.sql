-- CAVRA Approvals contract schema (CONTRACT §1, §7) on top of the original 002 table.
--
-- * version: compare-and-set counter; every stored change increments it.
-- * decision_digest: SHA-256 of the canonical decision (CONTRACT §5).
-- * requested_at_us / expires_at_us: epoch microseconds, the sort and expiry keys
--   (ordering never compares timestamp strings).
-- * open_duplicate: 1 on rows that were an extra open request for a decision before the
--   one-open-request-per-decision rule existed (the original allowed them). Such rows stay
--   readable and decidable but are left out of the unique index.
-- * approval_counts: per (state, approver_group) row counts kept by triggers, so list totals
--   never count rows.
--
-- Timestamps are converted with strftime only (no unixepoch), so that triggers still
-- run when an older SQLite library (e.g. the original Python program) writes to this file.
-- Strings shaped like the records' own timestamps ("YYYY-MM-DDTHH:MM:SS.ffffff<offset>") are
-- converted exactly to the microsecond; anything else to the millisecond (SQLite's own date resolution).

ALTER TABLE approvals ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE approvals ADD COLUMN decision_digest TEXT;
ALTER TABLE approvals ADD COLUMN requested_at_us INTEGER;
ALTER TABLE approvals ADD COLUMN expires_at_us INTEGER;
ALTER TABLE approvals ADD COLUMN open_duplicate INTEGER NOT NULL DEFAULT 0;

UPDATE approvals SET
    requested_at_us = CASE
        WHEN requested_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][T ][0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]*'
             AND substr(requested_at, 27, 1) NOT GLOB '[0-9]'
            THEN CAST(strftime('%s', substr(requested_at, 1, 19) || substr(requested_at, 27)) AS INTEGER) * 1000000
                 + CAST(substr(requested_at, 21, 6) AS INTEGER)
        ELSE CAST(strftime('%s', requested_at) AS INTEGER) * 1000000
                 + (CAST(round(CAST(strftime('%f', requested_at) AS REAL) * 1000) AS INTEGER) % 1000) * 1000
    END,
    expires_at_us = CASE
        WHEN expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][T ][0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]*'
             AND substr(expires_at, 27, 1) NOT GLOB '[0-9]'
            THEN CAST(strftime('%s', substr(expires_at, 1, 19) || substr(expires_at, 27)) AS INTEGER) * 1000000
                 + CAST(substr(expires_at, 21, 6) AS INTEGER)
        ELSE CAST(strftime('%s', expires_at) AS INTEGER) * 1000000
                 + (CAST(round(CAST(strftime('%f', expires_at) AS REAL) * 1000) AS INTEGER) % 1000) * 1000
    END,
    decision_digest = CASE WHEN json_valid(payload) THEN json_extract(payload, '$.decision_digest') END,
    version = CASE
        WHEN json_valid(payload) AND json_type(payload, '$.version') = 'integer' THEN json_extract(payload, '$.version')
        ELSE 0
    END;

-- Lookups by decision (the open request first, then the newest).
CREATE INDEX IF NOT EXISTS idx_approvals_decision
    ON approvals (decision_id, state, open_duplicate ASC, requested_at_us DESC, approval_id ASC);

-- Strict prefixes of the list indexes below: they only cost writes (and could tempt the planner
-- into sorting). The original's requested_at index stays for the original program's own list.
DROP INDEX IF EXISTS idx_approvals_state;
DROP INDEX IF EXISTS idx_approvals_group;

UPDATE approvals SET open_duplicate = 1
WHERE state = 'pending'
  AND EXISTS (
      SELECT 1 FROM approvals AS newer
      WHERE newer.decision_id = approvals.decision_id
        AND newer.state = 'pending'
        AND (newer.requested_at_us > approvals.requested_at_us
             OR (newer.requested_at_us = approvals.requested_at_us AND newer.approval_id > approvals.approval_id))
  );

-- At most one open request per decision (idempotent creation).
CREATE UNIQUE INDEX IF NOT EXISTS idx_approvals_open_decision
    ON approvals (decision_id) WHERE state = 'pending' AND open_duplicate = 0;

-- Every list shape is a range of one index, already in list order
-- (requested_at_us DESC, approval_id ASC).
CREATE INDEX IF NOT EXISTS idx_approvals_list_all
    ON approvals (requested_at_us DESC, approval_id ASC);
CREATE INDEX IF NOT EXISTS idx_approvals_list_state
    ON approvals (state, requested_at_us DESC, approval_id ASC);
CREATE INDEX IF NOT EXISTS idx_approvals_list_group
    ON approvals (approver_group, requested_at_us DESC, approval_id ASC);
CREATE INDEX IF NOT EXISTS idx_approvals_list_state_group
    ON approvals (state, approver_group, requested_at_us DESC, approval_id ASC);
-- Overdue sweep: pending rows by expiry, oldest first.
CREATE INDEX IF NOT EXISTS idx_approvals_state_expires
    ON approvals (state, expires_at_us ASC, approval_id ASC);

CREATE TABLE IF NOT EXISTS approval_counts (
    state TEXT NOT NULL,
    approver_group TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (state, approver_group)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_approval_counts_group ON approval_counts (approver_group);

DELETE FROM approval_counts;
INSERT INTO approval_counts (state, approver_group, n)
    SELECT state, approver_group, COUNT(*) FROM approvals GROUP BY state, approver_group;

CREATE TRIGGER IF NOT EXISTS approvals_count_insert AFTER INSERT ON approvals
BEGIN
    INSERT INTO approval_counts (state, approver_group, n) VALUES (NEW.state, NEW.approver_group, 1)
        ON CONFLICT (state, approver_group) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER IF NOT EXISTS approvals_count_delete AFTER DELETE ON approvals
BEGIN
    UPDATE approval_counts SET n = n - 1
        WHERE state = OLD.state AND approver_group = OLD.approver_group;
END;

CREATE TRIGGER IF NOT EXISTS approvals_count_update AFTER UPDATE OF state, approver_group ON approvals
WHEN OLD.state IS NOT NEW.state OR OLD.approver_group IS NOT NEW.approver_group
BEGIN
    UPDATE approval_counts SET n = n - 1
        WHERE state = OLD.state AND approver_group = OLD.approver_group;
    INSERT INTO approval_counts (state, approver_group, n) VALUES (NEW.state, NEW.approver_group, 1)
        ON CONFLICT (state, approver_group) DO UPDATE SET n = n + 1;
END;

-- Writers that only know the original columns (the original program) leave the sort keys
-- empty and the version unchanged; fill them so lists and compare-and-set stay right.
CREATE TRIGGER IF NOT EXISTS approvals_foreign_insert AFTER INSERT ON approvals
WHEN NEW.requested_at_us IS NULL OR NEW.expires_at_us IS NULL
BEGIN
    UPDATE approvals SET
        requested_at_us = CASE
            WHEN NEW.requested_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][T ][0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]*'
                 AND substr(NEW.requested_at, 27, 1) NOT GLOB '[0-9]'
                THEN CAST(strftime('%s', substr(NEW.requested_at, 1, 19) || substr(NEW.requested_at, 27)) AS INTEGER) * 1000000
                     + CAST(substr(NEW.requested_at, 21, 6) AS INTEGER)
            ELSE CAST(strftime('%s', NEW.requested_at) AS INTEGER) * 1000000
                 + (CAST(round(CAST(strftime('%f', NEW.requested_at) AS REAL) * 1000) AS INTEGER) % 1000) * 1000
        END,
        expires_at_us = CASE
            WHEN NEW.expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][T ][0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]*'
                 AND substr(NEW.expires_at, 27, 1) NOT GLOB '[0-9]'
                THEN CAST(strftime('%s', substr(NEW.expires_at, 1, 19) || substr(NEW.expires_at, 27)) AS INTEGER) * 1000000
                     + CAST(substr(NEW.expires_at, 21, 6) AS INTEGER)
            ELSE CAST(strftime('%s', NEW.expires_at) AS INTEGER) * 1000000
                 + (CAST(round(CAST(strftime('%f', NEW.expires_at) AS REAL) * 1000) AS INTEGER) % 1000) * 1000
        END
    WHERE approval_id = NEW.approval_id;
END;

CREATE TRIGGER IF NOT EXISTS approvals_foreign_update AFTER UPDATE ON approvals
WHEN NEW.version = OLD.version AND NEW.payload IS NOT OLD.payload
BEGIN
    UPDATE approvals SET
        version = OLD.version + 1,
        requested_at_us = CASE
            WHEN NEW.requested_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][T ][0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]*'
                 AND substr(NEW.requested_at, 27, 1) NOT GLOB '[0-9]'
                THEN CAST(strftime('%s', substr(NEW.requested_at, 1, 19) || substr(NEW.requested_at, 27)) AS INTEGER) * 1000000
                     + CAST(substr(NEW.requested_at, 21, 6) AS INTEGER)
            ELSE CAST(strftime('%s', NEW.requested_at) AS INTEGER) * 1000000
                 + (CAST(round(CAST(strftime('%f', NEW.requested_at) AS REAL) * 1000) AS INTEGER) % 1000) * 1000
        END,
        expires_at_us = CASE
            WHEN NEW.expires_at GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][T ][0-9][0-9]:[0-9][0-9]:[0-9][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]*'
                 AND substr(NEW.expires_at, 27, 1) NOT GLOB '[0-9]'
                THEN CAST(strftime('%s', substr(NEW.expires_at, 1, 19) || substr(NEW.expires_at, 27)) AS INTEGER) * 1000000
                     + CAST(substr(NEW.expires_at, 21, 6) AS INTEGER)
            ELSE CAST(strftime('%s', NEW.expires_at) AS INTEGER) * 1000000
                 + (CAST(round(CAST(strftime('%f', NEW.expires_at) AS REAL) * 1000) AS INTEGER) % 1000) * 1000
        END
    WHERE approval_id = NEW.approval_id;
END;
