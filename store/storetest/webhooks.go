package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// webhookTests check webhook endpoints, their leased delivery state, the delivery log and
// the redelivery queue (docs/webhooks.md).
var webhookTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"WebhookEndpointCRUD", testWebhookEndpointCRUD},
	{"WebhookCap", testWebhookCap},
	{"WebhookLeaseFencing", testWebhookLeaseFencing},
	{"WebhookDeliveryLog", testWebhookDeliveryLog},
	{"WebhookRedelivery", testWebhookRedelivery},
	{"WebhookClaimDisjoint", testWebhookClaimDisjoint},
}

func newWebhook(envID string, types ...string) roster.WebhookEndpoint {
	at := now()
	return roster.WebhookEndpoint{ID: ids.New(roster.PrefixWebhook), EnvironmentID: envID, URL: "https://example.com/hook",
		Description: "d", EventTypes: types, Enabled: true, SecretSealed: "sealed", CreateTime: at, UpdateTime: at}
}

// claimOne claims endpoints as owner and returns the lease of id (failing if absent).
func claimOne(t *testing.T, s store.Store, owner, id string, at time.Time) store.WebhookLease {
	t.Helper()
	leases, err := s.ClaimWebhookEndpoints(context.Background(), owner, at, time.Minute, 100)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	for _, l := range leases {
		if l.Endpoint.ID == id {
			return l
		}
	}
	t.Fatalf("endpoint %s not claimed by %s (got %d leases)", id, owner, len(leases))
	return store.WebhookLease{}
}

