// Package rostertest starts a complete Roster (store, directory, OAuth, API, server) inside
// a test process on a loopback port, on SQLite or PostgreSQL, with an admin API client.
package rostertest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/oauth"
	"github.com/rosterhq/roster/outbound"
	"github.com/rosterhq/roster/scim/scimdir"
	"github.com/rosterhq/roster/secretbox"
	"github.com/rosterhq/roster/server"
	"github.com/rosterhq/roster/sso"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/postgres"
	"github.com/rosterhq/roster/store/postgres/pgtest"
	"github.com/rosterhq/roster/store/sqlite"
	"github.com/rosterhq/roster/webhooks"
)

// Backends are the storage backends every server-level test runs against.
var Backends = []string{"sqlite", "postgres"}

// Roster is a running test server.
type Roster struct {
	URL          string // this server's address
	MetricsURL   string // its management listener's (GET /metrics)
	Issuer       string // its public URL: URL, unless it is one node of several (WithNode)
	ClientID     string
	ClientSecret string
	Store        store.Store
	Directory    *directory.Service
	Tokens       *oauth.Server
	Handler      http.Handler
	// Client sends the REST and token requests of Token and REST.
	Client *http.Client
	// Stop shuts the server down gracefully and returns what Serve returned.
	Stop func() error
}

type options struct {
	tls    *tls.Config
	client *http.Client
	dir    []directory.Option
	store  store.Store
	key    []byte
	issuer string
	// outbound: the test IdPs listen on loopback, so tests allow private networks unless a
	// test chooses otherwise (WithOutbound).
	outbound outbound.Options
	server   []func(*server.Config)
	logOut   io.Writer
	webhooks *webhooks.Settings
}

// WithWebhookWorker runs a webhook delivery worker with these settings beside the server
// (without it, endpoints are managed but nothing is delivered).
func WithWebhookWorker(set webhooks.Settings) Option {
	return func(o *options) { o.webhooks = &set }
}

// WithLogOutput writes the server's log to w (a test that checks what is never logged).
func WithLogOutput(w io.Writer) Option {
	return func(o *options) { o.logOut = w }
}

// WithOutbound sets the outbound fetch rule (docs/outbound.md) instead of the tests' default,
// which allows private networks: outbound.Options{} is production's rule.
func WithOutbound(o outbound.Options) Option {
	return func(opt *options) { opt.outbound = o }
}

// WithServer changes the server's configuration before it starts (its limits, for example).
func WithServer(f func(*server.Config)) Option {
	return func(o *options) { o.server = append(o.server, f) }
}

// WithNode makes the server one node of several: it uses st (shared with the other nodes),
// seals with key and calls itself issuer (the URL of the load balancer in front of the nodes).
func WithNode(st store.Store, key []byte, issuer string) Option {
	return func(o *options) { o.store, o.key, o.issuer = st, key, issuer }
}

// WithDirectory passes options to the directory service (a mailer, for example).
func WithDirectory(opts ...directory.Option) Option {
	return func(o *options) { o.dir = append(o.dir, opts...) }
}

// Option changes how Start runs the server.
type Option func(*options)

// WithTLS serves HTTPS (h2) with cfg; client is what Token and REST then use.
func WithTLS(cfg *tls.Config, client *http.Client) Option {
	return func(o *options) { o.tls, o.client = cfg, client }
}

// Open returns an empty store of the named backend, closed when the test ends.
func Open(t testing.TB, backend string) store.Store {
	t.Helper()
	var s store.Store
	var err error
	switch backend {
	case "sqlite":
		s, err = sqlite.Open(context.Background(), t.TempDir())
	case "postgres":
		s, err = postgres.Open(context.Background(), pgtest.NewSchema(t))
	default:
		t.Fatalf("unknown backend %q", backend)
	}
	if err != nil {
		t.Fatalf("open %s: %v", backend, err)
	}
	t.Cleanup(func() { s.Close() })
	api.SetEventData(s, "") // events show their objects as the API does (no public URL yet)
	return s
}

