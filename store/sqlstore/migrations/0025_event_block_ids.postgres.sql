-- Event IDs are unique across blocks (docs/events.md, "Storage"). A block's IDs are drawn by
-- one node (IDGenerator.NextBlock); nodes draw a random node number, and two nodes that drew
-- the same one could draw overlapping blocks in one millisecond. The primary key guards each
-- other ID against that; for blocks it takes the ranges: a block whose IDs overlap another's
-- is refused and its write fails, rather than two events sharing an ID (receivers drop
-- a webhook whose ID they have seen). SQLite needs none: one process owns its file.
ALTER TABLE events ADD CONSTRAINT events_ids_disjoint
    EXCLUDE USING gist (int8range(first_id, first_id + event_count) WITH &&);
