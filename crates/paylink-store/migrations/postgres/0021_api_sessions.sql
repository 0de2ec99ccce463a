-- paylink schema v21: checkout sessions the merchant creates through
-- POST /v1/checkout/sessions. Such a session belongs to no payment link
-- (payment_link_id is then the empty string, here and on its payment
-- intent: the column stays NOT NULL, which SQLite could only drop by
-- rebuilding the table); offer holds what its page sells and asks (JSON,
-- nothing personal); submitted_at is when its buyer submitted the page
-- (a link's session is opened by that submission).
ALTER TABLE checkout_sessions ADD COLUMN offer TEXT;
ALTER TABLE checkout_sessions ADD COLUMN submitted_at BIGINT;
UPDATE checkout_sessions SET submitted_at = created;
