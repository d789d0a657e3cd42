package roster

import "slices"

// Changed fields of the catalog's objects: an event's changed_fields (docs/events.md), named
// as the REST API spells them, sorted. UserChanges, MembershipChanges and OrganizationChanges
// are next to their types.

// RoleChanges names the fields whose values differ between two versions of a role:
// "description", "display_name", "permissions" (compared as sets of names).
func RoleChanges(before, after Role) []string {
	var out []string
	if before.Description != after.Description {
		out = append(out, "description")
	}
	if before.DisplayName != after.DisplayName {
		out = append(out, "display_name")
	}
	if !sameSet(before.Permissions, after.Permissions) {
		out = append(out, "permissions")
	}
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
	var out []string
	add := func(field string, differ bool) {
		if differ {
			out = append(out, field)
		}
	}
	add("display_name", before.DisplayName != after.DisplayName)
	add("enum_values", !slices.Equal(before.EnumValues, after.EnumValues))
	add("max_length", before.MaxLength != after.MaxLength)
	add("pattern", before.Pattern != after.Pattern)
	add("required", before.Required != after.Required)
	add("type", before.Type != after.Type)
	add("unique", before.Unique != after.Unique)
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}
