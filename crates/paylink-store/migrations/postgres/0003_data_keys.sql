-- paylink schema v3 (PostgreSQL): data keys for envelope encryption. One key per
-- account (owner = account id) and one for instance-wide secrets
-- (owner = 'instance'), each stored only wrapped under a master key version.
CREATE TABLE data_keys (
    owner TEXT PRIMARY KEY,
    kek_version BIGINT NOT NULL,
    wrapped BYTEA NOT NULL,
    created BIGINT NOT NULL
);
CREATE INDEX data_keys_version ON data_keys (kek_version);
