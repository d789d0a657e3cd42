package sqlite_test

import (
	"context"
	"crypto/rand"
	"errors"
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
