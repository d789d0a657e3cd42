-- New users are indexed for search once per write batch, not once per user: FTS5 flushes its
-- pending terms at every savepoint, and a group commit gives each request one. The insert
-- trigger queues the user's rowid; before each commit the store indexes the queue and empties
-- it (sqlstore.Dialect.BeforeCommit), inside the same transaction, so a committed user is
-- always searchable. A queued user that is deleted or changed needs nothing from the index.
CREATE TABLE users_search_queue (user_rowid INTEGER PRIMARY KEY);
DROP TRIGGER users_search_insert;
CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_search_queue (user_rowid) VALUES (new.rowid);
END;
DROP TRIGGER users_search_delete;
CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_search (users_search, rowid, email_key, external_id)
        SELECT 'delete', old.rowid, old.email_key, old.external_id
        WHERE NOT EXISTS (SELECT 1 FROM users_search_queue WHERE user_rowid = old.rowid);
    DELETE FROM users_search_queue WHERE user_rowid = old.rowid;
END;
DROP TRIGGER users_search_update;
CREATE TRIGGER users_search_update AFTER UPDATE OF email_key, external_id ON users
WHEN (old.email_key IS NOT new.email_key OR old.external_id IS NOT new.external_id)
    AND NOT EXISTS (SELECT 1 FROM users_search_queue WHERE user_rowid = old.rowid) BEGIN
    INSERT INTO users_search (users_search, rowid, email_key, external_id) VALUES ('delete', old.rowid, old.email_key, old.external_id);
    INSERT INTO users_search (rowid, email_key, external_id) VALUES (new.rowid, new.email_key, new.external_id);
END;
