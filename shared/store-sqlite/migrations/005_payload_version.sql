-- Issue H §3: reads answer the stored payload as it is when it is provably the API's form.
-- `payload_version` is the version this store wrote its payload at: every insert and
-- transition of this store sets it to `version` with a payload in the API's form (the record's
-- sorted, compact JSON). A row written by anyone else (the original program, an older CAVRA,
-- a hand edit that moves `version`) leaves it NULL or behind, and that row is parsed and
-- written out again, as before. Adding a column does not rewrite the table.
ALTER TABLE approvals ADD COLUMN payload_version INTEGER;
