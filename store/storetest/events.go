package storetest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/sqlstore"
)

// eventTests check the change feed (docs/events.md): every write records its events in its
// own transaction, and the feed reads them in order, filtered and paged.
var eventTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"EventsOrganizations", testEventsOrganizations},
	{"EventsFeedPaging", testEventsFeedPaging},
	{"EventsPrune", testEventsPrune},
}

// envelope is an event's body as receivers parse it.
type envelope struct {
	SpecVersion    string          `json:"spec_version"`
	ID             string          `json:"id"`
	Type           string          `json:"type"`
	Object         string          `json:"object"`
	OccurredAt     string          `json:"occurred_at"`
	EnvironmentID  string          `json:"environment_id"`
	OrganizationID string          `json:"organization_id"`
	DisplayName    string          `json:"display_name"`
	Actor          roster.Actor    `json:"actor"`
	ChangedFields  []string        `json:"changed_fields"`
	Data           json.RawMessage `json:"data"`
}

// eventsOrg makes an environment with one organization, Acme, created with ctx, and returns
// them and the feed's position after its organization.created.
func eventsOrg(ctx context.Context, t *testing.T, s store.Store) (roster.Environment, roster.Organization, store.EventCursor) {
	t.Helper()
	env := newEnv(t, s, "events")
	o := newOrg(env.ID, "Acme", "")
	if err := s.CreateOrganization(ctx, o); err != nil {
		t.Fatal(err)
	}
	var c store.EventCursor
	wantEvents(t, s, env.ID, &c, roster.EventOrganizationCreated)
	return env, o, c
}

// allEvents reads the whole feed of an environment, one page of 1,000 at a time.
func allEvents(t *testing.T, s store.Store, envID string, q store.EventQuery) []store.StoredEvent {
	t.Helper()
	var out []store.StoredEvent
	q.Limit = store.MaxEventPage
	for {
		page, err := s.ListEvents(context.Background(), envID, q)
		if err != nil {
			t.Fatalf("list events: %v", err)
		}
		out = append(out, page...)
		if len(page) < q.Limit {
			return out
		}
		q.After = page[len(page)-1].Cursor
	}
}

// eventsAfter returns the events of the environment after c, with their envelopes, and the
// new position.
func eventsAfter(t *testing.T, s store.Store, envID string, c store.EventCursor) ([]envelope, store.EventCursor) {
	t.Helper()
	evs := allEvents(t, s, envID, store.EventQuery{After: c})
	out := make([]envelope, len(evs))
	for i, e := range evs {
		if err := json.Unmarshal(e.Body, &out[i]); err != nil {
			t.Fatalf("event %s: %v: %s", e.ID, err, e.Body)
		}
		if out[i].ID != e.ID || out[i].Type != e.Type || out[i].EnvironmentID != envID || out[i].OrganizationID != e.OrganizationID {
			t.Fatalf("stored event %+v differs from its envelope %s", e, e.Body)
		}
		c = e.Cursor
	}
	return out, c
}

// eventTypes lists the types of events.
func eventTypes(evs []envelope) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// Settle returns once every write that committed before it is in the feed (see settle): a
// test that takes the feed's head, or reads it right after a write, calls it first.
func Settle(t *testing.T, s store.Store) { t.Helper(); settle(t, s) }

