package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster/store"
)

// testSCIMRequests: each directory keeps its latest requests, newest first; requests of a
// directory that does not exist (deleted meanwhile) are dropped without failing the others'.
func testSCIMRequests(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, org, a := orgWithDirectory(t, s)
	b := newDirectory(t, s, env.ID, org.ID, "MICROSOFT_AD")
	start := now()
	at := func(i int) time.Time { return start.Add(time.Duration(i) * time.Millisecond) }
	var batch []store.SCIMRequest
	for i := range 250 {
		batch = append(batch, store.SCIMRequest{DirectoryID: a.ID, Method: "PATCH", Path: fmt.Sprintf("/Users/%d", i), Status: 200, Time: at(i)})
		if i%100 == 0 {
			batch = append(batch, store.SCIMRequest{DirectoryID: b.ID, Method: "POST", Path: "/Groups", Status: 201, Time: at(i)},
				store.SCIMRequest{DirectoryID: "dir_gone", Method: "GET", Path: "/Users", Status: 200, Time: at(i)})
		}
	}
	if err := s.RecordSCIMRequests(ctx, batch, 100); err != nil {
		t.Fatal(err)
	}
	check := func(dirID string, want int, newest string) []store.SCIMRequest {
		t.Helper()
		got, err := s.ListSCIMRequests(ctx, dirID, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want || (want > 0 && got[0].Path != newest) {
			t.Fatalf("%s keeps %d requests (newest %+v), want %d (newest %s)", dirID, len(got), got[:min(1, len(got))], want, newest)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Time.After(got[i-1].Time) {
				t.Fatalf("%s: not newest first at %d: %v after %v", dirID, i, got[i].Time, got[i-1].Time)
			}
		}
		return got
	}
	got := check(a.ID, 100, "/Users/249")
	if last := got[99]; last.Path != "/Users/150" || last.Method != "PATCH" || last.Status != 200 || !last.Time.Equal(at(150)) || last.DirectoryID != a.ID {
		t.Fatalf("oldest kept = %+v", last)
	}
	check(b.ID, 3, "/Groups")
	check("dir_gone", 0, "")
	// A later batch pushes the oldest out.
	if err := s.RecordSCIMRequests(ctx, []store.SCIMRequest{{DirectoryID: a.ID, Method: "DELETE", Path: "/Users/x", Status: 204, Time: at(300)}}, 100); err != nil {
		t.Fatal(err)
	}
	if got := check(a.ID, 100, "/Users/x"); got[99].Path != "/Users/151" {
		t.Fatalf("oldest kept after one more = %+v", got[99])
	}
	// Batches written while the directory is deleted: none fails, nothing is left behind.
	c := newDirectory(t, s, env.ID, org.ID, "GOOGLE")
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				errs <- s.RecordSCIMRequests(ctx, []store.SCIMRequest{{DirectoryID: c.ID, Method: "GET", Path: "/Users", Status: 200, Time: at(1000 + 10*w + i)},
					{DirectoryID: b.ID, Method: "GET", Path: "/Groups", Status: 200, Time: at(1000 + 10*w + i)}}, 100)
			}
		}()
	}
	time.Sleep(time.Millisecond)
	if err := s.DeleteDirectory(ctx, env.ID, org.ID, c.ID); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("recording beside a directory's delete: %v", err)
		}
	}
	check(c.ID, 0, "")
	check(b.ID, 43, "/Groups")
}
