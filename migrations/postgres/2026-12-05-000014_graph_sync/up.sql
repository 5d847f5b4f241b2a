-- Pulls from Microsoft Graph (`authinsights sync`, `serve --sync-every`,
-- Admin › Data sources › Sync now): one row per run, one per resource of a
-- run. A run without an outcome was cut short (the process ended); the next
-- run takes it up from its first resource not stored.
CREATE TABLE sync_runs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    -- 'command line', 'schedule' or the account that pressed Sync now
    trigger TEXT NOT NULL,
    -- NULL while it runs (or after a crash); 'succeeded', 'failed'
    outcome TEXT,
    message TEXT NOT NULL DEFAULT ''
);
CREATE TABLE sync_resources (
    run_id BIGINT NOT NULL REFERENCES sync_runs (id),
    resource TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    -- 'stored', 'failed' or 'skipped'; NULL while it runs
    outcome TEXT,
    pages BIGINT NOT NULL DEFAULT 0,
    records BIGINT NOT NULL DEFAULT 0,
    inserted BIGINT NOT NULL DEFAULT 0,
    updated BIGINT NOT NULL DEFAULT 0,
    warnings BIGINT NOT NULL DEFAULT 0,
    requests BIGINT NOT NULL DEFAULT 0,
    retries BIGINT NOT NULL DEFAULT 0,
    import_id BIGINT,
    -- An incremental resource (the audit log): the entries it asked for
    -- began here, and it asked at requested_at (the next run's start).
    window_start TIMESTAMP,
    requested_at TIMESTAMP,
    message TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, resource)
);
-- How often the portal pulls by itself, set on Admin › Data sources
-- (NULL: as `serve --sync-every` says).
ALTER TABLE portal_state ADD COLUMN sync_every_minutes BIGINT;
