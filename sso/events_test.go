package sso_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/oidctest"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/storetest"
)

// feed reads the environment's events after *c until they are of the types want (the
// PostgreSQL feed shows a commit once every older transaction has ended), and moves *c past
// them.
func feed(t *testing.T, r *rostertest.Roster, c *store.EventCursor, want ...string) []map[string]any {
	t.Helper()
	ctx := context.Background()
	env, err := r.Directory.DefaultEnvironment(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		evs, err := r.Store.ListEvents(ctx, env.ID, store.EventQuery{After: *c, Limit: store.MaxEventPage})
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		var out []map[string]any
		for _, e := range evs {
			types = append(types, e.Type)
			var body map[string]any
			if err := json.Unmarshal(e.Body, &body); err != nil {
				t.Fatal(err)
			}
			out = append(out, body)
		}
		if slices.Equal(types, want) {
			if len(evs) > 0 {
				*c = evs[len(evs)-1].Cursor
			}
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("events %q, want %q", types, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// head is the feed's position after every write committed before it (storetest.Settle).
func head(t *testing.T, r *rostertest.Roster) store.EventCursor {
	t.Helper()
	ctx := context.Background()
	env, err := r.Directory.DefaultEnvironment(ctx)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Settle(t, r.Store)
	c, err := r.Store.EventHead(ctx, env.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// failure checks a user.login_failed event: its actor, connection, organization and reason.
func failure(t *testing.T, e map[string]any, conn, org, reason string) {
	t.Helper()
	data := e["data"].(map[string]any)
	actor := e["actor"].(map[string]any)
	if actor["type"] != roster.ActorSSOConnection || actor["id"] != conn || e["organization_id"] != org ||
		data["connection_id"] != conn || data["organization_id"] != org || data["reason"] != reason || data["message"] == "" {
		t.Fatalf("login_failed event, want reason %q: %v", reason, e)
	}
}

// TestSignInEvents: an OIDC sign-in records user.created, the membership's event and
// user.login; refusals record user.login_failed with their reasons (not a member, a suspended
// member, a refused ID token), and nothing else.
func TestSignInEvents(t *testing.T) {
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			f := setup(t, backend)
			ctx := context.Background()
			env, err := f.r.Directory.DefaultEnvironment(ctx)
			if err != nil {
				t.Fatal(err)
			}
			c := head(t, f.r)
			f.idp.SetUser("00u-ada", map[string]any{"email": "ada@acme.test", "email_verified": true, "given_name": "Ada"})
			loc, _, page := f.signIn(t, "/oauth/authorize", authParams(f, verifier, "organization_id", f.org))
			if loc == nil || loc.Query().Get("code") == "" {
				t.Fatalf("sign-in: %v %s", loc, page)
			}
			evs := feed(t, f.r, &c, roster.EventUserCreated, roster.EventMembershipCreated, roster.EventLogin)
			for _, e := range evs {
				if a := e["actor"].(map[string]any); a["type"] != roster.ActorSSOConnection || a["id"] != f.conn || e["organization_id"] != f.org {
					t.Fatalf("event %v", e)
				}
				if raw, _ := json.Marshal(e); json.Valid(raw) && containsFold(string(raw), f.idp.ClientSecret) {
					t.Fatalf("an event shows the client secret: %s", raw)
				}
			}

			// The provider's ID token is refused: invalid_response.
			f.idp.SetFault(oidctest.WrongNonce)
			loc, _, _ = f.signIn(t, "/oauth/authorize", authParams(f, verifier, "organization_id", f.org))
			f.idp.SetFault(oidctest.None)
			if loc == nil || loc.Query().Get("error") != "access_denied" {
				t.Fatalf("refused ID token: %v", loc)
			}
			failure(t, feed(t, f.r, &c, roster.EventLoginFailed)[0], f.conn, f.org, roster.LoginFailedInvalidResponse)

			// Without JIT provisioning, a stranger is not a member.
			if _, err := f.r.Store.UpdateConnection(ctx, env.ID, f.conn, func(c *roster.Connection) error {
				c.JITProvisioning = false
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			feed(t, f.r, &c, roster.EventConnectionUpdated)
			f.idp.SetUser("00u-eve", map[string]any{"email": "eve@acme.test", "email_verified": true, "given_name": "Eve"})
			loc, _, _ = f.signIn(t, "/oauth/authorize", authParams(f, verifier, "organization_id", f.org))
			if loc == nil || loc.Query().Get("error") != "access_denied" {
				t.Fatalf("not a member: %v", loc)
			}
			failure(t, feed(t, f.r, &c, roster.EventLoginFailed)[0], f.conn, f.org, roster.LoginFailedNotMember)

			// A suspended member (SCIM active: false) does not sign in.
			users, err := f.r.Store.ListUsers(ctx, env.ID, store.UserQuery{EmailKey: "ada@acme.test", Page: store.PageQuery{Size: 1}})
			if err != nil || len(users.Items) != 1 {
				t.Fatalf("ada: %v %+v", err, users)
			}
			if _, err := f.r.Store.UpdateMembership(ctx, env.ID, f.org, roster.UserRef{ID: users.Items[0].ID}, func(m *roster.Membership) error {
				m.Status = roster.MembershipInactive
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			c = head(t, f.r) // the membership's own event is not this test's
			f.idp.SetUser("00u-ada", map[string]any{"email": "ada@acme.test", "email_verified": true, "given_name": "Ada"})
			loc, _, _ = f.signIn(t, "/oauth/authorize", authParams(f, verifier, "organization_id", f.org))
			if loc == nil || loc.Query().Get("error") != "access_denied" {
				t.Fatalf("suspended member: %v", loc)
			}
			failure(t, feed(t, f.r, &c, roster.EventLoginFailed)[0], f.conn, f.org, roster.LoginFailedMemberSuspended)
		})
	}
}

// TestSAMLSignInEvents: a SAML sign-in records user.login; a tampered answer records
// user.login_failed (invalid_response).
func TestSAMLSignInEvents(t *testing.T) {
	sf := setupSAML(t, "sqlite")
	sf.idp.SetUser(ada)
	c := head(t, sf.r)
	a := sf.answer(t, sf.params())
	if loc, status, page := sf.post(t, a.ACS, a); loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("SAML sign-in: %d %v %s", status, loc, page)
	}
	evs := feed(t, sf.r, &c, roster.EventUserCreated, roster.EventMembershipCreated, roster.EventLogin)
	if a := evs[2]["actor"].(map[string]any); a["type"] != roster.ActorSSOConnection || a["id"] != sf.conn {
		t.Fatalf("login event: %v", evs[2])
	}
	b := sf.answer(t, sf.params())
	b.SAMLResponse = mutate(t, b.SAMLResponse, func(doc *etree.Document) {
		removeSignature(doc.Root())
		removeSignature(child(doc.Root(), "Assertion"))
	})
	if loc, _, _ := sf.post(t, b.ACS, b); loc == nil || loc.Query().Get("error") != "access_denied" {
		t.Fatalf("unsigned answer: %v", loc)
	}
	failure(t, feed(t, sf.r, &c, roster.EventLoginFailed)[0], sf.conn, sf.org, roster.LoginFailedInvalidResponse)
}