// Start runs a server on backend until the test ends.
func Start(t testing.TB, backend string, opts ...Option) *Roster {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	o := options{client: http.DefaultClient, outbound: outbound.Options{AllowPrivateNetworks: true}}
	for _, opt := range opts {
		opt(&o)
	}
	st := o.store
	if st == nil {
		st = Open(t, backend)
	}
	key := o.key
	if key == nil {
		key = make([]byte, secretbox.KeySize)
		_, _ = rand.Read(key)
	}
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	var logOut io.Writer = io.Discard
	if os.Getenv("ROSTER_TEST_LOG") != "" { // see the server's log while debugging a test
		logOut = os.Stderr
	}
	level := slog.LevelInfo
	if o.logOut != nil {
		logOut, level = o.logOut, slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}))
	o.outbound.Log = log
	guard := outbound.New(o.outbound)
	dir := directory.New(st, append([]directory.Option{directory.WithSecretBox(box), directory.WithOutbound(guard)}, o.dir...)...)
	t.Cleanup(func() { _ = dir.Close(context.Background()) }) // runs before the store's Close (registered earlier)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	scheme := "http"
	if o.tls != nil {
		scheme = "https"
	}
	cfg := server.Config{TLS: o.tls}
	issuer := scheme + "://" + ln.Addr().String()
	if o.issuer != "" {
		issuer = o.issuer
	}
	if o.store == nil { // a node's shared store (WithNode) already has its encoder: Open's
		api.SetEventData(st, issuer)
	}
	env, created, err := dir.Bootstrap(ctx, "", "")
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	reg := prometheus.NewRegistry()
	tokens := oauth.NewServer(st, issuer, time.Hour, oauth.WithSecretBox(box))
	signIn := sso.New(sso.Config{Directory: dir, Tokens: tokens, EnvironmentID: env.ID, Issuer: issuer, Log: log, Outbound: guard})
	handlers, err := api.New(api.Config{Directory: dir, Verifier: tokens, Log: log, Metrics: reg, Issuer: issuer,
		Webhooks: webhooks.New(st, box, guard)})
	if err != nil {
		t.Fatal(err)
	}
	if o.webhooks != nil {
		wctx, stopWorker := context.WithCancel(context.Background())
		worker := webhooks.NewWorker(st, box, guard, *o.webhooks, log)
		workerDone := make(chan struct{})
		go func() { worker.Run(wctx); close(workerDone) }()
		t.Cleanup(func() { stopWorker(); <-workerDone })
	}
	cfg.API, cfg.OAuth, cfg.SSO = handlers, &oauth.Handler{Server: tokens, EnvironmentID: env.ID, Log: log}, signIn
	cfg.SCIM = scimdir.Handler(dir, issuer, log)
	cfg.Store, cfg.Log, cfg.Registry, cfg.ShutdownTimeout = st, log, reg, 5*time.Second
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mln.Close() }) // if a test's configuration does not use it
	cfg.MetricsListener = mln
	for _, f := range o.server {
		f(&cfg)
	}
	srv := server.New(cfg)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	var once sync.Once
	var serveErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			serveErr = <-done
		})
		return serveErr
	}
	t.Cleanup(func() { stop() })
	r := &Roster{URL: scheme + "://" + ln.Addr().String(), MetricsURL: "http://" + mln.Addr().String(), Issuer: issuer, Store: st, Directory: dir, Tokens: tokens, Handler: srv.Handler(), Client: o.client, Stop: stop}
	if created != nil { // a second node of a shared database creates no client
		r.ClientID, r.ClientSecret = created.Client.ID, created.Secret
	}
	return r
}

// Token fetches an access token for the admin client.
func (r *Roster) Token(t testing.TB) string {
	t.Helper()
	res, err := r.Client.PostForm(r.URL+"/oauth/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {r.ClientID}, "client_secret": {r.ClientSecret},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 || body.AccessToken == "" {
		t.Fatalf("token: status %d, err %v", res.StatusCode, err)
	}
	return body.AccessToken
}

// Response is a decoded REST answer.
type Response struct {
	Status int
	Body   map[string]any
	Raw    string
}

// REST sends a REST request with the token (if any) and decodes the JSON answer.
func (r *Roster) REST(t testing.TB, token, method, path, body string) Response {
	t.Helper()
	req, err := http.NewRequest(method, r.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := r.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := Response{Status: res.StatusCode, Raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.Body); err != nil {
			t.Fatalf("%s %s: answer is not a JSON object: %s", method, path, raw)
		}
	}
	return out
}
