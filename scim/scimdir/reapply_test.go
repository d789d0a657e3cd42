package scimdir_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/scim"
	"github.com/rosterhq/roster/scim/scimdir"
)

const acmeExt = "urn:ietf:params:scim:schemas:extension:Acme:2.0:User"

func (f fixture) reapply(t *testing.T, svc *directory.Service) directory.ReapplyResult {
	t.Helper()
	if svc == nil {
		svc = f.svc
	}
	res, err := svc.ReapplyDirectoryMapping(ctx, f.env, f.org.ID, f.dir.ID, scimdir.ProfileFunc)
	if err != nil {
		t.Fatal(err)
	}
	if res.Examined != res.Changed+res.Unchanged+res.Skipped+res.Failed {
		t.Fatalf("counts do not add up: %+v", res)
	}
	return res
}

func (f fixture) defineAndMap(t *testing.T, def roster.AttributeDefinition, mapTo string) {
	t.Helper()
	if _, err := f.svc.CreateAttribute(ctx, f.env, def); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.UpdateDirectoryAttributes(ctx, f.env, f.org.ID, f.dir.ID, []roster.DirectoryMapping{{Key: def.Key, MapTo: mapTo}}); err != nil {
		t.Fatal(err)
	}
}

// TestReapplySkipsAnotherOrganizationsUser: a user whose profile another organization's
// source owns is counted as skipped and keeps its custom attributes (roster.MayChangeProfile),
// while the directory's own users get the new mapping.
func TestReapplySkipsAnotherOrganizationsUser(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			f := newFixture(t, backend, "acme.test")
			g, err := f.svc.CreateOrganization(ctx, f.env, roster.NewOrganization{DisplayName: "Globex"})
			if err != nil {
				t.Fatal(err)
			}
			dom, err := f.svc.CreateDomain(ctx, f.env, roster.OrganizationRef{ID: g.ID}, "shared.test", roster.DomainAllowedEmail)
			if err != nil {
				t.Fatal(err)
			}
			gd, err := f.svc.CreateDirectory(ctx, f.env, g.ID, roster.DirectorySCIM, "OKTA")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := scimdir.New(f.svc, gd.Directory).CreateUser(ctx, map[string]any{"userName": "kim@shared.test"}); err != nil {
				t.Fatal(err)
			}
			if err := f.svc.DeleteDomain(ctx, f.env, roster.OrganizationRef{ID: g.ID}, dom.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.CreateDomain(ctx, f.env, roster.OrganizationRef{ID: f.org.ID}, "shared.test", roster.DomainAllowedEmail); err != nil {
				t.Fatal(err)
			}
			d := f.scim(t)
			kim, err := d.CreateUser(ctx, map[string]any{"userName": "kim@shared.test", acmeExt: map[string]any{"team": "Red"}})
			if err != nil {
				t.Fatal(err)
			}
			ann, err := d.CreateUser(ctx, map[string]any{"userName": "ann@acme.test", acmeExt: map[string]any{"team": "Blue"}})
			if err != nil {
				t.Fatal(err)
			}
			f.defineAndMap(t, roster.AttributeDefinition{Key: "team", DisplayName: "Team", Type: roster.AttributeString}, acmeExt+":team")
			res := f.reapply(t, nil)
			if res.Examined != 2 || res.Changed != 1 || res.Skipped != 1 || res.Failed != 0 {
				t.Fatalf("result %+v", res)
			}
			if got := f.linked(t, ann.ID).Profile.CustomAttributes; got["team"] != "Blue" {
				t.Fatalf("ann: %v", got)
			}
			if got := f.linked(t, kim.ID).Profile.CustomAttributes; len(got) != 0 {
				t.Fatalf("kim, owned by Globex's directory, changed: %v", got)
			}
			if res := f.reapply(t, nil); res.Changed != 0 || res.Skipped != 1 || res.Unchanged != 1 {
				t.Fatalf("second call: %+v", res)
			}
		})
	}
}

// TestReapplyInBatches: a directory of 2,500 users is re-applied 500 users per transaction
// (so memory does not grow with the directory), every user changes once, and a second call
// changes none.
func TestReapplyInBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("2,500 users")
	}
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			f := newFixture(t, backend, "acme.test")
			if _, err := f.svc.CreateAttribute(ctx, f.env, roster.AttributeDefinition{Key: "team", DisplayName: "Team", Type: roster.AttributeString}); err != nil {
				t.Fatal(err)
			}
			const n = 2500
			d := f.scim(t)
			for i := range n {
				if _, err := d.CreateUser(ctx, map[string]any{"userName": fmt.Sprintf("u%04d@acme.test", i), acmeExt: map[string]any{"team": fmt.Sprint("T", i%7)}}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := f.svc.UpdateDirectoryAttributes(ctx, f.env, f.org.ID, f.dir.ID, []roster.DirectoryMapping{{Key: "team", MapTo: acmeExt + ":team"}}); err != nil {
				t.Fatal(err)
			}
			res := f.reapply(t, nil)
			// 5 full batches of DefaultReapplyBatch, then an empty one that finds the end
			if res.Examined != n || res.Changed != n || res.Batches != n/directory.DefaultReapplyBatch+1 {
				t.Fatalf("result %+v", res)
			}
			if res := f.reapply(t, nil); res.Examined != n || res.Changed != 0 || res.Unchanged != n {
				t.Fatalf("second call: %+v", res)
			}
			page, _, err := f.svc.QuerySCIMUsers(ctx, f.dir, nil, 1234, 1)
			if err != nil || len(page) != 1 {
				t.Fatal(page, err)
			}
			if got := f.linked(t, page[0].ID).Profile.CustomAttributes["team"]; got != "T2" { // u1234: 1234 % 7 = 2
				t.Fatalf("u1234's team %q", got)
			}
		})
	}
}

