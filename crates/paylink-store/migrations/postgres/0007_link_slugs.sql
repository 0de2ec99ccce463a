-- paylink schema v7 (PostgreSQL): an optional slug for a payment link's URL
-- (/l/<slug>), unique across the instance since the URL names no account.
ALTER TABLE payment_links ADD COLUMN slug TEXT;
CREATE UNIQUE INDEX payment_links_slug ON payment_links (slug);
