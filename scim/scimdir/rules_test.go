package scimdir_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/scim"
	"github.com/rosterhq/roster/scim/scimdir"
)

var ctx = context.Background()

func (f fixture) scim(t *testing.T) *scimdir.Directory {
	t.Helper()
	d, err := f.svc.GetDirectory(ctx, f.env, f.org.ID, f.dir.ID) // fresh: mapping and assignments
	if err != nil {
		t.Fatal(err)
	}
	return scimdir.New(f.svc, d.Directory)
}

func (f fixture) user(t *testing.T, id string) roster.User {
	t.Helper()
	u, err := f.svc.GetUser(ctx, f.env, roster.UserRef{ID: id})
	if err != nil {
		t.Fatalf("GetUser %s: %v", id, err)
	}
	return u
}

func (f fixture) linked(t *testing.T, dirUserID string) roster.User {
	t.Helper()
	row, err := f.svc.Store().GetDirectoryUser(ctx, f.env.ID, f.dir.ID, dirUserID)
	if err != nil || row.UserID == "" {
		t.Fatalf("directory user %s: %+v %v", dirUserID, row, err)
	}
	return f.user(t, row.UserID)
}

func membership(u roster.User, orgID string) *roster.Membership {
	for i := range u.Memberships {
		if u.Memberships[i].OrganizationID == orgID {
			return &u.Memberships[i]
		}
	}
	return nil
}

func roleNames(m *roster.Membership) []string {
	var out []string
	for _, r := range m.Roles {
		out = append(out, r.Name)
	}
	slices.Sort(out)
	return out
}

