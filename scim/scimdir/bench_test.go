package scimdir_test

import (
	"fmt"
	"testing"

	"github.com/rosterhq/roster/scim"
	"github.com/rosterhq/roster/scim/scimdir"
)

// BenchmarkCreateUser: one SCIM POST's storage work through the adapter on SQLite (a new
// Roster user, its membership and the directory user row, one transaction), without HTTP.
func BenchmarkCreateUser(b *testing.B) {
	f := newFixture(b, "sqlite", "acme.test")
	d := scimdir.New(f.svc, f.dir)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := d.CreateUser(ctx, map[string]any{"userName": fmt.Sprintf("u%d@acme.test", i),
			"name": map[string]any{"givenName": "Ann", "familyName": "Lee"}, "active": true,
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"costCenter": "CC-7"}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAddMember: one member added to and removed from a group of 2,000 (the rows named
// only, with the member's roles recomputed), on SQLite.
func BenchmarkAddMember(b *testing.B) {
	f := newFixture(b, "sqlite", "acme.test")
	d := scimdir.New(f.svc, f.dir)
	var ids []string
	for i := range 2001 {
		r, err := d.CreateUser(ctx, map[string]any{"userName": fmt.Sprintf("m%d@acme.test", i)})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	g, err := d.CreateGroup(ctx, map[string]any{"displayName": "Big"}, ids[:2000])
	if err != nil {
		b.Fatal(err)
	}
	change := func(mc scim.MemberChange) {
		if _, err := d.UpdateGroup(ctx, g.ID, func(c *scim.Resource) (*scim.Resource, scim.MemberChange, error) { return c, mc, nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		change(scim.MemberChange{Add: []string{ids[2000]}})
		change(scim.MemberChange{Remove: []string{ids[2000]}})
	}
}
