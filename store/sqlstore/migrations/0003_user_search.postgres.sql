-- Substring search over users' emails and external IDs, index-backed: trigram GIN indexes
-- (pg_trgm is a trusted extension: the database owner may create it).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_email_trgm ON users USING gin (email_key gin_trgm_ops);
CREATE INDEX users_external_id_trgm ON users USING gin (lower(external_id) gin_trgm_ops);
