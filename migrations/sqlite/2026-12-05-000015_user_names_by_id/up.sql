-- The names of the users a page or a download of events and activities
-- shows are looked up by id, one user per row, in random order: from this
-- index alone that is one b-tree descent, where the table took two (the
-- id's index, then the row). It also holds the search text, which a search
-- walking the events checks by user id, so it replaces (id, search_text).
DROP INDEX users_by_id_search;
CREATE INDEX users_by_id_names ON users (id, display_name, user_principal_name, search_text);
