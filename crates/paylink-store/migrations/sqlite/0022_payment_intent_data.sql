-- paylink schema v22: what a link (or an API-created session) sets on the
-- payment it makes (Stripe's payment_intent_data: description, metadata,
-- statement_descriptor; JSON, nothing personal), copied to the session
-- when it opens, and the payment's own description and statement
-- descriptor (the description can be changed later through the API).
ALTER TABLE payment_links ADD COLUMN payment_intent_data TEXT;
ALTER TABLE checkout_sessions ADD COLUMN payment_intent_data TEXT;
ALTER TABLE payment_intents ADD COLUMN description TEXT;
ALTER TABLE payment_intents ADD COLUMN statement_descriptor TEXT;
