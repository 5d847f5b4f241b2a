-- The Graph-compatible audit log and events summary read activities and
-- method events in time order across features.
CREATE INDEX activities_by_time ON activities (occurred_at, id);
CREATE INDEX method_events_by_time_id ON method_events (occurred_at, id);
