DROP INDEX users_by_id_names;
