-- Substring search over users' emails and external IDs, index-backed: an FTS5 table with the
-- trigram tokenizer (case-insensitive), kept in step with users by triggers.
CREATE VIRTUAL TABLE users_search USING fts5(email_key, external_id, content='users', tokenize='trigram');
CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_search (rowid, email_key, external_id) VALUES (new.rowid, new.email_key, new.external_id);
END;
CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_search (users_search, rowid, email_key, external_id) VALUES ('delete', old.rowid, old.email_key, old.external_id);
END;
CREATE TRIGGER users_search_update AFTER UPDATE OF email_key, external_id ON users BEGIN
    INSERT INTO users_search (users_search, rowid, email_key, external_id) VALUES ('delete', old.rowid, old.email_key, old.external_id);
    INSERT INTO users_search (rowid, email_key, external_id) VALUES (new.rowid, new.email_key, new.external_id);
END;
INSERT INTO users_search (users_search) VALUES ('rebuild');
