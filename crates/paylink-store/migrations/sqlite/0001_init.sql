-- paylink schema v1 (SQLite). Every tenant table leads with account_id and
-- livemode; `seq` orders lists (newest first) and is the pagination cursor.
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    owner_email TEXT NOT NULL,
    created INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    livemode INTEGER NOT NULL CHECK (livemode IN (0, 1)),
    kind TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    last4 TEXT NOT NULL,
    created INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX api_keys_account ON api_keys (account_id, livemode);

CREATE TABLE products (
    seq INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    livemode INTEGER NOT NULL CHECK (livemode IN (0, 1)),
    id TEXT NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    active INTEGER NOT NULL CHECK (active IN (0, 1)),
    images TEXT NOT NULL,
    metadata TEXT NOT NULL,
    default_price TEXT,
    url TEXT,
    UNIQUE (account_id, livemode, id)
);
CREATE INDEX products_list ON products (account_id, livemode, seq);

CREATE TABLE prices (
    seq INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL,
    livemode INTEGER NOT NULL CHECK (livemode IN (0, 1)),
    id TEXT NOT NULL,
    created INTEGER NOT NULL,
    product_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    unit_amount INTEGER,
    custom_enabled INTEGER NOT NULL CHECK (custom_enabled IN (0, 1)),
    custom_minimum INTEGER,
    custom_maximum INTEGER,
    custom_preset INTEGER,
    nickname TEXT,
    active INTEGER NOT NULL CHECK (active IN (0, 1)),
    lookup_key TEXT,
    metadata TEXT NOT NULL,
    UNIQUE (account_id, livemode, id),
    FOREIGN KEY (account_id, livemode, product_id) REFERENCES products (account_id, livemode, id)
);
CREATE INDEX prices_list ON prices (account_id, livemode, seq);
CREATE INDEX prices_product ON prices (account_id, livemode, product_id);

CREATE TABLE coupons (
    seq INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    livemode INTEGER NOT NULL CHECK (livemode IN (0, 1)),
    id TEXT NOT NULL,
    created INTEGER NOT NULL,
    name TEXT,
    percent_off_bp INTEGER,
    amount_off INTEGER,
    currency TEXT,
    duration TEXT NOT NULL,
    max_redemptions INTEGER,
    redeem_by INTEGER,
    times_redeemed INTEGER NOT NULL DEFAULT 0,
    metadata TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    UNIQUE (account_id, livemode, id)
);
CREATE INDEX coupons_list ON coupons (account_id, livemode, seq);

CREATE TABLE promotion_codes (
    seq INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL,
    livemode INTEGER NOT NULL CHECK (livemode IN (0, 1)),
    id TEXT NOT NULL,
    created INTEGER NOT NULL,
    code TEXT NOT NULL,
    code_key TEXT NOT NULL,
    coupon_id TEXT NOT NULL,
    active INTEGER NOT NULL CHECK (active IN (0, 1)),
    max_redemptions INTEGER,
    expires_at INTEGER,
    minimum_amount INTEGER,
    minimum_amount_currency TEXT,
    first_time_transaction INTEGER NOT NULL CHECK (first_time_transaction IN (0, 1)),
    times_redeemed INTEGER NOT NULL DEFAULT 0,
    metadata TEXT NOT NULL,
    UNIQUE (account_id, livemode, id),
    UNIQUE (account_id, livemode, code_key),
    FOREIGN KEY (account_id, livemode, coupon_id) REFERENCES coupons (account_id, livemode, id)
);
CREATE INDEX promotion_codes_list ON promotion_codes (account_id, livemode, seq);

CREATE TABLE payment_links (
    seq INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    livemode INTEGER NOT NULL CHECK (livemode IN (0, 1)),
    id TEXT NOT NULL,
    created INTEGER NOT NULL,
    active INTEGER NOT NULL CHECK (active IN (0, 1)),
    currency TEXT NOT NULL,
    allow_promotion_codes INTEGER NOT NULL CHECK (allow_promotion_codes IN (0, 1)),
    after_completion TEXT NOT NULL,
    inactive_message TEXT,
    completed_sessions_limit INTEGER,
    completed_sessions_count INTEGER NOT NULL DEFAULT 0,
    custom_fields TEXT NOT NULL,
    billing_address_collection TEXT NOT NULL,
    phone_number_collection INTEGER NOT NULL CHECK (phone_number_collection IN (0, 1)),
    submit_type TEXT NOT NULL,
    metadata TEXT NOT NULL,
    UNIQUE (account_id, livemode, id)
);
CREATE INDEX payment_links_list ON payment_links (account_id, livemode, seq);
CREATE INDEX payment_links_id ON payment_links (id);

CREATE TABLE payment_link_items (
    account_id TEXT NOT NULL,
    livemode INTEGER NOT NULL CHECK (livemode IN (0, 1)),
    link_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    id TEXT NOT NULL,
    price_id TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    adjustable_enabled INTEGER,
    adjustable_minimum INTEGER,
    adjustable_maximum INTEGER,
    PRIMARY KEY (account_id, livemode, link_id, position),
    FOREIGN KEY (account_id, livemode, link_id) REFERENCES payment_links (account_id, livemode, id) ON DELETE CASCADE,
    FOREIGN KEY (account_id, livemode, price_id) REFERENCES prices (account_id, livemode, id)
);

CREATE TABLE idempotency_keys (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    livemode INTEGER NOT NULL CHECK (livemode IN (0, 1)),
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('in_flight', 'done')),
    status INTEGER,
    body BLOB,
    created INTEGER NOT NULL,
    PRIMARY KEY (account_id, livemode, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created);
