-- The SCIM endpoint joined to the directory (issue 13, docs/scim.md "The store-backed
-- directory"): what SCIM filters query besides the columns of 0009 (a user's displayName and
-- each of its emails, case-folded), and groups as members of groups (RFC 7643 section 4.2).
ALTER TABLE directory_users ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE directory_users ADD COLUMN display_name_key TEXT NOT NULL DEFAULT '';
CREATE INDEX directory_users_display_name ON directory_users (directory_id, display_name_key);

CREATE TABLE directory_user_emails (
    directory_user_id TEXT NOT NULL REFERENCES directory_users (id) ON DELETE CASCADE,
    value_key         TEXT NOT NULL,
    PRIMARY KEY (directory_user_id, value_key)
);
CREATE INDEX directory_user_emails_value ON directory_user_emails (value_key);

CREATE TABLE directory_group_groups (
    group_id  TEXT NOT NULL REFERENCES directory_groups (id) ON DELETE CASCADE,
    member_id TEXT NOT NULL REFERENCES directory_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX directory_group_groups_member ON directory_group_groups (member_id);
