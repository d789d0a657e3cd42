package webhooks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/outbound"
	"github.com/rosterhq/roster/store"
)

func ids2(ds []delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.id
	}
	return out
}

func TestDeliversEveryEventInOrderSigned(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) store.Store{
		"sqlite":   newSQLite,
		"postgres": func(t *testing.T) store.Store { s, _ := newPostgres(t); return s },
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, open(t))
			f.changes(2) // before the endpoint: not sent
			f.feed(2)    // (the feed's head passed them)
			r := newReceiver(t)
			e := f.endpoint(r)
			f.changes(30)
			f.worker(fast, nil)
			want := f.feed(32)[2:]
			waitFor(t, "30 deliveries", func() bool { return len(r.deliveries()) >= 30 })
			got := r.deliveries()
			if !slices.Equal(ids2(got), want) {
				t.Fatalf("delivered %q, want the feed after the endpoint's creation %q", ids2(got), want)
			}
			events, _ := f.st.ListEvents(context.Background(), f.env.ID, store.EventQuery{Limit: 100})
			for i, d := range got {
				if !d.verified {
					t.Fatalf("delivery %d (%s) does not verify", i, d.id)
				}
				if string(d.body) != string(events[i+2].Body) {
					t.Fatalf("delivery %d body differs from the stored event's", i)
				}
			}
			waitFor(t, "the log", func() bool {
				log, _ := f.svc.Deliveries(context.Background(), f.env.ID, e.ID, store.WebhookDeliveryQuery{Limit: 100})
				return len(log) == 30 && log[0].Success && log[0].Status == 200 && log[0].EventID == want[29]
			})
		})
	}
}

func TestRetriesTheSameEventWithBackoffAndLaterEventsWait(t *testing.T) {
	f := newFixture(t, newSQLite(t))
	r := newReceiver(t)
	r.answer = func(n int, _ string) int {
		if n <= 3 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	}
	e := f.endpoint(r)
	f.changes(3)
	f.worker(fast, nil)
	want := f.feed(3)
	waitFor(t, "3 failures and 3 deliveries", func() bool { return len(r.deliveries()) >= 6 })
	got := r.deliveries()
	if wantIDs := []string{want[0], want[0], want[0], want[0], want[1], want[2]}; !slices.Equal(ids2(got), wantIDs) {
		t.Fatalf("requests %q, want the first event 4 times, then the others", ids2(got))
	}
	// Waits of 40, 80, 160 ms (the first backoff doubled, capped by the maximum).
	for i, min := range []time.Duration{40, 80, 160} {
		if gap := got[i+1].at.Sub(got[i].at); gap < min*time.Millisecond {
			t.Fatalf("retry %d came after %v, want at least %v", i+1, gap, min*time.Millisecond)
		}
		if got[i+1].ts < got[i].ts || !got[i+1].verified {
			t.Fatalf("retry %d is not signed afresh", i+1)
		}
	}
	if n := attemptsCounted(t, f.lastWorker, "failure"); n != 3 {
		t.Fatalf("roster_webhook_attempts_total{result=failure} = %v, want 3", n)
	}
	waitFor(t, "the log", func() bool {
		log, _ := f.svc.Deliveries(context.Background(), f.env.ID, e.ID, store.WebhookDeliveryQuery{Limit: 100})
		if len(log) != 6 {
			return false
		}
		slices.Reverse(log)
		for i, a := range []int{1, 2, 3, 4, 1, 1} {
			if log[i].Attempt != a || log[i].Success != (i >= 3) {
				t.Fatalf("log %d = %+v", i, log[i])
			}
		}
		return log[0].Status == 503 && log[0].Error == "HTTP 503"
	})
}

