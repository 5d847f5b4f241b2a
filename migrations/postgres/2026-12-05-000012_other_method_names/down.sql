ALTER TABLE users DROP COLUMN other_methods;
ALTER TABLE method_events DROP COLUMN method_name;
