-- The dashboard's mapping preview and test sign-in (docs/dashboard.md, "Mapping preview and
-- test sign-in"). The preview reads the raw claims of a connection's latest sign-in: one row
-- by this index, however many identities the connection has.
CREATE INDEX identities_connection_login ON identities (connection_id, last_login_time, subject);

-- Results of operators' test sign-ins: the claims the identity provider sent and what the
-- mapping made of them (or the error), readable by the operator who started the test until
-- expire_time (roster.ConnectionTestLifetime); expired ones are removed by the next insert.
-- Nothing else of a test sign-in is stored: no user, identity, membership or code.
CREATE TABLE connection_tests (
    id              TEXT PRIMARY KEY,
    environment_id  TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    organization_id TEXT NOT NULL,
    connection_id   TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    operator_id     TEXT NOT NULL,
    result          TEXT NOT NULL,
    error           TEXT NOT NULL,
    create_time     BIGINT NOT NULL,
    expire_time     BIGINT NOT NULL
);
CREATE INDEX connection_tests_expire ON connection_tests (expire_time);
