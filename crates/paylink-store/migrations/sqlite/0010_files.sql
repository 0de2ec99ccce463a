-- paylink schema v10 (sqlite): uploaded product images. Each upload is a new
-- version (the previous ones are kept); deleting marks the current one
-- deleted (a tombstone). The bytes live in the object store under
-- object_key; they are served only through signed, expiring URLs.
CREATE TABLE files (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    livemode INTEGER NOT NULL CHECK (livemode IN (0, 1)),
    product_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    object_key TEXT NOT NULL,
    content_type TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    size INTEGER NOT NULL,
    created INTEGER NOT NULL,
    deleted_at INTEGER,
    UNIQUE (account_id, livemode, product_id, version)
);
ALTER TABLE products ADD COLUMN image_file TEXT;
