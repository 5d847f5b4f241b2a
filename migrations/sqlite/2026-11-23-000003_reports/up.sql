-- The classic reports (registration activity, reset activity) page through
-- activities without sorting or scanning, and count them from aggregates
-- that carry the methods used (DESIGN.md sections 3 and 7).

-- Newest first within a feature; result, methods and user ride along so a
-- filter or a broad search is checked from the index alone.
DROP INDEX activities_by_feature_time;
CREATE INDEX activities_by_feature_time ON activities (feature, occurred_at, id, result, methods_mask, user_id);
-- One ordered stream per (result, methods used), for filters few activities pass.
CREATE INDEX activities_by_kind ON activities (feature, result, methods_mask, occurred_at, id);
-- Resets for a user ID that matched nobody, searched by the ID entered.
CREATE INDEX activities_of_unknown_users ON activities (feature, occurred_at, id, result, methods_mask, user_principal_name, user_id)
    WHERE user_id IS NULL;
-- A user's activities; leaving out the unknown users keeps the planner from
-- reading them through this index by a NULL key.
DROP INDEX activities_by_user_time;
CREATE INDEX activities_by_user_time ON activities (user_id, occurred_at) WHERE user_id IS NOT NULL;

-- Activities per hour × feature × result × methods used, and a daily rollup.
CREATE TABLE activity_counts_by_methods (
    bucket TIMESTAMP NOT NULL,
    feature INTEGER NOT NULL,
    result INTEGER NOT NULL,
    methods_mask INTEGER NOT NULL,
    activity_count BIGINT NOT NULL,
    PRIMARY KEY (bucket, feature, result, methods_mask)
) WITHOUT ROWID;
INSERT INTO activity_counts_by_methods
SELECT strftime('%Y-%m-%d %H:00:00', occurred_at), feature, result, methods_mask, count(*)
FROM activities GROUP BY 1, 2, 3, 4;
DROP TABLE activity_counts;
ALTER TABLE activity_counts_by_methods RENAME TO activity_counts;

CREATE TABLE activity_counts_daily (
    day TIMESTAMP NOT NULL, -- midnight UTC of the day the activities fall in
    feature INTEGER NOT NULL,
    result INTEGER NOT NULL,
    methods_mask INTEGER NOT NULL,
    activity_count BIGINT NOT NULL,
    PRIMARY KEY (day, feature, result, methods_mask)
) WITHOUT ROWID;
INSERT INTO activity_counts_daily
SELECT strftime('%Y-%m-%d 00:00:00', bucket), feature, result, methods_mask, SUM(activity_count)
FROM activity_counts GROUP BY 1, 2, 3, 4;

-- Registration details and its CSV read users from these indexes alone: the
-- names, the id and the packed status key are all a row shows, and the
-- search text lets a walk check a search without reading the table.
DROP INDEX users_by_name;
CREATE INDEX users_by_name ON users (display_name, id, user_principal_name, status_key, search_text);
DROP INDEX users_by_upn;
CREATE INDEX users_by_upn ON users (user_principal_name, id, display_name, status_key, search_text);
DROP INDEX users_by_key_name;
CREATE INDEX users_by_key_name ON users (status_key, display_name, id, user_principal_name);
DROP INDEX users_by_key_upn;
CREATE INDEX users_by_key_upn ON users (status_key, user_principal_name, id, display_name);
-- Counting a search's matches that pass a status filter: a narrow index
-- looked up once per match the trigram index finds.
CREATE INDEX users_by_search_rowid_key ON users (search_rowid, status_key);