func testWebhookEndpointCRUD(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, other := newEnv(t, s, "default"), newEnv(t, s, "other")
	if err := s.CreateOrganization(ctx, newOrg(env.ID, "before", "")); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	head, err := s.EventHead(ctx, env.ID)
	if err != nil {
		t.Fatal(err)
	}
	e := newWebhook(env.ID, "user.created", "organization.*")
	if err := s.CreateWebhookEndpoint(ctx, e); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetWebhookEndpoint(ctx, env.ID, e.ID)
	if err != nil || got.URL != e.URL || !slices.Equal(got.EventTypes, e.EventTypes) || !got.Enabled || got.SecretSealed != "sealed" || !got.CreateTime.Equal(e.CreateTime) {
		t.Fatalf("get = %+v, %v", got, err)
	}
	_, err = s.GetWebhookEndpoint(ctx, other.ID, e.ID)
	mustCode(t, err, roster.ENotFound)
	if list, _ := s.ListWebhookEndpoints(ctx, other.ID); len(list) != 0 {
		t.Fatalf("another environment lists %d endpoints", len(list))
	}
	// A new endpoint starts at the head: the earlier organization is not sent.
	l := claimOne(t, s, "node-a", e.ID, time.Now().Add(time.Second))
	if l.State.Cursor != head {
		t.Fatalf("new endpoint's cursor = %+v, want the head %+v", l.State.Cursor, head)
	}
	_, err = s.UpdateWebhookEndpoint(ctx, other.ID, e.ID, func(*roster.WebhookEndpoint) error { return nil })
	mustCode(t, err, roster.ENotFound)
	until := now().Add(time.Hour)
	up, err := s.UpdateWebhookEndpoint(ctx, env.ID, e.ID, func(w *roster.WebhookEndpoint) error {
		w.URL, w.EventTypes, w.Enabled, w.DisabledReason = "https://example.org/x", nil, false, roster.WebhookDisabledOperator
		w.PreviousSecretSealed, w.SecretSealed, w.PreviousSecretUntil = w.SecretSealed, "sealed-2", until
		return nil
	})
	if err != nil || up.URL != "https://example.org/x" || up.Enabled {
		t.Fatalf("update = %+v, %v", up, err)
	}
	if got, _ := s.GetWebhookEndpoint(ctx, env.ID, e.ID); got.SecretSealed != "sealed-2" || got.PreviousSecretSealed != "sealed" || !got.PreviousSecretUntil.Equal(until) {
		t.Fatalf("rotated secrets = %q, %q until %v", got.SecretSealed, got.PreviousSecretSealed, got.PreviousSecretUntil)
	}
	// Disabling ended node-a's lease: its write is fenced.
	err = s.SaveWebhookProgress(ctx, "node-a", store.WebhookProgress{EndpointID: e.ID, State: l.State, Release: true})
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("write after the endpoint was disabled: %v, want ErrLeaseLost", err)
	}
	// A lease holds the signing settings read at its claim: ending the previous secret's
	// overlap early ends it too, so the next claim signs with the new secret alone.
	if _, err := s.UpdateWebhookEndpoint(ctx, env.ID, e.ID, func(w *roster.WebhookEndpoint) error { w.Enabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	l = claimOne(t, s, "node-a", e.ID, time.Now().Add(time.Second))
	if _, err := s.UpdateWebhookEndpoint(ctx, env.ID, e.ID, func(w *roster.WebhookEndpoint) error {
		w.PreviousSecretUntil = now().Add(-time.Second)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	err = s.SaveWebhookProgress(ctx, "node-a", store.WebhookProgress{EndpointID: e.ID, State: l.State, Release: true})
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("write after the previous secret's overlap ended: %v, want ErrLeaseLost", err)
	}
	if _, err := s.UpdateWebhookEndpoint(ctx, env.ID, e.ID, func(w *roster.WebhookEndpoint) error { w.Enabled = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if list, err := s.ListWebhookEndpoints(ctx, env.ID); err != nil || len(list) != 1 || len(list[0].EventTypes) != 0 || list[0].Enabled {
		t.Fatalf("list = %+v, %v", list, err)
	}
	mustCode(t, s.DeleteWebhookEndpoint(ctx, other.ID, e.ID), roster.ENotFound)
	if err := s.DeleteWebhookEndpoint(ctx, env.ID, e.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetWebhookEndpoint(ctx, env.ID, e.ID)
	mustCode(t, err, roster.ENotFound)
}

func testWebhookCap(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	testCap(t, roster.MaxWebhooksPerEnvironment, 4, func(int) error {
		return s.CreateWebhookEndpoint(ctx, newWebhook(env.ID))
	}, func() int {
		list, err := s.ListWebhookEndpoints(ctx, env.ID)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	})
}

func testWebhookLeaseFencing(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	e := newWebhook(env.ID)
	if err := s.CreateWebhookEndpoint(ctx, e); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	a := claimOne(t, s, "node-a", e.ID, t0)
	// Held: nobody else gets it before the lease ends.
	if leases, err := s.ClaimWebhookEndpoints(ctx, "node-b", t0.Add(30*time.Second), time.Minute, 100); err != nil || len(leases) != 0 {
		t.Fatalf("claim of a held endpoint = %d leases, %v", len(leases), err)
	}
	// Expired: node-b takes it over, and node-a's late write changes nothing.
	b := claimOne(t, s, "node-b", e.ID, t0.Add(2*time.Minute))
	late := a.State
	late.Cursor = store.EventCursor{Tx: 99, Seq: 99}
	err := s.SaveWebhookProgress(ctx, "node-a", store.WebhookProgress{EndpointID: e.ID, State: late, Release: true,
		Deliveries: []roster.WebhookDelivery{{EventID: "evt_x", EventType: "user.created", Attempt: 1, Success: true, Time: now()}}})
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("fenced write = %v, want ErrLeaseLost", err)
	}
	if log, _ := s.ListWebhookDeliveries(ctx, env.ID, e.ID, store.WebhookDeliveryQuery{Limit: 10}); len(log) != 0 {
		t.Fatalf("a fenced write logged %d deliveries", len(log))
	}
	// node-b backs off: the endpoint is not due before its next attempt.
	since := now()
	st := store.WebhookState{Cursor: b.State.Cursor, NextAttempt: t0.Add(time.Hour), Attempts: 3, FailingSince: &since}
	if err := s.SaveWebhookProgress(ctx, "node-b", store.WebhookProgress{EndpointID: e.ID, State: st, Release: true}); err != nil {
		t.Fatal(err)
	}
	if leases, _ := s.ClaimWebhookEndpoints(ctx, "node-c", t0.Add(59*time.Minute), time.Minute, 100); len(leases) != 0 {
		t.Fatal("claimed an endpoint before its next attempt")
	}
	c := claimOne(t, s, "node-c", e.ID, t0.Add(61*time.Minute))
	if c.State.Attempts != 3 || c.State.FailingSince == nil || !c.State.FailingSince.Equal(since) {
		t.Fatalf("state after claim = %+v", c.State)
	}
	// Disable after failing: not claimed again until enabled, then due at once and clean.
	if err := s.SaveWebhookProgress(ctx, "node-c", store.WebhookProgress{EndpointID: e.ID, State: c.State, Disable: true}); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetWebhookEndpoint(ctx, env.ID, e.ID)
	if got.Enabled || got.DisabledReason != roster.WebhookDisabledFailing {
		t.Fatalf("after disable: %+v", got)
	}
	if leases, _ := s.ClaimWebhookEndpoints(ctx, "node-c", t0.Add(3*time.Hour), time.Minute, 100); len(leases) != 0 {
		t.Fatal("claimed a disabled endpoint")
	}
	if _, err := s.UpdateWebhookEndpoint(ctx, env.ID, e.ID, func(w *roster.WebhookEndpoint) error {
		w.Enabled, w.DisabledReason, w.UpdateTime = true, "", now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	d := claimOne(t, s, "node-d", e.ID, time.Now().Add(time.Second))
	if d.State.Attempts != 0 || d.State.FailingSince != nil || d.State.Cursor != c.State.Cursor {
		t.Fatalf("state after enable = %+v, want the cursor kept and no failures", d.State)
	}
}

func testWebhookDeliveryLog(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, other := newEnv(t, s, "default"), newEnv(t, s, "other")
	e := newWebhook(env.ID)
	if err := s.CreateWebhookEndpoint(ctx, e); err != nil {
		t.Fatal(err)
	}
	owner := "node-a"
	l := claimOne(t, s, owner, e.ID, time.Now())
	total := roster.WebhookDeliveryLogKeep + 50
	for done := 0; done < total; done += 300 {
		var batch []roster.WebhookDelivery
		for i := done; i < min(done+300, total); i++ {
			batch = append(batch, roster.WebhookDelivery{EventID: fmt.Sprintf("evt_%d", i), EventType: "user.created", Attempt: 1,
				Status: 200, Success: true, Latency: 1500 * time.Microsecond, Time: now()})
		}
		l.State.Cursor.Seq = int64(done + len(batch))
		if err := s.SaveWebhookProgress(ctx, owner, store.WebhookProgress{EndpointID: e.ID, Deliveries: batch, State: l.State,
			ExtendUntil: time.Now().Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	var all []roster.WebhookDelivery
	q := store.WebhookDeliveryQuery{Limit: store.MaxWebhookDeliveryPage}
	for {
		page, err := s.ListWebhookDeliveries(ctx, env.ID, e.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < q.Limit {
			break
		}
		q.Before = page[len(page)-1].Seq
	}
	if len(all) != roster.WebhookDeliveryLogKeep {
		t.Fatalf("log holds %d, want the latest %d", len(all), roster.WebhookDeliveryLogKeep)
	}
	if all[0].EventID != fmt.Sprintf("evt_%d", total-1) || all[len(all)-1].EventID != "evt_50" || all[0].Latency != 1500*time.Microsecond || all[0].Status != 200 || !all[0].Success {
		t.Fatalf("log newest %+v oldest %+v", all[0], all[len(all)-1])
	}
	_, err := s.ListWebhookDeliveries(ctx, other.ID, e.ID, store.WebhookDeliveryQuery{Limit: 10})
	mustCode(t, err, roster.ENotFound)
	_, err = s.ListWebhookDeliveries(ctx, env.ID, e.ID, store.WebhookDeliveryQuery{Limit: store.MaxWebhookDeliveryPage + 1})
	mustCode(t, err, roster.EInvalid)
}

func testWebhookRedelivery(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, other := newEnv(t, s, "default"), newEnv(t, s, "other")
	org, otherOrg := newOrg(env.ID, "acme", ""), newOrg(other.ID, "theirs", "")
	for _, o := range []roster.Organization{org, otherOrg} {
		if err := s.CreateOrganization(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	settle(t, s)
	ev := allEvents(t, s, env.ID, store.EventQuery{})[0]
	otherEv := allEvents(t, s, other.ID, store.EventQuery{})[0]
	e := newWebhook(env.ID)
	if err := s.CreateWebhookEndpoint(ctx, e); err != nil {
		t.Fatal(err)
	}
	// Back off far into the future; a redelivery makes the endpoint due now.
	l := claimOne(t, s, "node-a", e.ID, time.Now())
	l.State.NextAttempt = time.Now().Add(24 * time.Hour)
	if err := s.SaveWebhookProgress(ctx, "node-a", store.WebhookProgress{EndpointID: e.ID, State: l.State, Release: true}); err != nil {
		t.Fatal(err)
	}
	mustCode(t, s.QueueWebhookRedelivery(ctx, env.ID, e.ID, otherEv.ID, time.Now()), roster.ENotFound)
	mustCode(t, s.QueueWebhookRedelivery(ctx, other.ID, e.ID, otherEv.ID, time.Now()), roster.ENotFound)
	if err := s.QueueWebhookRedelivery(ctx, env.ID, e.ID, ev.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	l = claimOne(t, s, "node-a", e.ID, time.Now().Add(time.Second))
	if len(l.Redeliveries) != 1 || l.Redeliveries[0].Event.ID != ev.ID || string(l.Redeliveries[0].Event.Body) != string(ev.Body) {
		t.Fatalf("redeliveries = %+v", l.Redeliveries)
	}
	err := s.SaveWebhookProgress(ctx, "node-a", store.WebhookProgress{EndpointID: e.ID, State: l.State, Release: true,
		Redelivered: []int64{l.Redeliveries[0].Seq},
		Deliveries:  []roster.WebhookDelivery{{EventID: ev.ID, EventType: ev.Type, Attempt: 1, Manual: true, Status: 204, Success: true, Time: now()}}})
	if err != nil {
		t.Fatal(err)
	}
	l = claimOne(t, s, "node-a", e.ID, time.Now().Add(time.Second))
	if len(l.Redeliveries) != 0 {
		t.Fatalf("done redelivery still queued: %+v", l.Redeliveries)
	}
	log, _ := s.ListWebhookDeliveries(ctx, env.ID, e.ID, store.WebhookDeliveryQuery{Limit: 10})
	if len(log) != 1 || !log[0].Manual || log[0].Status != 204 {
		t.Fatalf("log = %+v", log)
	}
}

// testWebhookClaimDisjoint: nodes claiming at once never share an endpoint.
func testWebhookClaimDisjoint(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	const n = 12
	for range n {
		if err := s.CreateWebhookEndpoint(ctx, newWebhook(env.ID)); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Now().Add(time.Second)
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for node := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprint("node-", node)
			leases, err := s.ClaimWebhookEndpoints(ctx, owner, at, time.Minute, 5)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, l := range leases {
				if prev, ok := seen[l.Endpoint.ID]; ok {
					t.Errorf("endpoint %s claimed by %s and %s", l.Endpoint.ID, prev, owner)
				}
				seen[l.Endpoint.ID] = owner
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d of %d endpoints claimed by 4 nodes taking 5 each", len(seen), n)
	}
}
