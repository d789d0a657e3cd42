-- The change feed (docs/events.md): one row per event, written in the transaction of the
-- change. tx is that transaction's ID: the feed reads in (tx, seq) order, up to the oldest
-- running transaction (Dialect.EventHorizon), so a reader never skips an event that commits
-- after it read past its seq. The events of an environment or organization are not deleted
-- with it: the feed keeps what happened.
CREATE TABLE events (
    seq             BIGSERIAL PRIMARY KEY,
    tx              BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    id              TEXT NOT NULL UNIQUE,
    environment_id  TEXT NOT NULL,
    organization_id TEXT,
    type            TEXT NOT NULL,
    occurred_at     BIGINT NOT NULL,
    body            BYTEA NOT NULL
);
CREATE INDEX events_environment ON events (environment_id, tx, seq);
CREATE INDEX events_organization ON events (environment_id, organization_id, tx, seq);
