-- paylink schema v16: restricted and publishable API keys.
-- * kind is 'secret', 'restricted' or 'publishable'; a restricted key's
--   permissions are 'resource=access' pairs (products=write,refunds=read).
-- * name: the merchant's label; created_by: who made it (user:…, cli).
ALTER TABLE api_keys ADD COLUMN permissions TEXT;
ALTER TABLE api_keys ADD COLUMN name TEXT;
ALTER TABLE api_keys ADD COLUMN created_by TEXT;
