package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// ssoTests are the conformance tests of connections, domains and sign-ins.
var ssoTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"Connections", testConnections},
	{"Domains", testDomains},
	{"LoginRequests", testLoginRequests},
	{"SignIn", testSignIn},
	{"SignInSuspendedMember", testSignInSuspendedMember},
	{"SignInConcurrentFirstLogin", testSignInConcurrent},
	{"SignInLinkingRule", testSignInLinkingRule},
	{"AuthCodesAndRefreshTokens", testAuthCodes},
	{"SAMLKeyAndReplay", testSAMLKeyAndReplay},
	{"LatestIdentity", testLatestIdentity},
	{"ConnectionTests", testConnectionTests},
}

func testSAMLKeyAndReplay(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, _, c := orgWithConnection(t, s)
	mustCode(t, func() error { _, err := s.GetSAMLKey(ctx, env.ID); return err }(), roster.ENotFound)
	k := roster.SAMLKey{EnvironmentID: env.ID, PrivateKeySealed: "v1.x.y", Certificate: "PEM", CreateTime: now()}
	if err := s.CreateSAMLKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	mustCode(t, s.CreateSAMLKey(ctx, k), roster.EConflict)
	if got, err := s.GetSAMLKey(ctx, env.ID); err != nil || got != k {
		t.Fatalf("SAML key: %v %+v", err, got)
	}
	// One assertion ID is accepted once, also when several nodes race for it.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.RememberAssertion(ctx, c.ID, "_a1", now().Add(time.Minute), now())
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else {
			mustCode(t, err, roster.EConflict)
		}
	}
	if wins != 1 {
		t.Fatalf("an assertion was accepted %d times", wins)
	}
	// Expired records are forgotten; the same ID at another connection is another assertion.
	if err := s.RememberAssertion(ctx, c.ID, "_old", now().Add(-time.Minute), now()); err != nil {
		t.Fatal(err)
	}
	if err := s.RememberAssertion(ctx, c.ID, "_other", now().Add(time.Minute), now()); err != nil {
		t.Fatal(err)
	}
	if err := s.RememberAssertion(ctx, c.ID, "_old", now().Add(time.Minute), now()); err != nil {
		t.Fatalf("an expired record was not forgotten: %v", err)
	}
}

