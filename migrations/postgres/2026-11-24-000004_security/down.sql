ALTER TABLE accounts DROP COLUMN password_changed_at;
DROP TABLE audit_log;
DROP TABLE api_keys;
DROP TABLE sign_in_throttle;
DROP TABLE sessions;
