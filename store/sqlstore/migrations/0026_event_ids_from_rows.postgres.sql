-- Event IDs from the rows (docs/events.md, "Storage"): a block written from now on takes its
-- IDs from its own seq (sqlstore.PgEventIDBase + seq << 12), unique by the primary key
-- whatever the number of nodes, so the exclusion constraint over the blocks' ID ranges
-- (0025), which cost the server about 50 µs of CPU per write, has nothing left to guard.
-- Blocks written before keep their clock-drawn IDs, all below the new ones.
ALTER TABLE events DROP CONSTRAINT events_ids_disjoint;
