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
ALTER TABLE users ADD COLUMN account_enabled_required BOOLEAN NOT NULL DEFAULT 1;
UPDATE users SET account_enabled_required = COALESCE(account_enabled, 1);
ALTER TABLE users DROP COLUMN account_enabled;
ALTER TABLE users RENAME COLUMN account_enabled_required TO account_enabled;
UPDATE users SET status_key = (methods_mask & 65535)
    | (is_registered << 16) | (is_enabled << 17) | (is_capable << 18)
    | (is_mfa_capable << 19) | (is_passwordless_capable << 20)
    | (is_guest << 21) | (is_admin << 22) | (account_enabled << 23);
INSERT INTO user_status_counts
SELECT is_registered, is_enabled, is_capable, is_mfa_capable, is_passwordless_capable,
       is_guest, is_admin, account_enabled, methods_mask, COUNT(*)
FROM users GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;
