-- A number that every change of the report data increases: a cache of
-- figures derived from the data is valid while it is unchanged.
ALTER TABLE portal_state ADD COLUMN data_version BIGINT NOT NULL DEFAULT 0;
