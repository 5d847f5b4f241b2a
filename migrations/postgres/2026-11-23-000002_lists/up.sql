-- Lists: registration details and reset details page through these indexes
-- without sorting or scanning (DESIGN.md section 7).

-- Names sort by code point on both backends, whatever the database's locale,
-- so a page cursor means the same everywhere.
ALTER TABLE users ALTER COLUMN display_name TYPE TEXT COLLATE "C";
ALTER TABLE users ALTER COLUMN user_principal_name TYPE TEXT COLLATE "C";
ALTER TABLE users ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE method_events ALTER COLUMN id TYPE TEXT COLLATE "C";

-- Every filterable user attribute packed into one integer: the key of
-- user_status_counts. Bits 0-12 the methods mask; 16 registered, 17 enabled,
-- 18 capable, 19 MFA capable, 20 passwordless capable, 21 guest, 22 admin,
-- 23 account enabled (src/db/models.rs, StatusKey::pack).
ALTER TABLE users ADD COLUMN status_key INTEGER NOT NULL DEFAULT 0;
UPDATE users SET status_key = methods_mask
    | (is_registered::int << 16) | (is_enabled::int << 17) | (is_capable::int << 18)
    | (is_mfa_capable::int << 19) | (is_passwordless_capable::int << 20)
    | (is_guest::int << 21) | (is_admin::int << 22) | (account_enabled::int << 23);

CREATE INDEX users_by_key_name ON users (status_key, display_name, id);
CREATE INDEX users_by_key_upn ON users (status_key, user_principal_name, id);
-- Substring search through trigrams (pg_trgm ships with PostgreSQL).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_by_search ON users USING gin (search_text gin_trgm_ops);

CREATE INDEX method_events_by_kind ON method_events (feature, method, success, occurred_at, id);
CREATE INDEX method_events_by_user ON method_events (user_id, occurred_at, id, feature, method, success);

-- A daily rollup beside the hourly counts: a 30-day chart sums about 2,000
-- rows instead of 20,000.
CREATE TABLE event_counts_daily (
    day TIMESTAMP NOT NULL, -- midnight UTC of the day the events fall in
    feature INTEGER NOT NULL,
    method INTEGER NOT NULL,
    success BOOLEAN NOT NULL,
    event_count BIGINT NOT NULL,
    PRIMARY KEY (day, feature, method, success)
);
INSERT INTO event_counts_daily
SELECT date_trunc('day', bucket), feature, method, success, SUM(event_count)
FROM event_counts GROUP BY 1, 2, 3, 4;

-- The SQLite search index's stable key; PostgreSQL searches through the
-- trigram index above and keeps the column only so both schemas match.
ALTER TABLE users ADD COLUMN search_rowid BIGINT NOT NULL DEFAULT 0;
