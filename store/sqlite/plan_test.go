package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// migratedDB opens, read-only, a database that Open has just created and migrated, for
// tests of query plans.
func migratedDB(t *testing.T) *sql.DB {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, FileName)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// planStep is a row of EXPLAIN QUERY PLAN.
type planStep struct {
	id, parent int
	detail     string
}

// queryPlan returns SQLite's plan of query, and the plan as text for failure messages.
func queryPlan(t *testing.T, db *sql.DB, query string, args ...any) ([]planStep, string) {
	t.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []planStep
	var text []string
	for rows.Next() {
		var st planStep
		var unused int
		if err := rows.Scan(&st.id, &st.parent, &unused, &st.detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, st)
		text = append(text, fmt.Sprintf("%d %d %s", st.id, st.parent, st.detail))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan, strings.Join(text, "\n")
}
