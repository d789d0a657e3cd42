-- The organization filter of the change feed reads the environment's index instead of an
-- index of its own (docs/events.md, "Storage"): on SQLite, an index keyed by organization
-- took a random page for each event, and with it a WAL frame and a checkpoint write per
-- write, about a tenth of a create's time. The environment's index now also holds each
-- event's organization and type, so that the feed's filters read only this index, which
-- grows at its end, and fetch the rows they return.
DROP INDEX events_organization;
DROP INDEX events_environment;
CREATE INDEX events_environment ON events (environment_id, tx, seq, organization_id, type);
