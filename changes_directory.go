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
	var out changedFields
	out.add("attribute_mapping", !maps.Equal(before.AttributeMapping, after.AttributeMapping))
	out.add("debug_enabled", before.DebugEnabled != after.DebugEnabled)
	out.add("enabled", before.Enabled != after.Enabled)
	out.add("jit_provisioning", before.JITProvisioning != after.JITProvisioning)
	bo, ao := before.OIDC, after.OIDC
	out.add("oidc_config.client_secret", bo.SecretSealed != ao.SecretSealed || bo.ClientSecret != ao.ClientSecret)
	bo.SecretSealed, bo.ClientSecret, ao.SecretSealed, ao.ClientSecret = "", "", "", ""
	out.add("oidc_config", !oidcEqual(bo, ao))
	out.add("provider", before.Provider != after.Provider)
	out.add("saml_config", !samlEqual(before.SAML, after.SAML))
	out.add("sync_profile", before.SyncProfile != after.SyncProfile)
	out.add("ui_button_title", before.UIButtonTitle != after.UIButtonTitle)
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
	var out changedFields
	out.add("attribute_mappings", !slices.Equal(before.Mappings, after.Mappings))
	out.add("directory_provider", before.Provider != after.Provider)
	out.add("enabled", before.Enabled != after.Enabled)
	out.add("name", before.Name != after.Name)
	out.add("role_assignments", !slices.EqualFunc(before.RoleAssignments, after.RoleAssignments,
		func(a, b DirectoryRoleAssignment) bool { return a.GroupID == b.GroupID && a.RoleID == b.RoleID }))
	return out
}

// DirectoryUserChanges names the SCIM attributes whose values differ between two versions
// of a directory user ("active", "emails", "raw_attributes", ...), sorted.
func DirectoryUserChanges(before, after DirectoryUser) []string {
	var out changedFields
	out.add("active", before.Active != after.Active)
	out.add("display_name", before.DisplayName != after.DisplayName)
	out.add("email", before.Email != after.Email)
	out.add("emails", !slices.Equal(before.Emails, after.Emails))
	out.add("external_id", before.ExternalID != after.ExternalID)
	out.add("family_name", before.FamilyName != after.FamilyName)
	out.add("given_name", before.GivenName != after.GivenName)
	out.add("preferred_username", before.PreferredUsername != after.PreferredUsername)
	out.add("raw_attributes", !bytes.Equal(before.Raw, after.Raw))
	out.add("user_name", before.UserName != after.UserName)
	out.add("user_id", before.UserID != after.UserID)
	slices.Sort(out)
	return out
}

// DirectoryGroupChanges names the attributes whose values differ between two versions of a
// directory group, sorted.
func DirectoryGroupChanges(before, after DirectoryGroup) []string {
	var out changedFields
	out.add("display_name", before.DisplayName != after.DisplayName)
	out.add("external_id", before.ExternalID != after.ExternalID)
	out.add("raw_attributes", !bytes.Equal(before.Raw, after.Raw))
	return out
}
