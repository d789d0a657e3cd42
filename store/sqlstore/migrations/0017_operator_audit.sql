-- The dashboard's audit log (issue 14, docs/dashboard.md): one row per operator action (a
-- sign-in, successful or not, a sign-out, a set-up, every state change made through the
-- dashboard), with who did it (operator_id and email as they were; '' when nobody was signed
-- in), what (action and target), when (Unix microseconds) and from where. Never a secret or
-- a password. Read newest first, a page at a time, by (create_time, id).
CREATE TABLE operator_audit (
    id           TEXT PRIMARY KEY,
    operator_id  TEXT NOT NULL,
    email        TEXT NOT NULL,
    action       TEXT NOT NULL,
    target       TEXT NOT NULL,
    remote_addr  TEXT NOT NULL,
    create_time  BIGINT NOT NULL
);
CREATE INDEX operator_audit_time ON operator_audit (create_time, id);