func newOIDCConnection(t *testing.T, s store.Store, envID, orgID string) roster.Connection {
	t.Helper()
	c, err := roster.NewConnection(ids.New(roster.PrefixConnection), envID, orgID, roster.ConnectionOIDC, "OKTA", now())
	if err != nil {
		t.Fatal(err)
	}
	c.OIDC.Issuer, c.OIDC.ClientID, c.OIDC.SecretSealed = "https://idp.example.com", "rp", "v1:sealed"
	c.AttributeMapping = map[string]string{"given_name": "first"}
	if err := s.CreateConnection(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

func orgWithConnection(t *testing.T, s store.Store) (roster.Environment, roster.Organization, roster.Connection) {
	t.Helper()
	env := newEnv(t, s, "default")
	o := newOrg(env.ID, "Acme", "")
	if err := s.CreateOrganization(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return env, o, newOIDCConnection(t, s, env.ID, o.ID)
}

func testConnections(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, o, c := orgWithConnection(t, s)
	got, err := s.GetConnection(ctx, env.ID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.OIDC.Issuer != c.OIDC.Issuer || got.OIDC.SecretSealed != "v1:sealed" || got.OIDC.ClientSecret != "" ||
		got.AttributeMapping["given_name"] != "first" || got.OrganizationID != o.ID || !got.SyncProfile || got.Provider != "OKTA" {
		t.Fatalf("stored connection differs: %+v", got)
	}
	// A plain secret must never reach the database.
	_, err = s.UpdateConnection(ctx, env.ID, c.ID, func(c *roster.Connection) error {
		c.OIDC.ClientSecret, c.OIDC.SecretSealed = "plain", ""
		return nil
	})
	if err == nil {
		t.Fatal("an unsealed client secret was stored")
	}
	up, err := s.UpdateConnection(ctx, env.ID, c.ID, func(c *roster.Connection) error {
		c.Enabled = true
		c.AttributeMapping = map[string]string{"email": "mail"}
		return nil
	})
	if err != nil || !up.Enabled {
		t.Fatalf("update: %v %+v", err, up)
	}
	got, _ = s.GetConnection(ctx, env.ID, c.ID)
	if !got.Enabled || len(got.AttributeMapping) != 1 || got.AttributeMapping["email"] != "mail" {
		t.Fatalf("update not stored: %+v", got)
	}
	other := newEnv(t, s, "other")
	mustCode(t, func() error { _, err := s.GetConnection(ctx, other.ID, c.ID); return err }(), roster.ENotFound)

	second := newOIDCConnection(t, s, env.ID, o.ID)
	list, err := s.ListConnections(ctx, env.ID, store.ConnectionQuery{OrganizationID: o.ID})
	if err != nil || len(list) != 2 || list[0].ID != c.ID || list[1].ID != second.ID {
		t.Fatalf("list: %v %+v", err, list)
	}
	bad := c
	bad.ID, bad.OrganizationID = ids.New(roster.PrefixConnection), "org_1"
	mustCode(t, s.CreateConnection(ctx, bad), roster.ENotFound)

	if err := s.DeleteConnection(ctx, env.ID, second.ID); err != nil {
		t.Fatal(err)
	}
	mustCode(t, s.DeleteConnection(ctx, env.ID, second.ID), roster.ENotFound)
	// Deleting the organization removes its connections.
	if err := s.DeleteOrganization(ctx, env.ID, roster.OrganizationRef{ID: o.ID}); err != nil {
		t.Fatal(err)
	}
	mustCode(t, func() error { _, err := s.GetConnection(ctx, env.ID, c.ID); return err }(), roster.ENotFound)
}

func newDomain(envID, orgID, name string) roster.Domain {
	return roster.Domain{ID: ids.New(roster.PrefixDomain), EnvironmentID: envID, OrganizationID: orgID, Name: name,
		Type: roster.DomainOrganization, CreateTime: now(), UpdateTime: now()}
}

func testDomains(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, o, c := orgWithConnection(t, s)
	o2 := newOrg(env.ID, "Globex", "")
	if err := s.CreateOrganization(ctx, o2); err != nil {
		t.Fatal(err)
	}
	d := newDomain(env.ID, o.ID, "acme.com")
	if err := s.CreateDomain(ctx, d); err != nil {
		t.Fatal(err)
	}
	// One domain, one organization: concurrent claims by two organizations, exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			org := o.ID
			if i%2 == 1 {
				org = o2.ID
			}
			errs[i] = s.CreateDomain(ctx, newDomain(env.ID, org, "acme.org"))
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else {
			mustCode(t, err, roster.EConflict)
		}
	}
	if wins != 1 {
		t.Fatalf("%d organizations own acme.org", wins)
	}
	found, err := s.FindDomain(ctx, env.ID, "acme.com")
	if err != nil || found.OrganizationID != o.ID || found.Type != roster.DomainOrganization {
		t.Fatalf("find: %v %+v", err, found)
	}
	byDomain, err := s.ListConnections(ctx, env.ID, store.ConnectionQuery{Domain: "acme.com"})
	if err != nil || len(byDomain) != 1 || byDomain[0].ID != c.ID {
		t.Fatalf("connections by domain: %v %+v", err, byDomain)
	}
	none, err := s.ListConnections(ctx, env.ID, store.ConnectionQuery{Domain: "nobody.example"})
	if err != nil || len(none) != 0 {
		t.Fatalf("connections of an unknown domain: %v %+v", err, none)
	}
	list, err := s.ListDomains(ctx, env.ID, o.ID, "")
	if err != nil || len(list) < 1 || list[0].Name != "acme.com" {
		t.Fatalf("list: %v %+v", err, list)
	}
	allowed, err := s.ListDomains(ctx, env.ID, o.ID, roster.DomainAllowedEmail)
	if err != nil || len(allowed) != 0 {
		t.Fatalf("list by type: %v %+v", err, allowed)
	}
	if err := s.DeleteDomain(ctx, env.ID, d.ID); err != nil {
		t.Fatal(err)
	}
	mustCode(t, func() error { _, err := s.FindDomain(ctx, env.ID, "acme.com"); return err }(), roster.ENotFound)
	mustCode(t, s.DeleteDomain(ctx, env.ID, d.ID), roster.ENotFound)
}

func testLoginRequests(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, _, c := orgWithConnection(t, s)
	r := roster.LoginRequest{ID: "lr_" + fmt.Sprint(ids.Next()), EnvironmentID: env.ID, Flavor: roster.FlavorOIDC, ClientID: "skc_1",
		RedirectURI: "https://app.example.com/cb", State: "s", Nonce: "n", Scope: "openid", CodeChallenge: "cc", ConnectionID: c.ID,
		UpstreamNonce: "un", UpstreamVerifier: "uv", CreateTime: now(), ExpireTime: now().Add(time.Minute)}
	if err := s.CreateLoginRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := s.TakeLoginRequest(ctx, r.ID)
	if err != nil || got != r {
		t.Fatalf("take: %v\n got %+v\nwant %+v", err, got, r)
	}
	// Taken once: a second callback with the same state finds nothing.
	mustCode(t, func() error { _, err := s.TakeLoginRequest(ctx, r.ID); return err }(), roster.ENotFound)

	// Expired requests are forgotten when the next one is stored.
	old := r
	old.ID, old.CreateTime, old.ExpireTime = "lr_old", now().Add(-time.Hour), now().Add(-50*time.Minute)
	if err := s.CreateLoginRequest(ctx, old); err != nil {
		t.Fatal(err)
	}
	fresh := r
	fresh.ID = "lr_fresh"
	if err := s.CreateLoginRequest(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	mustCode(t, func() error { _, err := s.TakeLoginRequest(ctx, "lr_old"); return err }(), roster.ENotFound)
}

func signIn(c roster.Connection, subject, email, given string, code string) store.SignIn {
	t := now()
	return store.SignIn{
		Connection: c, Email: email, NewUserID: ids.New(roster.PrefixUser),
		Identity: roster.Identity{Subject: subject, RawClaims: []byte(`{"sub":"` + subject + `"}`), CreateTime: t, LastLoginTime: t},
		Update: func(u *roster.User, _ store.SignInState, _ store.AttributeDefs) error {
			// Always changes the profile: the store must keep it when another organization owns it.
			u.Profile.GivenName, u.LastLoginTime, u.UpdateTime = given, &t, t
			return nil
		},
		Membership: &roster.Membership{OrganizationID: c.OrganizationID, Status: roster.MembershipActive, Metadata: map[string]string{},
			CreateTime: t, UpdateTime: t, ProvisioningMethod: roster.ProvisionedJITSSO},
		Code: roster.AuthCode{Hash: code, ClientID: "skc_1", RedirectURI: "https://app.example.com/cb", OrganizationID: c.OrganizationID,
			ConnectionID: c.ID, Flavor: roster.FlavorOIDC, Profile: []byte(`{}`), CreateTime: t, ExpireTime: t.Add(time.Minute)},
	}
}

// ownDomain gives a connection's organization a domain, so that its sign-ins may link and
// create users of that domain (roster.CheckLink).
func ownDomain(t *testing.T, s store.Store, c roster.Connection, name string) roster.Domain {
	t.Helper()
	d := newDomain(c.EnvironmentID, c.OrganizationID, name)
	if err := s.CreateDomain(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	return d
}

func testSignIn(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, o, c := orgWithConnection(t, s)
	ownDomain(t, s, c, "acme.com")
	u, err := s.SignIn(ctx, signIn(c, "sub-1", "ada@acme.com", "Ada", "code-1"))
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "ada@acme.com" || u.Profile.GivenName != "Ada" || len(u.Memberships) != 1 ||
		u.Memberships[0].ProvisioningMethod != roster.ProvisionedJITSSO || u.Memberships[0].OrganizationID != o.ID {
		t.Fatalf("first sign-in: %+v", u)
	}
	// The second sign-in finds the user by identity, even with a new email.
	again, err := s.SignIn(ctx, signIn(c, "sub-1", "ada.lovelace@acme.com", "Augusta", "code-2"))
	if err != nil || again.ID != u.ID || again.Profile.GivenName != "Augusta" || len(again.Memberships) != 1 {
		t.Fatalf("second sign-in: %v %+v", err, again)
	}
	if got, err := s.GetUser(ctx, env.ID, roster.UserRef{ID: u.ID}); err != nil || len(got.Identities) != 1 || got.Identities[0].Subject != "sub-1" ||
		got.Identities[0].ConnectionID != c.ID || got.Identities[0].Provider != "OKTA" {
		t.Fatalf("GetUser identities: %v %+v", err, got.Identities)
	}
	ids, err := s.ListIdentities(ctx, u.ID)
	if err != nil || len(ids) != 1 || ids[0].Subject != "sub-1" || ids[0].ConnectionID != c.ID || ids[0].ConnectionType != roster.ConnectionOIDC {
		t.Fatalf("identities: %v %+v", err, ids)
	}
	// A user created through the API is linked by email on their first sign-in.
	api := newUser(env.ID, "Bob@Acme.com", "")
	if err := createUser(s, ctx, api, nil, nil); err != nil {
		t.Fatal(err)
	}
	bob, err := s.SignIn(ctx, signIn(c, "sub-2", "bob@acme.com", "Bob", "code-3"))
	if err != nil || bob.ID != api.ID || len(bob.Memberships) != 1 {
		t.Fatalf("linking by email: %v %+v", err, bob)
	}
	// Without provisioning, a stranger is refused and nothing is stored.
	in := signIn(c, "sub-3", "eve@acme.com", "Eve", "code-4")
	in.Membership = nil
	_, err = s.SignIn(ctx, in)
	mustCode(t, err, roster.EPermissionDenied)
	mustCode(t, func() error { _, err := s.RedeemAuthCode(ctx, "code-4", now()); return err }(), roster.ENotFound)
	page, err := s.ListUsers(ctx, env.ID, store.UserQuery{EmailKey: "eve@acme.com", Page: store.PageQuery{Size: 10}})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("a refused sign-in stored a user: %v %+v", err, page.Items)
	}
}

func testSignInConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, _, c := orgWithConnection(t, s)
	ownDomain(t, s, c, "acme.com")
	var wg sync.WaitGroup
	users := make([]string, 8)
	errs := make([]error, 8)
	for i := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, err := s.SignIn(ctx, signIn(c, "same-subject", "grace@acme.com", "Grace", fmt.Sprintf("cc-%d", i)))
			users[i], errs[i] = u.ID, err
		}()
	}
	wg.Wait()
	var first string
	for i, err := range errs {
		if err != nil {
			mustCode(t, err, roster.EConflict) // the loser retries (directory.SignIn)
			continue
		}
		if first == "" {
			first = users[i]
		} else if users[i] != first {
			t.Fatalf("one person became two users: %s and %s", first, users[i])
		}
	}
	page, err := s.ListUsers(ctx, env.ID, store.UserQuery{EmailKey: "grace@acme.com", Page: store.PageQuery{Size: 10}})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("want one user, got %v %d", err, len(page.Items))
	}
}

