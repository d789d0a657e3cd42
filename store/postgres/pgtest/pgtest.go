// Package pgtest gives each test its own PostgreSQL schema on the test server, and drops it
// when the test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// DefaultURL is the machine's PostgreSQL (trust auth), overridden by ROSTER_TEST_POSTGRES_URL.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// BaseURL returns the server URL the tests use.
func BaseURL() string {
	if u := os.Getenv("ROSTER_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// NewSchema creates an empty schema and returns a URL whose connections use it. The test
// fails (it is never skipped) when PostgreSQL is unreachable: CI starts it.
func NewSchema(t testing.TB) string {
	t.Helper()
	base := BaseURL()
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer db.Close()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "roster_test_" + hex.EncodeToString(b[:])
	// Extensions live in one schema; put them in public, which every test's search_path
	// includes, so that each test schema's migrations find them. Concurrent creators may
	// collide; the loser finds the extension there.
	for i := 0; i < 3; i++ {
		if _, err := db.ExecContext(context.Background(), "CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"); err == nil {
			break
		}
	}
	if _, err := db.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("postgres at %s is not usable (start it, or set ROSTER_TEST_POSTGRES_URL): %v", base, err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("postgres url: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema+",public")
	u.RawQuery = q.Encode()
	return u.String()
}
