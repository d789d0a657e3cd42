-- Provenance (issue 13, docs/provenance.md): which source (API, SSO, SCIM, IMPORT) and which
-- connection, directory or API client last set each profile field and custom attribute of a
-- user to its current value. One row per field a write changed after the user was created,
-- and one row (field '*') for the write that created the user, which stands for every field
-- it set and no later write changed. Kept apart from users so that user rows and the SQLite
-- user cache do not grow; written in the same transaction as the profile.
-- WITHOUT ROWID: the primary key is the table (one b-tree per insert, not two).
-- The number 0012 follows a gap: 0011 belongs to another change of issue 13; migrations run by
-- version, each once, whatever order they arrive in.
CREATE TABLE user_field_sources (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    field       TEXT NOT NULL,
    source      TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    update_time BIGINT NOT NULL,
    PRIMARY KEY (user_id, field)
) WITHOUT ROWID;
