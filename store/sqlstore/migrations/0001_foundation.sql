-- Environments, API clients, signing keys and organizations.
-- Portable SQL: the same file runs on SQLite and PostgreSQL (and PostgreSQL-compatible
-- distributed databases). Times are Unix microseconds in BIGINT; maps are JSON text.
CREATE TABLE environments (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    cursor_key  TEXT NOT NULL,
    create_time BIGINT NOT NULL
);
CREATE UNIQUE INDEX environments_name_key ON environments (name);

CREATE TABLE api_clients (
    id             TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    secret_hash    TEXT NOT NULL,
    create_time    BIGINT NOT NULL,
    revoke_time    BIGINT
);
CREATE INDEX api_clients_environment ON api_clients (environment_id);

CREATE TABLE signing_keys (
    id             TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    algorithm      TEXT NOT NULL,
    private_key    TEXT NOT NULL,
    create_time    BIGINT NOT NULL,
    retire_time    BIGINT
);
CREATE INDEX signing_keys_environment ON signing_keys (environment_id);

CREATE TABLE organizations (
    id             TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    seq            BIGINT NOT NULL,
    display_name   TEXT NOT NULL,
    external_id    TEXT,
    metadata       TEXT NOT NULL,
    slug           TEXT,
    logo_url       TEXT,
    region_code    TEXT NOT NULL,
    create_time    BIGINT NOT NULL,
    update_time    BIGINT NOT NULL
);
CREATE UNIQUE INDEX organizations_external_id_key ON organizations (environment_id, external_id);
CREATE UNIQUE INDEX organizations_slug_key ON organizations (environment_id, slug);
CREATE INDEX organizations_environment_seq ON organizations (environment_id, seq);
