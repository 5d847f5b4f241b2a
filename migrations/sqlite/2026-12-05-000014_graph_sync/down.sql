ALTER TABLE portal_state DROP COLUMN sync_every_minutes;
DROP TABLE sync_resources;
DROP TABLE sync_runs;