// testSignInLinkingRule: a connection signs in the holder of its identity, or links and
// creates users by email only in its own organization's domains and never by an address the
// provider calls unverified; it never changes the profile of a user another organization's
// connection brought in.
func testSignInLinkingRule(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, a, cA := orgWithConnection(t, s)
	domA := ownDomain(t, s, cA, "a.com")
	b := newOrg(env.ID, "Globex", "")
	if err := s.CreateOrganization(ctx, b); err != nil {
		t.Fatal(err)
	}
	cB := newOIDCConnection(t, s, env.ID, b.ID)
	domB := ownDomain(t, s, cB, "b.com")
	yes, no := true, false
	with := func(in store.SignIn, verified *bool) store.SignIn { in.EmailVerified = verified; return in }
	state := func(in store.SignIn, got *store.SignInState) store.SignIn {
		update := in.Update
		in.Update = func(u *roster.User, st store.SignInState, defs store.AttributeDefs) error {
			*got = st
			return update(u, st, defs)
		}
		return in
	}
	user := func(email string) (roster.User, bool) {
		t.Helper()
		page, err := s.ListUsers(ctx, env.ID, store.UserQuery{EmailKey: roster.EmailKey(email), Page: store.PageQuery{Size: 10}})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) == 0 {
			return roster.User{}, false
		}
		u, err := s.GetUser(ctx, env.ID, roster.UserRef{ID: page.Items[0].ID})
		if err != nil {
			t.Fatal(err)
		}
		return u, true
	}
	refused := func(in store.SignIn, why string) {
		t.Helper()
		_, err := s.SignIn(ctx, in)
		mustCode(t, err, roster.EPermissionDenied)
		if !strings.Contains(roster.ErrorMessage(err), why) {
			t.Fatalf("refusal %q does not say %q", roster.ErrorMessage(err), why)
		}
		mustCode(t, func() error { _, err := s.RedeemAuthCode(ctx, in.Code.Hash, now()); return err }(), roster.ENotFound)
	}

	ada, err := s.SignIn(ctx, with(signIn(cA, "sub-ada", "ada@a.com", "Ada", "c1"), &yes))
	if err != nil {
		t.Fatal(err)
	}
	same := func() {
		t.Helper()
		u, _ := user("ada@a.com")
		if u.Profile.GivenName != "Ada" || len(u.Memberships) != 1 || u.Memberships[0].OrganizationID != a.ID ||
			len(u.Identities) != 1 || u.Identities[0].ConnectionID != cA.ID {
			t.Fatalf("B's refused sign-in changed Ada: %+v", u)
		}
	}
	// B's connection asserts A's user, under the same subject, whatever it says of the email.
	for _, v := range []*bool{&yes, &no, nil} {
		refused(with(signIn(cB, "sub-ada", "ada@a.com", "Mallory", "c2"), v), "")
		same()
	}
	refused(with(signIn(cB, "sub-x", "ADA@A.COM", "Mallory", "c2"), &yes), "a.com")
	same()
	// A new user of A's domain, or of nobody's, is not created through B.
	refused(signIn(cB, "sub-eve", "eve@a.com", "Eve", "c3"), "a.com")
	refused(signIn(cB, "sub-zed", "zed@nobody.com", "Zed", "c3"), "nobody.com")
	// B's own domain, but the provider says the address is unverified.
	refused(with(signIn(cB, "sub-cy", "cy@b.com", "Cy", "c4"), &no), "not verified")
	for _, e := range []string{"eve@a.com", "zed@nobody.com", "cy@b.com"} {
		if u, ok := user(e); ok {
			t.Fatalf("a refused sign-in stored %+v", u)
		}
	}
	// B's own users: linked when created through the API, created otherwise.
	api := newUser(env.ID, "bob@b.com", "")
	if err := createUser(s, ctx, api, nil, nil); err != nil {
		t.Fatal(err)
	}
	var st store.SignInState
	bob, err := s.SignIn(ctx, state(signIn(cB, "sub-bob", "bob@b.com", "Bob", "c5"), &st))
	if err != nil || bob.ID != api.ID || bob.Profile.GivenName != "Bob" || st.IsNew || !st.MayChangeProfile {
		t.Fatalf("B links its own user: %v %+v %+v", err, st, bob)
	}
	if _, err := s.SignIn(ctx, state(signIn(cB, "sub-dee", "dee@b.com", "Dee", "c6"), &st)); err != nil || !st.IsNew {
		t.Fatalf("B creates its own user: %v %+v", err, st)
	}
	// The holder of an identity signs in after the domain is gone; newcomers do not.
	if err := s.DeleteDomain(ctx, env.ID, domB.ID); err != nil {
		t.Fatal(err)
	}
	if bob, err = s.SignIn(ctx, with(signIn(cB, "sub-bob", "bob@b.com", "Robert", "c7"), &no)); err != nil || bob.ID != api.ID ||
		bob.Profile.GivenName != "Robert" {
		t.Fatalf("the holder of B's identity: %v %+v", err, bob)
	}
	refused(signIn(cB, "sub-fay", "fay@b.com", "Fay", "c8"), "b.com")

	// A's domain moves to B: B links Ada and makes her a member, but her profile stays A's.
	if err := s.DeleteDomain(ctx, env.ID, domA.ID); err != nil {
		t.Fatal(err)
	}
	ownDomain(t, s, cB, "a.com")
	moved, err := s.SignIn(ctx, state(signIn(cB, "b-ada", "ada@a.com", "Mallory", "c9"), &st))
	if err != nil || moved.ID != ada.ID || moved.Profile.GivenName != "Ada" || len(moved.Memberships) != 2 || len(moved.Identities) != 2 ||
		st.MayChangeProfile || st.IsNew {
		t.Fatalf("B links Ada after the move: %v %+v %+v", err, st, moved)
	}
	// A's connection, which brought her in, still changes it (the holder of its identity).
	if again, err := s.SignIn(ctx, state(signIn(cA, "sub-ada", "ada@a.com", "Augusta", "c10"), &st)); err != nil ||
		again.Profile.GivenName != "Augusta" || !st.MayChangeProfile {
		t.Fatalf("the owner's sign-in: %v %+v %+v", err, st, again)
	}
	if again, err := s.SignIn(ctx, signIn(cB, "b-ada", "ada@a.com", "Mallory", "c11")); err != nil || again.Profile.GivenName != "Augusta" {
		t.Fatalf("B's sign-in changed A's user: %v %+v", err, again)
	}
	// Deleting A's connection deletes its identities and hands the profile to B.
	if err := s.DeleteConnection(ctx, env.ID, cA.ID); err != nil {
		t.Fatal(err)
	}
	if again, err := s.SignIn(ctx, state(signIn(cB, "b-ada", "ada@a.com", "Mallory", "c12"), &st)); err != nil ||
		again.Profile.GivenName != "Mallory" || !st.MayChangeProfile {
		t.Fatalf("after A's connection is gone: %v %+v %+v", err, st, again)
	}
}

