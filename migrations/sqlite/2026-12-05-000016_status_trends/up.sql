-- Rollout trends. Every change to the users-per-status counts also adds its
-- change, per day and per combination of the five statuses (bits 0-4:
-- registered, enabled, capable, MFA capable, passwordless capable; the
-- status key's bits 32-36), to status_history: a day's figures are the sum
-- of the changes up to that day. Changes older than the retention window are
-- folded into its first day.
CREATE TABLE status_history (
    day TIMESTAMP NOT NULL,
    status INTEGER NOT NULL,
    user_change BIGINT NOT NULL,
    PRIMARY KEY (day, status)
);
-- The figures as they stand when this migration runs, as today's change.
INSERT INTO status_history (day, status, user_change)
SELECT datetime(date('now')), (status_key >> 32) & 31, sum(user_count)
FROM user_status_counts
GROUP BY (status_key >> 32) & 31;

-- One row per user whose five statuses changed (status_before NULL: the
-- user arrived), for "who became capable since …".
CREATE TABLE status_changes (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    status_before INTEGER,
    status_after INTEGER NOT NULL
);
CREATE INDEX status_changes_by_time ON status_changes (changed_at, user_id, id);
