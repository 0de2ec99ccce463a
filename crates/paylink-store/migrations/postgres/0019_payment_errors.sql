-- paylink schema v19: failed attempts. A declined card makes (or keeps)
-- the session's payment intent in requires_payment_method with why it
-- failed (JSON: code, decline_code, message), as Stripe does; a later
-- success turns the same payment intent succeeded and clears it.
ALTER TABLE payment_intents ADD COLUMN last_payment_error TEXT;
