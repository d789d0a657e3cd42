package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"

	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/postgres"
	"github.com/rosterhq/roster/store/postgres/pgtest"
	"github.com/rosterhq/roster/store/sqlstore"
	"github.com/rosterhq/roster/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := postgres.Open(context.Background(), pgtest.NewSchema(t))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// Nodes that start together on an empty database apply each migration once.
func TestConcurrentMigrate(t *testing.T) {
	url := pgtest.NewSchema(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(context.Background(), url)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// A write that cannot get a row lock within lock_timeout fails with UNAVAILABLE (retryable),
// instead of waiting until the request times out.
func TestLockTimeout(t *testing.T) {
	url := pgtest.NewSchema(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, url+"&lock_timeout=200ms")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	env := roster.Environment{ID: roster.NewIDGenerator().New(roster.PrefixEnvironment), Name: "default", CursorKey: make([]byte, 32), CreateTime: time.Now()}
	if err := s.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	o := roster.NewOrganization{DisplayName: "Acme"}.Build(roster.NewIDGenerator().New(roster.PrefixOrganization), env.ID, time.Now())
	if err := s.CreateOrganization(ctx, o); err != nil {
		t.Fatal(err)
	}
	// Another session holds the organization's row.
	holdInOtherSession(t, url, `SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE`, o.ID)
	start := time.Now()
	_, err = s.UpdateOrganization(ctx, env.ID, roster.OrganizationRef{ID: o.ID}, func(o *roster.Organization) error {
		o.DisplayName = "Renamed"
		return nil
	})
	if roster.ErrorCode(err) != roster.EUnavailable {
		t.Fatalf("update of a locked row: %v (%s), want UNAVAILABLE", err, roster.ErrorCode(err))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("waited %s for the lock", d)
	}
}

// A write that PostgreSQL aborts to break a deadlock is run again, and succeeds: here another
// session holds a member's row and then asks for the organization's row while
// DeleteOrganization holds the organization and waits for that member.
func TestDeadlockVictimRetried(t *testing.T) {
	url := pgtest.NewSchema(t)
	ctx := context.Background()
	// The store's sessions look for deadlocks soon; the other session practically never, so
	// that the store's transaction is the one PostgreSQL aborts.
	s, err := postgres.Open(ctx, url+"&deadlock_timeout=300ms")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	gen := roster.NewIDGenerator()
	env := roster.Environment{ID: gen.New(roster.PrefixEnvironment), Name: "default", CursorKey: make([]byte, 32), CreateTime: time.Now()}
	if err := s.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	o := roster.NewOrganization{DisplayName: "Acme"}.Build(gen.New(roster.PrefixOrganization), env.ID, time.Now())
	if err := s.CreateOrganization(ctx, o); err != nil {
		t.Fatal(err)
	}
	u := roster.NewUser{Email: "only@acme.com"}.Build(gen.New(roster.PrefixUser), env.ID, time.Now())
	m := &roster.Membership{OrganizationID: o.ID, Status: roster.MembershipActive, Metadata: map[string]string{}, CreateTime: time.Now(), UpdateTime: time.Now()}
	if _, err := s.CreateUser(ctx, u, m, nil); err != nil {
		t.Fatal(err)
	}

	db, err := sql.Open("pgx", url+"&deadlock_timeout=60s")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	other, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	if _, err := other.ExecContext(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, u.ID); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.DeleteOrganization(ctx, env.ID, roster.OrganizationRef{ID: o.ID}) }()
	// Once the delete waits for the member's row, close the cycle.
	for waiting := 0; waiting == 0; {
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := other.ExecContext(ctx, `SELECT 1 FROM organizations WHERE id = $1 FOR SHARE`, o.ID); err != nil {
		t.Fatalf("the other session was the deadlock's victim: %v", err)
	}
	other.Rollback()
	if err := <-done; err != nil {
		t.Fatalf("DeleteOrganization, aborted as a deadlock victim: %v (%s), want it run again", err, roster.ErrorCode(err))
	}
	if _, err := s.GetOrganization(ctx, env.ID, roster.OrganizationRef{ID: o.ID}); roster.ErrorCode(err) != roster.ENotFound {
		t.Fatalf("organization after the delete: %v", err)
	}
	if _, err := s.GetUser(ctx, env.ID, roster.UserRef{ID: u.ID}); roster.ErrorCode(err) != roster.ENotFound {
		t.Fatalf("its only member after the delete: %v", err)
	}
}

// migrationDatabase is a schema for a migration test: open opens it as the store (running
// the migrations), db is the same schema without them, closed with the test.
func migrationDatabase(t *testing.T) (open func() *sqlstore.Store, db *sql.DB) {
	url := pgtest.NewSchema(t)
	open = func() *sqlstore.Store {
		s, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return open, db
}

// Groups of one directory that shared a name before the unique index are renamed by it
// (sqlstore migration 0013_directory_group_name).
func TestDirectoryUserUpdateMigration(t *testing.T) {
	open, db := migrationDatabase(t)
	storetest.DirectoryUserUpdateMigration(t, open, db)
}

func TestDirectoryGroupNameMigration(t *testing.T) {
	open, db := migrationDatabase(t)
	storetest.DirectoryGroupNameMigration(t, open, db)
}

// Users stored in NFD before emails were normalized are rewritten in NFC at start
// (sqlstore migration 0009_email_nfc).
func TestEmailNFCMigration(t *testing.T) {
	open, db := migrationDatabase(t)
	storetest.EmailNFCMigration(t, open, db)
}

// Events are stored in the codec's form and read rendered; an event stored as JSON by an
// earlier Roster reads as it is.
func TestStoredEventForms(t *testing.T) {
	open, db := migrationDatabase(t)
	storetest.StoredEventForms(t, open, db)
}

// Event IDs on PostgreSQL come from the blocks' rows (sqlstore.PgEventIDBase + seq << 12,
// migration 0026): two nodes writing at once never draw one ID, whatever their clocks and
// node numbers, and every ID finds its event. A block written before keeps its clock-drawn
// ID, below the new ones, and is found too.
func TestEventIDsFromRows(t *testing.T) {
	ctx := context.Background()
	open, db := migrationDatabase(t)
	a, b := open(), open() // two nodes on one database
	defer a.Close()
	defer b.Close()
	ids := roster.NewIDGenerator()
	at := time.Now().UTC().Truncate(time.Microsecond)
	env := newEnvironment(t, a, ids, at)
	var constraints int
	if err := db.QueryRow(`SELECT count(*) FROM pg_constraint WHERE conname IN ('events_ids_disjoint', 'events_id_key')`).Scan(&constraints); err != nil || constraints != 0 {
		t.Fatalf("the exclusion constraint of 0025 and the unique id: %d left (%v), want them dropped", constraints, err)
	}
	// An event of a block written before 0026: its ID from the clock.
	legacy := ids.NextBlock(1)
	legacyID := fmt.Sprintf("evt_%d", legacy)
	if _, err := db.Exec(`INSERT INTO events (id, environment_id, type, occurred_at, body, first_id, event_count)
		VALUES ($1, $2, 'organization.created', 0, $3, $4, 1)`, legacyID, env.ID, []byte(`{"id":"`+legacyID+`","type":"organization.created"}`), legacy); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		s := []*sqlstore.Store{a, b}[w%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				o := roster.NewOrganization{DisplayName: fmt.Sprintf("Org %d-%d", w, i)}.Build(ids.New(roster.PrefixOrganization), env.ID, at)
				if err := s.CreateOrganization(ctx, o); err != nil {
					errs <- err
					return
				}
				u := roster.NewUser{Email: fmt.Sprintf("u%d-%d@example.com", w, i)}.Build(ids.New(roster.PrefixUser), env.ID, at)
				m := &roster.Membership{OrganizationID: o.ID, Status: roster.MembershipActive, CreateTime: at, UpdateTime: at, ProvisioningMethod: roster.ProvisionedDirect}
				if _, err := s.CreateUser(ctx, u, m, nil); err != nil { // two events in one block
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// The feed shows an event once every transaction older than its own has ended, in the
	// whole cluster (EventHorizon): other packages' tests, run at once on this server, may
	// hold it back for a moment.
	var evs []store.StoredEvent
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var err error
		if evs, err = a.ListEvents(ctx, env.ID, store.EventQuery{Limit: store.MaxEventPage}); err != nil {
			t.Fatal(err)
		}
		if len(evs) >= 1+8*20*3 || time.Now().After(deadline) {
			break
		}
	}
	if len(evs) != 1+8*20*3 {
		t.Fatalf("%d events, want %d", len(evs), 1+8*20*3)
	}
	ep := roster.WebhookEndpoint{ID: ids.New(roster.PrefixWebhook), EnvironmentID: env.ID, URL: "https://example.com/hook",
		Enabled: true, SecretSealed: "sealed", CreateTime: at, UpdateTime: at}
	if err := a.CreateWebhookEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var largest int64
	for _, e := range evs {
		n, ok := roster.IDNumber(e.ID, roster.PrefixEvent)
		if !ok || seen[e.ID] {
			t.Fatalf("event ID %q: a number %v, seen before %v", e.ID, ok, seen[e.ID])
		}
		seen[e.ID] = true
		if e.ID != legacyID && n < sqlstore.PgEventIDBase {
			t.Fatalf("event ID %s below PgEventIDBase", e.ID)
		}
		largest = max(largest, n)
		// The ID finds its event (the redelivery reads it by ID).
		if err := b.QueueWebhookRedelivery(ctx, env.ID, ep.ID, e.ID, at); err != nil {
			t.Fatalf("event %s by its ID: %v", e.ID, err)
		}
	}
	if err := b.QueueWebhookRedelivery(ctx, env.ID, ep.ID, fmt.Sprintf("evt_%d", largest+1), at); roster.ErrorCode(err) != roster.ENotFound {
		t.Fatalf("an ID past the last event: %v, want not found", err)
	}
}

// updateBurst starts n updates of the organization at once, each on a goroutine of its own,
// and returns the channel that each one's error (nil for none) arrives on.
func updateBurst(ctx context.Context, s *sqlstore.Store, environmentID, organizationID string, n int) <-chan error {
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := s.UpdateOrganization(ctx, environmentID, roster.OrganizationRef{ID: organizationID}, func(o *roster.Organization) error { return nil })
			errs <- err
		}()
	}
	return errs
}

// TestBurstConnectionsStayOpen: connections opened for a burst of requests (here 24 writes
// waiting at once on a row another session holds) stay open for the next one, none closed
// for being one idle too many: reopening one starts a PostgreSQL backend and prepares every
// statement again, milliseconds that land in the slowest requests (under a 16-client member
// PATCH load, ~1.5 connections a second were closed and reopened with 16 idle allowed).
func TestBurstConnectionsStayOpen(t *testing.T) {
	ctx := context.Background()
	s, url := openStore(t, "")
	ids := roster.NewIDGenerator()
	env, o := newOrganization(t, s, ids, time.Now().UTC().Truncate(time.Microsecond))
	hold := holdInOtherSession(t, url, `SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE`, o.ID)
	const burst = 24
	errs := updateBurst(ctx, s, env.ID, o.ID, burst)
	for s.Stats().OpenConnections < burst {
		time.Sleep(10 * time.Millisecond)
	}
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	for range burst {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if st := s.Stats(); st.MaxIdleClosed != 0 || st.Idle < burst {
		t.Fatalf("after the burst: %d idle, %d closed for being idle too many; want all %d kept", st.Idle, st.MaxIdleClosed, burst)
	}
}

// The database URL sets the pool's size and idle time under pgxpool's names: PostgreSQL never
// sees them (it would refuse unknown parameters), a burst of writers holds no more than
// pool_max_conns connections, and bad values are refused at Open, by name.
func TestPoolSettingsFromTheURL(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewSchema(t)
	s, err := postgres.Open(ctx, url+"&pool_max_conns=3&pool_max_conn_idle_time=1m")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids := roster.NewIDGenerator()
	env, o := newOrganization(t, s, ids, time.Now().UTC().Truncate(time.Microsecond))
	hold := holdInOtherSession(t, url, `SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE`, o.ID)
	const burst = 12
	errs := updateBurst(ctx, s, env.ID, o.ID, burst)
	for s.Stats().WaitCount == 0 { // the pool is full and writers queue for it
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.Stats(); st.MaxOpenConnections != 3 || st.OpenConnections != 3 {
		t.Fatalf("pool: %d open of at most %d, want 3 of 3", st.OpenConnections, st.MaxOpenConnections)
	}
	if err := hold.Rollback(); err != nil {
		t.Fatal(err)
	}
	for range burst {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}

	for _, bad := range []string{"pool_max_conns=0", "pool_max_conns=-1", "pool_max_conns=x", "pool_max_conns=10001",
		"pool_max_conn_idle_time=5", "pool_max_conn_idle_time=-1s", "pool_max_conn_idle_time=0s"} {
		s, err := postgres.Open(ctx, url+"&"+bad)
		if err == nil {
			s.Close()
			t.Errorf("%s: opened, want an error", bad)
			continue
		}
		if name, _, _ := strings.Cut(bad, "="); !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want the error to name %s", bad, err, name)
		}
	}
}
