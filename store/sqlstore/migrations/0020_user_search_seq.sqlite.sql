-- The search index is keyed by the user's ID number (users.seq) instead of users.rowid, so
-- that its rowid order is the order of a page of users: a search page walks the index's
-- matches in that order from the page token's position and stops once the page is full
-- (ORDER BY rowid LIMIT), instead of finding every match and sorting them. The rowid of an
-- insert follows the commit order, and two users created at once may commit out of ID order;
-- seq never changes and is unique (IDs are unique, and the number is the ID's).
-- The queue (0007) still holds users.rowid: BeforeCommit reads each queued user by it.
DROP TRIGGER users_search_delete;
DROP TRIGGER users_search_update;
DROP TABLE users_search;
CREATE VIRTUAL TABLE users_search USING fts5(email_key, external_id, content='users', content_rowid='seq', tokenize='trigram');
CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_search (users_search, rowid, email_key, external_id)
        SELECT 'delete', old.seq, old.email_key, old.external_id
        WHERE NOT EXISTS (SELECT 1 FROM users_search_queue WHERE user_rowid = old.rowid);
    DELETE FROM users_search_queue WHERE user_rowid = old.rowid;
END;
CREATE TRIGGER users_search_update AFTER UPDATE OF email_key, external_id ON users
WHEN (old.email_key IS NOT new.email_key OR old.external_id IS NOT new.external_id)
    AND NOT EXISTS (SELECT 1 FROM users_search_queue WHERE user_rowid = old.rowid) BEGIN
    INSERT INTO users_search (users_search, rowid, email_key, external_id) VALUES ('delete', old.seq, old.email_key, old.external_id);
    INSERT INTO users_search (rowid, email_key, external_id) VALUES (new.seq, new.email_key, new.external_id);
END;
INSERT INTO users_search (users_search) VALUES ('rebuild');
