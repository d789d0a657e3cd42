-- Operator accounts of the dashboard (issue 14, docs/operators.md): the people who run this
-- Roster, apart from API clients and from any environment. An operator signs in with email and
-- password (an argon2id PHC string; '' until chosen through a set-up link). A removed
-- operator keeps its row (remove_time set), and its email may go to a new operator: the
-- unique index covers only operators that are not removed. Times are Unix microseconds.
CREATE TABLE operators (
    id              TEXT PRIMARY KEY,
    email           TEXT NOT NULL,
    email_key       TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    create_time     BIGINT NOT NULL,
    update_time     BIGINT NOT NULL,
    password_time   BIGINT,
    remove_time     BIGINT
);
CREATE UNIQUE INDEX operators_email_key ON operators (email_key) WHERE remove_time IS NULL;

-- One-time set-up and reset links, by the SHA-256 of their token; operator_id NULL is the
-- first-operator link that the first start prints. use_time is set once, when the link is
-- redeemed or voided by a newer one.
CREATE TABLE operator_tokens (
    hash        TEXT PRIMARY KEY,
    operator_id TEXT REFERENCES operators (id) ON DELETE CASCADE,
    create_time BIGINT NOT NULL,
    expire_time BIGINT NOT NULL,
    use_time    BIGINT
);
CREATE INDEX operator_tokens_operator ON operator_tokens (operator_id);

-- Signed-in sessions, by the SHA-256 of their random token: any node serves them, and
-- revoking one (or all of an operator's) takes effect on every node at once.
CREATE TABLE operator_sessions (
    hash             TEXT PRIMARY KEY,
    operator_id      TEXT NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    remote_addr      TEXT NOT NULL,
    create_time      BIGINT NOT NULL,
    last_seen_time   BIGINT NOT NULL,
    idle_expire_time BIGINT NOT NULL,
    expire_time      BIGINT NOT NULL,
    revoke_time      BIGINT
);
CREATE INDEX operator_sessions_operator ON operator_sessions (operator_id);

-- The per-account sign-in throttle, by email (EmailKey) whether or not an operator has it, so
-- that an unknown email is counted, locked and answered exactly as a known one (no answer,
-- timing or lockout tells which emails have accounts), and in the database so that every
-- node sees it. Rows whose failures are older than the lockout window are deleted by the
-- next failure's write (update_time index).
CREATE TABLE operator_sign_in_failures (
    email_key    TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    locked_until BIGINT,
    update_time  BIGINT NOT NULL
);
CREATE INDEX operator_sign_in_failures_update ON operator_sign_in_failures (update_time);
