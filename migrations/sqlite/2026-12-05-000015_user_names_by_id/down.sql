DROP INDEX users_by_id_names;
CREATE INDEX users_by_id_search ON users (id, search_text);
