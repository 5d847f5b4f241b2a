DROP INDEX method_events_by_user;
DROP INDEX method_events_by_kind;
DROP INDEX users_by_search;
DROP INDEX users_by_key_upn;
DROP INDEX users_by_key_name;
ALTER TABLE users DROP COLUMN status_key;
ALTER TABLE users ALTER COLUMN user_principal_name TYPE TEXT COLLATE "default";
ALTER TABLE users ALTER COLUMN display_name TYPE TEXT COLLATE "default";
