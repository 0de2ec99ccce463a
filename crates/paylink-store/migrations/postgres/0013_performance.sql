-- paylink schema v13: performance.
-- * The overview sums the successful payments of the last 30 days per day
--   and currency in the database; this index serves that range (and any
--   other by account, mode, status and creation) without reading the
--   account's other payments.
CREATE INDEX payment_intents_created ON payment_intents (account_id, livemode, status, created);
