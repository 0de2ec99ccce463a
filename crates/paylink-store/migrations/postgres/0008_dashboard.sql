-- paylink schema v8 (postgres): dashboard users, their memberships and roles,
-- one-time setup and invitation links, server-side sessions, recovery
-- codes, brute-force counters (shared by every instance) and the outbox of
-- security notices. Emails are sealed with the instance's data key and
-- found through a keyed blind index; tokens and codes are stored hashed.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email_key TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    password_hash TEXT,
    totp_seed TEXT,
    totp_pending TEXT,
    totp_last_step BIGINT,
    failed_count BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    created BIGINT NOT NULL,
    password_changed BIGINT,
    last_login BIGINT,
    last_seen BIGINT
);

CREATE TABLE memberships (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'analyst', 'support')),
    created BIGINT NOT NULL,
    PRIMARY KEY (account_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE user_tokens (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('setup', 'invite')),
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    created BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE dashboard_sessions (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    account_id TEXT,
    livemode BIGINT NOT NULL DEFAULT 0 CHECK (livemode IN (0, 1)),
    stage TEXT NOT NULL CHECK (stage IN ('mfa', 'enrol', 'full')),
    created BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    auth_time BIGINT NOT NULL,
    ip TEXT,
    user_agent TEXT,
    ended_at BIGINT
);
CREATE INDEX dashboard_sessions_user ON dashboard_sessions (user_id, ended_at);

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE login_throttle (
    ip TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    failures BIGINT NOT NULL
);

CREATE TABLE security_outbox (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    created BIGINT NOT NULL,
    account_id TEXT,
    user_id TEXT,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX security_outbox_account ON security_outbox (account_id, seq);

ALTER TABLE accounts ADD COLUMN ip_allowlist TEXT NOT NULL DEFAULT '';
