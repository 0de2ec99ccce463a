-- paylink schema v26: a customer's description and shipping (name, phone,
-- address; both sealed like their other personal fields and erased with
-- them) and preferred_locales (a JSON list of language tags).
ALTER TABLE customers ADD COLUMN description TEXT;
ALTER TABLE customers ADD COLUMN shipping TEXT;
ALTER TABLE customers ADD COLUMN preferred_locales TEXT;
