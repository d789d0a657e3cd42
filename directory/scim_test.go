package directory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
)

// TestLastSyncTime: every SCIM write counts as a sync, and the directory's last_sync_time
// moves at most once per roster.DirectorySecretUseGranularity (docs/scim.md "The write path").
func TestLastSyncTime(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			svc, env, org := newBulkDirectory(t, backend)
			d, err := svc.CreateDirectory(ctx, env, org.ID, roster.DirectorySCIM, "OKTA")
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			now := t0
			directory.SetClock(svc, func() time.Time { return now })
			n := 0
			write := func(at time.Time) *time.Time {
				t.Helper()
				now = at
				n++
				if _, err := svc.WriteSCIMGroup(ctx, d.Directory, directory.SCIMGroup{Create: &roster.DirectoryGroup{DisplayName: fmt.Sprint("g", n)}}); err != nil {
					t.Fatal(err)
				}
				got, err := svc.GetDirectory(ctx, env, org.ID, d.Directory.ID)
				if err != nil {
					t.Fatal(err)
				}
				return got.Directory.LastSyncTime
			}
			if got := write(t0); got == nil || !got.Equal(t0) {
				t.Fatalf("after the first write: %v, want %v", got, t0)
			}
			if got := write(t0.Add(roster.DirectorySecretUseGranularity / 2)); got == nil || !got.Equal(t0) {
				t.Fatalf("a write within the granularity moved it: %v", got)
			}
			later := t0.Add(roster.DirectorySecretUseGranularity + time.Second)
			if got := write(later); got == nil || !got.Equal(later) {
				t.Fatalf("after the granularity: %v, want %v", got, later)
			}
		})
	}
}
