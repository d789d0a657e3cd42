-- Permissions page by keyset, like organizations: seq is the number of the ID
-- (perm_<number>), so that pages come in creation order.
ALTER TABLE permissions ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
UPDATE permissions SET seq = CAST(substr(id, 6) AS BIGINT);
CREATE INDEX permissions_environment_seq ON permissions (environment_id, seq);
