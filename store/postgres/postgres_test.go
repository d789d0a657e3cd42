package postgres_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"

	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/postgres"
	"github.com/rosterhq/roster/store/postgres/pgtest"
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
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT 1 FROM organizations WHERE id = $1 FOR UPDATE`, o.ID); err != nil {
		t.Fatal(err)
	}
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
