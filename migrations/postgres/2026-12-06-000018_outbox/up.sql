-- The outbox: every mail and webhook the portal sends (subscriptions,
-- alerts, tests), queued in the transaction that decided to send it and
-- delivered by the portal's notify worker (docs/notifications.md). The
-- idempotency key makes a second enqueue of the same message a no-op; the
-- lease (lease_until, leased_by) hands a message to one sender at a time
-- across every portal on the database.
CREATE TABLE outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    -- 'subscription:12', 'alert:3', 'test'
    origin TEXT NOT NULL,
    -- 'email' or 'webhook'
    channel TEXT NOT NULL,
    -- comma-separated addresses, or the webhook's URL
    destination TEXT NOT NULL,
    subject TEXT NOT NULL,
    -- the mail's text, or the webhook's JSON body
    body TEXT NOT NULL,
    attachment_name TEXT,
    attachment BYTEA,
    -- the webhook's signing secret
    secret TEXT,
    -- 'pending', 'sent' or 'failed' (given up)
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until TIMESTAMP,
    leased_by TEXT,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
-- The worker's question (which pending messages are due), and the
-- metrics' (how many are pending, how many failed).
CREATE INDEX outbox_state ON outbox (state, next_attempt_at);
-- "The last result" of a subscription or an alert.
CREATE INDEX outbox_origin ON outbox (origin, id);
