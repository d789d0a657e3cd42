-- Events in blocks (docs/events.md, "Storage"): a row holds the events of one environment
-- that one commit recorded, with consecutive IDs from first_id, event_count of them; the
-- body is the block (sqlstore/eventblock.go). A row written before is a block of one event:
-- its ID's number is its first_id, and its body the envelope's JSON. A feed position is a
-- block's (tx, seq) and an event's index in it, which webhook endpoints now keep too.
ALTER TABLE events ADD COLUMN first_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN event_count INTEGER NOT NULL DEFAULT 1;
UPDATE events SET first_id = CAST(substring(id from 5) AS BIGINT);
-- The feed's filters read the blocks' events: no index by organization.
DROP INDEX events_organization;
DROP INDEX events_environment;
CREATE INDEX events_environment ON events (environment_id, tx, seq) INCLUDE (event_count);
-- An event's block by its ID: the environment's last block that starts at or before it.
CREATE INDEX events_first_id ON events (environment_id, first_id);
ALTER TABLE webhook_endpoints ADD COLUMN cursor_index BIGINT NOT NULL DEFAULT 0;
