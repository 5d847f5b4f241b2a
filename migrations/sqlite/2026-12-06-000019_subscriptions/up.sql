-- Subscriptions: a saved list view (its path and query string exactly as
-- bookmarked) sent on a schedule, or an alert on the count that view shows,
-- sent when it crosses a line and again when it clears. Messages go through
-- the outbox; a subscription only decides when and what.
CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY NOT NULL,
    -- 'report' (the view's CSV on a schedule) or 'alert' (a rule on its count)
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    owner_id TEXT NOT NULL REFERENCES accounts (id),
    view_path TEXT NOT NULL,
    view_query TEXT NOT NULL,
    -- 'email' (comma-separated addresses) or 'webhook' (a URL)
    channel TEXT NOT NULL,
    destination TEXT NOT NULL,
    -- Signs the webhook body (HMAC-SHA256); shown to the owner.
    secret TEXT NOT NULL,
    -- Rows a webhook body carries.
    webhook_rows BIGINT NOT NULL,
    -- A report's schedule: 'daily', 'weekly', 'monthly'; an alert's checks
    -- run on every change of the data and every check_minutes.
    frequency TEXT NOT NULL,
    weekday TEXT,
    day_of_month BIGINT,
    hour BIGINT NOT NULL,
    time_zone TEXT NOT NULL,
    -- An alert's rule: 'above', 'below', 'rises_by', 'falls_by',
    -- 'rises_by_percent', 'falls_by_percent' and its threshold.
    condition TEXT,
    threshold BIGINT,
    check_minutes BIGINT,
    -- A firing alert repeats at most once per this many minutes.
    repeat_minutes BIGINT,
    -- 'active' or 'paused' (paused_reason says why: by whom, or what failed)
    state TEXT NOT NULL,
    paused_reason TEXT,
    next_run_at TIMESTAMP NOT NULL,
    last_run_at TIMESTAMP,
    -- What the last run came to, in a sentence.
    last_result TEXT,
    -- An alert's state: the count at its last check, the data version then,
    -- whether it is firing, since when, and when it last said so.
    last_value BIGINT,
    checked_version BIGINT,
    firing BOOLEAN NOT NULL DEFAULT FALSE,
    firing_since TIMESTAMP,
    notified_at TIMESTAMP,
    -- Every change bumps it: two instances never both act on one state.
    revision BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX subscriptions_due ON subscriptions (state, next_run_at);
CREATE INDEX subscriptions_owner ON subscriptions (owner_id);
