package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// concurrencyTests run mixes of concurrent writes that take locks on the same rows in
// different ways (docs/storage.md, "Lock order"): no write may fail with anything but the
// domain errors its own request can cause, however the writes interleave.
var concurrencyTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"ConcurrentWriteMix", testConcurrentWriteMix},
}

// expected reports whether err is an answer the request itself may get when others write the
// same records meanwhile: the record went away, or was already there.
func expected(err error) bool {
	switch roster.ErrorCode(err) {
	case "", roster.ENotFound, roster.EConflict:
		return true
	}
	return false
}

// testConcurrentWriteMix has workers mix attribute definition updates, deletes and creates,
// user updates that write custom attributes, membership and role writes, organization updates
// and organization deletes with their cascades, on the same few records, and then checks that
// every answer was a domain answer and the data holds together.
func testConcurrentWriteMix(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	const nOrgs, nUsers, workers, opsEach = 3, 8, 8, 30
	var orgs []roster.Organization
	for i := 0; i < nOrgs; i++ {
		o := newOrg(env.ID, fmt.Sprintf("Org %d", i), "")
		if err := s.CreateOrganization(ctx, o); err != nil {
			t.Fatal(err)
		}
		orgs = append(orgs, o)
	}
	newRole(t, s, env.ID, "", "member")
	newRole(t, s, env.ID, "", "admin")
	keys := []string{"team_name", "cost_center", "floor_code"}
	defineAttr := func(key string) error {
		return s.CreateAttribute(ctx, roster.AttributeDefinition{EnvironmentID: env.ID, Key: key, DisplayName: key, Type: roster.AttributeString,
			CreateTime: now(), UpdateTime: now()})
	}
	for _, k := range keys {
		if err := defineAttr(k); err != nil {
			t.Fatal(err)
		}
	}
	var users []roster.User
	for i := 0; i < nUsers; i++ {
		u := newUser(env.ID, fmt.Sprintf("mix%d@example.com", i), "")
		u.Profile.CustomAttributes = map[string]string{"team_name": "t0", "cost_center": "c0"}
		if err := createUser(s, ctx, u, member(s, t, env.ID, orgs[0].ID, "member"), nil); err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	roleRefs := func(names ...string) []roster.RoleRef {
		var out []roster.RoleRef
		for _, n := range names {
			r, err := s.GetRole(ctx, env.ID, "", n)
			if err != nil {
				t.Errorf("role %s: %v", n, err)
				return nil
			}
			out = append(out, roster.RoleRef{ID: r.ID, Name: r.Name})
		}
		return out
	}
	memberRoles, adminRoles := roleRefs("member"), roleRefs("member", "admin")
	perms := []string{"read_things", "write_things", "delete_things"}
	for _, p := range perms {
		if err := s.CreatePermission(ctx, roster.Permission{ID: ids.New(roster.PrefixPermission), EnvironmentID: env.ID, Name: p,
			CreateTime: now(), UpdateTime: now()}); err != nil {
			t.Fatal(err)
		}
	}

	conn, err := roster.NewConnection(ids.New(roster.PrefixConnection), env.ID, orgs[0].ID, roster.ConnectionOIDC, "OKTA", now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}
	// The users' email domain is the organization's own, so that its connections may link them
	// (the linking rule, docs/sso.md).
	ownDomain(t, s, conn, "example.com")

	// Each operation returns the error of its store call(s).
	ops := []struct {
		name string
		run  func(r *rand.Rand, w, i int) error
	}{
		{"update attribute", func(r *rand.Rand, w, i int) error {
			_, err := s.UpdateAttribute(ctx, env.ID, keys[r.IntN(len(keys))], func(d *roster.AttributeDefinition) error {
				d.DisplayName, d.UpdateTime = fmt.Sprintf("w%d op%d", w, i), now()
				return nil
			})
			return err
		}},
		{"delete and define attribute", func(r *rand.Rand, w, i int) error {
			k := keys[1+r.IntN(len(keys)-1)]
			if err := s.DeleteAttribute(ctx, env.ID, k); !expected(err) {
				return err
			}
			return defineAttr(k)
		}},
		{"update user attributes", func(r *rand.Rand, w, i int) error {
			u := users[r.IntN(len(users))]
			_, err := s.UpdateUser(ctx, env.ID, roster.UserRef{ID: u.ID}, func(x *roster.User, defs store.AttributeDefs) error {
				d, err := defs()
				if err != nil {
					return err
				}
				x.Profile.CustomAttributes = map[string]string{}
				for k := range d {
					x.Profile.CustomAttributes[k] = fmt.Sprintf("w%d-%d", w, i)
				}
				x.Profile.GivenName, x.UpdateTime = fmt.Sprintf("w%d", w), now()
				return nil
			})
			return err
		}},
		{"update membership roles", func(r *rand.Rand, w, i int) error {
			u := users[r.IntN(len(users))]
			roles := memberRoles
			if r.IntN(2) == 0 {
				roles = adminRoles
			}
			_, err := s.UpdateMembership(ctx, env.ID, orgs[0].ID, roster.UserRef{ID: u.ID}, func(m *roster.Membership) error {
				m.Roles, m.UpdateTime = roles, now()
				return nil
			})
			return err
		}},
		{"add and remove membership", func(r *rand.Rand, w, i int) error {
			u, o := users[r.IntN(len(users))], orgs[1+r.IntN(nOrgs-1)]
			m := roster.Membership{OrganizationID: o.ID, Status: roster.MembershipActive, Metadata: map[string]string{}, Roles: adminRoles,
				CreateTime: now(), UpdateTime: now(), ProvisioningMethod: roster.ProvisionedDirect}
			if _, err := s.CreateMembership(ctx, env.ID, roster.UserRef{ID: u.ID}, m); !expected(err) {
				return err
			}
			_, err := s.DeleteMembership(ctx, env.ID, o.ID, roster.UserRef{ID: u.ID}, false)
			return err
		}},
		{"update organization", func(r *rand.Rand, w, i int) error {
			_, err := s.UpdateOrganization(ctx, env.ID, roster.OrganizationRef{ID: orgs[r.IntN(nOrgs)].ID}, func(o *roster.Organization) error {
				o.DisplayName, o.UpdateTime = fmt.Sprintf("Org w%d op%d", w, i), now()
				return nil
			})
			return err
		}},
		{"update role", func(r *rand.Rand, w, i int) error {
			_, err := s.UpdateRole(ctx, env.ID, "", "admin", func(x *roster.Role) error {
				x.Description, x.UpdateTime = fmt.Sprintf("w%d op%d", w, i), now()
				return nil
			})
			return err
		}},
		{"role permissions", func(r *rand.Rand, w, i int) error {
			_, err := s.UpdateRole(ctx, env.ID, "", "admin", func(x *roster.Role) error {
				x.Permissions = perms[:r.IntN(len(perms)+1)]
				x.UpdateTime = now()
				return nil
			})
			if roster.ErrorCode(err) == roster.EInvalid { // a permission deleted meanwhile
				err = nil
			}
			return err
		}},
		{"delete and define permission", func(r *rand.Rand, w, i int) error {
			name := perms[r.IntN(len(perms))]
			if err := s.DeletePermission(ctx, env.ID, name); !expected(err) {
				return err
			}
			return s.CreatePermission(ctx, roster.Permission{ID: ids.New(roster.PrefixPermission), EnvironmentID: env.ID, Name: name,
				CreateTime: now(), UpdateTime: now()})
		}},
		{"delete role with reassign", func(r *rand.Rand, w, i int) error {
			name := fmt.Sprintf("temp_w%d_%d", w, i)
			temp := roster.Role{ID: ids.New(roster.PrefixRole), EnvironmentID: env.ID, Name: name, DisplayName: name, CreateTime: now(), UpdateTime: now()}
			if err := s.CreateRole(ctx, temp); err != nil {
				return err
			}
			for j := 0; j < 2; j++ {
				u := users[r.IntN(len(users))]
				_, err := s.UpdateMembership(ctx, env.ID, orgs[0].ID, roster.UserRef{ID: u.ID}, func(m *roster.Membership) error {
					m.Roles, m.UpdateTime = append(m.Roles, roster.RoleRef{ID: temp.ID, Name: name}), now()
					return nil
				})
				if !expected(err) {
					return err
				}
			}
			return s.DeleteRole(ctx, env.ID, "", name, memberRoles[0].ID)
		}},
		{"sign in", func(r *rand.Rand, w, i int) error {
			// A sign-in through the organization's connection: identity, profile and roles of a
			// user that other workers are writing.
			k := r.IntN(len(users))
			in := signIn(conn, fmt.Sprintf("sub-%d", k), users[k].Email, fmt.Sprintf("w%d", w), fmt.Sprintf("code-w%d-%d", w, i))
			in.Roles = memberRoles
			if r.IntN(2) == 0 {
				in.Roles = adminRoles
			}
			_, err := s.SignIn(ctx, in)
			return err
		}},
		{"sign in through a connection, then delete it", func(r *rand.Rand, w, i int) error {
			c, err := roster.NewConnection(ids.New(roster.PrefixConnection), env.ID, orgs[0].ID, roster.ConnectionOIDC, "OKTA", now())
			if err != nil {
				return err
			}
			if err := s.CreateConnection(ctx, c); err != nil {
				return err
			}
			k := r.IntN(len(users))
			if _, err := s.SignIn(ctx, signIn(c, fmt.Sprintf("temp-%d", k), users[k].Email, fmt.Sprintf("w%d", w), fmt.Sprintf("tcode-w%d-%d", w, i))); !expected(err) {
				return err
			}
			return s.DeleteConnection(ctx, env.ID, c.ID)
		}},
		{"delete organization with members", func(r *rand.Rand, w, i int) error {
			// A short-lived organization with its own user and some shared users: deleting it
			// removes memberships of users that other workers are writing.
			o := newOrg(env.ID, fmt.Sprintf("Temp w%d op%d", w, i), "")
			if err := s.CreateOrganization(ctx, o); err != nil {
				return err
			}
			own := newUser(env.ID, fmt.Sprintf("temp-w%d-op%d@example.com", w, i), "")
			own.Profile.CustomAttributes = map[string]string{"team_name": "temp"}
			m := roster.Membership{OrganizationID: o.ID, Status: roster.MembershipActive, Metadata: map[string]string{}, Roles: memberRoles,
				CreateTime: now(), UpdateTime: now(), ProvisioningMethod: roster.ProvisionedDirect}
			if _, err := s.CreateUser(ctx, own, &m, nil); !expected(err) {
				return err
			}
			for j := 0; j < 2; j++ {
				u := users[r.IntN(len(users))]
				if _, err := s.CreateMembership(ctx, env.ID, roster.UserRef{ID: u.ID}, m); !expected(err) {
					return err
				}
			}
			return s.DeleteOrganization(ctx, env.ID, roster.OrganizationRef{ID: o.ID})
		}},
	}

	type failure struct {
		op  string
		err error
	}
	failures := make(chan failure, workers*opsEach)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 42))
			for i := 0; i < opsEach; i++ {
				op := ops[r.IntN(len(ops))]
				if err := op.run(r, w, i); !expected(err) {
					failures <- failure{op.name, err}
				}
			}
		}(w)
	}
	wg.Wait()
	close(failures)
	// One line per kind of failure, with its count.
	kinds := map[string]int{}
	var order []string
	for f := range failures {
		k := fmt.Sprintf("%s: %v (%s)", f.op, f.err, roster.ErrorCode(f.err))
		if kinds[k] == 0 {
			order = append(order, k)
		}
		kinds[k]++
	}
	for _, k := range order {
		t.Errorf("%d× %s", kinds[k], k)
	}

	// The data holds together: every user is there, in the first organization, with values
	// of defined attributes only and roles that exist.
	defined := map[string]bool{}
	defs, err := s.ListAttributes(ctx, env.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range defs {
		defined[d.Key] = true
	}
	for _, u := range users {
		got, err := s.GetUser(ctx, env.ID, roster.UserRef{ID: u.ID})
		if err != nil {
			t.Fatalf("user %s after the mix: %v", u.Email, err)
		}
		if membershipIndex(got, orgs[0].ID) < 0 {
			t.Errorf("user %s lost its first membership: %+v", u.Email, got.Memberships)
		}
		for k := range got.Profile.CustomAttributes {
			if !defined[k] {
				t.Errorf("user %s has a value of %q, which is not defined", u.Email, k)
			}
		}
		for _, m := range got.Memberships {
			if len(m.Roles) == 0 && m.OrganizationID == orgs[0].ID {
				t.Errorf("user %s has no role in %s", u.Email, m.OrganizationID)
			}
		}
	}
	page, err := s.ListOrganizations(ctx, env.ID, store.OrganizationQuery{Page: store.PageQuery{Size: 100}})
	if err != nil || page.Total != nOrgs {
		t.Errorf("organizations after the mix: %d (%v), want %d (every temporary one deleted)", page.Total, err, nOrgs)
	}
}

func membershipIndex(u roster.User, organizationID string) int {
	for i, m := range u.Memberships {
		if m.OrganizationID == organizationID {
			return i
		}
	}
	return -1
}
