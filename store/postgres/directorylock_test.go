package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/postgres"
	"github.com/rosterhq/roster/store/postgres/pgtest"
)

// Recording a directory's last sync (after a SCIM write, at most once a second) must not wait
// for the SCIM writes in flight. It did: every write share-locked the directory's row, and
// PostgreSQL lets a share lock join the ones already held while an UPDATE waits, so under a
// stream of overlapping writes (an IdP's bulk push) the UPDATE starved until lock_timeout and
// the writes that queued behind it failed with it: 5-second stalls and 5xx answers. Writes
// now key-share the directory, which a no-key UPDATE does not wait for; the directory's own
// update (its row locked FOR UPDATE) still waits for them.
func TestDirectorySyncDoesNotWaitForWrites(t *testing.T) {
	ctx := context.Background()
	// A lock not given at once fails the call (UNAVAILABLE) within 200 ms.
	s, err := postgres.Open(ctx, pgtest.NewSchema(t)+"&lock_timeout=200ms")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f := newMemberFixture(t, s)
	dir := f.withDomain(t, s)
	writes := map[string]func(hold func()) error{
		"member write": func(hold func()) error {
			_, err := s.WriteDirectoryGroup(ctx, store.DirectoryGroupWrite{EnvironmentID: f.env, DirectoryID: f.dir, ID: f.group,
				Update: func(g *roster.DirectoryGroup) (store.DirectoryMemberChange, error) {
					hold()
					return store.DirectoryMemberChange{Add: []string{f.users[0]}}, nil
				}, Now: time.Now()})
			return err
		},
		"user write": func(hold func()) error {
			return f.updateUser(ctx, s, dir, 1, func(u *roster.DirectoryUser) {
				hold()
				u.DisplayName = "B"
			})
		},
	}
	at := time.Now().UTC().Truncate(time.Microsecond)
	for name, write := range writes {
		at = at.Add(time.Minute) // past the last one's granularity: recorded
		t.Run(name, func(t *testing.T) {
			finish := heldWrite(t, write)
			if err := s.RecordDirectorySync(ctx, f.dir, at); err != nil {
				t.Fatalf("RecordDirectorySync while a SCIM write holds its locks: %v (%s)", err, roster.ErrorCode(err))
			}
			d, err := s.GetDirectory(ctx, f.env, f.org, f.dir)
			if err != nil {
				t.Fatal(err)
			}
			if d.LastSyncTime == nil || !d.LastSyncTime.Equal(at) {
				t.Fatalf("last sync time %v, want %v", d.LastSyncTime, at)
			}
			// The directory's own update still waits for the write (here: gives up after 200 ms).
			disable := func(d *roster.Directory) error { d.Enabled = !d.Enabled; return nil }
			if _, err := s.UpdateDirectory(ctx, f.env, f.org, f.dir, disable); roster.ErrorCode(err) != roster.EUnavailable {
				t.Fatalf("UpdateDirectory while a SCIM write holds its locks: %v, want UNAVAILABLE (it must wait for the write)", err)
			}
			if err := finish(); err != nil {
				t.Fatalf("the write: %v", err)
			}
			if _, err := s.UpdateDirectory(ctx, f.env, f.org, f.dir, disable); err != nil {
				t.Fatalf("UpdateDirectory after the write: %v", err)
			}
		})
	}
}

// heldWrite starts write, which calls hold inside its transaction once it holds its locks,
// and returns once it does. finish lets the write go on and returns its error; the test's
// cleanup lets it go too (before the schema's cleanup, which would wait for its locks).
func heldWrite(t *testing.T, write func(hold func()) error) (finish func() error) {
	held, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	var heldOnce, releaseOnce sync.Once
	go func() {
		done <- write(func() {
			heldOnce.Do(func() { close(held) })
			<-release
		})
	}()
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	select {
	case <-held:
	case err := <-done:
		t.Fatalf("the write ended before it held its locks: %v", err)
	}
	return func() error {
		releaseOnce.Do(func() { close(release) })
		return <-done
	}
}

