DROP INDEX users_by_name;
CREATE INDEX users_by_name ON users (display_name, id, user_principal_name, status_key, search_text);
DROP INDEX users_by_upn;
CREATE INDEX users_by_upn ON users (user_principal_name, id, display_name, status_key, search_text);
