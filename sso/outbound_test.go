package sso_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/outbound"
)

// issuerFixture is a Roster with an enabled OIDC connection whose issuer is a test server
// that counts discovery requests.
func issuerFixture(t *testing.T, opts []rostertest.Option, h http.HandlerFunc) (*fixture, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	r := rostertest.Start(t, "sqlite", opts...)
	f := &fixture{r: r, token: r.Token(t)}
	if err := r.Directory.SetRedirectURIs(context.Background(), r.ClientID, []string{appCallback}); err != nil {
		t.Fatal(err)
	}
	res := f.rest(t, "POST", "/api/v1/organizations", `{"display_name": "Acme"}`, 200)
	f.org = res.Body["organization"].(map[string]any)["id"].(string)
	res = f.rest(t, "POST", "/api/v1/organizations/"+f.org+"/connections", `{"provider": "OKTA", "type": "OIDC"}`, 200)
	f.conn = res.Body["connection"].(map[string]any)["id"].(string)
	f.rest(t, "PATCH", "/api/v1/organizations/"+f.org+"/connections/"+f.conn, fmt.Sprintf(`{"oidc_config":
		{"issuer": %q, "client_id": "roster", "client_secret": "s3cret"}}`, srv.URL), 200)
	f.rest(t, "PATCH", "/api/v1/organizations/"+f.org+"/connections/"+f.conn+":enable", "", 200)
	return f, &hits
}

const discoveryRefused = "could not be reached"

// TestDiscoveryCannotReachInternalAddresses: with production's rule, an issuer on loopback
// is never fetched, and the application hears the same error as for any unreachable provider.
func TestDiscoveryCannotReachInternalAddresses(t *testing.T) {
	f, hits := issuerFixture(t, []rostertest.Option{rostertest.WithOutbound(outbound.Options{})}, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusNotFound)
	})
	loc, _, page := f.signIn(t, "/oauth/authorize", authParams(f, verifier, "organization_id", f.org))
	if loc == nil || loc.Query().Get("error") != "temporarily_unavailable" || loc.Query().Get("code") != "" {
		t.Fatalf("authorize with a loopback issuer: %v %s", loc, page)
	}
	if hits.Load() != 0 {
		t.Fatalf("the loopback issuer received %d requests", hits.Load())
	}
}

// TestDiscoveryFailuresAreCached: the unauthenticated /oauth/authorize cannot make Roster
// fetch a failing issuer on every request: within the failure window, one fetch serves all,
// sequential or concurrent.
func TestDiscoveryFailuresAreCached(t *testing.T) {
	f, hits := issuerFixture(t, nil, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	})
	for i := 0; i < 5; i++ {
		loc, _, page := f.signIn(t, "/oauth/authorize", authParams(f, verifier, "organization_id", f.org))
		if loc == nil || loc.Query().Get("error") != "temporarily_unavailable" {
			t.Fatalf("authorize %d: %v %s", i, loc, page)
		}
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			if res, err := client.Get(f.r.URL + "/oauth/authorize?" + authParams(f, verifier, "organization_id", f.org).Encode()); err == nil {
				res.Body.Close()
			}
		}()
	}
	wg.Wait()
	if n := hits.Load(); n != 1 {
		t.Fatalf("the failing issuer was fetched %d times, want 1", n)
	}
}

// TestTokenEndpointFailuresAreUniform: when the provider's token endpoint cannot be fetched,
// the application hears one error whether the port is closed or something else answers
// there (here Roster's own /metrics), and nothing about what happened.
func TestTokenEndpointFailuresAreUniform(t *testing.T) {
	f := setup(t, "sqlite")
	f.idp.SetUser("00u-tok", map[string]any{"email": "tok@acme.test"})
	base := "/api/v1/organizations/" + f.org + "/connections/" + f.conn
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/token"
	ln.Close()
	for _, tokenURI := range []string{closed, f.r.URL + "/metrics"} {
		f.rest(t, "PATCH", base, fmt.Sprintf(`{"configuration_type": "MANUAL", "oidc_config": {"issuer": %q, "authorize_uri": %q,
			"token_uri": %q, "jwks_uri": %q}}`, f.idp.URL, f.idp.URL+"/authorize", tokenURI, f.idp.URL+"/jwks"), 200)
		loc, _, page := f.signIn(t, "/oauth/authorize", authParams(f, verifier, "connection_id", f.conn))
		if loc == nil || loc.Query().Get("code") != "" || loc.Query().Get("error") != "access_denied" {
			t.Fatalf("token endpoint %s: %v %s", tokenURI, loc, page)
		}
		d := loc.Query().Get("error_description")
		if d != "could not fetch the tokens from the identity provider" {
			t.Fatalf("token endpoint %s: error_description %q", tokenURI, d)
		}
	}
}
