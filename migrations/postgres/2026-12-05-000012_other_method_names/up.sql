-- The names a source gave methods this portal does not know (stored as the
-- "other" method): a method event's own, and a user's registered ones
-- (comma-separated, in the source's order).
ALTER TABLE method_events ADD COLUMN method_name TEXT;
ALTER TABLE users ADD COLUMN other_methods TEXT;
