-- paylink schema v25: the account's terms of service URL (a checkout
-- setting), whether a link (or an API session's page) asks the buyer to
-- accept them (Stripe's consent_collection[terms_of_service]=required),
-- and whether the session's buyer did.
ALTER TABLE accounts ADD COLUMN terms_url TEXT;
ALTER TABLE payment_links ADD COLUMN consent_terms BIGINT NOT NULL DEFAULT 0 CHECK (consent_terms IN (0, 1));
ALTER TABLE checkout_sessions ADD COLUMN terms_accepted BIGINT NOT NULL DEFAULT 0 CHECK (terms_accepted IN (0, 1));
