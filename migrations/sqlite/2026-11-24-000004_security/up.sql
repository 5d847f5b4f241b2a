-- Sign-in sessions, kept in the database so that every portal instance on it
-- accepts them. The cookie holds a random token; only its SHA-256 is stored.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    client_address TEXT NOT NULL,
    -- A one-time notice for the next page ("Policy saved: …").
    flash TEXT
);
CREATE INDEX sessions_by_account ON sessions (account_id);
CREATE INDEX sessions_by_last_seen ON sessions (last_seen_at);

-- Failed sign-ins per account ('account:NAME') and per client address
-- ('address:IP') within a window, and the lock they lead to.
CREATE TABLE sign_in_throttle (
    subject TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL,
    first_failure_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP
);

-- API keys: shown once, stored as the SHA-256 of the key.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    key_prefix TEXT NOT NULL,
    can_read BOOLEAN NOT NULL,
    can_ingest BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);

-- The portal's own changes: who did what, when.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY NOT NULL,
    at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    details TEXT NOT NULL
);

ALTER TABLE accounts ADD COLUMN password_changed_at TIMESTAMP;
