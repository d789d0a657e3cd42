-- The latest SCIM requests of each directory (the dashboard's "latest provisioning requests
-- with their outcome", issue 14): method, path (no query: filters may hold emails), status and
-- time of each authenticated request, at most directory.SCIMRequestsKept per directory (every
-- insert removes the older ones). They go with their directory.
CREATE TABLE scim_requests (
    directory_id TEXT NOT NULL REFERENCES directories (id) ON DELETE CASCADE,
    at           BIGINT NOT NULL,
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    status       INTEGER NOT NULL
);
CREATE INDEX scim_requests_directory_at ON scim_requests (directory_id, at);
