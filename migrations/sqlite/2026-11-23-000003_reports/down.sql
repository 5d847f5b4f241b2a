DROP INDEX users_by_search_rowid_key;
DROP TABLE activity_counts_daily;
CREATE TABLE activity_counts_by_result (
    bucket TIMESTAMP NOT NULL,
    feature INTEGER NOT NULL,
    result INTEGER NOT NULL,
    activity_count BIGINT NOT NULL,
    PRIMARY KEY (bucket, feature, result)
);
INSERT INTO activity_counts_by_result
SELECT bucket, feature, result, SUM(activity_count) FROM activity_counts GROUP BY 1, 2, 3;
DROP TABLE activity_counts;
ALTER TABLE activity_counts_by_result RENAME TO activity_counts;
DROP INDEX activities_by_user_time;
CREATE INDEX activities_by_user_time ON activities (user_id, occurred_at);
DROP INDEX activities_of_unknown_users;
DROP INDEX activities_by_kind;
DROP INDEX activities_by_feature_time;
CREATE INDEX activities_by_feature_time ON activities (feature, occurred_at);
DROP INDEX users_by_name;
CREATE INDEX users_by_name ON users (display_name, id);
DROP INDEX users_by_upn;
CREATE INDEX users_by_upn ON users (user_principal_name, id);
DROP INDEX users_by_key_name;
CREATE INDEX users_by_key_name ON users (status_key, display_name, id);
DROP INDEX users_by_key_upn;
CREATE INDEX users_by_key_upn ON users (status_key, user_principal_name, id);
