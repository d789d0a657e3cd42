package directory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
)

// TestSCIMRequestRecord: requests are written in the background within a flush interval;
// Close writes what is queued without waiting for it, each directory keeps its latest
// SCIMRequestsKept, and records after Close are dropped (no panic, no write).
func TestSCIMRequestRecord(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			svc, env, org := newBulkDirectory(t, backend)
			a, err := svc.CreateDirectory(ctx, env, org.ID, roster.DirectorySCIM, "OKTA")
			if err != nil {
				t.Fatal(err)
			}
			b, err := svc.CreateDirectory(ctx, env, org.ID, roster.DirectorySCIM, "MICROSOFT_AD")
			if err != nil {
				t.Fatal(err)
			}
			now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			directory.SetClock(svc, func() time.Time { now = now.Add(time.Millisecond); return now })
			// Written in the background without Close.
			svc.RecordSCIMRequest(a.Directory.ID, "GET", "/Users", 200)
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				rs, err := svc.ListSCIMRequests(ctx, env, org.ID, a.Directory.ID)
				if err != nil {
					t.Fatal(err)
				}
				if len(rs) == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the first request was not written")
				}
			}
			for i := range 150 {
				svc.RecordSCIMRequest(a.Directory.ID, "PATCH", fmt.Sprintf("/Groups/%d", i), 200)
				if i%50 == 0 {
					svc.RecordSCIMRequest(b.Directory.ID, "POST", "/Users", 201)
				}
			}
			start := time.Now()
			if err := svc.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if err := svc.Close(ctx); err != nil { // twice is fine
				t.Fatal(err)
			}
			t.Logf("Close took %v", time.Since(start))
			rs, err := svc.ListSCIMRequests(ctx, env, org.ID, a.Directory.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != directory.SCIMRequestsKept || rs[0].Path != "/Groups/149" || rs[99].Path != "/Groups/50" {
				t.Fatalf("kept %d, newest %+v, oldest %+v", len(rs), rs[0], rs[len(rs)-1])
			}
			if rs, _ := svc.ListSCIMRequests(ctx, env, org.ID, b.Directory.ID); len(rs) != 3 || rs[0].Status != 201 || rs[0].Method != "POST" {
				t.Fatalf("the other directory kept %+v", rs)
			}
			svc.RecordSCIMRequest(b.Directory.ID, "DELETE", "/Users/x", 204) // after Close: dropped
			time.Sleep(300 * time.Millisecond)
			if rs, _ := svc.ListSCIMRequests(ctx, env, org.ID, b.Directory.ID); len(rs) != 3 {
				t.Fatalf("a request after Close was written: %+v", rs[0])
			}
		})
	}
}
