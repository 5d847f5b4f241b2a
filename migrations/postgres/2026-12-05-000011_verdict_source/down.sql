UPDATE users SET status_key = status_key & 9007199254740991;
ALTER TABLE users DROP COLUMN verdicts_stale;
ALTER TABLE portal_state DROP COLUMN verdict_source;
DELETE FROM user_status_counts;
INSERT INTO user_status_counts SELECT status_key, COUNT(*) FROM users GROUP BY status_key;
