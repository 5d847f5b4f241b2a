DROP INDEX method_events_by_activity;
ALTER TABLE portal_state DROP COLUMN retention_days;
ALTER TABLE method_events DROP COLUMN import_id;
ALTER TABLE activities DROP COLUMN import_id;
DROP TABLE imports;
ALTER TABLE users DROP COLUMN directory_status_at;
ALTER TABLE users DROP COLUMN directory_status;
