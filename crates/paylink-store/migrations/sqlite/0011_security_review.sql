-- paylink schema v11 (sqlite): what the security review asked for.
-- * A checkout session remembers the provider merchant its payment was
--   created with: only that merchant's event for that payment completes it.
--   It also keeps the provider page URL: buyers go there through paylink
--   (/checkout/{id}/go), which extends a held place; a place whose page
--   is never reached is released after a few minutes.
-- * The second factor has its own failure counter and escalating lock.
-- * Invitations: joining an account takes the invitee's own action through
--   a link sent to the invited address (kept sealed in the mail outbox
--   until email delivery exists; the operator reads it with the CLI).
-- * Idempotent responses are kept sealed (sealed_body) under the account's
--   data key; the old clear body column is no longer written.
-- * Shared counters for rate limits (checkout openings per client and per
--   link), one atomic upsert each.
ALTER TABLE checkout_sessions ADD COLUMN provider_account TEXT;
ALTER TABLE checkout_sessions ADD COLUMN provider_url TEXT;
ALTER TABLE users ADD COLUMN code_failed_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN code_locked_until INTEGER;
ALTER TABLE idempotency_keys ADD COLUMN sealed_body TEXT;
UPDATE idempotency_keys SET body = NULL;

CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    email_key TEXT NOT NULL,
    email TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'analyst', 'support')),
    invited_by TEXT NOT NULL,
    created INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    accepted_at INTEGER,
    accepted_by TEXT,
    revoked_at INTEGER
);
CREATE INDEX invitations_account ON invitations (account_id, created);

CREATE TABLE mail_outbox (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created INTEGER NOT NULL,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    body TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    sent_at INTEGER
);
CREATE INDEX mail_outbox_created ON mail_outbox (created);

CREATE TABLE rate_counters (
    bucket TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    hits INTEGER NOT NULL
);
