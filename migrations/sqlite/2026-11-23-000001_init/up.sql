-- The directory: users, groups, memberships and registered methods.
-- Codes (method, feature, result, details) are the stable codes of src/domain.

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    display_name TEXT NOT NULL,
    user_principal_name TEXT NOT NULL,
    is_guest BOOLEAN NOT NULL DEFAULT 0,
    directory_role TEXT NOT NULL DEFAULT 'User',
    is_admin BOOLEAN NOT NULL DEFAULT 0,
    account_enabled BOOLEAN NOT NULL DEFAULT 1,
    -- Derived at write time from user_methods, memberships and the policy.
    methods_mask INTEGER NOT NULL DEFAULT 0,
    is_registered BOOLEAN NOT NULL DEFAULT 0,
    is_enabled BOOLEAN NOT NULL DEFAULT 0,
    is_capable BOOLEAN NOT NULL DEFAULT 0,
    is_mfa_capable BOOLEAN NOT NULL DEFAULT 0,
    is_passwordless_capable BOOLEAN NOT NULL DEFAULT 0,
    -- lower(display_name) || char(10) || lower(user_principal_name), for search.
    search_text TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX users_by_name ON users (display_name, id);
CREATE INDEX users_by_upn ON users (user_principal_name, id);

CREATE TABLE directory_groups (
    id TEXT PRIMARY KEY NOT NULL,
    display_name TEXT NOT NULL
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES directory_groups (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members (user_id);

CREATE TABLE user_methods (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method INTEGER NOT NULL,
    registered_at TIMESTAMP,
    PRIMARY KEY (user_id, method)
);

-- One row: the deployment's SSPR policy.
CREATE TABLE sspr_policy (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    scope TEXT NOT NULL CHECK (scope IN ('none', 'selected', 'all')),
    group_id TEXT,
    methods_required INTEGER NOT NULL CHECK (methods_required IN (1, 2)),
    allowed_methods INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    updated_by TEXT
);
INSERT INTO sspr_policy (id, scope, group_id, methods_required, allowed_methods, updated_at)
VALUES (1, 'none', NULL, 1, 23, CURRENT_TIMESTAMP);

-- Events: one registration or reset operation ...
-- (The two event tables are WITHOUT ROWID: the id is the table's own key, so a
-- row costs one B-tree insert instead of a table row plus a key index.)
CREATE TABLE activities (
    id TEXT PRIMARY KEY NOT NULL,
    -- NULL when the user ID entered matched no user.
    user_id TEXT,
    -- Snapshot of the user at the time of the activity.
    user_principal_name TEXT NOT NULL,
    user_display_name TEXT NOT NULL,
    user_role TEXT NOT NULL,
    feature INTEGER NOT NULL,
    methods_mask INTEGER NOT NULL,
    result INTEGER NOT NULL,
    details INTEGER,
    occurred_at TIMESTAMP NOT NULL
) WITHOUT ROWID;
CREATE INDEX activities_by_feature_time ON activities (feature, occurred_at);
CREATE INDEX activities_by_user_time ON activities (user_id, occurred_at);

-- ... and each method verified inside one.
CREATE TABLE method_events (
    id TEXT PRIMARY KEY NOT NULL,
    activity_id TEXT,
    user_id TEXT NOT NULL,
    feature INTEGER NOT NULL,
    method INTEGER NOT NULL,
    success BOOLEAN NOT NULL,
    failure_reason TEXT,
    occurred_at TIMESTAMP NOT NULL
) WITHOUT ROWID;
CREATE INDEX method_events_by_time ON method_events (occurred_at);

-- Aggregates kept up to date at write time, so pages never scan the events.
CREATE TABLE event_counts (
    bucket TIMESTAMP NOT NULL, -- the hour the events fall in
    feature INTEGER NOT NULL,
    method INTEGER NOT NULL,
    success BOOLEAN NOT NULL,
    event_count BIGINT NOT NULL,
    PRIMARY KEY (bucket, feature, method, success)
);

CREATE TABLE activity_counts (
    bucket TIMESTAMP NOT NULL,
    feature INTEGER NOT NULL,
    result INTEGER NOT NULL,
    activity_count BIGINT NOT NULL,
    PRIMARY KEY (bucket, feature, result)
);

CREATE TABLE user_status_counts (
    is_registered BOOLEAN NOT NULL,
    is_enabled BOOLEAN NOT NULL,
    is_capable BOOLEAN NOT NULL,
    is_mfa_capable BOOLEAN NOT NULL,
    is_passwordless_capable BOOLEAN NOT NULL,
    is_guest BOOLEAN NOT NULL,
    is_admin BOOLEAN NOT NULL,
    account_enabled BOOLEAN NOT NULL,
    methods_mask INTEGER NOT NULL,
    user_count BIGINT NOT NULL,
    PRIMARY KEY (is_registered, is_enabled, is_capable, is_mfa_capable,
                 is_passwordless_capable, is_guest, is_admin, account_enabled, methods_mask)
);

-- One row: when the data last changed ("Last refreshed").
CREATE TABLE portal_state (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    data_changed_at TIMESTAMP NOT NULL
);
INSERT INTO portal_state (id, data_changed_at) VALUES (1, CURRENT_TIMESTAMP);

-- The portal's own sign-in accounts.
CREATE TABLE accounts (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('global-administrator', 'security-administrator',
                                       'security-reader', 'reports-reader')),
    disabled BOOLEAN NOT NULL DEFAULT 0,
    must_change_password BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    last_sign_in_at TIMESTAMP
);
