package sqlite_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/sqlite"
)

var ids = roster.NewIDGenerator()

// Write transactions share a database transaction (group commit): while one request holds
// the writer, the others queue and then run as one batch. Each keeps its own outcome: a
// conflict, a request whose context ends during its work, and a panic roll back only that
// request, and the rest of the batch commits.
func TestGroupCommitKeepsEachRequestsOutcome(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := roster.Environment{ID: ids.New(roster.PrefixEnvironment), Name: "default", CursorKey: key, CreateTime: time.Now().UTC()}
	if err := s.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	user := func(email string) roster.User {
		return roster.NewUser{Email: email}.Build(ids.New(roster.PrefixUser), env.ID, time.Now().UTC())
	}

	// The first request holds the writer until the others have queued.
	release := make(chan struct{})
	holding := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := s.CreateUser(ctx, user("first@example.com"), nil, func(*roster.User, store.AttributeDefs) error {
			close(holding)
			<-release
			return nil
		})
		if err != nil {
			t.Errorf("first: %v", err)
		}
	}()
	<-holding

	results := map[string]error{}
	var mu sync.Mutex
	submit := func(name string, ctx context.Context, u roster.User, check store.UserCheck) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					mu.Lock()
					results[name] = errors.New("panicked")
					mu.Unlock()
				}
			}()
			_, err := s.CreateUser(ctx, u, nil, check)
			mu.Lock()
			results[name] = err
			mu.Unlock()
		}()
	}
	canceled, cancel := context.WithCancel(ctx)
	submit("duplicate", ctx, user("FIRST@example.com"), nil)
	submit("ok", ctx, user("ok@example.com"), nil)
	submit("canceled", canceled, user("canceled@example.com"), func(*roster.User, store.AttributeDefs) error {
		cancel() // the request's context ends inside its transaction
		return nil
	})
	submit("panics", ctx, user("panics@example.com"), func(*roster.User, store.AttributeDefs) error { panic("boom") })
	submit("ok2", ctx, user("ok2@example.com"), nil)
	time.Sleep(100 * time.Millisecond) // let them queue behind the first
	close(release)
	wg.Wait()

	if roster.ErrorCode(results["duplicate"]) != roster.EConflict {
		t.Errorf("duplicate email: %v, want a conflict", results["duplicate"])
	}
	if !errors.Is(results["canceled"], context.Canceled) {
		t.Errorf("canceled: %v, want context.Canceled", results["canceled"])
	}
	if results["panics"] == nil || results["panics"].Error() != "panicked" {
		t.Errorf("panics: %v, want the panic in the caller", results["panics"])
	}
	for _, name := range []string{"ok", "ok2"} {
		if results[name] != nil {
			t.Errorf("%s: %v", name, results[name])
		}
	}
	for email, want := range map[string]bool{"first@example.com": true, "ok@example.com": true, "ok2@example.com": true,
		"canceled@example.com": false, "panics@example.com": false} {
		page, err := s.ListUsers(ctx, env.ID, store.UserQuery{EmailKey: roster.EmailKey(email), Page: store.PageQuery{Size: 10}})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(page.Items) == 1; got != want {
			t.Errorf("%s stored: %v, want %v", email, got, want)
		}
	}
	// The batch's events are inserted at its end: those of the requests that rolled back
	// are not among them, and each committed request has its own.
	events, err := s.ListEvents(ctx, env.ID, store.EventQuery{Types: []string{roster.EventUserCreated}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	created := map[string]int{}
	for _, e := range events {
		for _, email := range []string{"first@example.com", "ok@example.com", "ok2@example.com", "canceled@example.com", "panics@example.com", "FIRST@example.com"} {
			if strings.Contains(string(e.Body), `"`+email+`"`) {
				created[email]++
			}
		}
	}
	if want := map[string]int{"first@example.com": 1, "ok@example.com": 1, "ok2@example.com": 1}; !maps.Equal(created, want) || len(events) != 3 {
		t.Errorf("user.created events by email: %v (%d events), want %v", created, len(events), want)
	}
}

// Writes after Close fail instead of waiting forever.
func TestGroupCommitAfterClose(t *testing.T) {
	s, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	u := roster.NewUser{Email: "late@example.com"}.Build(ids.New(roster.PrefixUser), ids.New(roster.PrefixEnvironment), time.Now())
	done := make(chan error, 1)
	go func() {
		_, err := s.CreateUser(context.Background(), u, nil, nil)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("write after Close succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("write after Close hangs")
	}
}

// Concurrent writes share batches even when the server has one core (bench/run.sh pins it to
// one): the writer was woken by the first request's hand-off and ran it before the other
// requests' goroutines had run far enough to queue, so under 16 clients a batch held 1.1
// requests on average and each create paid a commit, a search-index flush and the WAL pages of
// its own. The writer now lets the goroutines that are ready run before it takes a batch.
func TestGroupCommitBatchesOnOneCore(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	ctx := context.Background()
	s, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := roster.Environment{ID: ids.New(roster.PrefixEnvironment), Name: "default", CursorKey: key, CreateTime: time.Now().UTC()}
	if err := s.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	const clients, each = 16, 25
	batches0, writes0 := s.WriteBatches()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				u := roster.NewUser{Email: fmt.Sprintf("c%d-%d@example.com", c, i)}.Build(ids.New(roster.PrefixUser), env.ID, time.Now().UTC())
				if _, err := s.CreateUser(ctx, u, nil, nil); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	batches1, writes1 := s.WriteBatches()
	batches, writes := batches1-batches0, writes1-writes0
	if writes != clients*each {
		t.Fatalf("%d writes counted, want %d", writes, clients*each)
	}
	per := float64(writes) / float64(batches)
	t.Logf("%d writes in %d batches (%.1f per batch)", writes, batches, per)
	if per < 4 {
		t.Errorf("%d writes in %d batches (%.1f per batch) from %d clients on one core; want at least 4 per batch", writes, batches, per, clients)
	}
}
