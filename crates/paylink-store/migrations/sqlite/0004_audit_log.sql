-- paylink schema v4 (SQLite): the append-only audit log. Each entry carries
-- the keyed hash of the previous one, so an edited, removed or reordered
-- entry breaks the chain.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL,
    account_id TEXT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_account ON audit_log (account_id, seq);
