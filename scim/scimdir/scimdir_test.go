package scimdir_test

import (
	"context"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/scim"
	"github.com/rosterhq/roster/scim/scimdir"
	"github.com/rosterhq/roster/scim/scimtest"
	"github.com/rosterhq/roster/secretbox"
)

var backends = []string{"sqlite", "postgres"}

type fixture struct {
	svc *directory.Service
	env roster.Environment
	org roster.Organization
	dir roster.Directory
}

// newFixture opens a store, an organization with verified domains (the linking rule lets
// its directory create users of these domains only) and a directory of it.
func newFixture(t testing.TB, backend string, domains ...string) fixture {
	t.Helper()
	ctx := context.Background()
	box, err := secretbox.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc := directory.New(rostertest.Open(t, backend), directory.WithSecretBox(box))
	env, err := svc.EnsureEnvironment(ctx)
	if err != nil {
		t.Fatal(err)
	}
	org, err := svc.CreateOrganization(ctx, env, roster.NewOrganization{DisplayName: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range domains {
		if _, err := svc.CreateDomain(ctx, env, roster.OrganizationRef{ID: org.ID}, d, roster.DomainAllowedEmail); err != nil {
			t.Fatal(err)
		}
	}
	d, err := svc.CreateDirectory(ctx, env, org.ID, roster.DirectorySCIM, "OKTA")
	if err != nil {
		t.Fatal(err)
	}
	return fixture{svc: svc, env: env, org: org, dir: d.Directory}
}

// TestConformance: the store-backed directory passes the SCIM Backend's contract on both
// backends.
func TestConformance(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			scimtest.Conformance(t, func(t *testing.T) scim.Directory {
				f := newFixture(t, backend, "x.test", "y.test", "work.test", "home.test")
				return scimdir.New(f.svc, f.dir)
			})
		})
	}
}
