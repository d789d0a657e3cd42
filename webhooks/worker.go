package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/outbound"
	"github.com/rosterhq/roster/secretbox"
	"github.com/rosterhq/roster/store"
)

// Settings of the Worker (flags of roster serve; docs/webhooks.md).
type Settings struct {
	FirstBackoff  time.Duration // wait after an endpoint's first failed attempt at an event
	MaxBackoff    time.Duration // the longest wait between attempts (the wait doubles up to it)
	FailureWindow time.Duration // an endpoint failing this long is disabled ("failing")
	PollInterval  time.Duration // how often due endpoints are looked for
	LeaseTTL      time.Duration // how long a claim lasts without a write that extends it
	Batch         int           // events read and deliveries written per transaction
	Concurrency   int           // endpoints delivered to at once by this node
}

// DefaultSettings are the production settings: retries for 3 days, at most an hour apart.
func DefaultSettings() Settings {
	return Settings{FirstBackoff: 5 * time.Second, MaxBackoff: time.Hour, FailureWindow: 72 * time.Hour,
		PollInterval: time.Second, LeaseTTL: 30 * time.Second, Batch: 100, Concurrency: 8}
}

func (s Settings) withDefaults() Settings {
	d := DefaultSettings()
	for _, p := range []struct{ v, def *time.Duration }{{&s.FirstBackoff, &d.FirstBackoff}, {&s.MaxBackoff, &d.MaxBackoff},
		{&s.FailureWindow, &d.FailureWindow}, {&s.PollInterval, &d.PollInterval}, {&s.LeaseTTL, &d.LeaseTTL}} {
		if *p.v <= 0 {
			*p.v = *p.def
		}
	}
	if s.Batch <= 0 || s.Batch > store.MaxEventPage {
		s.Batch = d.Batch
	}
	if s.Concurrency <= 0 {
		s.Concurrency = d.Concurrency
	}
	return s
}

// Backoff is the wait after the n-th failed attempt (n >= 1): FirstBackoff doubled n-1
// times, at most MaxBackoff.
func (s Settings) Backoff(n int) time.Duration {
	d := s.FirstBackoff
	for i := 1; i < n && d < s.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, s.MaxBackoff)
}

// Worker delivers events to the endpoints it leases, in feed order per endpoint, at least
// once: an event is acknowledged (the cursor moves past it) only after a 2xx answer.
type Worker struct {
	store store.Store
	box   *secretbox.Box
	guard *outbound.Guard
	set   Settings
	log   *slog.Logger
	owner string
	kick  chan struct{}
	m     *metrics
}

// NewWorker returns a worker; its lease owner name is unique to it.
func NewWorker(st store.Store, box *secretbox.Box, guard *outbound.Guard, set Settings, log *slog.Logger) *Worker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	host, _ := os.Hostname()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return &Worker{store: st, box: box, guard: guard, set: set.withDefaults(), log: log,
		owner: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b)), kick: make(chan struct{}, 1), m: newMetrics()}
}

// Run delivers until ctx ends, then waits for the deliveries under way to be recorded.
func (w *Worker) Run(ctx context.Context) {
	slots := make(chan struct{}, w.set.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		if free := cap(slots) - len(slots); free > 0 {
			leases, err := w.store.ClaimWebhookEndpoints(ctx, w.owner, time.Now(), w.set.LeaseTTL, free)
			if err != nil && ctx.Err() == nil {
				w.log.WarnContext(ctx, "webhooks: claim failed", "err", err)
			}
			for _, l := range leases {
				slots <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					more := w.deliver(ctx, l)
					<-slots
					if more {
						w.wake()
					}
				}()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-w.kick:
		case <-time.After(w.set.PollInterval):
		}
	}
}

func (w *Worker) wake() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// saveEvery bounds the time between progress writes while events are delivered.
const saveEvery = 250 * time.Millisecond

// maxPagesPerClaim bounds the work of one claim, so that a backlog of one endpoint does
// not hold a slot from the others for long.
const maxPagesPerClaim = 20

// scanBudget bounds the events one read of a filtered endpoint passes over.
const scanBudget = 10_000

