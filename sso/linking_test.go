package sso_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/oidctest"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/internal/samltest"
	"github.com/rosterhq/roster/store"
)

// The linking rule (docs/sso.md "Linking identities"): a connection links to, or creates, a
// user by email only when the email's domain is a verified domain of the connection's own
// organization and the provider does not call the email unverified, or when the user already
// holds that connection's identity; a connection never changes the profile of a user that
// another organization's connection owns.

// newOrg creates an organization with a domain and returns its ID and the domain's ID.
func (f *fixture) newOrg(t testing.TB, name, domain string) (string, string) {
	t.Helper()
	res := f.rest(t, "POST", "/api/v1/organizations", fmt.Sprintf(`{"display_name": %q}`, name), 200, 201)
	org := res.Body["organization"].(map[string]any)["id"].(string)
	return org, f.addDomain(t, org, domain)
}

func (f *fixture) addDomain(t testing.TB, org, domain string) string {
	t.Helper()
	res := f.rest(t, "POST", "/api/v1/organizations/"+org+"/domains", fmt.Sprintf(`{"domain": %q, "domain_type": "ORGANIZATION_DOMAIN"}`, domain), 200, 201)
	return res.Body["domain"].(map[string]any)["id"].(string)
}

// domainID finds an organization's domain by name.
func (f *fixture) domainID(t testing.TB, org, name string) string {
	t.Helper()
	res := f.rest(t, "GET", "/api/v1/organizations/"+org+"/domains", "", 200)
	for _, d := range res.Body["domains"].([]any) {
		if d := d.(map[string]any); d["domain"] == name {
			return d["id"].(string)
		}
	}
	t.Fatalf("organization %s has no domain %s: %s", org, name, res.Raw)
	return ""
}

// moveDomain hands a domain from one organization to another, as when a company moves.
func (f *fixture) moveDomain(t testing.TB, from, to, name string) {
	t.Helper()
	f.rest(t, "DELETE", "/api/v1/organizations/"+from+"/domains/"+f.domainID(t, from, name), "", 200)
	f.addDomain(t, to, name)
}

// newOIDCConnection gives org an enabled OIDC connection to its own provider.
func (f *fixture) newOIDCConnection(t testing.TB, org string) (string, *oidctest.Provider) {
	t.Helper()
	idp := oidctest.Start(t)
	res := f.rest(t, "POST", "/api/v1/organizations/"+org+"/connections", `{"provider": "OKTA", "type": "OIDC"}`, 200, 201)
	conn := res.Body["connection"].(map[string]any)["id"].(string)
	f.rest(t, "PATCH", "/api/v1/organizations/"+org+"/connections/"+conn, fmt.Sprintf(`{"oidc_config": {"issuer": %q,
		"client_id": %q, "client_secret": %q}}`, idp.URL, idp.ClientID, idp.ClientSecret), 200)
	f.rest(t, "PATCH", "/api/v1/organizations/"+org+"/connections/"+conn+":enable", "", 200)
	return conn, idp
}

// person is what the tests check of a user after a refused or accepted sign-in.
type person struct {
	ID          string
	GivenName   string
	Orgs        []string
	Connections []string // of the identities, oldest first
}

