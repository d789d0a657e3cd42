package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// testLatestIdentity: the identity of a connection that signed in last, one row, and only
// the connection's (and the environment's) own.
func testLatestIdentity(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, o, c := orgWithConnection(t, s)
	ownDomain(t, s, c, "acme.com")
	mustCode(t, func() error { _, err := s.LatestIdentity(ctx, env.ID, c.ID); return err }(), roster.ENotFound)
	other := newOIDCConnection(t, s, env.ID, o.ID)
	base := now()
	for i, who := range []string{"ada", "bob", "cy"} {
		in := signIn(c, "sub-"+who, who+"@acme.com", who, "code-latest-"+who)
		at := base.Add(time.Duration(i) * time.Second)
		if who == "bob" { // bob signed in last, though not created last
			at = base.Add(time.Hour)
		}
		in.Identity.LastLoginTime, in.Identity.CreateTime = at, base
		in.Identity.RawClaims = []byte(`{"sub":"sub-` + who + `","name":"` + who + `"}`)
		if _, err := s.SignIn(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.LatestIdentity(ctx, env.ID, c.ID)
	if err != nil || got.Subject != "sub-bob" || got.ConnectionID != c.ID || !strings.Contains(string(got.RawClaims), `"name":"bob"`) ||
		!got.LastLoginTime.Equal(base.Add(time.Hour)) || got.UserID == "" {
		t.Fatalf("latest identity: %v %+v", err, got)
	}
	// Bob signs in again later: still his; Ada signs in after him: hers.
	in := signIn(c, "sub-ada", "ada@acme.com", "ada", "code-latest-ada-2")
	in.Identity.LastLoginTime = base.Add(2 * time.Hour)
	in.Identity.RawClaims = []byte(`{"sub":"sub-ada","name":"ada again"}`)
	if _, err := s.SignIn(ctx, in); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LatestIdentity(ctx, env.ID, c.ID); err != nil || got.Subject != "sub-ada" || !strings.Contains(string(got.RawClaims), "ada again") {
		t.Fatalf("latest identity after a new sign-in: %v %+v", err, got)
	}
	// Another connection, or another environment: none.
	mustCode(t, func() error { _, err := s.LatestIdentity(ctx, env.ID, other.ID); return err }(), roster.ENotFound)
	env2 := newEnv(t, s, "other")
	mustCode(t, func() error { _, err := s.LatestIdentity(ctx, env2.ID, c.ID); return err }(), roster.ENotFound)
}

// testConnectionTests: a result is read back until it expires, only in its environment; an
// expired one is removed by the next insert; oversized results are refused.
func testConnectionTests(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, o, c := orgWithConnection(t, s)
	t0 := now()
	ct := roster.ConnectionTest{ID: "ct-" + ids.New("x"), EnvironmentID: env.ID, OrganizationID: o.ID, ConnectionID: c.ID, OperatorID: "op_1",
		Result: []byte(`{"email":"ada@acme.com"}`), Error: "", CreateTime: t0, ExpireTime: t0.Add(roster.ConnectionTestLifetime)}
	if err := s.CreateConnectionTest(ctx, ct); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetConnectionTest(ctx, env.ID, ct.ID, t0)
	if err != nil || got.OperatorID != "op_1" || got.ConnectionID != c.ID || got.OrganizationID != o.ID || string(got.Result) != string(ct.Result) ||
		!got.CreateTime.Equal(t0) || !got.ExpireTime.Equal(ct.ExpireTime) {
		t.Fatalf("connection test: %v %+v", err, got)
	}
	env2 := newEnv(t, s, "other")
	mustCode(t, func() error { _, err := s.GetConnectionTest(ctx, env2.ID, ct.ID, t0); return err }(), roster.ENotFound)
	mustCode(t, func() error { _, err := s.GetConnectionTest(ctx, env.ID, ct.ID, ct.ExpireTime); return err }(), roster.ENotFound)
	mustCode(t, func() error { _, err := s.GetConnectionTest(ctx, env.ID, "nope", t0); return err }(), roster.ENotFound)

	// An error result; the next insert after the first expired removes it.
	failed := ct
	failed.ID, failed.Result, failed.Error = "ct-"+ids.New("x"), []byte(`{}`), "the identity provider refused the sign-in: access_denied"
	failed.CreateTime = ct.ExpireTime.Add(time.Second)
	failed.ExpireTime = failed.CreateTime.Add(roster.ConnectionTestLifetime)
	if err := s.CreateConnectionTest(ctx, failed); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetConnectionTest(ctx, env.ID, failed.ID, failed.CreateTime); err != nil || got.Error != failed.Error {
		t.Fatalf("failed test: %v %+v", err, got)
	}
	mustCode(t, func() error { _, err := s.GetConnectionTest(ctx, env.ID, ct.ID, t0); return err }(), roster.ENotFound)

	big := ct
	big.ID, big.Result = "ct-"+ids.New("x"), []byte(`"`+strings.Repeat("x", roster.ConnectionTestMax)+`"`)
	mustCode(t, s.CreateConnectionTest(ctx, big), roster.EInvalid)
}
