-- The lists ordered by name or user name, and their CSVs, read a row's
-- registration details from the index as they read the rest of it: a CSV
-- of every user walks the index alone instead of seeking each row.
DROP INDEX users_by_name;
CREATE INDEX users_by_name ON users (display_name, id, user_principal_name, status_key, search_text,
    is_mfa_registered, default_mfa_method, is_system_preferred_enabled, system_preferred_methods,
    user_preferred_method, registration_updated_at, other_methods);
DROP INDEX users_by_upn;
CREATE INDEX users_by_upn ON users (user_principal_name, id, display_name, status_key, search_text,
    is_mfa_registered, default_mfa_method, is_system_preferred_enabled, system_preferred_methods,
    user_preferred_method, registration_updated_at, other_methods);
