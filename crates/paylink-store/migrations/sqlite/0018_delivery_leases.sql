-- paylink schema v18: deliveries in flight found without a scan of every
-- pending one. Each claim counts what is in flight per endpoint and
-- account (state pending, lease not run out); with this index that costs
-- the rows in flight (at most the workers' slots), not the whole backlog.
CREATE INDEX webhook_deliveries_leased ON webhook_deliveries (lease_until) WHERE state = 'pending';
