-- paylink schema v24: where a link's (or an API session's) page ships
-- (Stripe's shipping_address_collection; JSON), and the shipping address a
-- buyer gave (sealed, erased with the buyer's other details).
ALTER TABLE payment_links ADD COLUMN shipping_address_collection TEXT;
ALTER TABLE checkout_sessions ADD COLUMN shipping_details TEXT;
