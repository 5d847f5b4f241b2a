-- What Graph's registration details say beyond the five statuses, and
-- "unknown" for what no source said.

-- Account enabled is unknown (NULL) until a source states it: Graph's
-- registration reports do not.
ALTER TABLE users ALTER COLUMN account_enabled DROP NOT NULL;

-- userRegistrationDetails' newer fields, under Graph's meaning: method names
-- are Graph's own (systemPreferredAuthenticationMethods comma-separated).
ALTER TABLE users ADD COLUMN is_mfa_registered BOOLEAN;
ALTER TABLE users ADD COLUMN default_mfa_method TEXT;
ALTER TABLE users ADD COLUMN is_system_preferred_enabled BOOLEAN;
ALTER TABLE users ADD COLUMN system_preferred_methods TEXT;
ALTER TABLE users ADD COLUMN user_preferred_method TEXT;
ALTER TABLE users ADD COLUMN registration_updated_at TIMESTAMP;

-- The status key grows to 64 bits (src/domain/status.rs, StatusKey::pack):
-- bits 0-31 the methods mask; 32 registered, 33 enabled, 34 capable, 35 MFA
-- capable, 36 passwordless capable, 37 guest, 38 admin, 39 account enabled,
-- 40 account enabled is known, 41 MFA registered, 42 MFA registered is
-- known, 43-47 default MFA method, 48-52 system-preferred method (0 where
-- not stated).
ALTER TABLE users ALTER COLUMN status_key TYPE BIGINT;
UPDATE users SET status_key = methods_mask::bigint
    | (is_registered::int::bigint << 32) | (is_enabled::int::bigint << 33)
    | (is_capable::int::bigint << 34) | (is_mfa_capable::int::bigint << 35)
    | (is_passwordless_capable::int::bigint << 36)
    | (is_guest::int::bigint << 37) | (is_admin::int::bigint << 38)
    | CASE WHEN account_enabled IS NULL THEN 0::bigint
           ELSE (1::bigint << 40) | (account_enabled::int::bigint << 39) END;

-- Users per status key: one column, so a new filterable attribute needs no
-- new table.
DROP TABLE user_status_counts;
CREATE TABLE user_status_counts (
    status_key BIGINT NOT NULL PRIMARY KEY,
    user_count BIGINT NOT NULL
);
INSERT INTO user_status_counts SELECT status_key, COUNT(*) FROM users GROUP BY status_key;
