-- paylink schema v23: the texts a link's checkout page shows beside its
-- Pay button (Stripe's custom_text: submit, after_submit; JSON).
ALTER TABLE payment_links ADD COLUMN custom_text TEXT;
