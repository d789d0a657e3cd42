package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/storetest"
)

// TestPointReadsStartNoGoroutineAndEndWithTheirContext: a read of one user by ID, external ID
// or email, or of an organization, under a context that can end (every request's) starts no goroutine (database/sql
// starts one per query to watch such a context, and those goroutines put a tail on reads over
// HTTP/1.1: docs/storage.md), and still ends when its context does: a read held up by a lock
// on the users table returns the context's error at its deadline, and the reads after it are
// served (the canceled connection is dropped, not handed out again).
func TestPointReadsStartNoGoroutineAndEndWithTheirContext(t *testing.T) {
	s, url := openStore(t, "")
	ids := roster.NewIDGenerator()
	now := time.Now().UTC()
	env, org := newOrganization(t, s, ids, now)
	var users []roster.User
	for i := range 20 {
		u := roster.NewUser{Email: fmt.Sprintf("u%d@acme.com", i), ExternalID: fmt.Sprintf("ext-%d", i)}.Build(ids.New(roster.PrefixUser), env.ID, now)
		m := &roster.Membership{OrganizationID: org.ID, Status: roster.MembershipActive, Metadata: map[string]string{}, CreateTime: now, UpdateTime: now}
		created, err := s.CreateUser(context.Background(), u, m, nil)
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, created)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	read := func(ctx context.Context, u roster.User, by int) (roster.User, error) {
		switch by {
		case 0:
			return s.GetUser(ctx, env.ID, roster.UserRef{ID: u.ID})
		case 1:
			return s.GetUser(ctx, env.ID, roster.UserRef{ExternalID: *u.ExternalID})
		}
		page, err := s.ListUsers(ctx, env.ID, store.UserQuery{EmailKey: roster.EmailKey(u.Email), Page: store.PageQuery{Size: 10}})
		if err != nil || len(page.Items) != 1 {
			return roster.User{}, fmt.Errorf("lookup by email: %d users, %w", len(page.Items), err)
		}
		return page.Items[0], nil
	}
	for by := range 3 { // the first reads prepare their statements
		if _, err := read(ctx, users[0], by); err != nil {
			t.Fatal(err)
		}
	}

	const reads = 300
	before := storetest.GoroutinesCreated()
	for i := range reads {
		u := users[i%len(users)]
		got, err := read(ctx, u, i%3)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != u.ID || len(got.Memberships) != 1 || got.Memberships[0].OrganizationName != "Acme" {
			t.Fatalf("read %+v, want user %s in Acme", got, u.ID)
		}
		if o, err := s.GetOrganization(ctx, env.ID, roster.OrganizationRef{ID: org.ID}); err != nil || o.DisplayName != "Acme" {
			t.Fatalf("get organization: %+v, %v", o, err)
		}
	}
	// With database/sql watching, these 600 reads started 600 goroutines. A few may come from the
	// store's own background work meanwhile.
	if n := storetest.GoroutinesCreated() - before; n > 20 {
		t.Fatalf("%d point reads started %d goroutines", 2*reads, n)
	}

	tx := holdInOtherSession(t, url, `LOCK TABLE users IN ACCESS EXCLUSIVE MODE`)
	held, stop := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer stop()
	start := time.Now()
	_, err := read(held, users[1], 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a read held up past its deadline: %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a read held up ended %v after it began, its deadline 300ms", d)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		u := users[i%len(users)]
		if got, err := read(context.Background(), u, i%3); err != nil || got.ID != u.ID {
			t.Fatalf("read %d after a canceled one: %v, %v", i, got.ID, err)
		}
	}

	cancel()
	if _, err := read(ctx, users[2], 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("a read with an ended context: %v, want context.Canceled", err)
	}
	if _, err := s.GetOrganization(ctx, env.ID, roster.OrganizationRef{ID: org.ID}); !errors.Is(err, context.Canceled) {
		t.Fatalf("an organization read with an ended context: %v, want context.Canceled", err)
	}
}