func (f *fixture) person(t testing.TB, email string) (person, bool) {
	t.Helper()
	ctx := context.Background()
	env, err := f.r.Directory.DefaultEnvironment(ctx)
	if err != nil {
		t.Fatal(err)
	}
	page, err := f.r.Store.ListUsers(ctx, env.ID, store.UserQuery{EmailKey: roster.EmailKey(email), Page: store.PageQuery{Size: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) == 0 {
		return person{}, false
	}
	u, err := f.r.Store.GetUser(ctx, env.ID, roster.UserRef{ID: page.Items[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	p := person{ID: u.ID, GivenName: u.Profile.GivenName}
	for _, m := range u.Memberships {
		p.Orgs = append(p.Orgs, m.OrganizationID)
	}
	ids, err := f.r.Store.ListIdentities(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		p.Connections = append(p.Connections, id.ConnectionID)
	}
	return p, true
}

func (p person) String() string {
	return fmt.Sprintf("%s given=%q orgs=%v identities=%v", p.ID, p.GivenName, p.Orgs, p.Connections)
}

// refusedToApp checks that a sign-in ended at the application's callback with access_denied
// and a description that says why.
func refusedToApp(t testing.TB, loc *url.URL, page, why string) {
	t.Helper()
	if loc == nil {
		t.Fatalf("want a redirect to the application, got a page: %s", page)
	}
	q := loc.Query()
	if q.Get("code") != "" || q.Get("error") != "access_denied" || !strings.Contains(q.Get("error_description"), why) ||
		q.Get("state") != "app-state-1" || !strings.HasPrefix(loc.String(), appCallback) {
		t.Fatalf("want access_denied about %q at the application's callback, got %v", why, loc)
	}
}

func signedIn(t testing.TB, loc *url.URL, page string) {
	t.Helper()
	if loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("sign-in refused: %v %s", loc, page)
	}
}

// TestOIDCCrossOrganizationLinking: organization B's provider cannot sign in as a user of
// organization A, whatever it says about the email.
func TestOIDCCrossOrganizationLinking(t *testing.T) {
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			f := setup(t, backend) // Acme: f.org, f.conn, f.idp, domain acme.test
			orgB, _ := f.newOrg(t, "Globex", "globex.test")
			connB, idpB := f.newOIDCConnection(t, orgB)
			viaA := func() (*url.URL, int, string) {
				return f.signIn(t, "/oauth/authorize", authParams(f, verifier, "connection_id", f.conn))
			}
			viaB := func() (*url.URL, int, string) {
				return f.signIn(t, "/oauth/authorize", authParams(f, verifier, "connection_id", connB))
			}

			f.idp.SetUser("00u-ada", map[string]any{"email": "ada@acme.test", "email_verified": true, "given_name": "Ada"})
			loc, _, page := viaA()
			signedIn(t, loc, page)
			ada, _ := f.person(t, "ada@acme.test")
			adaUnchanged := func(t *testing.T) {
				t.Helper()
				now, _ := f.person(t, "ada@acme.test")
				if now.String() != ada.String() {
					t.Fatalf("Ada changed:\n was %v\n now %v", ada, now)
				}
			}

			for _, verified := range []any{true, false, nil, "true"} {
				t.Run(fmt.Sprintf("B asserts A's user, email_verified %v", verified), func(t *testing.T) {
					claims := map[string]any{"email": "ada@acme.test", "given_name": "Mallory"}
					if verified != nil {
						claims["email_verified"] = verified
					}
					idpB.SetUser("00u-ada", claims) // the same subject as at A's provider
					loc, _, page := viaB()
					refusedToApp(t, loc, page, "acme.test")
					adaUnchanged(t)
				})
			}
			t.Run("B asserts a new user of A's domain", func(t *testing.T) {
				idpB.SetUser("00u-eve", map[string]any{"email": "eve@acme.test", "email_verified": true})
				loc, _, page := viaB()
				refusedToApp(t, loc, page, "acme.test")
				if p, ok := f.person(t, "eve@acme.test"); ok {
					t.Fatalf("a refused sign-in created %v", p)
				}
			})
			t.Run("B asserts an email of no organization's domain", func(t *testing.T) {
				idpB.SetUser("00u-zed", map[string]any{"email": "zed@elsewhere.test"})
				loc, _, page := viaB()
				refusedToApp(t, loc, page, "elsewhere.test")
				if p, ok := f.person(t, "zed@elsewhere.test"); ok {
					t.Fatalf("a refused sign-in created %v", p)
				}
			})
			t.Run("B's own domain, but the provider says unverified", func(t *testing.T) {
				idpB.SetUser("00u-cy", map[string]any{"email": "cy@globex.test", "email_verified": false})
				loc, _, page := viaB()
				refusedToApp(t, loc, page, "not verified")
				if p, ok := f.person(t, "cy@globex.test"); ok {
					t.Fatalf("a refused sign-in created %v", p)
				}
			})

			// B's own users: one created through the API is linked, a new one is created.
			res := f.rest(t, "POST", "/api/v1/organizations/"+orgB+"/users", `{"email": "bob@globex.test"}`, 200, 201)
			bobID := res.Body["user"].(map[string]any)["id"].(string)
			idpB.SetUser("00u-bob", map[string]any{"email": "Bob@globex.test", "email_verified": true, "given_name": "Bob"})
			loc, _, page = viaB()
			signedIn(t, loc, page)
			if bob, _ := f.person(t, "bob@globex.test"); bob.ID != bobID || bob.GivenName != "Bob" || len(bob.Connections) != 1 {
				t.Fatalf("B's user through the API was not linked: %v (want %s)", bob, bobID)
			}
			idpB.SetUser("00u-dee", map[string]any{"email": "dee@globex.test", "given_name": "Dee"})
			loc, _, page = viaB()
			signedIn(t, loc, page)

			// A user who holds B's identity keeps signing in after B's domain is removed.
			f.rest(t, "DELETE", "/api/v1/organizations/"+orgB+"/domains/"+f.domainID(t, orgB, "globex.test"), "", 200)
			idpB.SetUser("00u-bob", map[string]any{"email": "bob@globex.test", "given_name": "Robert"})
			loc, _, page = viaB()
			signedIn(t, loc, page)
			if bob, _ := f.person(t, "bob@globex.test"); bob.ID != bobID || bob.GivenName != "Robert" {
				t.Fatalf("the holder of B's identity: %v", bob)
			}
			// But nobody new comes in through B by that domain any more.
			idpB.SetUser("00u-fay", map[string]any{"email": "fay@globex.test"})
			loc, _, page = viaB()
			refusedToApp(t, loc, page, "globex.test")

			// Acme's domain moves to B: B may now link Ada, and gives her a membership in B, but
			// her profile stays A's (A's connection brought her in).
			f.moveDomain(t, f.org, orgB, "acme.test")
			idpB.SetUser("b-ada", map[string]any{"email": "ada@acme.test", "email_verified": true, "given_name": "Mallory"})
			loc, _, page = viaB()
			signedIn(t, loc, page)
			now, _ := f.person(t, "ada@acme.test")
			if now.ID != ada.ID || now.GivenName != "Ada" || len(now.Orgs) != 2 || len(now.Connections) != 2 || now.Connections[0] != f.conn {
				t.Fatalf("after B linked Ada: %v", now)
			}
			// A's connection (the owner) still updates her profile; it holds her identity.
			f.idp.SetUser("00u-ada", map[string]any{"email": "ada@acme.test", "email_verified": true, "given_name": "Augusta"})
			loc, _, page = viaA()
			signedIn(t, loc, page)
			if now, _ := f.person(t, "ada@acme.test"); now.GivenName != "Augusta" {
				t.Fatalf("the owner's sign-in did not update the profile: %v", now)
			}
			// B's again does not.
			loc, _, page = viaB()
			signedIn(t, loc, page)
			if now, _ := f.person(t, "ada@acme.test"); now.GivenName != "Augusta" {
				t.Fatalf("B's sign-in changed A's user: %v", now)
			}
		})
	}
}

// TestSAMLCrossOrganizationLinking: the same rules for SAML connections, which say nothing
// about email verification (an email_verified attribute is honoured when present).
func TestSAMLCrossOrganizationLinking(t *testing.T) {
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			sf := setupSAML(t, backend) // Initech: sf.org, sf.conn, sf.idp, domain initech.test
			orgB, _ := sf.newOrg(t, "Globex", "globex.test")
			idpB := samltest.Start(t)
			connB := sf.newConnection(t, orgB, idpB, `"department": "department"`)
			acsA, acsB := sf.r.URL+"/sso/saml/"+sf.conn+"/acs", sf.r.URL+"/sso/saml/"+connB+"/acs"
			viaA := func() (*url.URL, int, string) {
				return sf.post(t, acsA, sf.answer(t, sf.params("connection_id", sf.conn)))
			}
			viaB := func() (*url.URL, int, string) {
				saved := sf.idp
				sf.idp = idpB
				a := sf.answer(t, authParams(sf.fixture, verifier, "connection_id", connB))
				sf.idp = saved
				return sf.post(t, acsB, a)
			}
			user := func(nameID, given string, extra ...string) samltest.User {
				u := samltest.User{NameID: nameID, Attributes: map[string][]string{
					"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress": {nameID},
					"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname":    {given},
					"department": {"R&D"},
				}}
				for i := 0; i+1 < len(extra); i += 2 {
					u.Attributes[extra[i]] = []string{extra[i+1]}
				}
				return u
			}

			sf.idp.SetUser(ada)
			loc, _, page := viaA()
			signedIn(t, loc, page)
			adaWas, _ := sf.person(t, "ada@initech.test")
			adaUnchanged := func(t *testing.T) {
				t.Helper()
				if now, _ := sf.person(t, "ada@initech.test"); now.String() != adaWas.String() {
					t.Fatalf("Ada changed:\n was %v\n now %v", adaWas, now)
				}
			}

			t.Run("B asserts A's user (same NameID)", func(t *testing.T) {
				idpB.SetUser(user("ada@initech.test", "Mallory"))
				loc, _, page := viaB()
				refusedToApp(t, loc, page, "initech.test")
				adaUnchanged(t)
			})
			t.Run("B asserts A's user, email_verified true", func(t *testing.T) {
				idpB.SetUser(user("ada@initech.test", "Mallory", "email_verified", "true"))
				loc, _, page := viaB()
				refusedToApp(t, loc, page, "initech.test")
				adaUnchanged(t)
			})
			t.Run("B asserts a new user of A's domain", func(t *testing.T) {
				idpB.SetUser(user("eve@initech.test", "Eve"))
				loc, _, page := viaB()
				refusedToApp(t, loc, page, "initech.test")
				if p, ok := sf.person(t, "eve@initech.test"); ok {
					t.Fatalf("a refused sign-in created %v", p)
				}
			})
			t.Run("B's own domain, but an email_verified attribute says false", func(t *testing.T) {
				idpB.SetUser(user("cy@globex.test", "Cy", "email_verified", "false"))
				loc, _, page := viaB()
				refusedToApp(t, loc, page, "not verified")
				if p, ok := sf.person(t, "cy@globex.test"); ok {
					t.Fatalf("a refused sign-in created %v", p)
				}
			})

			res := sf.rest(t, "POST", "/api/v1/organizations/"+orgB+"/users", `{"email": "bob@globex.test"}`, 200, 201)
			bobID := res.Body["user"].(map[string]any)["id"].(string)
			idpB.SetUser(user("bob@globex.test", "Bob"))
			loc, _, page = viaB()
			signedIn(t, loc, page)
			if bob, _ := sf.person(t, "bob@globex.test"); bob.ID != bobID || bob.GivenName != "Bob" {
				t.Fatalf("B's user through the API was not linked: %v (want %s)", bob, bobID)
			}
			sf.rest(t, "DELETE", "/api/v1/organizations/"+orgB+"/domains/"+sf.domainID(t, orgB, "globex.test"), "", 200)
			idpB.SetUser(user("bob@globex.test", "Robert"))
			loc, _, page = viaB()
			signedIn(t, loc, page)
			if bob, _ := sf.person(t, "bob@globex.test"); bob.ID != bobID || bob.GivenName != "Robert" {
				t.Fatalf("the holder of B's identity: %v", bob)
			}

			sf.moveDomain(t, sf.org, orgB, "initech.test")
			idpB.SetUser(user("ada@initech.test", "Mallory"))
			loc, _, page = viaB()
			signedIn(t, loc, page)
			if now, _ := sf.person(t, "ada@initech.test"); now.ID != adaWas.ID || now.GivenName != "Ada" || len(now.Orgs) != 2 || len(now.Connections) != 2 {
				t.Fatalf("after B linked Ada: %v", now)
			}
		})
	}
}
