package dashboard_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// A write made from the dashboard names its operator as the event's actor.
func TestDashboardWriteEventActor(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		c := newConsole(t, st)
		b := c.browser(t)
		b.signIn()
		op, err := c.ops.Get(context.Background(), adaEmail)
		if err != nil {
			t.Fatal(err)
		}
		tok := b.csrf("/dashboard/organizations")
		res := b.post("/dashboard/organizations", url.Values{"csrf": {tok}, "display_name": {"Acme"}})
		wantStatus(t, "create", res, 303)
		var evs []store.StoredEvent
		for deadline := time.Now().Add(10 * time.Second); len(evs) == 0; time.Sleep(10 * time.Millisecond) {
			if evs, err = st.ListEvents(context.Background(), c.env.ID, store.EventQuery{Types: []string{roster.EventOrganizationCreated}, Limit: 10}); err != nil {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				t.Fatal("no organization.created event")
			}
		}
		var e struct{ Actor roster.Actor }
		if err := json.Unmarshal(evs[0].Body, &e); err != nil {
			t.Fatal(err)
		}
		if want := (roster.Actor{Type: roster.ActorOperator, ID: op.ID}); e.Actor != want {
			t.Fatalf("actor %+v, want %+v", e.Actor, want)
		}
	})
}
