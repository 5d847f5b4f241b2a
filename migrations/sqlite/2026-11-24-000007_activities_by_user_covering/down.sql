DROP INDEX activities_by_user_time;
CREATE INDEX activities_by_user_time ON activities (user_id, occurred_at) WHERE user_id IS NOT NULL;
