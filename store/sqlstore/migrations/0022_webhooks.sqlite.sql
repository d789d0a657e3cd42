-- Webhook endpoints (docs/webhooks.md) with their delivery state: the feed position of the
-- last event delivered (cursor_tx, cursor_seq), when to try next, the failed attempts at the
-- next event and since when it fails, and the lease of the node delivering to it.
CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    environment_id  TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL,
    event_types     TEXT NOT NULL,
    enabled         BOOLEAN NOT NULL,
    disabled_reason TEXT NOT NULL,
    secret_sealed   TEXT NOT NULL,
    previous_secret TEXT NOT NULL DEFAULT '',
    previous_until  BIGINT NOT NULL DEFAULT 0,
    create_time     BIGINT NOT NULL,
    update_time     BIGINT NOT NULL,
    cursor_tx       BIGINT NOT NULL,
    cursor_seq      BIGINT NOT NULL,
    next_attempt    BIGINT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    failing_since   BIGINT,
    lease_owner     TEXT,
    lease_until     BIGINT
);
CREATE INDEX webhook_endpoints_environment ON webhook_endpoints (environment_id, create_time);
CREATE INDEX webhook_endpoints_due ON webhook_endpoints (next_attempt) WHERE enabled;
-- The delivery log: the latest roster.WebhookDeliveryLogKeep attempts per endpoint.
CREATE TABLE webhook_deliveries (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id    TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    manual      BOOLEAN NOT NULL,
    status      INTEGER NOT NULL,
    success     BOOLEAN NOT NULL,
    latency_us  BIGINT NOT NULL,
    error       TEXT NOT NULL,
    time        BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, seq);
-- Manual redeliveries waiting for the worker.
CREATE TABLE webhook_redeliveries (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id    TEXT NOT NULL,
    create_time BIGINT NOT NULL
);
CREATE INDEX webhook_redeliveries_endpoint ON webhook_redeliveries (endpoint_id, seq);
