-- paylink schema v20: the merchant's own reference for a checkout
-- (Stripe's client_reference_id: up to 200 letters, digits, dashes and
-- underscores, from the link's ?client_reference_id=), to tie a payment
-- to the merchant's user or order.
ALTER TABLE checkout_sessions ADD COLUMN client_reference_id TEXT;
