ALTER TABLE portal_state DROP COLUMN data_version;
