package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// TestFeedNeverSkipsALaterCommit: transactions commit out of seq order. A reader that has
// read past an event's position must never later find an event before it, so the feed
// holds back events until every older transaction has ended (Dialect.EventHorizon).
func TestFeedNeverSkipsALaterCommit(t *testing.T) {
	ctx := context.Background()
	s, url := openStore(t, "")
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

// TestFailedCommitRollsBack: a write's events INSERT goes to PostgreSQL with its COMMIT, in
// one batch. When the INSERT fails the write is not committed (its change is not there, and
// no event of it), the error reaches the caller, and the connection goes back to the pool
// outside any transaction: every later write on the pool commits.
func TestFailedCommitRollsBack(t *testing.T) {
	ctx := context.Background()
	open, db := migrationDatabase(t)
	s := open()
	defer s.Close()
	// A trigger that refuses every events row while refuse_events has a row.
	for _, q := range []string{
		`CREATE TABLE refuse_events (on_ boolean)`,
		`CREATE FUNCTION refuse_event() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF EXISTS (SELECT 1 FROM refuse_events) THEN RAISE EXCEPTION 'events refused by the test'; END IF; RETURN NEW; END $$`,
		`CREATE TRIGGER refuse_event BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_event()`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	ids := roster.NewIDGenerator()
	now := time.Now().UTC().Truncate(time.Microsecond)
	env := newEnvironment(t, s, ids, now)
	var kept []string
	for i := range 40 {
		refused := i%2 == 0
		if _, err := db.Exec(map[bool]string{true: `INSERT INTO refuse_events VALUES (true)`, false: `DELETE FROM refuse_events`}[refused]); err != nil {
			t.Fatal(err)
		}
		o := roster.NewOrganization{DisplayName: fmt.Sprintf("Org %d", i)}.Build(ids.New(roster.PrefixOrganization), env.ID, now)
		err := s.CreateOrganization(ctx, o)
		if refused {
			if err == nil || !strings.Contains(err.Error(), "events refused by the test") {
				t.Fatalf("write %d with its events refused: %v, want the trigger's error", i, err)
			}
		} else if err != nil {
			t.Fatalf("write %d after a refused one: %v", i, err)
		} else {
			kept = append(kept, o.ID)
		}
		_, err = s.GetOrganization(ctx, env.ID, roster.OrganizationRef{ID: o.ID})
		if refused != (roster.ErrorCode(err) == roster.ENotFound) {
			t.Fatalf("write %d (refused: %v) read back: %v", i, refused, err)
		}
	}
	// The feed shows an event once every older transaction of the server has ended
	// (EventHorizon): other packages' tests, run at once, may hold it back for a moment.
	var created []string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		evs, err := s.ListEvents(ctx, env.ID, store.EventQuery{Limit: store.MaxEventPage})
		if err != nil {
			t.Fatal(err)
		}
		created = created[:0]
		for _, e := range evs {
			if e.Type == "organization.created" {
				created = append(created, e.OrganizationID)
			}
		}
		if len(created) >= len(kept) || time.Now().After(deadline) {
			break
		}
	}
	if fmt.Sprint(created) != fmt.Sprint(kept) {
		t.Fatalf("organization.created events for %v, want the committed writes' %v", created, kept)
	}
	var open_ int
	if err := db.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND state LIKE 'idle in transaction%' AND query ILIKE '%events%'`).Scan(&open_); err != nil {
		t.Fatal(err)
	}
	if open_ != 0 {
		t.Fatalf("%d connections idle in a transaction after refused commits", open_)
	}
}
