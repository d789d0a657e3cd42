package roster

import (
	"strings"
	"testing"
	"time"
)

func fields(err error) []string {
	if err == nil {
		return nil
	}
	var out []string
	for _, v := range err.(*Error).Violations {
		out = append(out, v.Field)
	}
	return out
}

func TestNewOrganizationValidate(t *testing.T) {
	meta := func(n int) map[string]string {
		m := map[string]string{}
		for i := 0; i < n; i++ {
			m["key"+strings.Repeat("x", i)] = "v"
		}
		return m
	}
	for _, c := range []struct {
		name string
		in   NewOrganization
		want []string
	}{
		{"ok", NewOrganization{DisplayName: "Megasoft Inc", ExternalID: "CUST-12345-MGSFT", Metadata: meta(10), Slug: "megasoft", RegionCode: "EU"}, nil},
		{"blank name", NewOrganization{DisplayName: "  "}, []string{"organization.display_name"}},
		{"200 runes ok", NewOrganization{DisplayName: strings.Repeat("é", 200)}, nil},
		{"201 runes", NewOrganization{DisplayName: strings.Repeat("é", 201)}, []string{"organization.display_name"}},
		{"255 external id", NewOrganization{DisplayName: "a", ExternalID: strings.Repeat("x", 255)}, nil},
		{"256 external id", NewOrganization{DisplayName: "a", ExternalID: strings.Repeat("x", 256)}, []string{"organization.external_id"}},
		{"11 pairs", NewOrganization{DisplayName: "a", Metadata: meta(11)}, []string{"organization.metadata"}},
		{"short key", NewOrganization{DisplayName: "a", Metadata: map[string]string{"ab": "v"}}, []string{"organization.metadata"}},
		{"long key", NewOrganization{DisplayName: "a", Metadata: map[string]string{strings.Repeat("k", 26): "v"}}, []string{"organization.metadata"}},
		{"empty value", NewOrganization{DisplayName: "a", Metadata: map[string]string{"abc": ""}}, []string{"organization.metadata"}},
		{"long value", NewOrganization{DisplayName: "a", Metadata: map[string]string{"abc": strings.Repeat("v", 257)}}, []string{"organization.metadata"}},
		{"bad slug", NewOrganization{DisplayName: "a", Slug: "Bad_Slug"}, []string{"organization.slug"}},
		{"bad region", NewOrganization{DisplayName: "a", RegionCode: "MARS"}, []string{"organization.region_code"}},
		{"several", NewOrganization{DisplayName: "", ExternalID: strings.Repeat("x", 300)}, []string{"organization.display_name", "organization.external_id"}},
	} {
		err := c.in.Validate()
		got := fields(err)
		if strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s: violations %v, want %v (%v)", c.name, got, c.want, err)
		}
		if err != nil && ErrorCode(err) != EInvalid {
			t.Errorf("%s: code %s", c.name, ErrorCode(err))
		}
	}
}

func TestOrganizationPatch(t *testing.T) {
	now := time.Now()
	o := NewOrganization{DisplayName: "Megasoft", ExternalID: "ext", Metadata: map[string]string{"plan": "gold", "tier": "one"}, Slug: "mega"}.Build("org_1", "env_1", now)
	later := now.Add(time.Minute)
	name, empty := "Megasoft Inc", ""
	p := OrganizationPatch{DisplayName: &name, Slug: &empty, Metadata: map[string]string{"tier": "", "region": "eu"}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(&o, later); err != nil {
		t.Fatal(err)
	}
	if o.DisplayName != "Megasoft Inc" || *o.ExternalID != "ext" || o.Slug != nil || len(o.Metadata) != 2 || o.Metadata["region"] != "eu" || o.Metadata["tier"] != "" || !o.UpdateTime.Equal(later) || !o.CreateTime.Equal(now) {
		t.Fatalf("after patch: %+v", o)
	}
	replace := OrganizationPatch{Metadata: map[string]string{}, ReplaceMetadata: true}
	if err := replace.Apply(&o, later); err != nil || len(o.Metadata) != 0 {
		t.Fatalf("replace with empty map: %v %v", o.Metadata, err)
	}
	// With ReplaceMetadata an empty value is invalid (it cannot mean "remove").
	if err := (OrganizationPatch{Metadata: map[string]string{"abc": ""}, ReplaceMetadata: true}).Validate(); err == nil {
		t.Fatal("empty value in a replacement accepted")
	}
	many := map[string]string{}
	for i := 0; i < 11; i++ {
		many[strings.Repeat("k", 3+i)] = "v"
	}
	if err := (OrganizationPatch{Metadata: many}).Apply(&o, later); ErrorCode(err) != EInvalid {
		t.Fatalf("11 pairs after merge: %v", err)
	}
}

func TestIDGenerator(t *testing.T) {
	g := NewIDGenerator()
	prev := int64(0)
	seen := map[string]bool{}
	for i := 0; i < 20000; i++ { // more than one millisecond's 4096 sequence numbers
		id := g.New(PrefixOrganization)
		n, ok := IDNumber(id, PrefixOrganization)
		if !ok || n <= prev || seen[id] {
			t.Fatalf("id %s after %d", id, prev)
		}
		if len(id) < 19 || len(id) > 25 {
			t.Fatalf("id %s has length %d", id, len(id))
		}
		prev, seen[id] = n, true
	}
	// A clock that steps back never makes IDs go backwards.
	g.now = func() time.Time { return time.Now().Add(-time.Hour) }
	if n := g.Next(); n <= prev {
		t.Fatalf("clock step back: %d after %d", n, prev)
	}
	for _, bad := range []string{"org_", "usr_123", "org_-1", "org_12a", "org_" + strings.Repeat("9", 20)} {
		if _, ok := IDNumber(bad, PrefixOrganization); ok {
			t.Fatalf("%q parsed", bad)
		}
	}
}

func TestErrorHelpers(t *testing.T) {
	if ErrorCode(nil) != "" || ErrorCode(errString("x")) != EInternal || ErrorMessage(errString("db password is hunter2")) != "internal error" {
		t.Fatal("non-application errors must stay internal and hidden")
	}
	e := Errorf(ENotFound, "organization %s not found", "org_1")
	if ErrorCode(e) != ENotFound || ErrorMessage(e) != "organization org_1 not found" {
		t.Fatal(e)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
