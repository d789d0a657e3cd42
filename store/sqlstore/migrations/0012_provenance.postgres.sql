-- Provenance (issue 13, docs/provenance.md): which source (API, SSO, SCIM, IMPORT) and which
-- connection, directory or API client last set each profile field and custom attribute of a
-- user to its current value. One row per field a write changed after the user was created,
-- and one row (field '*') for the write that created the user, which stands for every field
-- it set and no later write changed. Kept apart from users so that user rows stay as they
-- are; written in the same transaction as the profile. (0012_provenance.sqlite.sql is the
-- same table for SQLite.)
CREATE TABLE user_field_sources (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    field       TEXT NOT NULL,
    source      TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    update_time BIGINT NOT NULL,
    PRIMARY KEY (user_id, field)
);
