package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

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
type checkedStore struct {
	*sqlstore.Store
	t    *testing.T
	path string
}

func (c checkedStore) Close() error {
	db, err := sql.Open("sqlite", "file:"+c.path)
	if err != nil {
		c.t.Error(err)
	} else {
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
	}
	return c.Store.Close()
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
