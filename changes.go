package roster

import "slices"

// Changed fields of the catalog's objects: an event's changed_fields (docs/events.md), named
// as the REST API spells them, sorted. UserChanges, MembershipChanges and OrganizationChanges
// are next to their types.

// RoleChanges names the fields whose values differ between two versions of a role:
// "description", "display_name", "permissions" (compared as sets of names).
func RoleChanges(before, after Role) []string {
	var out changedFields
	out.add("description", before.Description != after.Description)
	out.add("display_name", before.DisplayName != after.DisplayName)
	out.add("permissions", !sameSet(before.Permissions, after.Permissions))
	return out
}

// PermissionChanges names the fields whose values differ between two versions of a
// permission: "description".
func PermissionChanges(before, after Permission) []string {
	if before.Description != after.Description {
		return []string{"description"}
	}
	return nil
}

// AttributeChanges names the fields whose values differ between two versions of a custom
// attribute definition.
func AttributeChanges(before, after AttributeDefinition) []string {
	var out changedFields
	out.add("display_name", before.DisplayName != after.DisplayName)
	out.add("enum_values", !slices.Equal(before.EnumValues, after.EnumValues))
	out.add("max_length", before.MaxLength != after.MaxLength)
	out.add("pattern", before.Pattern != after.Pattern)
	out.add("required", before.Required != after.Required)
	out.add("type", before.Type != after.Type)
	out.add("unique", before.Unique != after.Unique)
	return out
}

// changedFields collects the names of the fields that differ, in the order added.
type changedFields []string

func (c *changedFields) add(field string, differ bool) {
	if differ {
		*c = append(*c, field)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
