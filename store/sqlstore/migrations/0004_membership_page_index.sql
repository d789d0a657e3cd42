-- A page of an organization's users, and its count, read this index alone: it holds the
-- environment (no membership row is read to check it) and the user ID to join users on.
DROP INDEX memberships_organization_seq;
CREATE INDEX memberships_organization_seq ON memberships (environment_id, organization_id, user_seq, user_id);
