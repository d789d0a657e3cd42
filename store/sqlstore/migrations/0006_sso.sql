-- SSO: connections, organization domains, sign-ins in progress, authorization codes, refresh
-- tokens and the identities that link users to their providers. All login state lives here so
-- that any Roster node can finish a sign-in another started.
ALTER TABLE api_clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '[]';

CREATE TABLE connections (
    id                   TEXT PRIMARY KEY,
    environment_id       TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    organization_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    seq                  BIGINT NOT NULL,
    conn_type            TEXT NOT NULL,
    provider             TEXT NOT NULL,
    enabled              BOOLEAN NOT NULL,
    debug_enabled        BOOLEAN NOT NULL,
    ui_button_title      TEXT NOT NULL,
    attribute_mapping    TEXT NOT NULL,
    sync_profile         BOOLEAN NOT NULL,
    jit_provisioning     BOOLEAN NOT NULL,
    oidc_config          TEXT NOT NULL,
    client_secret_sealed TEXT NOT NULL,
    saml_config          TEXT NOT NULL,
    create_time          BIGINT NOT NULL,
    update_time          BIGINT NOT NULL
);
CREATE INDEX connections_organization ON connections (organization_id, seq);
CREATE INDEX connections_environment ON connections (environment_id, seq);

CREATE TABLE domains (
    id              TEXT PRIMARY KEY,
    environment_id  TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    name            TEXT NOT NULL,
    domain_type     TEXT NOT NULL,
    create_time     BIGINT NOT NULL,
    update_time     BIGINT NOT NULL
);
CREATE UNIQUE INDEX domains_name_key ON domains (environment_id, name);
CREATE INDEX domains_organization ON domains (organization_id, seq);

CREATE TABLE login_requests (
    id                TEXT PRIMARY KEY,
    environment_id    TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    flavor            TEXT NOT NULL,
    client_id         TEXT NOT NULL,
    redirect_uri      TEXT NOT NULL,
    state             TEXT NOT NULL,
    nonce             TEXT NOT NULL,
    scope             TEXT NOT NULL,
    code_challenge    TEXT NOT NULL,
    connection_id     TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    upstream_nonce    TEXT NOT NULL,
    upstream_verifier TEXT NOT NULL,
    create_time       BIGINT NOT NULL,
    expire_time       BIGINT NOT NULL
);
CREATE INDEX login_requests_expire ON login_requests (expire_time);

CREATE TABLE auth_codes (
    hash            TEXT PRIMARY KEY,
    environment_id  TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    client_id       TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL,
    connection_id   TEXT NOT NULL,
    flavor          TEXT NOT NULL,
    nonce           TEXT NOT NULL,
    scope           TEXT NOT NULL,
    code_challenge  TEXT NOT NULL,
    profile         TEXT NOT NULL,
    create_time     BIGINT NOT NULL,
    expire_time     BIGINT NOT NULL,
    use_time        BIGINT
);
CREATE INDEX auth_codes_expire ON auth_codes (expire_time);

CREATE TABLE refresh_tokens (
    hash            TEXT PRIMARY KEY,
    environment_id  TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    client_id       TEXT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL,
    connection_id   TEXT NOT NULL,
    scope           TEXT NOT NULL,
    code_hash       TEXT NOT NULL,
    create_time     BIGINT NOT NULL,
    expire_time     BIGINT NOT NULL,
    revoke_time     BIGINT
);
CREATE INDEX refresh_tokens_code ON refresh_tokens (code_hash);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE identities (
    connection_id   TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    subject         TEXT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    environment_id  TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    conn_type       TEXT NOT NULL,
    provider        TEXT NOT NULL,
    raw_claims      TEXT NOT NULL,
    create_time     BIGINT NOT NULL,
    last_login_time BIGINT NOT NULL,
    PRIMARY KEY (connection_id, subject)
);
CREATE INDEX identities_user ON identities (user_id);

-- The SAML service provider's key and certificate, one per environment; the private key is
-- sealed like connection secrets (docs/encryption.md).
CREATE TABLE saml_sp_keys (
    environment_id     TEXT PRIMARY KEY REFERENCES environments (id) ON DELETE CASCADE,
    private_key_sealed TEXT NOT NULL,
    certificate        TEXT NOT NULL,
    create_time        BIGINT NOT NULL
);

-- IDs of accepted SAML assertions, kept until they expire, so that none is accepted twice.
CREATE TABLE saml_assertions (
    connection_id TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    assertion_id  TEXT NOT NULL,
    expire_time   BIGINT NOT NULL,
    PRIMARY KEY (connection_id, assertion_id)
);
CREATE INDEX saml_assertions_expire ON saml_assertions (expire_time);
