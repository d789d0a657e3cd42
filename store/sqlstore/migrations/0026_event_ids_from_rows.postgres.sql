-- Event IDs from the rows (docs/events.md, "Storage"): a block written from now on takes its
-- IDs from its own seq (sqlstore.PgEventIDBase + seq << 12), unique by the primary key
-- whatever the number of nodes, and is found by an ID through that key. What guarded and
-- found clock-drawn IDs is left to the blocks written before (all below 2^62): the exclusion
-- constraint over the ID ranges (0025), which cost the server about 50 µs of CPU per write,
-- and the unique index on id go; the index from an ID to its block keeps only those blocks.
ALTER TABLE events DROP CONSTRAINT events_ids_disjoint;
ALTER TABLE events DROP CONSTRAINT events_id_key;
DROP INDEX events_first_id;
CREATE INDEX events_first_id ON events (environment_id, first_id) WHERE first_id < 4611686018427387904;
