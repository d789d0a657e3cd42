package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/sqlite"
	"github.com/rosterhq/roster/store/storetest"
)

// TestReadConnectionsStayOpen: reads from more goroutines than the read pool has connections
// never close a connection for want of an idle slot. A closed connection is reopened by the next
// read: the file opened again, its pragmas run, its statements prepared again and its page
// cache started empty (database/sql keeps only 2 idle connections unless told otherwise).
func TestReadConnectionsStayOpen(t *testing.T) {
	ctx := context.Background()
	s, env, users := benchStore(t, sqlite.WithUserCache(0))
	stats := s.(interface{ Stats() sql.DBStats })
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if _, err := s.GetUser(ctx, env.ID, roster.UserRef{ID: users[(g*200+i)%len(users)].ID}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := stats.Stats()
	if st.MaxIdleClosed > 0 || st.MaxLifetimeClosed > 0 || st.MaxIdleTimeClosed > 0 {
		t.Fatalf("read connections closed and reopened under load: %+v", st)
	}
	if st.OpenConnections > st.MaxOpenConnections {
		t.Fatalf("read pool over its bound: %+v", st)
	}
}

// TestPointReadsStartNoGoroutines: a read of one user or organization by key, under a context
// that can end (every request's), starts no goroutine. database/sql and the SQLite driver each
// start one per query to watch such a context; those two per read were scheduled ahead of the
// requests already waiting and put a 20 ms tail on reads over HTTP/1.1 (bench/README.md). A
// context that has already ended still fails the read.
func TestPointReadsStartNoGoroutines(t *testing.T) {
	s, env, users := benchStore(t, sqlite.WithUserCache(0)) // every read goes to the database
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	org, err := s.GetOrganization(ctx, env.ID, roster.OrganizationRef{ID: users[0].Memberships[0].OrganizationID})
	if err != nil {
		t.Fatal(err)
	}
	const reads = 200
	before := storetest.GoroutinesCreated()
	for i := range reads {
		u := users[i%len(users)]
		for _, ref := range []roster.UserRef{{ID: u.ID}, {ExternalID: *u.ExternalID}} {
			if _, err := s.GetUser(ctx, env.ID, ref); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.GetOrganization(ctx, env.ID, roster.OrganizationRef{ID: org.ID}); err != nil {
			t.Fatal(err)
		}
	}
	// 600 reads; with the watchers they started 1,200 goroutines. A few may come from the
	// store's own background work (the checkpointer) meanwhile.
	if n := storetest.GoroutinesCreated() - before; n > 20 {
		t.Fatalf("%d point reads started %d goroutines", 3*reads, n)
	}

	cancel()
	if _, err := s.GetUser(ctx, env.ID, roster.UserRef{ID: users[1].ID}); !errors.Is(err, context.Canceled) {
		t.Fatalf("get user with an ended context: %v, want context.Canceled", err)
	}
	if _, err := s.GetOrganization(ctx, env.ID, roster.OrganizationRef{ID: org.ID}); !errors.Is(err, context.Canceled) {
		t.Fatalf("get organization with an ended context: %v, want context.Canceled", err)
	}
}
