-- A method event whose user is not in the directory (deleted since, or not
-- exported yet) is kept with the user principal name and display name its
-- source gave. These two columns are set exactly while the event's user is
-- not in the directory; an import that brings the user clears them (and, for
-- an event that named its user only by user principal name, sets user_id).
ALTER TABLE method_events ADD COLUMN user_principal_name TEXT;
ALTER TABLE method_events ADD COLUMN user_display_name TEXT;
-- Those events, newest first: few, so the index is small.
CREATE INDEX method_events_outside_directory ON method_events (occurred_at, id)
    WHERE user_principal_name IS NOT NULL;
