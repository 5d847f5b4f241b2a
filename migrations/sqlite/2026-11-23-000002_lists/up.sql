-- Lists: registration details and reset details page through these indexes
-- without sorting or scanning (DESIGN.md section 7).

-- Every filterable user attribute packed into one integer: the key of
-- user_status_counts. Bits 0-12 the methods mask; 16 registered, 17 enabled,
-- 18 capable, 19 MFA capable, 20 passwordless capable, 21 guest, 22 admin,
-- 23 account enabled (src/db/models.rs, StatusKey::pack).
ALTER TABLE users ADD COLUMN status_key INTEGER NOT NULL DEFAULT 0;
UPDATE users SET status_key = methods_mask
    | (is_registered << 16) | (is_enabled << 17) | (is_capable << 18)
    | (is_mfa_capable << 19) | (is_passwordless_capable << 20)
    | (is_guest << 21) | (is_admin << 22) | (account_enabled << 23);

-- A selective filter seeks the few status keys it matches, each in name order.
CREATE INDEX users_by_key_name ON users (status_key, display_name, id);
CREATE INDEX users_by_key_upn ON users (status_key, user_principal_name, id);
-- The search scans this narrow index instead of the table.
CREATE INDEX users_by_search ON users (search_text, status_key);

-- Reset details: one ordered stream per (feature, method, status), merged.
CREATE INDEX method_events_by_kind ON method_events (feature, method, success, occurred_at, id);
-- A user's events, for a search that matches a few users.
CREATE INDEX method_events_by_user ON method_events (user_id, occurred_at, id, feature, method, success);
