-- Users, their profiles and custom attributes, memberships, roles and permissions, and the
-- definitions of custom user attributes.
ALTER TABLE environments ADD COLUMN default_member_role TEXT NOT NULL DEFAULT 'member';

CREATE TABLE users (
    id                    TEXT PRIMARY KEY,
    environment_id        TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    seq                   BIGINT NOT NULL,
    email                 TEXT NOT NULL,
    email_key             TEXT NOT NULL,
    external_id           TEXT,
    metadata              TEXT NOT NULL,
    given_name            TEXT NOT NULL,
    family_name           TEXT NOT NULL,
    name                  TEXT NOT NULL,
    locale                TEXT NOT NULL,
    phone_number          TEXT NOT NULL,
    preferred_username    TEXT NOT NULL,
    picture               TEXT NOT NULL,
    gender                TEXT NOT NULL,
    email_verified        BOOLEAN NOT NULL,
    phone_number_verified BOOLEAN NOT NULL,
    groups_json           TEXT NOT NULL,
    profile_metadata      TEXT NOT NULL,
    create_time           BIGINT NOT NULL,
    update_time           BIGINT NOT NULL,
    last_login_time       BIGINT
);
CREATE UNIQUE INDEX users_email_key ON users (environment_id, email_key);
CREATE UNIQUE INDEX users_external_id_key ON users (environment_id, external_id);
CREATE INDEX users_environment_seq ON users (environment_id, seq);

CREATE TABLE attribute_definitions (
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    attr_key       TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    attr_type      TEXT NOT NULL,
    enum_values    TEXT NOT NULL,
    pattern        TEXT NOT NULL,
    max_length     INTEGER NOT NULL,
    required       BOOLEAN NOT NULL,
    is_unique      BOOLEAN NOT NULL,
    create_time    BIGINT NOT NULL,
    update_time    BIGINT NOT NULL,
    PRIMARY KEY (environment_id, attr_key)
);

-- unique_value repeats value for attributes defined unique (NULL otherwise), so that the
-- unique index enforces the rule under concurrent writers.
CREATE TABLE user_attributes (
    environment_id TEXT NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    attr_key       TEXT NOT NULL,
    value          TEXT NOT NULL,
    unique_value   TEXT,
    PRIMARY KEY (user_id, attr_key),
    FOREIGN KEY (environment_id, attr_key) REFERENCES attribute_definitions (environment_id, attr_key) ON DELETE CASCADE
);
CREATE UNIQUE INDEX user_attributes_unique_key ON user_attributes (environment_id, attr_key, unique_value);

-- organization_id is '' for environment roles.
CREATE TABLE roles (
    id              TEXT PRIMARY KEY,
    environment_id  TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL,
    name            TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    description     TEXT NOT NULL,
    create_time     BIGINT NOT NULL,
    update_time     BIGINT NOT NULL
);
CREATE UNIQUE INDEX roles_name_key ON roles (environment_id, organization_id, name);

CREATE TABLE permissions (
    id             TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL,
    create_time    BIGINT NOT NULL,
    update_time    BIGINT NOT NULL
);
CREATE UNIQUE INDEX permissions_name_key ON permissions (environment_id, name);

CREATE TABLE role_permissions (
    role_id       TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission_id TEXT NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, permission_id)
);

CREATE TABLE memberships (
    environment_id      TEXT NOT NULL,
    organization_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_seq            BIGINT NOT NULL,
    status              TEXT NOT NULL,
    metadata            TEXT NOT NULL,
    inviter_email       TEXT,
    provisioning_method TEXT NOT NULL,
    create_time         BIGINT NOT NULL,
    update_time         BIGINT NOT NULL,
    accept_time         BIGINT,
    expire_time         BIGINT,
    invite_resent_count INTEGER NOT NULL,
    invite_resent_time  BIGINT,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);
CREATE INDEX memberships_organization_seq ON memberships (organization_id, user_seq);

CREATE TABLE membership_roles (
    organization_id TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    role_id         TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    PRIMARY KEY (organization_id, user_id, role_id),
    FOREIGN KEY (organization_id, user_id) REFERENCES memberships (organization_id, user_id) ON DELETE CASCADE
);
CREATE INDEX membership_roles_role ON membership_roles (role_id);
