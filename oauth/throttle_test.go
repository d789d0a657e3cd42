package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// tokenTest is a token endpoint with two clients, X and Y.
type tokenTest struct {
	s       *Server
	h       *Handler
	x, y    roster.APIClient
	xSecret string
	ySecret string
	envID   string
}

func newTokenTest(t testing.TB, th Throttle) *tokenTest {
	t.Helper()
	s, x, xs := newTestServer(t)
	ys := NewSecret()
	hash, _ := HashSecret(ys)
	y := roster.APIClient{ID: "skc_2", EnvironmentID: x.EnvironmentID, Name: "y", SecretHash: hash, CreateTime: time.Now()}
	if err := s.store.CreateClient(context.Background(), y); err != nil {
		t.Fatal(err)
	}
	s.SetThrottle(th)
	return &tokenTest{s: s, h: &Handler{Server: s, EnvironmentID: x.EnvironmentID, Log: slog.New(slog.DiscardHandler)},
		x: x, y: y, xSecret: xs, ySecret: ys, envID: x.EnvironmentID}
}

type tokenAnswer struct {
	status     int
	code       string
	retryAfter string
}

// post asks for a client_credentials token from the address addr.
func (tt *tokenTest) post(addr, clientID, secret string) tokenAnswer {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}}
	req := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = addr + ":40000"
	rec := httptest.NewRecorder()
	mux := http.NewServeMux()
	tt.h.Register(mux)
	mux.ServeHTTP(rec, req)
	var body struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	return tokenAnswer{status: rec.Code, code: body.Error, retryAfter: rec.Header().Get("Retry-After")}
}

func (tt *tokenTest) hashes() int64 { return tt.s.guard.hashes.Load() }

