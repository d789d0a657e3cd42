package roster_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

func TestImportUserValidate(t *testing.T) {
	str := func(s string) *string { return &s }
	ok := roster.ImportUser{Email: "ada@example.com", Memberships: []roster.ImportMembership{{OrganizationID: "org_1", Roles: []string{"admin"}}}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid line refused: %v", err)
	}
	many := make([]roster.ImportMembership, roster.ImportMembershipsMax+1)
	for i := range many {
		many[i].OrganizationID = "org_" + strings.Repeat("x", i%5)
	}
	tests := []struct {
		name  string
		in    roster.ImportUser
		field string
	}{
		{"no email", roster.ImportUser{}, "email"},
		{"bad email", roster.ImportUser{Email: "nope"}, "email"},
		{"bad id", roster.ImportUser{ID: "org_1", Email: "a@b.co"}, "id"},
		{"long external id", roster.ImportUser{Email: "a@b.co", ExternalID: str(strings.Repeat("x", 511))}, "external_id"},
		{"metadata key", roster.ImportUser{Email: "a@b.co", Metadata: map[string]string{"k": "v"}}, "metadata"},
		{"given name", roster.ImportUser{Email: "a@b.co", Profile: roster.ProfilePatch{GivenName: str(strings.Repeat("x", 256))}}, "user_profile.given_name"},
		{"attribute value", roster.ImportUser{Email: "a@b.co", Profile: roster.ProfilePatch{CustomAttributes: map[string]string{"tier": strings.Repeat("x", 257)}}}, "user_profile.custom_attributes"},
		{"organization missing", roster.ImportUser{Email: "a@b.co", Memberships: []roster.ImportMembership{{}}}, "memberships[0].organization_id"},
		{"organization twice", roster.ImportUser{Email: "a@b.co", Memberships: []roster.ImportMembership{{OrganizationID: "org_1"}, {OrganizationID: "org_1"}}}, "memberships[1].organization_id"},
		{"role name", roster.ImportUser{Email: "a@b.co", Memberships: []roster.ImportMembership{{OrganizationID: "org_1", Roles: []string{"no spaces"}}}}, "memberships[0].roles"},
		{"status", roster.ImportUser{Email: "a@b.co", Memberships: []roster.ImportMembership{{OrganizationID: "org_1", Status: roster.MembershipInviteExpired}}}, "memberships[0].status"},
		{"membership metadata", roster.ImportUser{Email: "a@b.co", Memberships: []roster.ImportMembership{{OrganizationID: "org_1", Metadata: map[string]string{"x": "1"}}}}, "memberships[0].metadata"},
		{"too many memberships", roster.ImportUser{Email: "a@b.co", Memberships: many}, "memberships"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			if roster.ErrorCode(err) != roster.EInvalid {
				t.Fatalf("want INVALID_ARGUMENT, got %v", err)
			}
			var fields []string
			for _, v := range err.(*roster.Error).Violations {
				fields = append(fields, v.Field)
				if v.Field == tt.field {
					return
				}
			}
			t.Fatalf("want a violation of %s, got %v", tt.field, fields)
		})
	}
}

func TestImportUserApply(t *testing.T) {
	str := func(s string) *string { return &s }
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	later := now.Add(time.Hour)
	line := roster.ImportUser{Email: "Ada@Example.com", ExternalID: str("e1"), Metadata: map[string]string{"dept": "eng"},
		Profile: roster.ProfilePatch{GivenName: str("Ada"), CustomAttributes: map[string]string{"tier": "gold"}}}
	u := line.NewUser("usr_1", "env_1", now)
	if changed, err := line.Apply(&u, now); err != nil || !changed {
		t.Fatalf("new user: changed %v, %v", changed, err)
	}
	if u.Email != "Ada@Example.com" || *u.ExternalID != "e1" || u.Profile.Name != "Ada" || u.Profile.CustomAttributes["tier"] != "gold" {
		t.Fatalf("applied: %+v", u)
	}
	// The same line again, with the email in another case: nothing changes.
	again := line
	again.Email = "ada@example.COM"
	if changed, err := again.Apply(&u, later); err != nil || changed || !u.UpdateTime.Equal(now) {
		t.Fatalf("same line: changed %v, %v, update time %v", changed, err, u.UpdateTime)
	}
	// An empty value removes a key; a new email replaces the old one.
	patch := roster.ImportUser{Email: "lovelace@example.com", Metadata: map[string]string{"dept": ""}}
	if changed, err := patch.Apply(&u, later); err != nil || !changed || !u.UpdateTime.Equal(later) {
		t.Fatalf("patch: changed %v, %v", changed, err)
	}
	if _, ok := u.Metadata["dept"]; ok || u.Email != "lovelace@example.com" || u.Profile.GivenName != "Ada" {
		t.Fatalf("patched: %+v", u)
	}
	// Too many pairs after the merge.
	meta := map[string]string{}
	for i := 0; i < roster.UserMetadataMaxPairs+1; i++ {
		meta[strings.Repeat("k", 3)+string(rune('a'+i))] = "v"
	}
	u.Metadata = meta
	if _, err := (roster.ImportUser{Email: u.Email, Metadata: map[string]string{"extra": "1"}}).Apply(&u, later); roster.ErrorCode(err) != roster.EInvalid {
		t.Fatalf("want INVALID_ARGUMENT for too many pairs, got %v", err)
	}
}
