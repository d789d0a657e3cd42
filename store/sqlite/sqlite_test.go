package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"

	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/sqlite"
	"github.com/rosterhq/roster/store/sqlstore"
	"github.com/rosterhq/roster/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		dir := t.TempDir()
		s, err := sqlite.Open(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		return checkedStore{s, t, filepath.Join(dir, sqlite.FileName)}
	})
}

// checkedStore checks the database file when the test closes the store: SQLite's integrity
// check, and FTS5's check that the search index agrees with the users table (users are
// indexed once per write batch; a wrong delete from the index would corrupt it).
//
// The file is checked after the store has closed, not before: until then the store's writer
// may still hold the write lock (a refused write is answered before its batch commits), and the
// check's connection would meet it. Closed, the store runs nothing, so the check's connection
// needs no busy_timeout; were anything of the store still running, the check would say so.
type checkedStore struct {
	*sqlstore.Store
	t interface {
		Errorf(format string, args ...any)
	}
	path string
}

func (c checkedStore) Close() error {
	err := c.Store.Close()
	db, oerr := sql.Open("sqlite", "file:"+c.path)
	if oerr != nil {
		c.t.Errorf("open: %v", oerr)
		return err
	}
	defer db.Close()
	var ok string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		c.t.Errorf("integrity_check: %q %v", ok, err)
	}
	if _, err := db.Exec(`INSERT INTO users_search (users_search) VALUES ('integrity-check')`); err != nil {
		c.t.Errorf("search index integrity: %v", err)
	}
	var queued int
	if err := db.QueryRow(`SELECT COUNT(*) FROM users_search_queue`).Scan(&queued); err != nil || queued != 0 {
		c.t.Errorf("%d users left unindexed (%v)", queued, err)
	}
	return err
}

func TestReopenKeepsDataAndSkipsAppliedMigrations(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.Migrate(ctx); err != nil || n != 0 {
		t.Fatalf("second migrate applied %d (err %v), want 0", n, err)
	}
}

// errorLog collects what checkedStore reports, for a test of checkedStore itself.
type errorLog struct {
	mu   sync.Mutex
	errs []string
}

func (l *errorLog) Errorf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, fmt.Sprintf(format, args...))
}

// The store may still hold SQLite's write lock when a test closes it: a refused write is
// answered before the COMMIT of the batch it ran in, so the test goes on (and closes the store)
// while the writer finishes that batch. checkedStore must check the file only once the store
// has let go of it, or its own write (FTS5's integrity-check command) meets the lock. Here the
// batch is held open on purpose until the store is closing.
func TestCheckedStoreChecksOnceTheStoreLetGo(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var log errorLog
	c := checkedStore{s, &log, filepath.Join(dir, sqlite.FileName)}
	env := roster.Environment{ID: "env_1", Name: "default", CursorKey: make([]byte, 32), CreateTime: time.Now()}
	if err := s.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	inside, release := make(chan struct{}), make(chan struct{})
	wrote := make(chan error, 1)
	go func() {
		u := roster.NewUser{Email: "late@example.com"}.Build("usr_1", env.ID, time.Now())
		_, err := s.CreateUser(ctx, u, nil, func(*roster.User, store.AttributeDefs) error {
			close(inside)
			<-release
			return nil
		})
		wrote <- err
	}()
	<-inside // the writer holds the write lock from here until the batch commits
	time.AfterFunc(200*time.Millisecond, func() { close(release) })
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-wrote; err != nil {
		t.Fatalf("the write in flight: %v", err)
	}
	if len(log.errs) != 0 {
		t.Fatalf("checkedStore reported %q", log.errs)
	}
}

// migrationDatabase is a database file for a migration test: open opens it as the store
// (running the migrations), db is the same file without them, closed with the test.
func migrationDatabase(t *testing.T) (open func() *sqlstore.Store, db *sql.DB, path string) {
	path = filepath.Join(t.TempDir(), sqlite.FileName)
	open = func() *sqlstore.Store {
		s, err := sqlite.OpenFile(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return open, db, path
}

// Groups of one directory that shared a name before the unique index are renamed by it
// (sqlstore migration 0013_directory_group_name).
func TestDirectoryUserUpdateMigration(t *testing.T) {
	open, db, _ := migrationDatabase(t)
	storetest.DirectoryUserUpdateMigration(t, open, db)
}

func TestDirectoryGroupNameMigration(t *testing.T) {
	open, db, _ := migrationDatabase(t)
	storetest.DirectoryGroupNameMigration(t, open, db)
}

// Users stored in NFD before emails were normalized are rewritten in NFC at start, and the
// search index follows (sqlstore migration 0009_email_nfc).
func TestEmailNFCMigration(t *testing.T) {
	open, db, path := migrationDatabase(t)
	storetest.EmailNFCMigration(t, open, db)
	// The search index agrees with the rewritten keys.
	checkedStore{open(), t, path}.Close()
}

// Events are stored in the codec's form and read rendered; an event stored as JSON by an
// earlier Roster reads as it is.
func TestStoredEventForms(t *testing.T) {
	open, db, _ := migrationDatabase(t)
	storetest.StoredEventForms(t, open, db)
}
