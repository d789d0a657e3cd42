package roster

import (
	"strings"
	"testing"
	"time"
)

func TestNewDirectory(t *testing.T) {
	now := time.Now()
	d, err := NewDirectory("dir_1", "env_1", "org_1", DirectorySCIM, "OKTA", now)
	if err != nil || !d.Enabled || d.Name != "Okta SCIM directory" || d.Status() != DirectoryDraft {
		t.Fatalf("new directory = %+v, %v", d, err)
	}
	for _, c := range []struct {
		typ      DirectoryType
		provider string
		field    string
	}{{"", "OKTA", "directory.directory_type"}, {"LDAP", "OKTA", "directory.directory_type"}, {DirectorySCIM, "NOPE", "directory.directory_provider"}} {
		_, err := NewDirectory("dir_1", "env_1", "org_1", c.typ, c.provider, now)
		if e, ok := err.(*Error); !ok || e.Code != EInvalid || e.Violations[0].Field != c.field {
			t.Errorf("%s/%s: %v", c.typ, c.provider, err)
		}
	}
	d.HasSecret = true
	if d.Status() != DirectoryInProgress {
		t.Fatalf("status with a secret = %s", d.Status())
	}
}

func TestDirectoryPatch(t *testing.T) {
	d, _ := NewDirectory("dir_1", "env_1", "org_1", DirectorySCIM, "", time.Now())
	defs := map[string]AttributeDefinition{"department": {Key: "department"}}
	empty, long := "  ", strings.Repeat("x", 257)
	for _, p := range []DirectoryPatch{{Name: &empty}, {Name: &long}} {
		if err := p.Apply(&d, defs, time.Now()); ErrorCode(err) != EInvalid {
			t.Errorf("name %q: %v", *p.Name, err)
		}
	}
	name := "Entra"
	m := []DirectoryMapping{{Key: "given_name", MapTo: "name.givenName"},
		{Key: "custom_attributes.department", MapTo: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}}
	if err := (DirectoryPatch{Name: &name, Mappings: m}).Apply(&d, defs, time.Now()); err != nil || d.Name != "Entra" || len(d.Mappings) != 2 {
		t.Fatalf("apply = %v, %+v", err, d)
	}
}

func TestCheckDirectoryMappings(t *testing.T) {
	defs := map[string]AttributeDefinition{"department": {Key: "department"}}
	for _, c := range []struct {
		m     []DirectoryMapping
		field string
	}{
		{[]DirectoryMapping{{Key: "cost_center", MapTo: "x"}}, "m[0].key"},                         // not defined
		{[]DirectoryMapping{{Key: "groups", MapTo: "groups"}}, "m[0].key"},                         // groups come from SCIM Groups
		{[]DirectoryMapping{{Key: "", MapTo: "x"}}, "m[0].key"},                                    // empty
		{[]DirectoryMapping{{Key: strings.Repeat("k", 33), MapTo: "x"}}, "m[0].key"},               // too long
		{[]DirectoryMapping{{Key: "locale", MapTo: ""}}, "m[0].map_to"},                            // empty
		{[]DirectoryMapping{{Key: "locale", MapTo: "a"}, {Key: "locale", MapTo: "b"}}, "m[1].key"}, // twice
	} {
		err := CheckDirectoryMappings("m", c.m, defs)
		if e, ok := err.(*Error); !ok || e.Violations[0].Field != c.field {
			t.Errorf("%+v: %v", c.m, err)
		}
	}
}

func TestCheckRoleAssignments(t *testing.T) {
	ok := []DirectoryRoleAssignment{{GroupID: "dirgroup_1", RoleName: "admin"}, {GroupID: "dirgroup_2", RoleName: "member"}}
	if err := CheckRoleAssignments("a", ok); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]DirectoryRoleAssignment{
		{{GroupID: "grp_1", RoleName: "admin"}},
		{{GroupID: "dirgroup_1", RoleName: "not a role"}},
		{{GroupID: "dirgroup_1"}},
		{{GroupID: "dirgroup_1", RoleName: "a"}, {GroupID: "dirgroup_1", RoleName: "b"}},
	} {
		if err := CheckRoleAssignments("a", bad); ErrorCode(err) != EInvalid {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

func TestDirectorySecret(t *testing.T) {
	s, token, err := NewDirectorySecret("sec_1", "dir_1", time.Now())
	if err != nil || !strings.HasPrefix(token, DirectorySecretPrefix) || len(token) != len(DirectorySecretPrefix)+43 {
		t.Fatalf("token %q, %v", token, err)
	}
	if s.Hash != HashDirectorySecret(token) || strings.Contains(s.Hash, token) || s.Suffix != token[len(token)-4:] || s.ExpireTime != nil {
		t.Fatalf("secret = %+v", s)
	}
	_, other, _ := NewDirectorySecret("sec_2", "dir_1", time.Now())
	if other == token {
		t.Fatal("two tokens are equal")
	}
}

func TestDirectoryUserValidate(t *testing.T) {
	u := DirectoryUser{UserName: "ann@acme.com", Raw: []byte(`{"userName":"ann@acme.com"}`)}
	if err := u.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []DirectoryUser{{}, {UserName: "a", Raw: []byte(`[1]`)}, {UserName: strings.Repeat("a", 257)}} {
		if err := bad.Validate(); ErrorCode(err) != EInvalid {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	if err := (DirectoryGroup{}).Validate(); ErrorCode(err) != EInvalid {
		t.Errorf("group without displayName: %v", err)
	}
	if UserNameKey(" Ann@Acme.COM ") != "ann@acme.com" {
		t.Error("UserNameKey")
	}
}
