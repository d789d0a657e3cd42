package sso

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/outbound"
)

// TestProviderCacheWindows: a failure is remembered for failureTTL and a discovered provider
// for providerTTL, or until the connection changes; the cache stays bounded.
func TestProviderCacheWindows(t *testing.T) {
	var hits atomic.Int32
	var up atomic.Bool
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if !up.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"issuer": "` + srv.URL + `", "authorization_endpoint": "` + srv.URL + `/a", "token_endpoint": "` + srv.URL +
			`/t", "jwks_uri": "` + srv.URL + `/k"}`))
	}))
	defer srv.Close()
	now := time.Now()
	ps := &providers{guard: outbound.New(outbound.Options{AllowPrivateNetworks: true}), log: slog.New(slog.DiscardHandler),
		now: func() time.Time { return now }, cache: map[string]cachedProvider{}}
	c := roster.Connection{ID: "conn_1", UpdateTime: now, OIDC: roster.OIDCConfig{Issuer: srv.URL}}
	ctx := context.Background()
	get := func(want int32, ok bool) {
		t.Helper()
		p, err := ps.get(ctx, c)
		if (err == nil) != ok || (p != nil) != ok {
			t.Fatalf("get: %v, %v; want success %v", p, err, ok)
		}
		if err != nil && err.Error() != "could not fetch the OpenID configuration from the identity provider" {
			t.Fatalf("error text %q", err)
		}
		if hits.Load() != want {
			t.Fatalf("%d fetches, want %d", hits.Load(), want)
		}
	}
	get(1, false)
	up.Store(true)
	now = now.Add(failureTTL - time.Second)
	get(1, false) // still remembered
	now = now.Add(2 * time.Second)
	get(2, true) // fetched again
	now = now.Add(providerTTL - time.Second)
	get(2, true)
	c.UpdateTime = c.UpdateTime.Add(time.Millisecond) // the connection changed
	get(3, true)
	now = now.Add(providerTTL + time.Second)
	get(4, true)

	for i := 0; i < maxProviders+10; i++ {
		ps.store(string(rune(i)), cachedProvider{expires: now.Add(time.Hour)})
	}
	if len(ps.cache) > maxProviders {
		t.Fatalf("cache holds %d entries, bound is %d", len(ps.cache), maxProviders)
	}
}
