-- paylink schema v12 (postgres): reliability.
-- * An idempotency claim carries a lease and a claim token: a retry may
--   take over a claim whose lease ran out with nothing committed (the
--   process died mid-request). The work's own transaction sets committed
--   (and recovery: the path of the object it made) under the claim token,
--   so a retry after a crash replays the object instead of doing the work
--   twice.
-- * Pending refunds are indexed, so the reconciler finds the ones a
--   crash or an unreachable provider left pending.
ALTER TABLE idempotency_keys ADD COLUMN claim TEXT;
ALTER TABLE idempotency_keys ADD COLUMN lease_until BIGINT;
ALTER TABLE idempotency_keys ADD COLUMN committed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE idempotency_keys ADD COLUMN recovery TEXT;
CREATE INDEX refunds_pending ON refunds (created) WHERE status = 'pending';
