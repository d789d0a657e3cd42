package scimdir_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/scim"
)

// The write path's rules (docs/scim.md "The write path"), on both backends.

// TestGroupTimeOnMemberWrites: a write that changes only a group's members moves its
// lastModified and version at most once per roster.DirectoryGroupMemberTimeGranularity; one
// that changes its attributes moves them at once; one that changes nothing leaves them.
func TestGroupTimeOnMemberWrites(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			f := newFixture(t, backend, "acme.test")
			d := f.scim(t)
			var ids []string
			for i := range 3 {
				r, err := d.CreateUser(ctx, map[string]any{"userName": fmt.Sprintf("m%d@acme.test", i)})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, r.ID)
			}
			var g *scim.Resource
			members := func(mc scim.MemberChange) *scim.Resource {
				t.Helper()
				r, err := d.UpdateGroup(ctx, g.ID, func(c *scim.Resource) (*scim.Resource, scim.MemberChange, error) { return c, mc, nil })
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			start := time.Now()
			g, err := d.CreateGroup(ctx, map[string]any{"displayName": "Big"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := members(scim.MemberChange{Add: []string{ids[0]}})
			if time.Since(start) < roster.DirectoryGroupMemberTimeGranularity*9/10 && (r.Version != g.Version || !r.LastModified.Equal(g.LastModified)) {
				t.Fatalf("a member write within the granularity moved the version: %s → %s", g.Version, r.Version)
			}
			if got, _ := d.GetGroup(ctx, g.ID); got.Version != r.Version {
				t.Fatalf("answered version %s, stored %s", r.Version, got.Version)
			}
			time.Sleep(roster.DirectoryGroupMemberTimeGranularity + 10*time.Millisecond)
			r2 := members(scim.MemberChange{Add: []string{ids[1]}})
			if r2.Version == g.Version || !r2.LastModified.After(g.LastModified) {
				t.Fatalf("a member write after the granularity kept the version %s", r2.Version)
			}
			if got, _ := d.GetGroup(ctx, g.ID); got.Version != r2.Version {
				t.Fatalf("answered version %s, stored %s", r2.Version, got.Version)
			}
			r3, err := d.UpdateGroup(ctx, g.ID, func(c *scim.Resource) (*scim.Resource, scim.MemberChange, error) {
				c.Attributes["displayName"] = "Renamed"
				return c, scim.MemberChange{}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if r3.Version == r2.Version || r3.Attributes["displayName"] != "Renamed" {
				t.Fatalf("a rename kept the version %s: %v", r3.Version, r3.Attributes)
			}
			r4, err := d.UpdateGroup(ctx, g.ID, func(c *scim.Resource) (*scim.Resource, scim.MemberChange, error) { return c, scim.MemberChange{}, nil })
			if err != nil || r4.Version != r3.Version {
				t.Fatalf("a write that changes nothing: version %s → %s, %v", r3.Version, r4.Version, err)
			}
			got, err := d.GroupMembers(ctx, g.ID)
			if err != nil || len(got) != 2 {
				t.Fatalf("members = %v, %v", got, err)
			}
		})
	}
}

// TestConcurrentGroupWrites: member writes and attribute writes of one group at once lose
// neither a member nor an attribute (PostgreSQL locks the group's row only for the latter).
func TestConcurrentGroupWrites(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			f := newFixture(t, backend, "acme.test")
			d := f.scim(t)
			var ids []string
			for i := range 16 {
				r, err := d.CreateUser(ctx, map[string]any{"userName": fmt.Sprintf("c%d@acme.test", i)})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, r.ID)
			}
			g, err := d.CreateGroup(ctx, map[string]any{"displayName": "Team"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 32)
			for i, id := range ids {
				wg.Go(func() {
					_, err := d.UpdateGroup(ctx, g.ID, func(c *scim.Resource) (*scim.Resource, scim.MemberChange, error) {
						return c, scim.MemberChange{Add: []string{id}}, nil
					})
					errs <- err
				})
				if i%2 == 0 {
					wg.Go(func() {
						_, err := d.UpdateGroup(ctx, g.ID, func(c *scim.Resource) (*scim.Resource, scim.MemberChange, error) {
							next := *c
							next.Attributes = map[string]any{}
							for k, v := range c.Attributes {
								next.Attributes[k] = v
							}
							next.Attributes[fmt.Sprintf("urn:ietf:params:scim:schemas:extension:Acme:2.0:Group:k%d", i)] = "v"
							return &next, scim.MemberChange{}, nil
						})
						errs <- err
					})
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			members, err := d.GroupMembers(ctx, g.ID)
			if err != nil || len(members) != len(ids) {
				t.Fatalf("members = %d of %d, %v", len(members), len(ids), err)
			}
			got, err := d.GetGroup(ctx, g.ID)
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for k := range got.Attributes {
				keys = append(keys, k)
			}
			for i := 0; i < len(ids); i += 2 {
				if _, ok := got.Attributes[fmt.Sprintf("urn:ietf:params:scim:schemas:extension:Acme:2.0:Group:k%d", i)]; !ok {
					t.Fatalf("attribute k%d lost: %v", i, slices.Sorted(slices.Values(keys)))
				}
			}
		})
	}
}

// TestUserWriteTouchesWhatChanged: a SCIM write of a user rewrites the Roster user only when
// its profile or email changes, and the email rows the filters read only when the emails
// change; what is read back is right either way.
func TestUserWriteTouchesWhatChanged(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			f := newFixture(t, backend, "acme.test")
			d := f.scim(t)
			r, err := d.CreateUser(ctx, map[string]any{"userName": "ann@acme.test", "name": map[string]any{"givenName": "Ann"},
				"emails": []any{map[string]any{"type": "work", "value": "ann@acme.test", "primary": true}}})
			if err != nil {
				t.Fatal(err)
			}
			u0 := f.linked(t, r.ID)
			time.Sleep(2 * time.Millisecond)
			update(t, d, r.ID, func(a map[string]any) { a["title"] = "Boss" }) // nothing maps title
			if u := f.linked(t, r.ID); !u.UpdateTime.Equal(u0.UpdateTime) {
				t.Fatalf("an unmapped attribute rewrote the user: %v → %v", u0.UpdateTime, u.UpdateTime)
			}
			if got, _ := d.GetUser(ctx, r.ID); got.Attributes["title"] != "Boss" {
				t.Fatalf("title not kept: %v", got.Attributes)
			}
			update(t, d, r.ID, func(a map[string]any) { a["name"] = map[string]any{"givenName": "Anne"} })
			if u := f.linked(t, r.ID); u.Profile.GivenName != "Anne" || !u.UpdateTime.After(u0.UpdateTime) {
				t.Fatalf("after a given name change: %q at %v", u.Profile.GivenName, u.UpdateTime)
			}
			update(t, d, r.ID, func(a map[string]any) {
				a["emails"] = []any{map[string]any{"type": "work", "value": "anne@acme.test", "primary": true}}
			})
			if u := f.linked(t, r.ID); u.Email != "anne@acme.test" {
				t.Fatalf("email = %q", u.Email)
			}
			for email, want := range map[string]int{"anne@acme.test": 1, "ann@acme.test": 0} {
				page, err := d.ListUsers(ctx, scim.ListQuery{Filter: &scim.Cond{Op: "eq", Attr: "emails.value", Value: email}, StartIndex: 1, Count: 10})
				if err != nil || page.TotalResults != want {
					t.Fatalf("emails.value eq %s: %d, want %d (%v)", email, page.TotalResults, want, err)
				}
			}
		})
	}
}
