-- paylink schema v25: the account's terms of service URL (a checkout
-- setting), whether a link (or an API session's page) asks the buyer to
-- accept them (Stripe's consent_collection[terms_of_service]=required),
-- and whether the session's buyer did.
ALTER TABLE accounts ADD COLUMN terms_url TEXT;
ALTER TABLE payment_links ADD COLUMN consent_terms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE checkout_sessions ADD COLUMN terms_accepted INTEGER NOT NULL DEFAULT 0;
