package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// testCreateUserWithTheDefaultRole: a create whose membership asks for store.DefaultMemberRole
// gets the organization's default member role as ResolveDefaultMemberRole resolves it (the
// organization's own role of that name over the environment's); when no role has the name,
// it answers a *NoDefaultRoleError naming it and writes nothing; an unknown organization is
// NOT_FOUND.
func testCreateUserWithTheDefaultRole(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	acme, other := newOrg(env.ID, "Acme", ""), newOrg(env.ID, "Other", "")
	for _, o := range []roster.Organization{acme, other} {
		if err := s.CreateOrganization(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	envRole, own := newRole(t, s, env.ID, "", "staff"), newRole(t, s, env.ID, acme.ID, "staff")
	if err := s.SetDefaultMemberRole(ctx, env.ID, "staff"); err != nil {
		t.Fatal(err)
	}
	create := func(email, orgID string) (roster.User, error) {
		m := member(s, t, env.ID, orgID)
		m.Roles = []roster.RoleRef{store.DefaultMemberRole}
		return s.CreateUser(ctx, newUser(env.ID, email, ""), m, nil)
	}
	for _, c := range []struct {
		email, org string
		want       roster.Role
	}{{"a@acme.test", acme.ID, own}, {"b@other.test", other.ID, envRole}} {
		u, err := create(c.email, c.org)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.GetUser(ctx, env.ID, roster.UserRef{ID: u.ID})
		for _, x := range []roster.User{u, got} {
			if err != nil || len(x.Memberships) != 1 || len(x.Memberships[0].Roles) != 1 || x.Memberships[0].Roles[0].ID != c.want.ID ||
				x.Memberships[0].Roles[0].Name != "staff" || x.Memberships[0].OrganizationName == "" {
				t.Fatalf("%s: memberships %+v (%v), want the role %s", c.email, x.Memberships, err, c.want.ID)
			}
		}
	}
	// A new environment names a default member role that no role has yet.
	bare := newEnv(t, s, "bare")
	name, err := s.DefaultMemberRole(ctx, bare.ID)
	if err != nil || name == "" {
		t.Fatalf("a new environment's default member role %q, %v", name, err)
	}
	org := newOrg(bare.ID, "Bare", "")
	if err := s.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	m := member(s, t, bare.ID, org.ID)
	m.Roles = []roster.RoleRef{store.DefaultMemberRole}
	c := newUser(bare.ID, "c@bare.test", "")
	_, err = s.CreateUser(ctx, c, m, nil)
	var nd *store.NoDefaultRoleError
	if !errors.As(err, &nd) || nd.Name != name {
		t.Fatalf("no role named as the default: %v, want a NoDefaultRoleError naming %s", err, name)
	}
	_, err = s.GetUser(ctx, bare.ID, roster.UserRef{ID: c.ID})
	mustCode(t, err, roster.ENotFound)
	_, err = create("d@acme.test", ids.New(roster.PrefixOrganization))
	mustCode(t, err, roster.ENotFound)
}
