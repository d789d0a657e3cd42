-- SCIM directories (issue 13, docs/directories.md): an organization's directories, their bearer
-- secrets (SHA-256 hashes only), the users and groups their identity providers provision, each
-- group member as a row of its own (a member added or removed touches one row, never the whole
-- group), and the group-to-role assignments. Everything hangs off the organization through
-- ON DELETE CASCADE, so deleting an organization removes it in the same transaction.
CREATE TABLE directories (
    id              TEXT PRIMARY KEY,
    environment_id  TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    name            TEXT NOT NULL,
    directory_type  TEXT NOT NULL,
    provider        TEXT NOT NULL,
    enabled         BOOLEAN NOT NULL,
    mappings        TEXT NOT NULL,
    create_time     BIGINT NOT NULL,
    update_time     BIGINT NOT NULL,
    last_sync_time  BIGINT
);
-- One directory per organization and provider (docs/directories.md).
CREATE UNIQUE INDEX directories_provider_key ON directories (organization_id, provider);
CREATE INDEX directories_environment ON directories (environment_id, seq);

CREATE TABLE directory_secrets (
    id             TEXT PRIMARY KEY,
    directory_id   TEXT NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    hash           TEXT NOT NULL,
    suffix         TEXT NOT NULL,
    create_time    BIGINT NOT NULL,
    expire_time    BIGINT,
    last_used_time BIGINT
);
CREATE UNIQUE INDEX directory_secrets_hash_key ON directory_secrets (hash);
CREATE INDEX directory_secrets_directory ON directory_secrets (directory_id);

CREATE TABLE directory_users (
    id                 TEXT PRIMARY KEY,
    environment_id     TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    directory_id       TEXT NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    seq                BIGINT NOT NULL,
    user_id            TEXT REFERENCES users (id) ON DELETE SET NULL,
    user_name          TEXT NOT NULL,
    user_name_key      TEXT NOT NULL,
    external_id        TEXT NOT NULL,
    active             BOOLEAN NOT NULL,
    email              TEXT NOT NULL,
    preferred_username TEXT NOT NULL,
    given_name         TEXT NOT NULL,
    family_name        TEXT NOT NULL,
    emails             TEXT NOT NULL,
    raw                TEXT NOT NULL,
    create_time        BIGINT NOT NULL,
    update_time        BIGINT NOT NULL
);
CREATE UNIQUE INDEX directory_users_user_name_key ON directory_users (directory_id, user_name_key);
CREATE UNIQUE INDEX directory_users_user_key ON directory_users (directory_id, user_id);
CREATE INDEX directory_users_directory ON directory_users (directory_id, seq);
CREATE INDEX directory_users_external_id ON directory_users (directory_id, external_id);
CREATE INDEX directory_users_user ON directory_users (user_id);

CREATE TABLE directory_groups (
    id             TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    directory_id   TEXT NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    seq            BIGINT NOT NULL,
    display_name   TEXT NOT NULL,
    external_id    TEXT NOT NULL,
    raw            TEXT NOT NULL,
    create_time    BIGINT NOT NULL,
    update_time    BIGINT NOT NULL
);
CREATE INDEX directory_groups_directory ON directory_groups (directory_id, seq);
CREATE INDEX directory_groups_display_name ON directory_groups (directory_id, display_name);
CREATE INDEX directory_groups_external_id ON directory_groups (directory_id, external_id);

CREATE TABLE directory_group_members (
    group_id TEXT NOT NULL REFERENCES directory_groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES directory_users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX directory_group_members_user ON directory_group_members (user_id);

CREATE TABLE directory_role_assignments (
    directory_id TEXT NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    group_id     TEXT NOT NULL REFERENCES directory_groups (id) ON DELETE CASCADE,
    role_id      TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (directory_id, group_id)
);
CREATE INDEX directory_role_assignments_group ON directory_role_assignments (group_id);
CREATE INDEX directory_role_assignments_role ON directory_role_assignments (role_id);
