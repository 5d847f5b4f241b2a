DROP INDEX activities_by_time;
DROP INDEX method_events_by_time_id;
DROP INDEX activities_unknown_by_time;