// TestReapplyFailure: a user whose new value cannot be stored (a unique custom attribute
// another user holds) is counted with its reason; the rest of its batch is applied, one user
// per transaction.
func TestReapplyFailure(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			f := newFixture(t, backend, "acme.test")
			d := f.scim(t)
			var ids []string
			for i, badge := range []string{"B1", "B2", "B2", "B4"} {
				r, err := d.CreateUser(ctx, map[string]any{"userName": fmt.Sprintf("u%d@acme.test", i), acmeExt: map[string]any{"badge": badge}})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, r.ID)
			}
			f.defineAndMap(t, roster.AttributeDefinition{Key: "badge", DisplayName: "Badge", Type: roster.AttributeString, Unique: true}, acmeExt+":badge")
			svc := directory.New(f.svc.Store(), directory.WithReapplyBatch(3))
			res := f.reapply(t, svc)
			if res.Examined != 4 || res.Changed != 3 || res.Failed != 1 || len(res.Failures) != 1 || res.Failures[0].DirectoryUserID != ids[2] ||
				roster.ErrorCode(res.Failures[0].Err) != roster.EConflict {
				t.Fatalf("result %+v", res)
			}
			// batch 1 failed, then u0, u1, u2 one by one, then u3 and the end in one batch
			if res.Batches != 5 {
				t.Fatalf("%d transactions, want 5", res.Batches)
			}
			for i, want := range []string{"B1", "B2", "", "B4"} {
				if got := f.linked(t, ids[i]).Profile.CustomAttributes["badge"]; got != want {
					t.Errorf("u%d's badge %q, want %q", i, got, want)
				}
			}
		})
	}
}

// TestReapplyWhileSCIMWrites: SCIM writes that arrive while a re-application runs leave every
// user with what its latest resource and the current mapping give.
func TestReapplyWhileSCIMWrites(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			f := newFixture(t, backend, "acme.test")
			if _, err := f.svc.CreateAttribute(ctx, f.env, roster.AttributeDefinition{Key: "team", DisplayName: "Team", Type: roster.AttributeString}); err != nil {
				t.Fatal(err)
			}
			d := f.scim(t)
			const n = 60
			ids := make([]string, n)
			for i := range n {
				r, err := d.CreateUser(ctx, map[string]any{"userName": fmt.Sprintf("u%d@acme.test", i), acmeExt: map[string]any{"team": "old"}})
				if err != nil {
					t.Fatal(err)
				}
				ids[i] = r.ID
			}
			if _, err := f.svc.UpdateDirectoryAttributes(ctx, f.env, f.org.ID, f.dir.ID, []roster.DirectoryMapping{{Key: "team", MapTo: acmeExt + ":team"}}); err != nil {
				t.Fatal(err)
			}
			d = f.scim(t)
			svc := directory.New(f.svc.Store(), directory.WithReapplyBatch(4))
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := n - 1; i >= 0; i -= 2 { // from the end, to cross the re-application
					if _, err := d.UpdateUser(ctx, ids[i], func(c *scim.Resource) (*scim.Resource, error) {
						c.Attributes[acmeExt] = map[string]any{"team": "new"}
						return c, nil
					}); err != nil {
						t.Error(err)
					}
				}
			}()
			for range 3 {
				f.reapply(t, svc)
			}
			wg.Wait()
			for i, id := range ids {
				want := "old"
				if (n-1-i)%2 == 0 {
					want = "new"
				}
				if got := f.linked(t, id).Profile.CustomAttributes["team"]; got != want {
					t.Errorf("u%d's team %q, want %q", i, got, want)
				}
			}
		})
	}
}

// TestSCIMWriteReadsTheCurrentMapping: a SCIM write applies the mapping as of its own
// transaction, not as of the request's start, so a write that crosses a mapping change and a
// re-application cannot leave its user with the old mapping.
func TestSCIMWriteReadsTheCurrentMapping(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			f := newFixture(t, backend, "acme.test")
			if _, err := f.svc.CreateAttribute(ctx, f.env, roster.AttributeDefinition{Key: "team", DisplayName: "Team", Type: roster.AttributeString}); err != nil {
				t.Fatal(err)
			}
			d := f.scim(t) // opened before the mapping changes, as a request in flight
			r, err := d.CreateUser(ctx, map[string]any{"userName": "ann@acme.test", acmeExt: map[string]any{"team": "Red"}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.UpdateDirectoryAttributes(ctx, f.env, f.org.ID, f.dir.ID, []roster.DirectoryMapping{{Key: "team", MapTo: acmeExt + ":team"}}); err != nil {
				t.Fatal(err)
			}
			f.reapply(t, nil)
			update(t, d, r.ID, func(a map[string]any) { a[acmeExt] = map[string]any{"team": "Blue"} })
			if got := f.linked(t, r.ID).Profile.CustomAttributes["team"]; got != "Blue" {
				t.Fatalf("team %q after a write opened before the mapping changed, want Blue", got)
			}
		})
	}
}