func TestDisabledAfterTheFailureWindowAndReenabledFromTheCursor(t *testing.T) {
	f := newFixture(t, newSQLite(t))
	r := newReceiver(t)
	var mu sync.Mutex
	failing := true
	r.answer = func(int, string) int {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
	e := f.endpoint(r)
	f.changes(2)
	set := fast
	set.FailureWindow = 300 * time.Millisecond
	f.worker(set, nil)
	waitFor(t, "the endpoint disabled", func() bool {
		got, _ := f.svc.Get(context.Background(), f.env.ID, e.ID)
		return !got.Enabled && got.DisabledReason == roster.WebhookDisabledFailing
	})
	n := len(r.deliveries())
	first := f.feedIDs()[0]
	for _, d := range r.deliveries() {
		if d.id != first {
			t.Fatalf("a later event %s was sent while the first failed", d.id)
		}
	}
	f.changes(1)
	time.Sleep(100 * time.Millisecond)
	if len(r.deliveries()) != n {
		t.Fatal("a disabled endpoint was delivered to")
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	if _, err := f.svc.Enable(context.Background(), f.env.ID, e.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the 3 events", func() bool { return len(r.deliveries()) >= n+3 })
	if got := ids2(r.deliveries()[n:]); !slices.Equal(got, f.feedIDs()) {
		t.Fatalf("after enable: %q, want every event from the undelivered one %q", got, f.feedIDs())
	}
}

func TestManualRedelivery(t *testing.T) {
	f := newFixture(t, newSQLite(t))
	r := newReceiver(t)
	e := f.endpoint(r, "organization.created")
	f.changes(2)
	f.worker(fast, nil)
	waitFor(t, "2 deliveries", func() bool { return len(r.deliveries()) == 2 })
	first := f.feed(2)[0]
	if err := f.svc.Redeliver(context.Background(), f.env.ID, e.ID, first); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the redelivery", func() bool { return len(r.deliveries()) == 3 })
	d := r.deliveries()[2]
	if d.id != first || !d.verified || string(d.body) != string(r.deliveries()[0].body) {
		t.Fatalf("redelivery %+v", d)
	}
	err := f.svc.Redeliver(context.Background(), f.env.ID, e.ID, "evt_404")
	if roster.ErrorCode(err) != roster.ENotFound {
		t.Fatalf("redeliver an unknown event: %v", err)
	}
	waitFor(t, "the manual log record", func() bool {
		log, _ := f.svc.Deliveries(context.Background(), f.env.ID, e.ID, store.WebhookDeliveryQuery{Limit: 10})
		return len(log) == 3 && log[0].Manual && log[0].EventID == first && log[0].Success
	})
}

func TestPrivateAddressesRefusedByDefault(t *testing.T) {
	f := newFixture(t, newSQLite(t))
	strict := outbound.New(outbound.Options{})
	svc := New(f.st, f.box, strict)
	for _, u := range []string{"http://127.0.0.1:9/hook", "http://localhost/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]/"} {
		if _, _, err := svc.Create(context.Background(), f.env.ID, NewEndpoint{URL: u}); roster.ErrorCode(err) != roster.EInvalid {
			t.Errorf("create with %s: %v, want INVALID", u, err)
		}
	}
	// An endpoint whose address is internal only when dialled (stored while allowed) is
	// refused at dial time: nothing reaches the receiver, the log says why.
	r := newReceiver(t)
	e := f.endpoint(r)
	f.changes(1)
	f.worker(fast, strict)
	waitFor(t, "a refused attempt", func() bool {
		log, _ := f.svc.Deliveries(context.Background(), f.env.ID, e.ID, store.WebhookDeliveryQuery{Limit: 10})
		return len(log) > 0 && !log[0].Success && strings.Contains(log[0].Error, "not allowed")
	})
	if n := len(r.deliveries()); n != 0 {
		t.Fatalf("receiver got %d requests through a refusing guard", n)
	}
}

func TestSecretShownOnceAndRotated(t *testing.T) {
	f := newFixture(t, newSQLite(t))
	r := newReceiver(t)
	e := f.endpoint(r)
	old := r.secret
	got, _ := f.svc.Get(context.Background(), f.env.ID, e.ID)
	if got.SecretSealed == "" || strings.Contains(got.SecretSealed, strings.TrimPrefix(old, SecretPrefix)) {
		t.Fatal("the secret is not stored sealed")
	}
	_, secret, err := f.svc.RotateSecret(context.Background(), f.env.ID, e.ID)
	if err != nil || secret == old || !strings.HasPrefix(secret, SecretPrefix) {
		t.Fatalf("rotate = %q, %v", secret, err)
	}
	r.mu.Lock()
	r.secret = secret
	r.mu.Unlock()
	f.changes(1)
	f.worker(fast, nil)
	waitFor(t, "a delivery", func() bool { return len(r.deliveries()) == 1 })
	d := r.deliveries()[0]
	if !d.verified || !signedWith(old, d) || len(strings.Fields(d.sig)) != 2 {
		t.Fatalf("within the overlap, want signatures with the rotated and the previous secret: %q", d.sig)
	}
	// After the overlap, the new secret alone.
	if _, err := f.st.UpdateWebhookEndpoint(context.Background(), f.env.ID, e.ID, func(w *roster.WebhookEndpoint) error {
		w.PreviousSecretUntil = time.Now().Add(-time.Second)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	f.changes(1)
	waitFor(t, "a second delivery", func() bool { return len(r.deliveries()) == 2 })
	if d := r.deliveries()[1]; !d.verified || signedWith(old, d) {
		t.Fatalf("after the overlap: %q", d.sig)
	}
}

// Two workers on one PostgreSQL: every event of every endpoint is delivered exactly once in
// a clean run (no failures), in order per endpoint.
func TestTwoWorkersOnOnePostgresDeliverEachEventOnce(t *testing.T) {
	st, _ := newPostgres(t)
	f := newFixture(t, st)
	recv := make([]*receiver, 4)
	for i := range recv {
		recv[i] = newReceiver(t)
		f.endpoint(recv[i])
	}
	f.worker(fast, nil)
	f.worker(fast, nil)
	for range 10 {
		f.changes(20)
	}
	want := f.feed(200)
	for i, r := range recv {
		waitFor(t, fmt.Sprint("endpoint ", i), func() bool { return len(r.deliveries()) >= len(want) })
	}
	time.Sleep(200 * time.Millisecond) // a duplicate would arrive now
	for i, r := range recv {
		if got := ids2(r.deliveries()); !slices.Equal(got, want) {
			t.Logf("got %q", got)
			t.Fatalf("endpoint %d got %d deliveries (want %d, each once, in order)", i, len(got), len(want))
		}
	}
}

// A filtered endpoint's cursor passes the events its filter skips, so that polls do not scan
// them again.
func TestFilteredEndpointCursorPassesSkippedEvents(t *testing.T) {
	f := newFixture(t, newSQLite(t))
	r := newReceiver(t)
	e := f.endpoint(r, "user.created")
	f.changes(5)
	ctx, cancel := context.WithCancel(context.Background())
	w := NewWorker(f.st, f.box, f.guard, fast, nil)
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	head, _ := f.st.EventHead(context.Background(), f.env.ID)
	waitFor(t, "the cursor at the head", func() bool {
		l, err := f.st.ClaimWebhookEndpoints(context.Background(), "probe", time.Now(), time.Millisecond, 10)
		return err == nil && len(l) == 1 && l[0].Endpoint.ID == e.ID && l[0].State.Cursor == head
	})
	cancel()
	<-done
	if n := len(r.deliveries()); n != 0 {
		t.Fatalf("%d organization events sent to a user.created endpoint", n)
	}
}

// An endpoint whose one matching event lies behind more than two scan budgets of events it
// skips gets it: each read passes over at most scanBudget of them and the cursor moves on to
// the bound, read after read, within one claim or the next.
func TestFilteredEndpointCrossesScanBounds(t *testing.T) {
	f := newFixture(t, newSQLite(t))
	r := newReceiver(t)
	f.endpoint(r, "user.created")
	noise := make([]roster.Event, 2*scanBudget+50)
	for i := range noise {
		noise[i] = roster.Event{Type: roster.EventOrganizationUpdated, EnvironmentID: f.env.ID, OrganizationID: "org_1",
			Data: roster.Organization{ID: "org_1", EnvironmentID: f.env.ID, DisplayName: strconv.Itoa(i)}}
	}
	rare := roster.Event{Type: roster.EventUserCreated, EnvironmentID: f.env.ID, Data: roster.User{ID: "usr_1", EnvironmentID: f.env.ID}}
	if err := f.st.RecordEvents(context.Background(), append(noise, rare)...); err != nil {
		t.Fatal(err)
	}
	f.worker(fast, nil)
	waitFor(t, "the user.created delivery", func() bool { return len(r.deliveries()) == 1 })
	if d := r.deliveries()[0]; !strings.Contains(string(d.body), `"type":"user.created"`) {
		t.Fatalf("delivered %s", d.body)
	}
}

// A node that dies holding a lease (it never writes again) delays the endpoint by the lease's
// time only: another node resumes from the cursor.
func TestAnotherNodeResumesAfterALeaseExpires(t *testing.T) {
	f := newFixture(t, newSQLite(t))
	r := newReceiver(t)
	e := f.endpoint(r)
	f.changes(3)
	dead, err := f.st.ClaimWebhookEndpoints(context.Background(), "dead-node", time.Now(), 500*time.Millisecond, 10)
	if err != nil || len(dead) != 1 || dead[0].Endpoint.ID != e.ID {
		t.Fatalf("claim = %+v, %v", dead, err)
	}
	start := time.Now()
	f.worker(fast, nil)
	waitFor(t, "3 deliveries", func() bool { return len(r.deliveries()) == 3 })
	if d := r.deliveries()[0].at.Sub(start); d < 400*time.Millisecond {
		t.Fatalf("delivered %v after the dead node's claim, before its lease ended", d)
	}
	if !slices.Equal(ids2(r.deliveries()), f.feedIDs()) {
		t.Fatal("not every event, in order")
	}
}

// A receiver slower than the lease: the attempt ends before the lease does and counts as a
// failure, so that no other node sends to the endpoint while the first still waits.
func TestAttemptEndsBeforeTheLease(t *testing.T) {
	f := newFixture(t, newSQLite(t))
	r := newReceiver(t)
	var mu sync.Mutex
	inFlight, overlap := 0, false
	slow := true
	r.Server.Config.Handler = func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			mu.Lock()
			inFlight++
			overlap = overlap || inFlight > 1
			wait := slow
			slow = false
			mu.Unlock()
			// The body read, the server notices when the sender gives up (closes).
			body, _ := io.ReadAll(req.Body)
			req.Body = io.NopCloser(bytes.NewReader(body))
			if wait { // until the sender gives up or 1 s
				select {
				case <-time.After(time.Second):
				case <-req.Context().Done():
				}
			}
			next.ServeHTTP(w, req)
			mu.Lock()
			inFlight--
			mu.Unlock()
		})
	}(r.Server.Config.Handler)
	e := f.endpoint(r)
	f.changes(1)
	set := fast
	set.LeaseTTL = 500 * time.Millisecond
	f.worker(set, nil)
	f.worker(set, nil)
	waitFor(t, "a success after the slow attempt", func() bool {
		log, _ := f.svc.Deliveries(context.Background(), f.env.ID, e.ID, store.WebhookDeliveryQuery{Limit: 10})
		return len(log) >= 2 && log[0].Success && !log[len(log)-1].Success && strings.Contains(log[len(log)-1].Error, "deadline")
	})
	mu.Lock()
	defer mu.Unlock()
	if overlap {
		t.Fatal("two requests to the endpoint at once")
	}
}

// attemptsCounted reads roster_webhook_attempts_total{result, kind="feed"} of a worker.
func attemptsCounted(t *testing.T, w *Worker, result string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := w.Register(reg); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "roster_webhook_attempts_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["result"] == result && labels["kind"] == "feed" {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