// An unknown client ID costs an argon2id check like a known one with a wrong secret, so the
// time of the answer does not tell whether the ID exists; only a remembered secret skips it.
func TestUnknownClientIDCostsAHash(t *testing.T) {
	tt := newTokenTest(t, Throttle{})
	ctx := context.Background()
	for _, c := range []struct {
		name, id, secret string
		want             int64
	}{
		{"unknown ID", "skc_unknown", "rsk_guess", 1},
		{"known ID, wrong secret", tt.x.ID, "rsk_guess", 1},
		{"known ID, right secret", tt.x.ID, tt.xSecret, 1},
		{"the same again (remembered)", tt.x.ID, tt.xSecret, 0},
	} {
		before := tt.hashes()
		_, _ = tt.s.AuthenticateClient(ctx, c.id, c.secret)
		if got := tt.hashes() - before; got != c.want {
			t.Errorf("%s: %d argon2id checks, want %d", c.name, got, c.want)
		}
	}
	// A revoked client costs one too (and fails).
	if err := tt.s.store.RevokeClient(ctx, tt.y.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	before := tt.hashes()
	if _, err := tt.s.AuthenticateClient(ctx, tt.y.ID, tt.ySecret); roster.ErrorCode(err) != roster.EUnauthenticated {
		t.Fatalf("revoked client: %v", err)
	}
	if tt.hashes()-before != 1 {
		t.Fatal("a revoked client is answered without a check")
	}
}

// After Burst failures from one address, that address is answered 429 with Retry-After and no
// argon2id check, for any client ID; another client from another address is served meanwhile.
func TestFailuresThrottledPerAddress(t *testing.T) {
	tt := newTokenTest(t, Throttle{Burst: 3, Interval: time.Hour})
	for i := range 3 {
		if a := tt.post("198.51.100.7", tt.x.ID, fmt.Sprintf("rsk_wrong%d", i)); a.status != 401 || a.code != "invalid_client" {
			t.Fatalf("failure %d: %+v", i+1, a)
		}
	}
	before := tt.hashes()
	for _, id := range []string{tt.x.ID, tt.y.ID, "skc_unknown"} {
		a := tt.post("198.51.100.7", id, "rsk_wrong")
		if a.status != 429 || a.code != "slow_down" || a.retryAfter == "" || a.retryAfter == "0" {
			t.Fatalf("throttled address, client %s: %+v", id, a)
		}
	}
	if tt.hashes() != before {
		t.Fatalf("throttled requests ran %d argon2id checks", tt.hashes()-before)
	}
	if a := tt.post("203.0.113.9", tt.y.ID, tt.ySecret); a.status != 200 {
		t.Fatalf("another client from another address: %+v", a)
	}
}

// Failures for one client ID from many addresses are throttled per ID; another client is
// served meanwhile.
func TestFailuresThrottledPerClientID(t *testing.T) {
	tt := newTokenTest(t, Throttle{Burst: 3, Interval: time.Hour})
	for i := range 3 {
		if a := tt.post(fmt.Sprintf("198.51.100.%d", i+1), tt.x.ID, "rsk_wrong"); a.status != 401 {
			t.Fatalf("failure %d: %+v", i+1, a)
		}
	}
	before := tt.hashes()
	for _, secret := range []string{"rsk_wrong", tt.xSecret} {
		if a := tt.post("198.51.100.50", tt.x.ID, secret); a.status != 429 || a.retryAfter == "" {
			t.Fatalf("a fresh address on a throttled client ID: %+v", a)
		}
	}
	if tt.hashes() != before {
		t.Fatal("a throttled request ran an argon2id check")
	}
	if a := tt.post("198.51.100.51", tt.y.ID, tt.ySecret); a.status != 200 {
		t.Fatalf("another client: %+v", a)
	}
}

// A secret that passed a moment ago is remembered and served even while its client ID is
// throttled (it costs no check); once Interval has passed, one more attempt is allowed.
func TestThrottleRefillsAndRememberedSecretsPass(t *testing.T) {
	tt := newTokenTest(t, Throttle{Burst: 1, Interval: 300 * time.Millisecond})
	if a := tt.post("198.51.100.1", tt.x.ID, tt.xSecret); a.status != 200 {
		t.Fatalf("first token: %+v", a)
	}
	if a := tt.post("198.51.100.2", tt.x.ID, "rsk_wrong"); a.status != 401 {
		t.Fatalf("failure: %+v", a)
	}
	if a := tt.post("198.51.100.3", tt.x.ID, "rsk_wrong"); a.status != 429 || a.retryAfter != "1" {
		t.Fatalf("throttled: %+v", a)
	}
	if a := tt.post("198.51.100.3", tt.x.ID, tt.xSecret); a.status != 200 {
		t.Fatalf("a remembered secret while throttled: %+v", a)
	}
	time.Sleep(350 * time.Millisecond)
	if a := tt.post("198.51.100.4", tt.x.ID, "rsk_wrong"); a.status != 401 {
		t.Fatalf("after the interval: %+v", a)
	}
}

// Successes take nothing: a client that asks for many tokens is never throttled.
func TestSuccessesAreNotThrottled(t *testing.T) {
	tt := newTokenTest(t, Throttle{Burst: 1, Interval: time.Hour})
	for i := range 20 {
		if a := tt.post("198.51.100.7", tt.x.ID, tt.xSecret); a.status != 200 {
			t.Fatalf("token %d: %+v", i+1, a)
		}
	}
}

// With every argon2id slot taken, a check waits at most HashWait, then answers 503 with
// Retry-After and runs nothing.
func TestHashSlotsBounded(t *testing.T) {
	tt := newTokenTest(t, Throttle{Hashes: 1, HashWait: 20 * time.Millisecond})
	tt.s.guard.init()
	tt.s.guard.slots <- struct{}{} // another check is running
	before := tt.hashes()
	start := time.Now()
	a := tt.post("198.51.100.7", tt.x.ID, tt.xSecret)
	if a.status != 503 || a.code != "temporarily_unavailable" || a.retryAfter != "1" || time.Since(start) > time.Second {
		t.Fatalf("busy: %+v after %s", a, time.Since(start))
	}
	if tt.hashes() != before {
		t.Fatal("a check ran without a slot")
	}
	<-tt.s.guard.slots
	if a := tt.post("198.51.100.7", tt.x.ID, tt.xSecret); a.status != 200 {
		t.Fatalf("slot free again: %+v", a)
	}
	if DefaultHashes() < 1 || DefaultHashes() > max(1, runtime.GOMAXPROCS(0)/2) {
		t.Fatalf("default hash slots %d", DefaultHashes())
	}
}

// The buckets' memory is bounded, however many addresses and IDs fail.
func TestThrottleMemoryBounded(t *testing.T) {
	var g guard
	g.configure(Throttle{MaxKeys: 100})
	for i := range 1000 {
		g.failed(fmt.Sprintf("skc_%d", i), fmt.Sprintf("10.0.%d.%d", i/256, i%256))
		if len(g.buckets) > 100 {
			t.Fatalf("%d buckets after %d failures", len(g.buckets), i+1)
		}
	}
}

// The token endpoint's cost: a remembered secret (the common case), and a request refused by
// the throttle (what a flood costs once it is throttled).
func BenchmarkTokenEndpoint(b *testing.B) {
	tt := newTokenTest(b, Throttle{Burst: 1, Interval: time.Hour})
	mux := http.NewServeMux()
	tt.h.Register(mux)
	run := func(b *testing.B, addr, secret string, want int) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {tt.x.ID}, "client_secret": {secret}}.Encode()
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest("POST", "/oauth/token", strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.RemoteAddr = addr
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != want {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			_, _ = io.Copy(io.Discard, rec.Body)
		}
	}
	b.Run("remembered", func(b *testing.B) { run(b, "198.51.100.1:1", tt.xSecret, 200) })
	tt.post("198.51.100.2", "skc_unknown", "rsk_wrong")
	b.Run("throttled", func(b *testing.B) { run(b, "198.51.100.2:1", "rsk_wrong", 429) })
}
