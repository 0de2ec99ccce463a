-- paylink schema v9 (sqlite): data key generations. An account's first data
-- key is the data_keys row named after it (generation 0); `paylink keys
-- rotate-data` adds generation n (stored as data_keys row '<owner>#g<n>'),
-- first 'staged' (readable everywhere), then 'current' (used to seal), and
-- destroys the older generations once nothing is sealed under them.
CREATE TABLE data_key_generations (
    owner TEXT NOT NULL,
    generation INTEGER NOT NULL CHECK (generation > 0),
    state TEXT NOT NULL CHECK (state IN ('staged', 'current')),
    created INTEGER NOT NULL,
    PRIMARY KEY (owner, generation)
);