// A write whose first statement went with its BEGIN (queryRowScan) and failed there, on a lock
// not given in time or on a row not found, is rolled back and its connection goes back to the
// pool clean: the writes after it, on the pool's few connections, succeed.
func TestFirstStatementFailures(t *testing.T) {
	ctx := context.Background()
	s, url := openStore(t, "&lock_timeout=200ms")
	f := newMemberFixture(t, s)
	tx := holdInOtherSession(t, url, `SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE`, f.org)
	for range 3 { // lockDirectoryGroup, BEGIN's batch: the organization is held
		if err := f.patch(ctx, s, store.DirectoryMemberChange{Add: []string{f.users[0]}}); roster.ErrorCode(err) != roster.EUnavailable {
			t.Fatalf("a member write while the organization is held: %v, want UNAVAILABLE", err)
		}
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	missing := memberFixture{env: f.env, org: f.org, dir: f.dir, group: roster.NewIDGenerator().New(roster.PrefixDirectoryGroup)}
	for range 3 {
		if err := missing.patch(ctx, s, store.DirectoryMemberChange{Add: []string{f.users[0]}}); roster.ErrorCode(err) != roster.ENotFound {
			t.Fatalf("a member write of a missing group: %v, want NOT_FOUND", err)
		}
	}
	for i := range 40 { // more writes than the pool has connections
		c := store.DirectoryMemberChange{Add: []string{f.users[i%2]}}
		if i%4 >= 2 {
			c = store.DirectoryMemberChange{Remove: []string{f.users[i%2]}}
		}
		if err := f.patch(ctx, s, c); err != nil {
			t.Fatalf("write %d after the failures: %v", i, err)
		}
	}
	users, _, err := s.DirectoryGroupMemberIDs(ctx, f.env, f.dir, f.group)
	if err != nil || len(users) != 0 {
		t.Fatalf("members after adds and removes: %v, %v; want none", users, err)
	}
}

// Changes of a directory (here its update, as disabling it; its delete, secrets and role
// assignments take the same gate) are not starved by a stream of SCIM member writes of it.
// Without the directory's gate (sqlstore gate.go) an update waited 3-20 s here while thousands
// of writes went past it: PostgreSQL lets a new key-share row lock join those held while a
// FOR UPDATE waits. With it, writes that start after the update began waiting wait for it, so
// only those already running finish meanwhile (16 writers here).
func TestDirectoryChangesAreNotStarved(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t, "")
	f := newMemberFixture(t, s)
	notStarved(t, "member writes", func(w, i int) error {
		c := store.DirectoryMemberChange{Add: []string{f.users[w%2]}}
		if i%2 == 1 {
			c = store.DirectoryMemberChange{Remove: []string{f.users[w%2]}}
		}
		return f.patch(ctx, s, c)
	}, func(i int) error {
		_, err := s.UpdateDirectory(ctx, f.env, f.org, f.dir, func(d *roster.Directory) error { d.Name = fmt.Sprint("Okta ", i); return nil })
		return err
	})
}

