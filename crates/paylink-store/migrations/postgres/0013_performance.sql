-- paylink schema v13: performance.
-- * The overview's figures (successful payments per UTC day and currency,
--   net of refunds) are kept as daily totals, changed in the same
--   transaction as the payment or refund that changes them, so the
--   overview reads at most 30 rows per currency whatever the number of
--   payments. Filled here from the payments there are.
CREATE TABLE payment_days (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    livemode BIGINT NOT NULL CHECK (livemode IN (0, 1)),
    day BIGINT NOT NULL,
    currency TEXT NOT NULL,
    payments BIGINT NOT NULL,
    net BIGINT NOT NULL,
    PRIMARY KEY (account_id, livemode, day, currency)
);
INSERT INTO payment_days (account_id, livemode, day, currency, payments, net)
SELECT account_id, livemode, created / 86400, currency, COUNT(*), CAST(SUM(amount - amount_refunded) AS BIGINT)
FROM payment_intents WHERE status = 'succeeded'
GROUP BY account_id, livemode, created / 86400, currency;
