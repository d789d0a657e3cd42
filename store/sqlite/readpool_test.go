package sqlite_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store/sqlite"
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
