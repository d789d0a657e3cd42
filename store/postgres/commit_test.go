package postgres

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/rosterhq/roster/store/postgres/pgtest"
)

// TestCommitWithAbortedTransaction: a transaction in which a statement failed is never reported
// committed. PostgreSQL answers such a COMMIT with ROLLBACK, not an error; CommitWith turns
// that into one, with a query sent in the batch or without.
func TestCommitWithAbortedTransaction(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("pgx", pgtest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE kept (x int)`); err != nil {
		t.Fatal(err)
	}
	for _, query := range []string{"", `INSERT INTO kept VALUES (2)`} {
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{`BEGIN`, `INSERT INTO kept VALUES (1)`} {
			if _, err := conn.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := conn.ExecContext(ctx, `SELECT 1/0`); err == nil { // the error a write swallowed
			t.Fatal("1/0 did not fail")
		}
		err = dialect{}.CommitWith(ctx, conn, query, nil)
		if query == "" && !errors.Is(err, pgx.ErrTxCommitRollback) || query != "" && err == nil {
			t.Errorf("CommitWith(%q) of an aborted transaction: %v, want an error", query, err)
		}
		conn.ExecContext(ctx, `ROLLBACK`)
		conn.Close()
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM kept`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows kept: %d (%v), want none", n, err)
	}
	// A transaction that did not fail commits, with and without a query.
	for _, query := range []string{"", `INSERT INTO kept VALUES (2)`} {
		conn, _ := db.Conn(ctx)
		conn.ExecContext(ctx, `BEGIN`)
		conn.ExecContext(ctx, `INSERT INTO kept VALUES (1)`)
		if err := (dialect{}).CommitWith(ctx, conn, query, nil); err != nil {
			t.Fatalf("CommitWith(%q): %v", query, err)
		}
		conn.Close()
	}
	if err := db.QueryRow(`SELECT count(*) FROM kept`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("rows kept: %d (%v), want 3", n, err)
	}
}

// TestBeginWith: BEGIN and the first query go in one batch and the query runs inside the
// transaction it opens (a ROLLBACK undoes its effect); a query that answers no row is
// sql.ErrNoRows, as database/sql says it; a failing query leaves the transaction to roll back.
func TestBeginWith(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("pgx", pgtest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE kept (x int, s text)`); err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var x int64
	var s sql.NullString
	if err := (dialect{}).BeginWith(ctx, conn, nil, `INSERT INTO kept VALUES ($1, NULL) RETURNING x, s`, []any{7}, []any{&x, &s}); err != nil || x != 7 || s.Valid {
		t.Fatalf("BeginWith: %v, %d %+v", err, x, s)
	}
	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM kept`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows after ROLLBACK: %d (%v): the query ran outside the transaction", n, err)
	}
	err = dialect{}.BeginWith(ctx, conn, nil, `SELECT x FROM kept WHERE x = $1`, []any{1}, []any{&x})
	if !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("no row: %v, want sql.ErrNoRows", err)
	}
	conn.ExecContext(ctx, `ROLLBACK`)
	if err := (dialect{}).BeginWith(ctx, conn, nil, `SELECT 1/0`, nil, []any{&x}); err == nil {
		t.Fatal("1/0 did not fail")
	}
	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(ctx, `SELECT 1`).Scan(&x); err != nil {
		t.Fatalf("the connection after a failed BeginWith and its ROLLBACK: %v", err)
	}
}