func update(t *testing.T, d scim.Directory, id string, change func(map[string]any)) *scim.Resource {
	t.Helper()
	r, err := d.UpdateUser(ctx, id, func(c *scim.Resource) (*scim.Resource, error) {
		change(c.Attributes)
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestProvisioningRules: the rules of docs/scim.md "What provisioning does to the
// directory", on both backends.
func TestProvisioningRules(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			f := newFixture(t, backend, "acme.test")
			no := false
			// a person already in Roster (created through the API) is matched by email
			ann, err := f.svc.CreateUserAndMembership(ctx, f.env, f.org.ID, roster.NewUser{Email: "Ann@acme.test"},
				directory.NewMembership{SendInvitation: &no})
			if err != nil {
				t.Fatal(err)
			}
			d := f.scim(t)
			r, err := d.CreateUser(ctx, map[string]any{"userName": "ann@acme.test", "name": map[string]any{"givenName": "Ann", "familyName": "Lee"},
				"phoneNumbers": []any{map[string]any{"value": "+14155552671", "type": "work"}}, "locale": "en_US", "title": "CTO"})
			if err != nil {
				t.Fatal(err)
			}
			u := f.linked(t, r.ID)
			if u.ID != ann.ID || u.Profile.GivenName != "Ann" || u.Profile.FamilyName != "Lee" || u.Profile.Name != "Ann Lee" ||
				u.Profile.PhoneNumber != "+14155552671" || u.Profile.Locale != "en-US" || u.Profile.PreferredUsername != "ann@acme.test" {
				t.Fatalf("matched user: %+v (want %s)", u.Profile, ann.ID)
			}
			if m := membership(u, f.org.ID); m == nil || m.Status != roster.MembershipActive {
				t.Fatalf("membership: %+v", u.Memberships)
			}
			// the linking rule: an email domain that is not the organization's is refused (409)
			_, err = d.CreateUser(ctx, map[string]any{"userName": "mallory@evil.test"})
			var se *scim.Error
			if !errors.Is(err, scim.ErrUniqueness) || !errors.As(err, &se) || se.Status != 409 || se.ScimType != scim.TypeUniqueness {
				t.Fatalf("another domain: %v, want 409 uniqueness", err)
			}
			// no email at all: 400
			if _, err := d.CreateUser(ctx, map[string]any{"userName": "no-email"}); !errors.As(err, &se) || se.Status != 400 {
				t.Fatalf("no email: %v", err)
			}
			// a new person is created, active
			r2, err := d.CreateUser(ctx, map[string]any{"userName": "bob@acme.test", "active": true})
			if err != nil {
				t.Fatal(err)
			}
			bob := f.linked(t, r2.ID)
			// active false suspends, true restores; the SCIM user stays visible to filters
			update(t, d, r2.ID, func(a map[string]any) { a["active"] = false })
			if m := membership(f.user(t, bob.ID), f.org.ID); m == nil || m.Status != roster.MembershipInactive {
				t.Fatalf("after active false: %+v", m)
			}
			c := scim.Cond{Op: "eq", Attr: "active", Value: false}
			if p, err := d.ListUsers(ctx, scim.ListQuery{Filter: &c, StartIndex: 1, Count: 10}); err != nil || p.TotalResults != 1 || p.Resources[0].ID != r2.ID {
				t.Fatalf("inactive users: %+v %v", p, err)
			}
			update(t, d, r2.ID, func(a map[string]any) { a["active"] = true })
			if m := membership(f.user(t, bob.ID), f.org.ID); m == nil || m.Status != roster.MembershipActive {
				t.Fatalf("after active true: %+v", m)
			}
			// DELETE ends the membership and deletes a user that nothing else holds
			if err := d.DeleteUser(ctx, r2.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.GetUser(ctx, f.env, roster.UserRef{ID: bob.ID}); roster.ErrorCode(err) != roster.ENotFound {
				t.Fatalf("bob after DELETE: %v, want NOT_FOUND", err)
			}
			// a user with another membership keeps existing, without this one
			other, err := f.svc.CreateOrganization(ctx, f.env, roster.NewOrganization{DisplayName: "Other"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.CreateMembership(ctx, f.env, other.ID, roster.UserRef{ID: ann.ID}, directory.NewMembership{SendInvitation: &no}); err != nil {
				t.Fatal(err)
			}
			if err := d.DeleteUser(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
			u = f.user(t, ann.ID)
			if membership(u, f.org.ID) != nil || membership(u, other.ID) == nil {
				t.Fatalf("ann after DELETE: %+v", u.Memberships)
			}
		})
	}
}

// TestProfileOwnedByAnotherOrganization: a directory never changes the profile of a user
// whose profile another organization's source owns (roster.MayChangeProfile).
func TestProfileOwnedByAnotherOrganization(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			f := newFixture(t, backend)
			// the other organization's directory brings the person in first
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
			gr, err := scimdir.New(f.svc, gd.Directory).CreateUser(ctx, map[string]any{"userName": "kim@shared.test", "name": map[string]any{"givenName": "Kim"}})
			if err != nil {
				t.Fatal(err)
			}
			// the domain moves to Acme, whose directory then links the same person
			if err := f.svc.DeleteDomain(ctx, f.env, roster.OrganizationRef{ID: g.ID}, dom.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.CreateDomain(ctx, f.env, roster.OrganizationRef{ID: f.org.ID}, "shared.test", roster.DomainAllowedEmail); err != nil {
				t.Fatal(err)
			}
			r, err := f.scim(t).CreateUser(ctx, map[string]any{"userName": "kim@shared.test", "name": map[string]any{"givenName": "Kimberly"}})
			if err != nil {
				t.Fatal(err)
			}
			u := f.linked(t, r.ID)
			row, _ := f.svc.Store().GetDirectoryUser(ctx, f.env.ID, gd.Directory.ID, gr.ID)
			if u.ID != row.UserID || u.Profile.GivenName != "Kim" || membership(u, f.org.ID) == nil || membership(u, g.ID) == nil {
				t.Fatalf("kim: %+v %+v", u.Profile, u.Memberships)
			}
		})
	}
}

// TestMappingAndRolesFromGroups: the directory's attribute mapping fills custom attributes
// from any SCIM path; a member's roles follow its groups' role assignments, recomputed when
// members come and go, when a group is deleted and when the assignments change.
func TestMappingAndRolesFromGroups(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			f := newFixture(t, backend, "acme.test")
			if _, err := f.svc.CreateAttribute(ctx, f.env, roster.AttributeDefinition{Key: "cost_center", DisplayName: "Cost center", Type: roster.AttributeString}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.CreateAttribute(ctx, f.env, roster.AttributeDefinition{Key: "team", DisplayName: "Team", Type: roster.AttributeString}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.UpdateDirectoryAttributes(ctx, f.env, f.org.ID, f.dir.ID, []roster.DirectoryMapping{
				{Key: "cost_center", MapTo: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter"},
				{Key: "custom_attributes.team", MapTo: "urn:ietf:params:scim:schemas:extension:Acme:2.0:User:team"},
			}); err != nil {
				t.Fatal(err)
			}
			d := f.scim(t)
			r, err := d.CreateUser(ctx, map[string]any{"userName": "ann@acme.test",
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"costCenter": "CC-7", "department": "R&D"},
				"urn:ietf:params:scim:schemas:extension:Acme:2.0:User":       map[string]any{"team": "Platform"}})
			if err != nil {
				t.Fatal(err)
			}
			u := f.linked(t, r.ID)
			if u.Profile.CustomAttributes["cost_center"] != "CC-7" || u.Profile.CustomAttributes["team"] != "Platform" {
				t.Fatalf("custom attributes: %v", u.Profile.CustomAttributes)
			}
			def := roleNames(membership(u, f.org.ID))
			r2, err := d.CreateUser(ctx, map[string]any{"userName": "bob@acme.test"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.CreateRole(ctx, f.env, f.org.ID, roster.Role{Name: "billing", DisplayName: "Billing"}); err != nil {
				t.Fatal(err)
			}
			g, err := d.CreateGroup(ctx, map[string]any{"displayName": "Finance"}, []string{r.ID})
			if err != nil {
				t.Fatal(err)
			}
			roles := func(id string) []string { return roleNames(membership(f.linked(t, id), f.org.ID)) }
			if got := roles(r.ID); !slices.Equal(got, def) {
				t.Fatalf("no assignment yet: %v, want the default %v", got, def)
			}
			if _, err := f.svc.AssignDirectoryRoles(ctx, f.env, f.org.ID, f.dir.ID, []roster.DirectoryRoleAssignment{{GroupID: g.ID, RoleName: "billing"}}); err != nil {
				t.Fatal(err)
			}
			if got := roles(r.ID); !slices.Equal(got, []string{"billing"}) {
				t.Fatalf("after AssignRoles: %v", got)
			}
			d = f.scim(t)
			if _, err := d.UpdateGroup(ctx, g.ID, func(c *scim.Resource) (*scim.Resource, scim.MemberChange, error) {
				return c, scim.MemberChange{Add: []string{r2.ID}, Remove: []string{r.ID}}, nil
			}); err != nil {
				t.Fatal(err)
			}
			if a, b := roles(r.ID), roles(r2.ID); !slices.Equal(a, def) || !slices.Equal(b, []string{"billing"}) {
				t.Fatalf("after member changes: ann %v, bob %v", a, b)
			}
			if err := d.DeleteGroup(ctx, g.ID); err != nil {
				t.Fatal(err)
			}
			if got := roles(r2.ID); !slices.Equal(got, def) {
				t.Fatalf("after the group's delete: %v", got)
			}
		})
	}
}
