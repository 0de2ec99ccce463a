-- paylink schema v15: webhook endpoints and their deliveries.
-- * An endpoint's signing secret (whsec_…) is sealed under the account's
--   data key; while it is rolled, the previous secret is kept (sealed)
--   until previous_secret_expires and signs alongside.
-- * Every event an endpoint listens to gets one delivery row in the same
--   transaction as the event (the outbox); paylink-jobs claims due rows
--   (FOR UPDATE SKIP LOCKED on PostgreSQL) under a lease, posts, and
--   records each attempt. A delivery is retried with back-off for 3 days;
--   an endpoint failing for 3 days is disabled.
CREATE TABLE webhook_endpoints (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    livemode BIGINT NOT NULL CHECK (livemode IN (0, 1)),
    id TEXT NOT NULL,
    created BIGINT NOT NULL,
    url TEXT NOT NULL,
    description TEXT,
    enabled_events TEXT NOT NULL,
    api_version TEXT,
    metadata TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
    disabled_reason TEXT,
    failing_since BIGINT,
    secret TEXT,
    previous_secret TEXT,
    previous_secret_expires BIGINT,
    deleted BIGINT NOT NULL DEFAULT 0,
    UNIQUE (account_id, livemode, id)
);
CREATE INDEX webhook_endpoints_list ON webhook_endpoints (account_id, livemode, seq);

CREATE TABLE webhook_deliveries (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    livemode BIGINT NOT NULL CHECK (livemode IN (0, 1)),
    endpoint_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    created BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt BIGINT NOT NULL,
    lease_until BIGINT NOT NULL DEFAULT 0,
    lease_token TEXT,
    last_status BIGINT,
    last_error TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (account_id, livemode, event_id);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (account_id, livemode, endpoint_id, seq);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created);

CREATE TABLE webhook_attempts (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    livemode BIGINT NOT NULL CHECK (livemode IN (0, 1)),
    delivery_seq BIGINT NOT NULL,
    endpoint_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    created BIGINT NOT NULL,
    status BIGINT,
    latency_ms BIGINT NOT NULL,
    error TEXT,
    response_excerpt TEXT
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (account_id, livemode, endpoint_id, seq);
CREATE INDEX webhook_attempts_created ON webhook_attempts (created);
