-- SCIM list pages without counting (issue 13, docs/scim.md "Paging"): each directory's number
-- of users and of groups, kept by the transactions that insert and delete them, with the
-- number of such changes, which tells the page cache of sqlstore (dirpages.go) when the
-- positions it remembers are stale. A count is spread over a few rows (stripes) that writes
-- pick at random, so concurrent writes to one directory rarely wait on one row (PostgreSQL);
-- a reader adds them up.
CREATE TABLE directory_counts (
    directory_id TEXT NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    resource     TEXT NOT NULL, -- the table counted: directory_users or directory_groups
    stripe       INTEGER NOT NULL,
    total        BIGINT NOT NULL,
    changes      BIGINT NOT NULL,
    PRIMARY KEY (directory_id, resource, stripe)
);
INSERT INTO directory_counts (directory_id, resource, stripe, total, changes)
    SELECT directory_id, 'directory_users', 0, COUNT(*), 0 FROM directory_users GROUP BY directory_id;
INSERT INTO directory_counts (directory_id, resource, stripe, total, changes)
    SELECT directory_id, 'directory_groups', 0, COUNT(*), 0 FROM directory_groups GROUP BY directory_id;
