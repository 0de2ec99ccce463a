-- paylink schema v27: what a link's page offered when its session opened
-- (promotion codes, address and phone collection, submit type, custom
-- texts, shipping countries, terms; JSON), so the session reports it as
-- Stripe's sessions do even after the link changes. NULL for sessions
-- opened before, and for API-created ones (their offer says it).
ALTER TABLE checkout_sessions ADD COLUMN link_page TEXT;
-- And when a payment intent was canceled (its session expired unpaid).
ALTER TABLE payment_intents ADD COLUMN canceled_at BIGINT;
