-- paylink schema v17: the life of an API key.
-- * allowed_ips: CIDR ranges (space-separated) the key may be used from
--   (NULL: anywhere the account's allowlist allows).
-- * last_used: when it was last used, to the minute (written in batches,
--   not once per request).
-- * rolled_from: the key this one replaced (its expiry was set by the roll).
ALTER TABLE api_keys ADD COLUMN allowed_ips TEXT;
ALTER TABLE api_keys ADD COLUMN last_used INTEGER;
ALTER TABLE api_keys ADD COLUMN rolled_from TEXT;
