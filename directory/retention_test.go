package directory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/secretbox"
	"github.com/rosterhq/roster/store"
)

// PruneEvents deletes every event older than the retention, over several batches, and
// keeps the rest; a retention of 0 keeps everything.
func TestPruneEvents(t *testing.T) {
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := rostertest.Open(t, backend)
			box, err := secretbox.New(make([]byte, secretbox.KeySize))
			if err != nil {
				t.Fatal(err)
			}
			svc := directory.New(st, directory.WithSecretBox(box))
			old := time.Now().UTC().Add(-40 * 24 * time.Hour)
			directory.SetClock(svc, func() time.Time { return old })
			env, err := svc.EnsureEnvironment(ctx)
			if err != nil {
				t.Fatal(err)
			}
			const n = 2100 // more than two batches
			for i := range n {
				if _, err := svc.CreateOrganization(ctx, env, roster.NewOrganization{DisplayName: fmt.Sprintf("Org %d", i)}); err != nil {
					t.Fatal(err)
				}
			}
			directory.SetClock(svc, func() time.Time { return time.Now().UTC() })
			recent, err := svc.CreateOrganization(ctx, env, roster.NewOrganization{DisplayName: "Recent"})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := svc.PruneEvents(ctx, 0); err != nil || got != 0 {
				t.Fatalf("retention 0: %d, %v", got, err)
			}
			// The n organizations' events and the environment's set-up events (its default
			// roles) are old; only the last organization's is recent.
			if got, err := svc.PruneEvents(ctx, 30*24*time.Hour); err != nil || got < n {
				t.Fatalf("pruned %d, %v; want at least %d", got, err, n)
			}
			var left []store.StoredEvent
			for deadline := time.Now().Add(10 * time.Second); len(left) == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if left, err = st.ListEvents(ctx, env.ID, store.EventQuery{Limit: 10}); err != nil {
					t.Fatal(err)
				}
			}
			if len(left) != 1 || left[0].OrganizationID != recent.ID {
				t.Fatalf("left %+v", left)
			}
		})
	}
}