// A SCIM write that cannot take its directory's gate in time (a change of the directory holds
// it) fails UNAVAILABLE, whether its gate went with its first query (a member write) or alone
// (a deprovision, whose first statement's failure its code would otherwise call NOT_FOUND),
// and writes nothing.
func TestGateTimeoutIsUnavailable(t *testing.T) {
	ctx := context.Background()
	s, url := openStore(t, "&lock_timeout=200ms")
	f := newMemberFixture(t, s)
	tx := holdInOtherSession(t, url, `SELECT pg_advisory_xact_lock(7426174, hashtext($1))`, f.dir)
	if err := f.patch(ctx, s, store.DirectoryMemberChange{Add: []string{f.users[0]}}); roster.ErrorCode(err) != roster.EUnavailable {
		t.Errorf("a member write while the gate is closed: %v, want UNAVAILABLE", err)
	}
	if err := s.DeprovisionDirectoryUser(ctx, f.env, f.dir, f.users[0]); roster.ErrorCode(err) != roster.EUnavailable {
		t.Errorf("a deprovision while the gate is closed: %v, want UNAVAILABLE", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	users, _, err := s.DirectoryGroupMemberIDs(ctx, f.env, f.dir, f.group)
	if err != nil || len(users) != 0 {
		t.Fatalf("members: %v, %v; want none", users, err)
	}
	if _, err := s.GetDirectoryUser(ctx, f.env, f.dir, f.users[0]); err != nil {
		t.Fatalf("the directory user after the refused deprovision: %v", err)
	}
}

// An organization's update is not starved by a stream of creates of members of it (each
// share-locks the organization): without its gate an update waited up to 22 s while 62,490
// creates went past it (sqlstore gate.go).
func TestOrganizationChangesAreNotStarved(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t, "")
	ids := roster.NewIDGenerator()
	now := time.Now().UTC().Truncate(time.Microsecond)
	env, o := newOrganization(t, s, ids, now)
	notStarved(t, "creates", func(w, i int) error {
		m := &roster.Membership{OrganizationID: o.ID, Status: roster.MembershipActive, CreateTime: now, UpdateTime: now, ProvisioningMethod: roster.ProvisionedDirect}
		u := roster.NewUser{Email: fmt.Sprintf("u%d-%d@example.com", w, i)}.Build(ids.New(roster.PrefixUser), env.ID, now)
		_, err := s.CreateUser(ctx, u, m, nil)
		return err
	}, func(i int) error {
		_, err := s.UpdateOrganization(ctx, env.ID, roster.OrganizationRef{ID: o.ID}, func(o *roster.Organization) error {
			o.DisplayName = fmt.Sprint("Acme ", i)
			return nil
		})
		return err
	})
}

// notStarved runs write in 16 goroutines (write(w, i): writer w's i-th) without pause, then
// change five times, and fails when more than 500 writes finish while one change runs: the
// writes running when it began, and those that began before it took its gate (sqlstore
// gate.go). Starved, a change saw thousands.
func notStarved(t *testing.T, writes string, write func(w, i int) error, change func(i int) error) {
	t.Helper()
	var stop atomic.Bool
	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				if err := write(w, i); err != nil {
					errs <- err
					return
				}
				done.Add(1)
			}
		})
	}
	defer func() { stop.Store(true); wg.Wait() }()
	for done.Load() < 200 { // the writers are running
		time.Sleep(5 * time.Millisecond)
	}
	for i := range 5 {
		before := done.Load()
		if err := change(i); err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
		if n := done.Load() - before; n > 500 {
			t.Errorf("change %d: %d %s went past it", i, n, writes)
		}
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
}

// holdInOtherSession runs query in a transaction of a session of its own, which holds the
// locks it takes until the test rolls it back or ends.
func holdInOtherSession(t *testing.T, url, query string, args ...any) *sql.Tx {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	if _, err := tx.Exec(query, args...); err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestOrganizationGateComesBeforeTheRowLock: a create takes its organization's gate in the
// statement that share-locks the organization's row (one statement fewer than a gate of its
// own), and PostgreSQL takes the gate before the row lock: while another transaction holds the
// row FOR UPDATE, the waiting create already holds the gate. Taken after the row lock, the gate
// could close a cycle with a delete that holds the gate and waits for the row.
func TestOrganizationGateComesBeforeTheRowLock(t *testing.T) {
	ctx := context.Background()
	s, url := openStore(t, "")
	ids := roster.NewIDGenerator()
	now := time.Now().UTC()
	env, org := newOrganization(t, s, ids, now)
	tx := holdInOtherSession(t, url, `SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE`, org.ID)
	db, err := sql.Open("pgx", url) // to watch pg_locks
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	done := make(chan error, 1)
	go func() {
		u := roster.NewUser{Email: "waits@acme.com"}.Build(ids.New(roster.PrefixUser), env.ID, now)
		m := &roster.Membership{OrganizationID: org.ID, Status: roster.MembershipActive, Metadata: map[string]string{}, CreateTime: now, UpdateTime: now}
		_, err := s.CreateUser(ctx, u, m, nil)
		done <- err
	}()
	// The create's backend: holds the gate (granted), waits for the row (not granted).
	deadline := time.Now().Add(10 * time.Second)
	for {
		var gated, waiting bool
		err := db.QueryRow(`SELECT
			EXISTS (SELECT 1 FROM pg_locks g WHERE g.locktype = 'advisory' AND g.classid = 7426175 AND g.objsubid = 2
				AND g.objid::bigint = (hashtext($1)::bigint & 4294967295) AND g.granted AND g.pid <> pg_backend_pid()),
			EXISTS (SELECT 1 FROM pg_locks w JOIN pg_locks g ON g.pid = w.pid WHERE NOT w.granted AND g.locktype = 'advisory'
				AND g.classid = 7426175 AND g.granted)`, org.ID).Scan(&gated, &waiting)
		if err != nil {
			t.Fatal(err)
		}
		if gated && waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: gate held %v, the gated backend waiting for a lock %v", gated, waiting)
		}
		select {
		case err := <-done:
			t.Fatalf("the create ended while the row was locked: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the create, once the row was free: %v", err)
	}
}
