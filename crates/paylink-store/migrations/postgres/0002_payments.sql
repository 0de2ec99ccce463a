-- paylink schema v2 (PostgreSQL): checkout sessions, payments, customers,
-- refunds, provider events, and the reservations that keep limits exact.
ALTER TABLE accounts ADD COLUMN primary_color TEXT NOT NULL DEFAULT '#4f46e5';
ALTER TABLE accounts ADD COLUMN require_3ds BIGINT NOT NULL DEFAULT 0;

ALTER TABLE payment_links ADD COLUMN reserved_sessions BIGINT NOT NULL DEFAULT 0;
ALTER TABLE promotion_codes ADD COLUMN reserved BIGINT NOT NULL DEFAULT 0;
ALTER TABLE coupons ADD COLUMN reserved BIGINT NOT NULL DEFAULT 0;

CREATE TABLE customers (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    livemode BIGINT NOT NULL CHECK (livemode IN (0, 1)),
    id TEXT NOT NULL,
    created BIGINT NOT NULL,
    email TEXT,
    email_key TEXT,
    name TEXT,
    phone TEXT,
    address TEXT,
    metadata TEXT NOT NULL,
    deleted BIGINT NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    UNIQUE (account_id, livemode, id)
);
CREATE INDEX customers_list ON customers (account_id, livemode, seq);
CREATE INDEX customers_email ON customers (account_id, livemode, email_key);

CREATE TABLE checkout_sessions (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    livemode BIGINT NOT NULL CHECK (livemode IN (0, 1)),
    id TEXT NOT NULL,
    created BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    payment_link_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'complete', 'expired')),
    payment_status TEXT NOT NULL CHECK (payment_status IN ('unpaid', 'paid')),
    currency TEXT NOT NULL,
    amount_subtotal BIGINT NOT NULL,
    amount_discount BIGINT NOT NULL,
    amount_total BIGINT NOT NULL,
    promotion_code_id TEXT,
    coupon_id TEXT,
    first_time_claim TEXT,
    customer_email TEXT,
    customer_name TEXT,
    customer_phone TEXT,
    customer_address TEXT,
    custom_fields TEXT NOT NULL,
    line_items TEXT NOT NULL,
    metadata TEXT NOT NULL,
    customer_id TEXT,
    payment_intent_id TEXT,
    provider TEXT NOT NULL,
    provider_ref TEXT,
    UNIQUE (account_id, livemode, id)
);
CREATE INDEX checkout_sessions_list ON checkout_sessions (account_id, livemode, seq);
CREATE INDEX checkout_sessions_id ON checkout_sessions (id);
CREATE INDEX checkout_sessions_open ON checkout_sessions (status, expires_at);

-- One open or completed first-purchase claim per buyer email and account.
CREATE TABLE first_time_claims (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    livemode BIGINT NOT NULL CHECK (livemode IN (0, 1)),
    email_key TEXT NOT NULL,
    session_id TEXT NOT NULL,
    PRIMARY KEY (account_id, livemode, email_key)
);

CREATE TABLE payment_intents (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    livemode BIGINT NOT NULL CHECK (livemode IN (0, 1)),
    id TEXT NOT NULL,
    created BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    amount_refunded BIGINT NOT NULL DEFAULT 0,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    card_brand TEXT,
    card_last4 TEXT,
    customer_id TEXT,
    checkout_session_id TEXT NOT NULL,
    payment_link_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    provider_ref TEXT NOT NULL,
    metadata TEXT NOT NULL,
    UNIQUE (account_id, livemode, id),
    UNIQUE (account_id, livemode, checkout_session_id)
);
CREATE INDEX payment_intents_list ON payment_intents (account_id, livemode, seq);

CREATE TABLE refunds (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    livemode BIGINT NOT NULL CHECK (livemode IN (0, 1)),
    id TEXT NOT NULL,
    created BIGINT NOT NULL,
    payment_intent_id TEXT NOT NULL,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    reason TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    provider_ref TEXT,
    metadata TEXT NOT NULL,
    UNIQUE (account_id, livemode, id)
);
CREATE INDEX refunds_list ON refunds (account_id, livemode, seq);

-- Each provider event is processed once, however often it is delivered.
CREATE TABLE provider_events (
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    received BIGINT NOT NULL,
    PRIMARY KEY (provider, event_id)
);