// settle returns once every write that committed before it is in the feed. On PostgreSQL the
// feed shows a transaction's events only when every older transaction has ended (any of the
// server's, such as a parallel test's): settle commits an event of its own in a fresh
// environment and waits for it, since a write committed earlier has an older transaction.
func settle(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	env := newEnv(t, s, ids.New("settle_"))
	if err := s.CreateOrganization(ctx, newOrg(env.ID, "sentinel", "")); err != nil {
		t.Fatalf("settle: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		page, err := s.ListEvents(ctx, env.ID, store.EventQuery{Limit: 1})
		if err != nil {
			t.Fatalf("settle: %v", err)
		}
		if len(page) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("settle: the feed did not show a committed event within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wantEvents fails unless the events after *c are of exactly these types, in order, and moves
// *c past them.
func wantEvents(t *testing.T, s store.Store, envID string, c *store.EventCursor, types ...string) []envelope {
	t.Helper()
	settle(t, s)
	evs, next := eventsAfter(t, s, envID, *c)
	if got := eventTypes(evs); !slices.Equal(got, types) {
		t.Fatalf("events: got %q, want %q", got, types)
	}
	*c = next
	return evs
}

func testEventsOrganizations(t *testing.T, s store.Store) {
	ctx := roster.WithActor(context.Background(), roster.Actor{Type: roster.ActorOperator, ID: "op_1"})
	env := newEnv(t, s, "events")
	var c store.EventCursor

	o := newOrg(env.ID, "Acme", "ext-acme")
	if err := s.CreateOrganization(ctx, o); err != nil {
		t.Fatal(err)
	}
	evs := wantEvents(t, s, env.ID, &c, roster.EventOrganizationCreated)
	e := evs[0]
	if e.SpecVersion != "1" || !strings.HasPrefix(e.ID, roster.PrefixEvent) || e.Object != roster.ObjectOrganization ||
		e.OrganizationID != o.ID || e.DisplayName != "Organization Created" || e.Actor != (roster.Actor{Type: roster.ActorOperator, ID: "op_1"}) ||
		e.ChangedFields == nil || len(e.ChangedFields) != 0 || len(e.Data) == 0 {
		t.Fatalf("created event: %+v", e)
	}
	if !strings.Contains(string(e.Data), o.ID) || !strings.Contains(string(e.Data), "Acme") {
		t.Fatalf("created event's data does not show the organization: %s", e.Data)
	}

	// A create that breaks a uniqueness rule rolls back: no event.
	dup := newOrg(env.ID, "Other", "ext-acme")
	mustCode(t, s.CreateOrganization(ctx, dup), roster.EConflict)
	wantEvents(t, s, env.ID, &c)

	// An update records the fields it changed; one that changes nothing records nothing;
	// one that fails records nothing.
	if _, err := s.UpdateOrganization(context.Background(), env.ID, roster.OrganizationRef{ID: o.ID}, func(o *roster.Organization) error {
		o.DisplayName = "Acme Inc"
		o.Metadata = map[string]string{"plan": "platinum"}
		o.UpdateTime = now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventOrganizationUpdated)
	if !slices.Equal(evs[0].ChangedFields, []string{"display_name", "metadata"}) || evs[0].Actor.Type != roster.ActorSystem {
		t.Fatalf("updated event: %+v", evs[0])
	}
	if _, err := s.UpdateOrganization(ctx, env.ID, roster.OrganizationRef{ID: o.ID}, func(o *roster.Organization) error {
		o.UpdateTime = now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, s, env.ID, &c)
	if _, err := s.UpdateOrganization(ctx, env.ID, roster.OrganizationRef{ID: o.ID}, func(o *roster.Organization) error {
		o.DisplayName = "never"
		return &roster.Error{Code: roster.EInvalid, Message: "no"}
	}); err == nil {
		t.Fatal("update: want the update's error")
	}
	wantEvents(t, s, env.ID, &c)

	if err := s.DeleteOrganization(ctx, env.ID, roster.OrganizationRef{ID: o.ID}); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventOrganizationDeleted)
	if evs[0].OrganizationID != o.ID || !strings.Contains(string(evs[0].Data), "Acme Inc") {
		t.Fatalf("deleted event: %+v", evs[0])
	}
	if head, err := s.EventHead(ctx, env.ID); err != nil || head != c {
		t.Fatalf("head %+v, %v; want the last event's position %+v", head, err, c)
	}
}

func testEventsFeedPaging(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, other := newEnv(t, s, "feed"), newEnv(t, s, "other")
	var orgs []roster.Organization
	for i := range 5 {
		o := newOrg(env.ID, "Org", "")
		if err := s.CreateOrganization(ctx, o); err != nil {
			t.Fatal(err)
		}
		orgs = append(orgs, o)
		if i == 2 {
			if err := s.CreateOrganization(ctx, newOrg(other.ID, "Elsewhere", "")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.UpdateOrganization(ctx, env.ID, roster.OrganizationRef{ID: orgs[1].ID}, func(o *roster.Organization) error {
		o.DisplayName = "Renamed"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	all := allEvents(t, s, env.ID, store.EventQuery{})
	if len(all) != 6 {
		t.Fatalf("want 6 events of the environment, got %d", len(all))
	}
	for i, o := range orgs {
		if all[i].OrganizationID != o.ID || all[i].Type != roster.EventOrganizationCreated {
			t.Fatalf("event %d: %+v, want the creation of %s", i, all[i], o.ID)
		}
	}
	// Pages of one, each after the last one's position, read the same events.
	var c store.EventCursor
	for i := range all {
		page, err := s.ListEvents(ctx, env.ID, store.EventQuery{After: c, Limit: 1})
		if err != nil || len(page) != 1 || page[0].ID != all[i].ID {
			t.Fatalf("page %d: %+v, %v; want %s", i, page, err, all[i].ID)
		}
		c = page[0].Cursor
	}
	if page, err := s.ListEvents(ctx, env.ID, store.EventQuery{After: c, Limit: 10}); err != nil || len(page) != 0 {
		t.Fatalf("after the last: %+v, %v", page, err)
	}
	// Filters: one organization; types and prefixes.
	if got := allEvents(t, s, env.ID, store.EventQuery{OrganizationID: orgs[1].ID}); len(got) != 2 || got[1].Type != roster.EventOrganizationUpdated {
		t.Fatalf("one organization's events: %+v", got)
	}
	if got := allEvents(t, s, env.ID, store.EventQuery{Types: []string{roster.EventOrganizationUpdated}}); len(got) != 1 {
		t.Fatalf("updated events: %+v", got)
	}
	if got := allEvents(t, s, env.ID, store.EventQuery{Types: []string{"organization.*"}}); len(got) != 6 {
		t.Fatalf("organization.* events: %d", len(got))
	}
	if got := allEvents(t, s, env.ID, store.EventQuery{Types: []string{"user.*", "organization_*"}}); len(got) != 0 {
		t.Fatalf("user.* events: %+v", got)
	}
	if got := allEvents(t, s, other.ID, store.EventQuery{}); len(got) != 1 || got[0].EnvironmentID != other.ID {
		t.Fatalf("the other environment's events: %+v", got)
	}
	for _, limit := range []int{0, -1, store.MaxEventPage + 1} {
		_, err := s.ListEvents(ctx, env.ID, store.EventQuery{Limit: limit})
		mustCode(t, err, roster.EInvalid)
	}

	// A scan bound: the n-th event after a position, or the last one when fewer follow
	// (the environment's own: the other environment's event in between is not counted).
	for _, c := range []struct {
		after store.EventCursor
		n     int
		want  store.EventCursor
		full  bool
	}{
		{store.EventCursor{}, 1, all[0].Cursor, true},
		{store.EventCursor{}, 4, all[3].Cursor, true},
		{all[1].Cursor, 3, all[4].Cursor, true},
		{all[1].Cursor, 4, all[5].Cursor, true},
		{all[1].Cursor, 5, all[5].Cursor, false},
		{all[5].Cursor, 3, all[5].Cursor, false},
	} {
		got, full, err := s.EventScanBound(ctx, env.ID, c.after, c.n)
		if err != nil || got != c.want || full != c.full {
			t.Fatalf("EventScanBound(%+v, %d) = %+v, %v, %v; want %+v, %v", c.after, c.n, got, full, err, c.want, c.full)
		}
	}
	// Through ends a read at a position, with or without filters.
	through := all[3].Cursor
	if got := allEvents(t, s, env.ID, store.EventQuery{Through: through}); len(got) != 4 || got[3].ID != all[3].ID {
		t.Fatalf("events through the fourth: %+v", got)
	}
	if got := allEvents(t, s, env.ID, store.EventQuery{Through: through, OrganizationID: orgs[1].ID}); len(got) != 1 {
		t.Fatalf("one organization's events through the fourth: %+v (its update is the sixth)", got)
	}
	if got := allEvents(t, s, env.ID, store.EventQuery{After: all[0].Cursor, Through: through, Types: []string{"organization.*"}}); len(got) != 3 {
		t.Fatalf("organization.* events after the first, through the fourth: %d", len(got))
	}
}

// PruneEvents deletes the head of the feed while it is older than the cutoff, in bounded
// batches, across environments; what stays keeps its position.
func testEventsPrune(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, other := newEnv(t, s, "prune"), newEnv(t, s, "prune-other")
	t0 := time.Now().UTC().Add(-90 * 24 * time.Hour).Truncate(time.Microsecond)
	create := func(envID string, at time.Time) roster.Organization {
		o := roster.NewOrganization{DisplayName: "Org"}.Build(ids.New(roster.PrefixOrganization), envID, at)
		if err := s.CreateOrganization(ctx, o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	create(env.ID, t0)
	create(other.ID, t0.Add(time.Hour))
	create(env.ID, t0.Add(2*time.Hour))
	create(env.ID, t0.Add(3*time.Hour))
	recent := create(env.ID, time.Now().UTC())
	settle(t, s)
	before := allEvents(t, s, env.ID, store.EventQuery{})
	if len(before) != 4 {
		t.Fatalf("%d events, want 4", len(before))
	}

	if n, err := s.PruneEvents(ctx, t0.Add(150*time.Minute), 0); err != nil || n != 0 {
		t.Fatalf("limit 0: %d, %v", n, err)
	}
	if n, err := s.PruneEvents(ctx, t0.Add(150*time.Minute), 2); err != nil || n != 2 {
		t.Fatalf("prune a batch of 2: %d, %v", n, err)
	}
	if evs := allEvents(t, s, other.ID, store.EventQuery{}); len(evs) != 0 {
		t.Fatalf("the other environment's old event stayed: %+v", evs)
	}
	if n, err := s.PruneEvents(ctx, t0.Add(150*time.Minute), 10); err != nil || n != 1 {
		t.Fatalf("prune the rest before the cutoff: %d, %v", n, err)
	}
	if n, err := s.PruneEvents(ctx, t0.Add(150*time.Minute), 10); err != nil || n != 0 {
		t.Fatalf("nothing left before the cutoff: %d, %v", n, err)
	}
	after := allEvents(t, s, env.ID, store.EventQuery{})
	if len(after) != 2 || after[0].Cursor != before[2].Cursor || after[1].Cursor != before[3].Cursor {
		t.Fatalf("left %+v, want the last two of %+v at their positions", after, before)
	}
	// A reader at a pruned position reads on from there.
	if evs := allEvents(t, s, env.ID, store.EventQuery{After: before[0].Cursor}); len(evs) != 2 || evs[1].ID != after[1].ID {
		t.Fatalf("after a pruned position: %+v", evs)
	}

	// An event at the head that is not old enough stops the pruning of the older ones
	// behind it (written later with an older time): they go once it does.
	late := create(env.ID, t0)
	settle(t, s)
	if n, err := s.PruneEvents(ctx, t0.Add(4*time.Hour), 100); err != nil || n != 1 {
		t.Fatalf("prune to the first recent event: %d, %v", n, err)
	}
	if evs := allEvents(t, s, env.ID, store.EventQuery{}); len(evs) != 2 || !strings.Contains(string(evs[0].Body), recent.ID) ||
		!strings.Contains(string(evs[1].Body), late.ID) {
		t.Fatalf("left %+v", evs)
	}
}

// taggedCodec stores data as "Z" and its JSON, and renders it without the Z: a stored form
// that differs from what reads return.
type taggedCodec struct{}

func (taggedCodec) AppendData(dst []byte, data any, _ *roster.EventMemo) ([]byte, error) {
	b, err := json.Marshal(data)
	return append(append(dst, 'Z'), b...), err
}

func (taggedCodec) RenderData(dst, stored []byte) ([]byte, error) {
	if len(stored) == 0 || stored[0] != 'Z' {
		return nil, fmt.Errorf("not a tagged form: %q", stored)
	}
	return append(dst, stored[1:]...), nil
}

// StoredEventForms: an event is stored in its codec's form (roster.StoredEnvelope), and reads
// of the feed and of a queued redelivery render it; an event stored as its envelope's JSON, as
// Roster kept events before the stored form, reads as it is. open opens the store; db is
// the same database.
func StoredEventForms(t *testing.T, open func() *sqlstore.Store, db *sql.DB) {
	ctx := context.Background()
	s := open()
	defer s.Close()
	s.SetEventDataCodec(taggedCodec{})
	env, o, c := eventsOrg(ctx, t, s)
	u := roster.NewUser{Email: "ada@example.com"}.Build(ids.New(roster.PrefixUser), env.ID, now())
	if _, err := s.CreateUser(ctx, u, nil, nil); err != nil {
		t.Fatal(err)
	}
	evs := wantEvents(t, s, env.ID, &c, roster.EventUserCreated)
	var data map[string]any
	if err := json.Unmarshal(evs[0].Data, &data); err != nil || data["ID"] != u.ID {
		t.Fatalf("rendered data %s: %v", evs[0].Data, err)
	}
	var stored []byte
	if err := db.QueryRowContext(ctx, `SELECT body FROM events WHERE id = $1`, evs[0].ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(stored, []byte(`Z{"ID":"`+u.ID)) || json.Valid(stored) {
		t.Fatalf("stored body %q: want a block with the codec's form of the data", stored)
	}
	// An earlier Roster's row: the envelope as JSON.
	old := `{"spec_version":"1","id":"` + evs[0].ID + `","type":"user.created","data":{"id":"` + u.ID + `"}}`
	if _, err := db.ExecContext(ctx, `UPDATE events SET body = $1 WHERE id = $2`, []byte(old), evs[0].ID); err != nil {
		t.Fatal(err)
	}
	all := allEvents(t, s, env.ID, store.EventQuery{})
	if got := all[len(all)-1]; got.ID != evs[0].ID || string(got.Body) != old {
		t.Fatalf("an event stored as JSON reads as %s", got.Body)
	}
	// A redelivery reads the event through the same rendering.
	ep := newWebhook(env.ID)
	if err := s.CreateWebhookEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	if err := s.QueueWebhookRedelivery(ctx, env.ID, ep.ID, all[0].ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	l := claimOne(t, s, "node-a", ep.ID, time.Now())
	if len(l.Redeliveries) != 1 || string(l.Redeliveries[0].Event.Body) != string(all[0].Body) ||
		!json.Valid(all[0].Body) || !strings.Contains(string(all[0].Body), `"data":{"ID":"`+o.ID) {
		t.Fatalf("redelivery of %s read %+v", all[0].Body, l.Redeliveries)
	}
	// A write whose events repeat themselves (a create with a membership shows its user twice)
	// is stored compressed (sqlstore's eventBlockS2), and reads back the same.
	u2 := roster.NewUser{Email: "grace@example.com"}.Build(ids.New(roster.PrefixUser), env.ID, now())
	m := &roster.Membership{OrganizationID: o.ID, Status: roster.MembershipActive, CreateTime: now(), UpdateTime: now(), ProvisioningMethod: roster.ProvisionedDirect}
	if _, err := s.CreateUser(ctx, u2, m, nil); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventUserCreated, roster.EventMembershipCreated)
	if err := db.QueryRowContext(ctx, `SELECT body FROM events ORDER BY seq DESC LIMIT 1`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if len(stored) == 0 || stored[0] != 0x03 || bytes.Count(stored, []byte(u2.Email)) > 1 {
		t.Fatalf("a create with a membership stored as %q: want a compressed block", stored)
	}
	for _, e := range evs {
		if !strings.Contains(string(e.Data), u2.ID) {
			t.Fatalf("event %s of the compressed block reads %s", e.Type, e.Data)
		}
	}
}