func testAuthCodes(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, _, c := orgWithConnection(t, s)
	ownDomain(t, s, c, "acme.com")
	u, err := s.SignIn(ctx, signIn(c, "sub-1", "ada@acme.com", "Ada", "code-1"))
	if err != nil {
		t.Fatal(err)
	}
	code, err := s.RedeemAuthCode(ctx, "code-1", now())
	if err != nil || code.UserID != u.ID || code.ConnectionID != c.ID || code.EnvironmentID != env.ID {
		t.Fatalf("redeem: %v %+v", err, code)
	}
	rt := roster.RefreshToken{Hash: "rt-1", EnvironmentID: env.ID, ClientID: "skc_1", UserID: u.ID, OrganizationID: c.OrganizationID,
		ConnectionID: c.ID, Scope: "openid", CodeHash: "code-1", CreateTime: now(), ExpireTime: now().Add(time.Hour)}
	if err := s.CreateRefreshToken(ctx, rt); err != nil {
		t.Fatal(err)
	}
	next := rt
	next.Hash = "rt-2"
	if _, err := s.RotateRefreshToken(ctx, "rt-1", next, now()); err != nil {
		t.Fatal(err)
	}
	// Reusing the rotated token revokes its successor too.
	_, err = s.RotateRefreshToken(ctx, "rt-1", roster.RefreshToken{Hash: "rt-x"}, now())
	mustCode(t, err, roster.EFailedPrecondition)
	_, err = s.RotateRefreshToken(ctx, "rt-2", roster.RefreshToken{Hash: "rt-3", ExpireTime: now().Add(time.Hour)}, now())
	mustCode(t, err, roster.EFailedPrecondition)

	// A replayed code is refused and revokes what it gave out.
	if _, err := s.SignIn(ctx, signIn(c, "sub-1", "ada@acme.com", "Ada", "code-2")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RedeemAuthCode(ctx, "code-2", now()); err != nil {
		t.Fatal(err)
	}
	rt2 := rt
	rt2.Hash, rt2.CodeHash = "rt-10", "code-2"
	if err := s.CreateRefreshToken(ctx, rt2); err != nil {
		t.Fatal(err)
	}
	_, err = s.RedeemAuthCode(ctx, "code-2", now())
	mustCode(t, err, roster.EFailedPrecondition)
	_, err = s.RotateRefreshToken(ctx, "rt-10", roster.RefreshToken{Hash: "rt-11", ExpireTime: now().Add(time.Hour)}, now())
	mustCode(t, err, roster.EFailedPrecondition)
	mustCode(t, func() error { _, err := s.RedeemAuthCode(ctx, "nope", now()); return err }(), roster.ENotFound)

	// Expired refresh tokens are refused.
	old := rt
	old.Hash, old.CodeHash, old.ExpireTime = "rt-old", "code-9", now().Add(-time.Second)
	if err := s.CreateRefreshToken(ctx, old); err != nil {
		t.Fatal(err)
	}
	_, err = s.RotateRefreshToken(ctx, "rt-old", roster.RefreshToken{Hash: "rt-new", ExpireTime: now().Add(time.Hour)}, now())
	mustCode(t, err, roster.EFailedPrecondition)
}

// testSignInSuspendedMember: a member whose membership is suspended (INACTIVE: SCIM's
// active false) cannot sign in to that organization through SSO, and nothing is written;
// restored, the member signs in again.
func testSignInSuspendedMember(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, o, c := orgWithConnection(t, s)
	ownDomain(t, s, c, "acme.com")
	u, err := s.SignIn(ctx, signIn(c, "sub-1", "ada@acme.com", "Ada", "code-1"))
	if err != nil {
		t.Fatal(err)
	}
	setStatus := func(st roster.MembershipStatus) {
		t.Helper()
		if _, err := s.UpdateMembership(ctx, env.ID, o.ID, roster.UserRef{ID: u.ID}, func(m *roster.Membership) error {
			m.Status = st
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	setStatus(roster.MembershipInactive)
	if _, err := s.SignIn(ctx, signIn(c, "sub-1", "ada@acme.com", "Suspended", "code-2")); roster.ErrorCode(err) != roster.EPermissionDenied {
		t.Fatalf("a suspended member signed in: %v", err)
	}
	if got, _ := s.GetUser(ctx, env.ID, roster.UserRef{ID: u.ID}); got.Profile.GivenName != "Ada" {
		t.Fatalf("a refused sign-in wrote: %+v", got.Profile)
	}
	setStatus(roster.MembershipActive)
	if _, err := s.SignIn(ctx, signIn(c, "sub-1", "ada@acme.com", "Ada", "code-3")); err != nil {
		t.Fatalf("a restored member: %v", err)
	}
}
