DROP INDEX method_events_outside_directory;
ALTER TABLE method_events DROP COLUMN user_display_name;
ALTER TABLE method_events DROP COLUMN user_principal_name;
