package postgres_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/rosterhq/roster/store/postgres"
	"github.com/rosterhq/roster/store/postgres/pgtest"
	"github.com/rosterhq/roster/store/storetest"
)

// BenchmarkUserSearch: storetest.BenchUserSearch on PostgreSQL (100,000 users, a schema of
// its own), with the table's statistics taken after seeding, as autovacuum would.
//
//	go test -run '^$' -bench BenchmarkUserSearch -benchtime 20x ./store/postgres
func BenchmarkUserSearch(b *testing.B) {
	url := pgtest.NewSchema(b)
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchUserSearch(b, s, func() {
		db, err := sql.Open("pgx", url)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`ANALYZE users`); err != nil {
			b.Fatal(err)
		}
	})
}
