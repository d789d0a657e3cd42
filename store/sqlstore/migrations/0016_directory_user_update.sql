-- A directory's latest user update (GetDirectory's stats.user_updated_at, the Node SDK's
-- getDirectory) kept beside its count by the transactions that write users: MAX(update_time)
-- over a directory's rows read every row with its raw SCIM JSON (200-500 ms at 100k users).
-- Microseconds since the epoch; 0 when no user was ever written. An index on (directory_id,
-- update_time) would do it too, at one more index entry rewritten by every SCIM user write.
ALTER TABLE directory_counts ADD COLUMN last_update BIGINT NOT NULL DEFAULT 0;
INSERT INTO directory_counts (directory_id, resource, stripe, total, changes, last_update)
    SELECT directory_id, 'directory_users', 0, 0, 0, MAX(update_time) FROM directory_users WHERE true GROUP BY directory_id
    ON CONFLICT (directory_id, resource, stripe) DO UPDATE SET last_update = excluded.last_update;
