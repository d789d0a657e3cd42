package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// limitTests check the per-organization caps (roster.MaxConnectionsPerOrganization,
// roster.MaxDomainsPerOrganization): the store enforces them atomically, so that concurrent
// creates cannot pass them.
var limitTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"ConnectionCap", testConnectionCap},
	{"DomainCap", testDomainCap},
	{"RoleCap", testRoleCap},
}

// testCap fills an organization to max-burst records one at a time, then creates 2×burst at
// once: exactly burst of those succeed, the others are refused with FAILED_PRECONDITION, and
// the organization ends with max records; a further create is refused too.
func testCap(t *testing.T, max, burst int, create func(i int) error, count func() int) {
	t.Helper()
	for i := 0; i < max-burst; i++ {
		if err := create(i); err != nil {
			t.Fatalf("create %d of %d: %v", i+1, max, err)
		}
	}
	errs := make([]error, 2*burst)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = create(max + i)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case roster.ErrorCode(err) != roster.EFailedPrecondition:
			t.Fatalf("a create past the cap: %v (%s), want FAILED_PRECONDITION", err, roster.ErrorCode(err))
		}
	}
	if ok != burst {
		t.Fatalf("%d of a burst of %d creates succeeded with room for %d", ok, len(errs), burst)
	}
	if n := count(); n != max {
		t.Fatalf("the organization holds %d, want the cap %d", n, max)
	}
	err := create(3 * max)
	mustCode(t, err, roster.EFailedPrecondition)
	if want := fmt.Sprint(max); !strings.Contains(err.Error(), want) {
		t.Fatalf("the error does not name the limit %s: %v", want, err)
	}
}

func testConnectionCap(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	o, other := newOrg(env.ID, "Acme", ""), newOrg(env.ID, "Other", "")
	for _, x := range []roster.Organization{o, other} {
		if err := s.CreateOrganization(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	max := roster.MaxConnectionsPerOrganization
	create := func(int) error {
		c, err := roster.NewConnection(ids.New(roster.PrefixConnection), env.ID, o.ID, roster.ConnectionOIDC, "OKTA", now())
		if err != nil {
			return err
		}
		return s.CreateConnection(ctx, c)
	}
	count := func() int {
		list, err := s.ListConnections(ctx, env.ID, store.ConnectionQuery{OrganizationID: o.ID})
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	testCap(t, max, 5, create, count)
	// The cap is per organization.
	newOIDCConnection(t, s, env.ID, other.ID)
}

func testDomainCap(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, o, _ := orgWithConnection(t, s)
	other := newOrg(env.ID, "Other", "")
	if err := s.CreateOrganization(ctx, other); err != nil {
		t.Fatal(err)
	}
	max := roster.MaxDomainsPerOrganization
	create := func(i int) error {
		return s.CreateDomain(ctx, newDomain(env.ID, o.ID, fmt.Sprintf("d%d.example.com", i)))
	}
	count := func() int {
		list, err := s.ListDomains(ctx, env.ID, o.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	testCap(t, max, 5, create, count)
	if err := s.CreateDomain(ctx, newDomain(env.ID, other.ID, "other.example.com")); err != nil {
		t.Fatalf("the cap is per organization: %v", err)
	}
}

// Environment roles and each organization's own roles are capped at roster.MaxRolesPerScope
// (ListRoles and ListOrganizationRoles have no page fields).
func testRoleCap(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	o := newOrg(env.ID, "Acme", "")
	if err := s.CreateOrganization(ctx, o); err != nil {
		t.Fatal(err)
	}
	for _, orgID := range []string{"", o.ID} {
		create := func(i int) error {
			name := fmt.Sprintf("role_%d", i)
			return s.CreateRole(ctx, roster.Role{ID: ids.New(roster.PrefixRole), EnvironmentID: env.ID, OrganizationID: orgID, Name: name,
				DisplayName: name, CreateTime: now(), UpdateTime: now()})
		}
		count := func() int {
			list, err := s.ListRoles(ctx, env.ID, orgID)
			if err != nil {
				t.Fatal(err)
			}
			return len(list)
		}
		testCap(t, roster.MaxRolesPerScope, 5, create, count)
	}
	bad := roster.Role{ID: ids.New(roster.PrefixRole), EnvironmentID: env.ID, OrganizationID: "org_404", Name: "x", DisplayName: "x", CreateTime: now(), UpdateTime: now()}
	mustCode(t, s.CreateRole(ctx, bad), roster.ENotFound)
}
