package directory_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

// TestAuthenticateDirectory: a SCIM bearer token opens its own directory only, and not once
// the directory is disabled or deleted, the token regenerated or the organization deleted; every
// refusal is the same UNAUTHENTICATED, which never contains the token.
func TestAuthenticateDirectory(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			svc, env, org := newBulkDirectory(t, backend)
			d, err := svc.CreateDirectory(ctx, env, org.ID, roster.DirectorySCIM, "OKTA")
			if err != nil {
				t.Fatal(err)
			}
			other, err := svc.CreateDirectory(ctx, env, org.ID, roster.DirectorySCIM, "MICROSOFT_AD")
			if err != nil {
				t.Fatal(err)
			}
			_, token, err := svc.CreateDirectorySecret(ctx, env, org.ID, d.ID, false)
			if err != nil {
				t.Fatal(err)
			}
			_, otherToken, err := svc.CreateDirectorySecret(ctx, env, org.ID, other.ID, false)
			if err != nil {
				t.Fatal(err)
			}
			refused := func(what, dirID, tok string) {
				t.Helper()
				_, err := svc.AuthenticateDirectory(ctx, dirID, tok)
				if roster.ErrorCode(err) != roster.EUnauthenticated || (tok != "" && strings.Contains(err.Error(), tok)) {
					t.Fatalf("%s: %v", what, err)
				}
			}
			a, err := svc.AuthenticateDirectory(ctx, d.ID, token)
			if err != nil || a.Directory.ID != d.ID || a.Organization.ID != org.ID {
				t.Fatalf("own token: %+v, %v", a, err)
			}
			got, _ := svc.GetDirectory(ctx, env, org.ID, d.ID)
			if len(got.Secrets) != 1 || got.Secrets[0].LastUsedTime == nil {
				t.Fatalf("last use not recorded: %+v", got.Secrets)
			}
			refused("another directory's token", d.ID, otherToken)
			refused("the token on another directory", other.ID, token)
			refused("no token", d.ID, "")
			refused("a wrong token", d.ID, token[:len(token)-1]+"x")
			refused("a very long token", d.ID, strings.Repeat("a", 1000))

			if _, err := svc.SetDirectoryEnabled(ctx, env, org.ID, d.ID, false); err != nil {
				t.Fatal(err)
			}
			refused("disabled", d.ID, token)
			if _, err := svc.SetDirectoryEnabled(ctx, env, org.ID, d.ID, true); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.AuthenticateDirectory(ctx, d.ID, token); err != nil {
				t.Fatalf("enabled again: %v", err)
			}
			_, token2, err := svc.CreateDirectorySecret(ctx, env, org.ID, d.ID, true)
			if err != nil {
				t.Fatal(err)
			}
			refused("regenerated", d.ID, token)
			if _, err := svc.AuthenticateDirectory(ctx, d.ID, token2); err != nil {
				t.Fatalf("new token: %v", err)
			}
			if err := svc.DeleteDirectory(ctx, env, org.ID, other.ID); err != nil {
				t.Fatal(err)
			}
			refused("deleted directory", other.ID, otherToken)
			if err := svc.DeleteOrganization(ctx, env, roster.OrganizationRef{ID: org.ID}); err != nil {
				t.Fatal(err)
			}
			refused("deleted organization", d.ID, token2)
		})
	}
}
