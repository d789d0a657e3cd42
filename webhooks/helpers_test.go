package webhooks

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/outbound"
	"github.com/rosterhq/roster/secretbox"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/postgres"
	"github.com/rosterhq/roster/store/postgres/pgtest"
	"github.com/rosterhq/roster/store/sqlite"
)

var ids = roster.NewIDGenerator()

func newSQLite(t *testing.T) store.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newPostgres(t *testing.T) (store.Store, string) {
	t.Helper()
	u := pgtest.NewSchema(t)
	s, err := postgres.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, u
}

// fast are settings that make a test's retries take milliseconds.
var fast = Settings{FirstBackoff: 40 * time.Millisecond, MaxBackoff: 160 * time.Millisecond, FailureWindow: time.Hour,
	PollInterval: 10 * time.Millisecond, LeaseTTL: 3 * time.Second}

// fixture is an environment with a service whose guard allows the loopback receiver.
type fixture struct {
	t     *testing.T
	st    store.Store
	env   roster.Environment
	box   *secretbox.Box
	guard *outbound.Guard
	svc   *Service
	// lastWorker is the worker started last (its metrics).
	lastWorker *Worker
}

func newFixture(t *testing.T, st store.Store) *fixture {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	env := roster.Environment{ID: ids.New(roster.PrefixEnvironment), Name: "default", CursorKey: key, CreateTime: time.Now().UTC()}
	if err := st.CreateEnvironment(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	guard := outbound.New(outbound.Options{AllowPrivateNetworks: true, Timeout: 2 * time.Second})
	return &fixture{t: t, st: st, env: env, box: box, guard: guard, svc: New(st, box, guard)}
}

// changes makes n organizations: n organization.created events.
func (f *fixture) changes(n int) {
	f.t.Helper()
	for i := range n {
		o := roster.NewOrganization{DisplayName: "org " + strconv.Itoa(i)}.Build(ids.New(roster.PrefixOrganization), f.env.ID, time.Now().UTC())
		if err := f.st.CreateOrganization(context.Background(), o); err != nil {
			f.t.Fatal(err)
		}
	}
}

// worker runs a worker until the test ends.
func (f *fixture) worker(set Settings, guard *outbound.Guard) {
	f.t.Helper()
	if guard == nil {
		guard = f.guard
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := NewWorker(f.st, f.box, guard, set, nil)
	f.lastWorker = w
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	f.t.Cleanup(func() { cancel(); <-done })
}

// delivery is one request the receiver got.
type delivery struct {
	id, ts, sig string
	body        []byte
	at          time.Time
	verified    bool
}

// receiver records deliveries, verifies their signatures as the SDKs do, and answers with
// answer(n), n the count of requests so far (1 for the first).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	secret string
	got    []delivery
	answer func(n int, id string) int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{answer: func(int, string) int { return http.StatusOK }}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		d := delivery{id: req.Header.Get("webhook-id"), ts: req.Header.Get("webhook-timestamp"), sig: req.Header.Get("webhook-signature"), body: body, at: time.Now()}
		r.mu.Lock()
		d.verified = verify(r.secret, d, req.Header.Get("Content-Type"))
		r.got = append(r.got, d)
		status := r.answer(len(r.got), d.id)
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

// verify checks a delivery as the Scalekit SDKs do: timestamp within 5 minutes, and a v1
// signature over id.timestamp.body with the secret's key.
func verify(secret string, d delivery, contentType string) bool {
	ts, err := strconv.ParseInt(d.ts, 10, 64)
	if err != nil || d.id == "" || contentType != "application/json" || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		return false
	}
	return signedWith(secret, d)
}

// signedWith tells whether one of the delivery's space-separated signatures is secret's.
func signedWith(secret string, d delivery) bool {
	ts, _ := strconv.ParseInt(d.ts, 10, 64)
	want, err := Sign(secret, d.id, ts, d.body)
	if err != nil {
		return false
	}
	for _, sig := range strings.Fields(d.sig) {
		if hmac.Equal([]byte(want), []byte(sig)) {
			return true
		}
	}
	return false
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// feedIDs returns the IDs of the environment's events, in feed order.
func (f *fixture) feedIDs() []string {
	f.t.Helper()
	var out []string
	var after store.EventCursor
	for {
		page, err := f.st.ListEvents(context.Background(), f.env.ID, store.EventQuery{After: after, Limit: store.MaxEventPage})
		if err != nil {
			f.t.Fatal(err)
		}
		for _, e := range page {
			out = append(out, e.ID)
		}
		if len(page) < store.MaxEventPage {
			return out
		}
		after = page[len(page)-1].Cursor
	}
}

// feed waits until the feed shows n events (PostgreSQL shows a commit once every older
// transaction of the server has ended) and returns their IDs.
func (f *fixture) feed(n int) []string {
	f.t.Helper()
	var ids []string
	waitFor(f.t, fmt.Sprint(n, " events in the feed"), func() bool { ids = f.feedIDs(); return len(ids) >= n })
	return ids
}

// endpoint creates an endpoint to r and gives r its secret.
func (f *fixture) endpoint(r *receiver, types ...string) roster.WebhookEndpoint {
	f.t.Helper()
	e, secret, err := f.svc.Create(context.Background(), f.env.ID, NewEndpoint{URL: r.URL + "/hook", EventTypes: types})
	if err != nil {
		f.t.Fatal(err)
	}
	r.mu.Lock()
	r.secret = secret
	r.mu.Unlock()
	return e
}
