package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// planDialect is the little of SQLite's dialect that migrating and explaining need.
type planDialect struct{ Dialect }

func (planDialect) Name() string                               { return "sqlite" }
func (planDialect) LockMigrations(context.Context, Tx) error   { return nil }
func (planDialect) UniqueViolation(error) (string, bool)       { return "", false }
func (planDialect) Transient(error) (bool, bool)               { return false, false }
func (planDialect) BeforeCommit() []string                     { return nil }
func (planDialect) UserAttributes() string                     { return "'{}'" }
func (planDialect) UserIdentities() string                     { return "'[]'" }
func (planDialect) RowLock() string                            { return "" }
func (planDialect) ShareLock() string                          { return "" }
func (planDialect) UserSearch(string, func(any) string) string { return "1 = 0" }

// TestSCIMPagePlans holds SQLite's plans of a SCIM list's statements (docs/scim.md "Paging"):
// the directory's rows are found through the covering (directory_id, seq) index, and the
// environment check is a subquery run once, never a read of each row.
func TestSCIMPagePlans(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "plan.db")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	s := New(db, db, planDialect{})
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	plan := func(query string, args ...any) string {
		t.Helper()
		rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		defer rows.Close()
		var lines []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, detail)
		}
		return strings.Join(lines, "\n")
	}
	for _, table := range []string{"directory_users", "directory_groups"} {
		columns := directoryUserColumns
		if table == "directory_groups" {
			columns = directoryGroupColumns
		}
		c := &condSQL{table: table}
		where := directoryWhere(c, "dir_1", "env_1") + " AND seq >= " + c.arg(int64(5))
		got := plan(directoryPageSQL(table, columns, where, len(c.args)), append(c.args, 100, 50)...)
		want := "SEARCH " + table + " USING INDEX " + table + "_directory (directory_id=? AND seq>?)"
		if !strings.Contains(got, want) || strings.Contains(got, "TEMP B-TREE") || !strings.Contains(got, "SEARCH directories USING INDEX") {
			t.Errorf("page of %s:\n%s\nwant %q, the directory found by its key, no sort", table, got, want)
		}
		got = plan(pageMarksSQL(table), "dir_1", pageMarkEvery-1)
		if want := "SEARCH t USING COVERING INDEX " + table + "_directory (directory_id=? AND seq>?)"; !strings.Contains(got, want) || strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("marks of %s:\n%s\nwant %q, no sort", table, got, want)
		}
		// A filtered list counts through the index too when its condition needs no column of
		// the row (here: none), and never reads the row for the environment.
		c = &condSQL{table: table}
		got = plan(`SELECT COUNT(*) FROM `+table+` WHERE `+directoryWhere(c, "dir_1", "env_1"), c.args...)
		if want := "SEARCH " + table + " USING COVERING INDEX "; !strings.Contains(got, want) || !strings.Contains(got, "(directory_id=?)") {
			t.Errorf("count of %s:\n%s\nwant %q", table, got, want)
		}
	}
	got := plan(directoryCountSQL, "dir_1", "directory_users", "env_1")
	if !strings.Contains(got, "SEARCH directory_counts USING INDEX sqlite_autoindex_directory_counts_1 (directory_id=? AND resource=?)") {
		t.Errorf("count:\n%s", got)
	}
}

// The marks cache builds a directory's marks once for concurrent pages, rebuilds them for a
// newer change number only, and stays within its byte budget.
func TestPageMarksBuildOnceAndStayBounded(t *testing.T) {
	ctx := context.Background()
	var p pageMarks
	var builds atomic.Int32
	release := make(chan struct{})
	build := func() ([]int64, error) {
		builds.Add(1)
		<-release
		return []int64{1, 129}, nil
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, err := p.get(ctx, "d1", 5, build); err != nil || len(got) != 2 {
				t.Errorf("get = %v, %v", got, err)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // let them queue behind the first build
	close(release)
	wg.Wait()
	if n := builds.Load(); n != 1 {
		t.Fatalf("%d builds for one change number, want 1", n)
	}
	p.get(ctx, "d1", 4, build) // a reader that saw an older count uses the newer marks
	if n := builds.Load(); n != 1 {
		t.Fatalf("an older change number rebuilt the marks")
	}
	p.get(ctx, "d1", 6, build)
	if n := builds.Load(); n != 2 {
		t.Fatalf("a newer change number did not rebuild the marks")
	}

	big := make([]int64, pageMarksBudget/8+1) // over the budget alone: served, not kept
	if got, _ := p.get(ctx, "huge", 1, func() ([]int64, error) { return big, nil }); len(got) != len(big) {
		t.Fatal("marks over the budget were not returned")
	}
	if _, ok := p.entries["huge"]; ok {
		t.Fatal("marks over the budget were kept")
	}
	chunk := make([]int64, pageMarksBudget/8/10)
	for i := range 50 {
		p.get(ctx, fmt.Sprint("d", i+100), 1, func() ([]int64, error) { return chunk, nil })
		if p.bytes > pageMarksBudget {
			t.Fatalf("%d bytes kept, over the budget of %d", p.bytes, pageMarksBudget)
		}
	}
	sum := 0
	for k, e := range p.entries {
		sum += e.size(k)
	}
	if sum != p.bytes || len(p.entries) > 10 {
		t.Fatalf("%d entries of %d bytes, %d counted", len(p.entries), sum, p.bytes)
	}
}
