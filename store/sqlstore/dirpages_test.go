package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// planDialect is the little of SQLite's dialect that migrating and explaining need.
type planDialect struct{ Dialect }

func (planDialect) Name() string                                  { return "sqlite" }
func (planDialect) LockMigrations(context.Context, *sql.Tx) error { return nil }
func (planDialect) UniqueViolation(error) (string, bool)          { return "", false }
func (planDialect) Transient(error) (bool, bool)                  { return false, false }
func (planDialect) BeforeCommit() []string                        { return nil }
func (planDialect) UserAttributes() string                        { return "'{}'" }
func (planDialect) UserIdentities() string                        { return "'[]'" }
func (planDialect) RowLock() string                               { return "" }
func (planDialect) ShareLock() string                             { return "" }
func (planDialect) UserSearch(string, func(any) string) string    { return "1 = 0" }

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
		got = plan(pageMarksSQL(table), "dir_1", pageMarkEvery)
		if want := "SEARCH " + table + " USING COVERING INDEX " + table + "_directory (directory_id=?)"; !strings.Contains(got, want) {
			t.Errorf("marks of %s:\n%s\nwant %q (the only sort is of the marks)", table, got, want)
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
