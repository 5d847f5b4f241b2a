-- Which statuses the tiles, lists and API use where a directory export
-- stated a user's verdicts: 'directory' (as the export states) or 'policy'
-- (as this portal's policy computes). NULL is the default: the directory's.
ALTER TABLE portal_state ADD COLUMN verdict_source TEXT;

-- A user's verdicts are stale when a later export of registration details
-- did not include the user (deleted since, or out of its scope).
ALTER TABLE users ADD COLUMN verdicts_stale BOOLEAN NOT NULL DEFAULT 0;

-- Status key bits 53 (the directory's verdicts and this portal's policy
-- disagree), 54 (the verdicts are stale) and 55 (a source named the
-- directory role) start clear; the migration run
-- evaluates every user once after this step (src/db/mod.rs, migrate).
