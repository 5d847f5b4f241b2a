-- The Graph-compatible audit log and events summary read activities and
-- method events in time order across features.
CREATE INDEX activities_by_time ON activities (occurred_at, id);
CREATE INDEX method_events_by_time_id ON method_events (occurred_at, id);
-- The audit log of users the directory does not hold (Graph's all-zero id):
-- few rows, every column, in time order.
CREATE INDEX activities_unknown_by_time ON activities
    (occurred_at, id, user_principal_name, user_display_name, user_role, feature,
     methods_mask, result, details, import_id)
    WHERE user_id IS NULL;
PRAGMA analysis_limit = 1000;
ANALYZE activities;
