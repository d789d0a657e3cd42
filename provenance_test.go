package roster

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestChangedFields(t *testing.T) {
	base := User{Email: "ada@example.com", Profile: Profile{GivenName: "Ada", Name: "Ada", Groups: []string{"eng"},
		Metadata: map[string]string{"a": "1"}, CustomAttributes: map[string]string{"tier": "gold", "zone": "eu"}}}
	clone := func(f func(u *User)) User {
		u := base.Clone()
		f(&u)
		return u
	}
	for _, c := range []struct {
		name  string
		after User
		want  []string
	}{
		{"nothing", base.Clone(), nil},
		{"empty and nil maps and lists are equal", clone(func(u *User) {
			u.Profile.Groups, u.Profile.Metadata = []string{"eng"}, map[string]string{"a": "1"}
		}), nil},
		{"every scalar", clone(func(u *User) {
			p := &u.Profile
			u.Email = "Ada@example.com" // a change of case is a change
			p.GivenName, p.FamilyName, p.Name, p.Locale, p.PhoneNumber = "A", "L", "A L", "en-GB", "+14155552671"
			p.PreferredUsername, p.Picture, p.Gender, p.EmailVerified, p.PhoneNumberVerified = "ada", "https://x", "f", true, true
		}), ProvenanceFields[:11]},
		{"a list and a map", clone(func(u *User) {
			u.Profile.Groups, u.Profile.Metadata = nil, map[string]string{"a": "2"}
		}), []string{FieldGroups, FieldMetadata}},
		{"custom attributes: changed, added, removed, in key order", clone(func(u *User) {
			u.Profile.CustomAttributes = map[string]string{"zone": "us", "new": "x"}
		}), []string{CustomFieldPrefix + "new", CustomFieldPrefix + "tier", CustomFieldPrefix + "zone"}},
	} {
		if got := ChangedFields(&base, &c.after); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestResolveProvenance(t *testing.T) {
	t0, t1 := time.Unix(100, 0).UTC(), time.Unix(200, 0).UTC()
	created := FieldSource{Source: SourceImport, SourceID: "skc_1", UpdateTime: t0}
	scim := FieldSource{Source: SourceSCIM, SourceID: "dir_1", UpdateTime: t1}
	u := User{ID: "usr_1", Email: "ada@example.com", Profile: Profile{GivenName: "Ada", FamilyName: "", Name: "Ada",
		Groups: []string{}, Metadata: map[string]string{"k": "v"}, CustomAttributes: map[string]string{"tier": "gold", "zone": "eu"}}}
	got := ResolveProvenance(u, map[string]FieldSource{
		FieldCreated:               created,
		FieldGivenName:             scim,
		FieldPhoneNumber:           scim, // cleared by SCIM: it keeps its record
		CustomFieldPrefix + "zone": scim,
	})
	want := map[string]FieldSource{FieldEmail: created, FieldGivenName: scim, FieldName: created, FieldMetadata: created, FieldPhoneNumber: scim}
	if len(got.Fields) != len(want) || got.UserID != "usr_1" {
		t.Errorf("fields %v, want %v", got.Fields, want)
	}
	for f, w := range want {
		if got.Fields[f] != w {
			t.Errorf("%s: %+v, want %+v", f, got.Fields[f], w)
		}
	}
	if len(got.CustomAttributes) != 2 || got.CustomAttributes["tier"] != created || got.CustomAttributes["zone"] != scim {
		t.Errorf("custom attributes %v", got.CustomAttributes)
	}
	// Without a creation record (a user written before provenance was recorded), only the
	// fields written since have an entry.
	got = ResolveProvenance(u, map[string]FieldSource{FieldGivenName: scim})
	if len(got.Fields) != 1 || len(got.CustomAttributes) != 0 || got.Fields[FieldGivenName] != scim {
		t.Errorf("without a creation record: %+v", got)
	}
}

func TestClientIDContext(t *testing.T) {
	ctx := context.Background()
	if ClientIDFrom(ctx) != "" {
		t.Fatal("a bare context names a client")
	}
	if got := ClientIDFrom(WithClientID(ctx, "skc_1")); got != "skc_1" {
		t.Fatalf("got %q", got)
	}
}
