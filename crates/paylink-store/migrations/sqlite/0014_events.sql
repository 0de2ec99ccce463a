-- paylink schema v14: events.
-- * Every state change writes an event (evt_…) in the same transaction as
--   the change: its type, the object it is about and, sealed under the
--   account's data key (it may hold a buyer's details), the object as the
--   API rendered it then, with the previous values of what an update
--   changed. Kept 30 days (`paylink-jobs`).
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    livemode INTEGER NOT NULL CHECK (livemode IN (0, 1)),
    id TEXT NOT NULL,
    created INTEGER NOT NULL,
    type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    api_version TEXT NOT NULL,
    request_id TEXT,
    idempotency_key TEXT,
    data TEXT NOT NULL,
    UNIQUE (account_id, livemode, id)
);
CREATE INDEX events_list ON events (account_id, livemode, seq);
CREATE INDEX events_by_type ON events (account_id, livemode, type, seq);
CREATE INDEX events_created ON events (created);

