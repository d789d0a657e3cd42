package roster

import (
	"bytes"
	"maps"
	"reflect"
	"slices"
)

// ConnectionChanges names the fields (REST paths, sorted) whose values differ between two
// versions of a connection: an event's changed_fields. A new client secret shows as
// "oidc_config.client_secret", never its value.
func ConnectionChanges(before, after Connection) []string {
	var out []string
	add := func(field string, differ bool) {
		if differ {
			out = append(out, field)
		}
	}
	add("attribute_mapping", !maps.Equal(before.AttributeMapping, after.AttributeMapping))
	add("debug_enabled", before.DebugEnabled != after.DebugEnabled)
	add("enabled", before.Enabled != after.Enabled)
	add("jit_provisioning", before.JITProvisioning != after.JITProvisioning)
	bo, ao := before.OIDC, after.OIDC
	add("oidc_config.client_secret", bo.SecretSealed != ao.SecretSealed || bo.ClientSecret != ao.ClientSecret)
	bo.SecretSealed, bo.ClientSecret, ao.SecretSealed, ao.ClientSecret = "", "", "", ""
	add("oidc_config", !oidcEqual(bo, ao))
	add("provider", before.Provider != after.Provider)
	add("saml_config", !samlEqual(before.SAML, after.SAML))
	add("sync_profile", before.SyncProfile != after.SyncProfile)
	add("ui_button_title", before.UIButtonTitle != after.UIButtonTitle)
	slices.Sort(out)
	return out
}

func oidcEqual(a, b OIDCConfig) bool {
	if !slices.Equal(a.Scopes, b.Scopes) {
		return false
	}
	a.Scopes, b.Scopes = nil, nil
	return reflect.DeepEqual(a, b)
}

func samlEqual(a, b SAMLConfig) bool {
	if !slices.Equal(a.Certificates, b.Certificates) {
		return false
	}
	a.Certificates, b.Certificates = nil, nil
	return reflect.DeepEqual(a, b)
}

// DirectoryChanges names the fields (REST paths, sorted) whose values differ between two
// versions of a directory: "attribute_mappings", "directory_provider", "enabled", "name",
// "role_assignments".
func DirectoryChanges(before, after Directory) []string {
	var out []string
	add := func(field string, differ bool) {
		if differ {
			out = append(out, field)
		}
	}
	add("attribute_mappings", !slices.Equal(before.Mappings, after.Mappings))
	add("directory_provider", before.Provider != after.Provider)
	add("enabled", before.Enabled != after.Enabled)
	add("name", before.Name != after.Name)
	add("role_assignments", !slices.EqualFunc(before.RoleAssignments, after.RoleAssignments,
		func(a, b DirectoryRoleAssignment) bool { return a.GroupID == b.GroupID && a.RoleID == b.RoleID }))
	return out
}

// DirectoryUserChanges names the SCIM attributes whose values differ between two versions
// of a directory user ("active", "emails", "raw_attributes", ...), sorted.
func DirectoryUserChanges(before, after DirectoryUser) []string {
	var out []string
	add := func(field string, differ bool) {
		if differ {
			out = append(out, field)
		}
	}
	add("active", before.Active != after.Active)
	add("display_name", before.DisplayName != after.DisplayName)
	add("email", before.Email != after.Email)
	add("emails", !slices.Equal(before.Emails, after.Emails))
	add("external_id", before.ExternalID != after.ExternalID)
	add("family_name", before.FamilyName != after.FamilyName)
	add("given_name", before.GivenName != after.GivenName)
	add("preferred_username", before.PreferredUsername != after.PreferredUsername)
	add("raw_attributes", !bytes.Equal(before.Raw, after.Raw))
	add("user_name", before.UserName != after.UserName)
	add("user_id", before.UserID != after.UserID)
	slices.Sort(out)
	return out
}

// DirectoryGroupChanges names the attributes whose values differ between two versions of a
// directory group, sorted.
func DirectoryGroupChanges(before, after DirectoryGroup) []string {
	var out []string
	if before.DisplayName != after.DisplayName {
		out = append(out, "display_name")
	}
	if before.ExternalID != after.ExternalID {
		out = append(out, "external_id")
	}
	if !bytes.Equal(before.Raw, after.Raw) {
		out = append(out, "raw_attributes")
	}
	return out
}
