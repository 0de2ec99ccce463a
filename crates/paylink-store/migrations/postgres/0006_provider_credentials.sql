-- paylink schema v6 (PostgreSQL): each account's provider credential per mode,
-- sealed with the account's data key; shown only as its last four.
CREATE TABLE provider_credentials (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    livemode BIGINT NOT NULL CHECK (livemode IN (0, 1)),
    provider TEXT NOT NULL,
    secret TEXT NOT NULL,
    last4 TEXT NOT NULL,
    provider_account TEXT NOT NULL,
    created BIGINT NOT NULL,
    PRIMARY KEY (account_id, livemode)
);
