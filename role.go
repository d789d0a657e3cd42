package roster

import (
	"time"
	"unicode/utf8"
)

// ID prefixes of roles and permissions.
const (
	PrefixRole       = "role_"
	PrefixPermission = "perm_"
)

// Caps that keep the role lists bounded (ListRoles and ListOrganizationRoles have no page
// fields; docs/limits.md): roles per environment and per organization, permissions per role.
const (
	MaxRolesPerScope      = 100
	MaxPermissionsPerRole = 100
)

// Default roles every environment starts with; "member" is the default member role.
const (
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// Role is a named set of permissions. An environment role (OrganizationID "") applies to
// every organization; an organization role only to its organization, where it wins over an
// environment role of the same name.
type Role struct {
	ID             string
	EnvironmentID  string
	OrganizationID string
	Name           string
	DisplayName    string
	Description    string
	Permissions    []string // permission names
	CreateTime     time.Time
	UpdateTime     time.Time
}

// Permission is a named capability that roles grant.
type Permission struct {
	ID            string
	EnvironmentID string
	Name          string
	Description   string
	CreateTime    time.Time
	UpdateTime    time.Time
}

// Validate checks a role's fields.
func (r Role) Validate() error {
	var v Violations
	if !validRoleName(r.Name) {
		v.Add("role.name", "pattern=^[a-zA-Z0-9_]{1,64}$", "must be 1 to 64 letters, digits or '_'")
	}
	if n := utf8.RuneCountInString(r.DisplayName); n > 100 {
		v.Add("role.display_name", "string.max_len=100", "must be at most 100 characters")
	}
	if n := utf8.RuneCountInString(r.Description); n > 2000 {
		v.Add("role.description", "string.max_len=2000", "must be at most 2000 characters")
	}
	if len(r.Permissions) > MaxPermissionsPerRole {
		v.Add("role.permissions", "repeated.max_items=100", "a role has at most %d permissions", MaxPermissionsPerRole)
	}
	for _, p := range r.Permissions {
		if !validPermissionName(p) {
			v.Add("role.permissions", "pattern", "permission name %q must be 1 to 100 letters, digits, ':', '_', '-' or '.'", p)
		}
	}
	return v.Err()
}

// Validate checks a permission's fields.
func (p Permission) Validate() error {
	var v Violations
	if !validPermissionName(p.Name) {
		v.Add("permission.name", "pattern", "must be 1 to 100 letters, digits, ':', '_', '-' or '.'")
	}
	if n := utf8.RuneCountInString(p.Description); n > 2000 {
		v.Add("permission.description", "string.max_len=2000", "must be at most 2000 characters")
	}
	return v.Err()
}

func validPermissionName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == ':' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
