DROP TABLE user_status_counts;
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
ALTER TABLE users DROP COLUMN registration_updated_at;
ALTER TABLE users DROP COLUMN user_preferred_method;
ALTER TABLE users DROP COLUMN system_preferred_methods;
ALTER TABLE users DROP COLUMN is_system_preferred_enabled;
ALTER TABLE users DROP COLUMN default_mfa_method;
ALTER TABLE users DROP COLUMN is_mfa_registered;
UPDATE users SET account_enabled = TRUE WHERE account_enabled IS NULL;
ALTER TABLE users ALTER COLUMN account_enabled SET NOT NULL;
UPDATE users SET status_key = (methods_mask & 65535)
    | (is_registered::int << 16) | (is_enabled::int << 17) | (is_capable::int << 18)
    | (is_mfa_capable::int << 19) | (is_passwordless_capable::int << 20)
    | (is_guest::int << 21) | (is_admin::int << 22) | (account_enabled::int << 23);
ALTER TABLE users ALTER COLUMN status_key TYPE INTEGER;
INSERT INTO user_status_counts
SELECT is_registered, is_enabled, is_capable, is_mfa_capable, is_passwordless_capable,
       is_guest, is_admin, account_enabled, methods_mask, COUNT(*)
FROM users GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;
