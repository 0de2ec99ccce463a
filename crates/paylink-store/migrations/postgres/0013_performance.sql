-- paylink schema v13: performance.
-- * The overview sums the successful payments of the last 30 days per day
--   and currency in the database; this index holds every column that sum
--   reads, so the range is read from the index alone, without the table
--   or the account's other payments.
CREATE INDEX payment_intents_created ON payment_intents (account_id, livemode, status, created, currency, amount, amount_refunded);
