-- Lists: registration details and reset details page through these indexes
-- without sorting or scanning (DESIGN.md section 7).

-- Every filterable user attribute packed into one integer: the key of
-- user_status_counts. Bits 0-12 the methods mask; 16 registered, 17 enabled,
-- 18 capable, 19 MFA capable, 20 passwordless capable, 21 guest, 22 admin,
-- 23 account enabled (src/db/models.rs, StatusKey::pack).
ALTER TABLE users ADD COLUMN status_key INTEGER NOT NULL DEFAULT 0;
UPDATE users SET status_key = methods_mask
    | (is_registered << 16) | (is_enabled << 17) | (is_capable << 18)
    | (is_mfa_capable << 19) | (is_passwordless_capable << 20)
    | (is_guest << 21) | (is_admin << 22) | (account_enabled << 23);

-- A selective filter seeks the few status keys it matches, each in name order.
CREATE INDEX users_by_key_name ON users (status_key, display_name, id);
CREATE INDEX users_by_key_upn ON users (status_key, user_principal_name, id);
-- The search scans this narrow index instead of the table.
CREATE INDEX users_by_search ON users (search_text, status_key);
-- Checking an event's user against a search reads this index alone.
CREATE INDEX users_by_id_search ON users (id, search_text);

-- Reset details: one ordered stream per (feature, method, status), merged.
CREATE INDEX method_events_by_kind ON method_events (feature, method, success, occurred_at, id);
-- A user's events, for a search that matches a few users.
CREATE INDEX method_events_by_user ON method_events (user_id, occurred_at, id, feature, method, success);

-- The hourly counts become a clustered (WITHOUT ROWID) table, and a daily
-- rollup beside them: a 30-day chart sums about 2,000 rows instead of 20,000.
CREATE TABLE event_counts_clustered (
    bucket TIMESTAMP NOT NULL,
    feature INTEGER NOT NULL,
    method INTEGER NOT NULL,
    success BOOLEAN NOT NULL,
    event_count BIGINT NOT NULL,
    PRIMARY KEY (bucket, feature, method, success)
) WITHOUT ROWID;
INSERT INTO event_counts_clustered SELECT bucket, feature, method, success, event_count FROM event_counts;
DROP TABLE event_counts;
ALTER TABLE event_counts_clustered RENAME TO event_counts;

CREATE TABLE event_counts_daily (
    day TIMESTAMP NOT NULL, -- midnight UTC of the day the events fall in
    feature INTEGER NOT NULL,
    method INTEGER NOT NULL,
    success BOOLEAN NOT NULL,
    event_count BIGINT NOT NULL,
    PRIMARY KEY (day, feature, method, success)
) WITHOUT ROWID;
INSERT INTO event_counts_daily
SELECT strftime('%Y-%m-%d 00:00:00', bucket), feature, method, success, SUM(event_count)
FROM event_counts GROUP BY 1, 2, 3, 4;

-- Substring search through trigrams: an FTS5 index over search_text, keyed by
-- search_rowid, a stable number the portal gives each user (a table's own
-- rowid may change under VACUUM). Triggers keep it in step with users.
ALTER TABLE users ADD COLUMN search_rowid BIGINT NOT NULL DEFAULT 0;
UPDATE users SET search_rowid = rowid;
CREATE INDEX users_by_search_rowid ON users (search_rowid, status_key, display_name, user_principal_name, id);
CREATE VIRTUAL TABLE users_fts USING fts5(
    search_text, content = 'users', content_rowid = 'search_rowid', tokenize = 'trigram'
);
INSERT INTO users_fts (users_fts) VALUES ('rebuild');
CREATE TRIGGER users_fts_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_fts (rowid, search_text) VALUES (new.search_rowid, new.search_text);
END;
CREATE TRIGGER users_fts_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_fts (users_fts, rowid, search_text)
    VALUES ('delete', old.search_rowid, old.search_text);
END;
CREATE TRIGGER users_fts_update AFTER UPDATE OF search_text, search_rowid ON users BEGIN
    INSERT INTO users_fts (users_fts, rowid, search_text)
    VALUES ('delete', old.search_rowid, old.search_text);
    INSERT INTO users_fts (rowid, search_text) VALUES (new.search_rowid, new.search_text);
END;
