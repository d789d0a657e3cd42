package postgres_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/postgres"
	"github.com/rosterhq/roster/store/postgres/pgtest"
)

// TestFeedNeverSkipsALaterCommit: transactions commit out of seq order. A reader that has
// read past an event's position must never later find an event before it, so the feed
// holds back events until every older transaction has ended (Dialect.EventHorizon).
func TestFeedNeverSkipsALaterCommit(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewSchema(t)
	s, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	env := roster.Environment{ID: "env_1", Name: "feed", CursorKey: make([]byte, 32), CreateTime: time.Now().UTC()}
	if err := s.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// A slow writer: its transaction takes its ID and inserts its event first, commits last.
	slow, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Rollback()
	if _, err := slow.ExecContext(ctx, `INSERT INTO events (id, environment_id, type, occurred_at, body) VALUES ('evt_1', 'env_1', 'organization.created', 0, '\x7b7d')`); err != nil {
		t.Fatal(err)
	}
	o := roster.NewOrganization{DisplayName: "fast"}.Build("org_2", env.ID, time.Now().UTC())
	if err := s.CreateOrganization(ctx, o); err != nil {
		t.Fatal(err)
	}
	read := func() []store.StoredEvent {
		evs, err := s.ListEvents(ctx, env.ID, store.EventQuery{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	if evs := read(); len(evs) != 0 {
		t.Fatalf("while an older transaction runs, the feed showed %+v; a reader would skip that transaction's event", evs)
	}
	if err := slow.Commit(); err != nil {
		t.Fatal(err)
	}
	// Other transactions of the server (parallel tests) may still hold the horizon back for
	// a moment: wait until both events show, then check their order.
	evs := read()
	for deadline := time.Now().Add(10 * time.Second); len(evs) < 2 && time.Now().Before(deadline); evs = read() {
		time.Sleep(5 * time.Millisecond)
	}
	if len(evs) != 2 || evs[0].ID != "evt_1" || evs[1].OrganizationID != o.ID {
		t.Fatalf("after the commit: %+v; want the slow writer's event first, then the organization's", evs)
	}
	if head, err := s.EventHead(ctx, env.ID); err != nil || head != evs[1].Cursor {
		t.Fatalf("head %+v, %v; want %+v", head, err, evs[1].Cursor)
	}
}
