-- The change feed (docs/events.md): one row per event, written in the transaction of the
-- change. SQLite commits one writer at a time, so seq is the commit order; tx stays 0.
CREATE TABLE events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    tx              BIGINT NOT NULL DEFAULT 0,
    id              TEXT NOT NULL UNIQUE,
    environment_id  TEXT NOT NULL,
    organization_id TEXT,
    type            TEXT NOT NULL,
    occurred_at     BIGINT NOT NULL,
    body            BLOB NOT NULL
);
CREATE INDEX events_environment ON events (environment_id, tx, seq);
CREATE INDEX events_organization ON events (environment_id, organization_id, tx, seq);
