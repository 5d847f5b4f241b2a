-- Statuses a directory export states for a user (Graph's isSsprRegistered,
-- isSsprEnabled, …), kept as the user's status: bits 0-4 hold registered,
-- enabled, capable, MFA capable and passwordless capable, bits 8-12 say which
-- of them the export stated. NULL when no export spoke of the user.
ALTER TABLE users ADD COLUMN directory_status INTEGER;
ALTER TABLE users ADD COLUMN directory_status_at TIMESTAMP;

-- Every import and live-ingest batch, for "Last refreshed", the Admin
-- imports page and the provenance of events.
CREATE TABLE imports (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    -- 'command line', 'upload' or 'api'
    source TEXT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    files TEXT NOT NULL,
    inserted BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    skipped BIGINT NOT NULL,
    summary TEXT NOT NULL
);
CREATE INDEX imports_by_finished ON imports (finished_at);

-- The import that stored each event: an id given twice within one import is
-- told apart from one stored by an earlier import (0: demo or older data).
ALTER TABLE activities ADD COLUMN import_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE method_events ADD COLUMN import_id BIGINT NOT NULL DEFAULT 0;

-- The events of an activity (export, and the events of one flow).
CREATE INDEX method_events_by_activity ON method_events (activity_id) WHERE activity_id IS NOT NULL;

-- How many days of events to keep (the seed keeps 30); `prune` removes older.
ALTER TABLE portal_state ADD COLUMN retention_days INTEGER NOT NULL DEFAULT 30;