// deliver works on one leased endpoint: its manual redeliveries, then its events after the
// cursor, until it is up to date, an attempt fails, or the claim's work is done. It tells
// whether the endpoint has more to deliver now.
func (w *Worker) deliver(ctx context.Context, l store.WebhookLease) (more bool) {
	ep := l.Endpoint
	log := w.log.With("endpoint", ep.ID, "environment", ep.EnvironmentID)
	st := l.State
	p := store.WebhookProgress{EndpointID: ep.ID}
	// Writes outlive a shutdown's cancel: what was delivered is recorded.
	lastSave, leaseEnd := time.Now(), l.Until
	save := func() error {
		lastSave = time.Now()
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		p.State = st
		p.ExtendUntil = time.Now().Add(w.set.LeaseTTL)
		if !p.Release {
			leaseEnd = p.ExtendUntil
		}
		err := w.store.SaveWebhookProgress(wctx, w.owner, p)
		if errors.Is(err, store.ErrLeaseLost) {
			log.InfoContext(ctx, "webhooks: lease lost; another node or an update took the endpoint over")
		} else if err != nil {
			log.WarnContext(ctx, "webhooks: recording deliveries failed", "err", err)
		}
		p.Deliveries, p.Redelivered = nil, nil
		return err
	}
	release := func() bool {
		p.Release = true
		_ = save()
		return false
	}
	secrets, err := w.secrets(ep)
	if err != nil {
		log.ErrorContext(ctx, "webhooks: cannot open the signing secret", "err", err)
		st.NextAttempt = time.Now().Add(w.set.MaxBackoff)
		return release()
	}
	for _, r := range l.Redeliveries {
		d, ok := w.send(ctx, leaseEnd, ep, secrets, r.Event)
		if !ok {
			return release()
		}
		d.Manual, d.Attempt = true, 1
		w.m.attempt(d.Success, true, d.Latency.Seconds())
		p.Deliveries = append(p.Deliveries, d)
		p.Redelivered = append(p.Redelivered, r.Seq)
	}
	for range maxPagesPerClaim {
		// With a type filter, the page's bound, read before it, lets the cursor pass the
		// events the filter skips (else every poll would scan them again), and keeps one
		// read from passing over more than scanBudget of them: a matching event at or
		// before the bound is in the page, which is complete when short.
		var through store.EventCursor
		scanned := false // the bound stopped the scan: more events follow it
		if len(ep.EventTypes) > 0 {
			if through, scanned, err = w.store.EventScanBound(ctx, ep.EnvironmentID, st.Cursor, scanBudget); err != nil {
				if ctx.Err() == nil {
					log.WarnContext(ctx, "webhooks: reading the feed failed", "err", err)
				}
				return release()
			}
			if through == st.Cursor { // nothing new
				st.NextAttempt = time.Now()
				return release()
			}
		}
		evs, err := w.store.ListEvents(ctx, ep.EnvironmentID, store.EventQuery{After: st.Cursor, Types: ep.EventTypes, Limit: w.set.Batch, Through: through})
		if err != nil {
			if ctx.Err() == nil {
				log.WarnContext(ctx, "webhooks: reading the feed failed", "err", err)
			}
			return release()
		}
		// Check the lease before sending (the write is fenced): an endpoint disabled, changed
		// or taken over since the claim gets none of the events recorded after that.
		if len(evs) > 0 && save() != nil {
			return false
		}
		for _, ev := range evs {
			d, ok := w.send(ctx, leaseEnd, ep, secrets, ev)
			if !ok { // shutting down: the attempt is not counted
				return release()
			}
			d.Attempt = st.Attempts + 1
			w.m.attempt(d.Success, false, d.Latency.Seconds())
			p.Deliveries = append(p.Deliveries, d)
			if d.Success {
				st.Cursor, st.Attempts, st.FailingSince = ev.Cursor, 0, nil
				// Record progress often (and extend the lease well before it ends): what a
				// crash makes the next node send again is at most this much.
				if time.Since(lastSave) > min(w.set.LeaseTTL/3, saveEvery) && save() != nil {
					return false
				}
				continue
			}
			now := time.Now()
			st.Attempts++
			if st.FailingSince == nil {
				st.FailingSince = &now
			}
			st.NextAttempt = now.Add(w.set.Backoff(st.Attempts))
			if now.Sub(*st.FailingSince) >= w.set.FailureWindow {
				p.Disable = true
				w.m.disabled.Inc()
				log.WarnContext(ctx, "webhooks: endpoint disabled after failing for the failure window", "since", *st.FailingSince)
			}
			return release()
		}
		if len(evs) < w.set.Batch {
			if through.After(st.Cursor) {
				st.Cursor = through
			}
			if !scanned {
				st.NextAttempt = time.Now()
				return release()
			}
		}
		if save() != nil {
			return false
		}
	}
	st.NextAttempt = time.Now()
	release()
	return true
}

// secrets opens the endpoint's signing secret and, within the overlap after a rotation, the
// previous one.
func (w *Worker) secrets(ep roster.WebhookEndpoint) ([]string, error) {
	cur, err := w.box.Open(ep.SecretSealed, ep.ID)
	if err != nil {
		return nil, err
	}
	out := []string{cur}
	if ep.PreviousSecretSealed != "" && time.Now().Before(ep.PreviousSecretUntil) {
		prev, err := w.box.Open(ep.PreviousSecretSealed, ep.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, prev)
	}
	return out, nil
}

// send makes one attempt; ok is false when ctx ended (shutdown), which is no attempt. The
// attempt ends before the lease does (a tenth of it earlier), so that no other node sends
// to the endpoint while this one still waits for an answer; running out of lease is a
// failed attempt (a receiver slower than the lease backs off like any other failure).
func (w *Worker) send(ctx context.Context, leaseEnd time.Time, ep roster.WebhookEndpoint, secrets []string, ev store.StoredEvent) (roster.WebhookDelivery, bool) {
	reqCtx, cancel := context.WithDeadline(ctx, leaseEnd.Add(-w.set.LeaseTTL/10))
	defer cancel()
	start := time.Now()
	d := roster.WebhookDelivery{EndpointID: ep.ID, EventID: ev.ID, EventType: ev.Type, Time: start.UTC()}
	h, err := Headers(ev.ID, start, ev.Body, secrets...)
	if err != nil {
		d.Error = "signing: " + err.Error()
		return d, true
	}
	status, err := w.guard.Post(reqCtx, ep.URL, h, ev.Body)
	if ctx.Err() != nil {
		return d, false
	}
	d.Latency, d.Status = time.Since(start), status
	switch {
	case err != nil:
		d.Error = outbound.DetailOf(err)
	case status >= 200 && status < 300:
		d.Success = true
	default:
		d.Error = fmt.Sprintf("HTTP %d", status)
	}
	return d, true
}
