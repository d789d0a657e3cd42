-- A group's displayName is unique in its directory, compared case-insensitively as SCIM filters
-- compare it (lower(display_name)): Entra matches groups by displayName and requires it
-- (docs/scim.md "Group names"). The SCIM handler checks the name before a write; this index
-- makes two concurrent creates or renames to one name end in one group and one 409.
-- Groups that already share a name (written before the rule) keep it on the oldest; each
-- other one gets " (its ID)" appended, in the column and in its raw resource, so the index
-- can be built.
UPDATE directory_groups
   SET display_name = display_name || ' (' || id || ')',
       raw = CASE WHEN json_valid(raw) THEN json_set(raw, '$.displayName', display_name || ' (' || id || ')') ELSE raw END
 WHERE display_name <> '' AND EXISTS (SELECT 1 FROM directory_groups o
        WHERE o.directory_id = directory_groups.directory_id
          AND lower(o.display_name) = lower(directory_groups.display_name)
          AND o.seq < directory_groups.seq);
CREATE UNIQUE INDEX directory_groups_name_key ON directory_groups (directory_id, lower(display_name)) WHERE display_name <> '';
