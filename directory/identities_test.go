package directory_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
)

// UserIdentities returns the raw claims of each identity's last sign-in (GetUser leaves them
// out), and only for a user of the environment asked.
func TestUserIdentities(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			svc, env, org := newBulkDirectory(t, backend)
			if _, err := svc.CreateDomain(ctx, env, roster.OrganizationRef{ID: org.ID}, "acme.example", roster.DomainOrganization); err != nil {
				t.Fatal(err)
			}
			conn, err := svc.CreateConnection(ctx, env, org.ID, roster.ConnectionOIDC, "OKTA")
			if err != nil {
				t.Fatal(err)
			}
			signIn := func(dept string) roster.User {
				res, err := svc.SignIn(ctx, env, directory.SignInInput{Connection: conn, Subject: "00u-1",
					Claims: map[string]any{"sub": "00u-1", "email": "ann@acme.example", "email_verified": true, "department": dept}},
					func() (string, string) { return "code-" + dept, "hash-" + dept })
				if err != nil {
					t.Fatal(err)
				}
				return res.User
			}
			signIn("Sales")
			u := signIn("Research") // the last sign-in's claims replace the first's
			ids, err := svc.UserIdentities(ctx, env, roster.UserRef{ID: u.ID})
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) != 1 || ids[0].ConnectionID != conn.ID || ids[0].Subject != "00u-1" {
				t.Fatalf("identities: %+v", ids)
			}
			var claims map[string]any
			if err := json.Unmarshal(ids[0].RawClaims, &claims); err != nil || claims["department"] != "Research" {
				t.Fatalf("raw claims: %s (%v)", ids[0].RawClaims, err)
			}
			if g, _ := svc.GetUser(ctx, env, roster.UserRef{ID: u.ID}); len(g.Identities) != 1 || g.Identities[0].RawClaims != nil {
				t.Fatalf("GetUser's identities: %+v", g.Identities)
			}
			other := env
			other.ID = "env_000000000000000001"
			if _, err := svc.UserIdentities(ctx, other, roster.UserRef{ID: u.ID}); roster.ErrorCode(err) != roster.ENotFound {
				t.Fatalf("another environment: %v, want NOT_FOUND", err)
			}
		})
	}
}
