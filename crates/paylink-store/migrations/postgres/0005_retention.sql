-- paylink schema v5 (PostgreSQL): marks checkout sessions whose buyer details
-- were erased (redaction or retention), so purges run once.
ALTER TABLE checkout_sessions ADD COLUMN redacted BIGINT NOT NULL DEFAULT 0;
CREATE INDEX checkout_sessions_retention ON checkout_sessions (status, redacted, expires_at);
CREATE INDEX provider_events_received ON provider_events (received);
