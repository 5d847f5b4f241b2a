-- The names of the users a page or a download of events and activities
-- shows are looked up by id, one user per row, in random order: with the
-- names in the index, PostgreSQL answers from it alone (an index-only scan)
-- instead of visiting each user's row in the table.
CREATE INDEX users_by_id_names ON users (id) INCLUDE (display_name, user_principal_name);
