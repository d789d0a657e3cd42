-- Reindex a user for search only when a searched column changes: UpdateUser sets every column,
-- so "AFTER UPDATE OF" alone rewrote the FTS5 entries on each profile update.
DROP TRIGGER users_search_update;
CREATE TRIGGER users_search_update AFTER UPDATE OF email_key, external_id ON users
WHEN old.email_key IS NOT new.email_key OR old.external_id IS NOT new.external_id BEGIN
    INSERT INTO users_search (users_search, rowid, email_key, external_id) VALUES ('delete', old.rowid, old.email_key, old.external_id);
    INSERT INTO users_search (rowid, email_key, external_id) VALUES (new.rowid, new.email_key, new.external_id);
END;
