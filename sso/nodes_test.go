package sso_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/rosterhq/roster/internal/oidctest"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/secretbox"
	"github.com/rosterhq/roster/store/postgres"
	"github.com/rosterhq/roster/store/postgres/pgtest"
)

// TestSignInAcrossNodes runs two Roster nodes on one PostgreSQL database behind a balancer
// that alternates between them on every request: the authorize request, the provider's
// callback, the code exchange and the refresh each land on the other node than the step
// before. Nothing of a sign-in may live in one node's memory.
func TestSignInAcrossNodes(t *testing.T) {
	dsn := pgtest.NewSchema(t)
	key := make([]byte, secretbox.KeySize)
	_, _ = rand.Read(key)
	var backends [2]*url.URL
	var turn atomic.Int64
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(backends[turn.Add(1)%2])
		r.Out.Host = r.In.Host
	}}
	lb := httptest.NewServer(proxy)
	t.Cleanup(lb.Close)
	var nodes [2]*rostertest.Roster
	for i := range nodes {
		st, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		nodes[i] = rostertest.Start(t, "postgres", rostertest.WithNode(st, key, lb.URL))
		backends[i], _ = url.Parse(nodes[i].URL)
	}
	// The fixture talks to the balancer with the first node's admin client.
	r := *nodes[0]
	r.URL = lb.URL
	f := &fixture{r: &r, idp: oidctest.Start(t)}
	f.token = r.Token(t)
	if err := r.Directory.SetRedirectURIs(context.Background(), r.ClientID, []string{appCallback}); err != nil {
		t.Fatal(err)
	}
	setupConnection(t, f)
	f.idp.SetUser("00u-dee", map[string]any{"email": "dee@acme.test", "given_name": "Dee"})

	before := turn.Load()
	loc, _, page := f.signIn(t, "/oauth/authorize", authParams(f, verifier, "organization_id", f.org))
	if loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("sign-in across nodes: %v %s", loc, page)
	}
	if turn.Load()-before < 2 {
		t.Fatal("the authorize request and the callback did not go through the balancer")
	}
	status, body := f.exchange(t, loc.Query().Get("code"), verifier)
	if status != 200 {
		t.Fatalf("exchange: %d %v", status, body)
	}
	claims := f.verifyIDToken(t, body["id_token"].(string))
	if claims["email"] != "dee@acme.test" || claims["iss"] != lb.URL {
		t.Fatalf("ID token: %v", claims)
	}
	for i := 0; i < 2; i++ { // each refresh on another node
		a := postForm(t, lb.URL+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)},
			"client_id": {r.ClientID}, "client_secret": {r.ClientSecret}})
		if a.status != http.StatusOK {
			t.Fatalf("refresh %d: %+v", i, a)
		}
		body = a.body
	}
}
