package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

func userSeq(id string) int64 {
	n, _ := roster.IDNumber(id, roster.PrefixUser)
	return n
}

// testUserSearchPaging pages through a search that every user of the environment matches
// (SearchUsers's query, as the dashboard and the API send it), forwards and backwards, and
// through the same search within an organization. The users are created from many goroutines
// at once with IDs taken beforehand, so that they are stored in no particular order of ID (on
// SQLite a row's place follows its commit), and more matching users are created, in this and
// another environment, while the pages are read. Each user present at the start appears exactly
// once, in ID order; no user of the other environment, and no user that does not match, ever
// appears; the count is every match of the environment.
func testUserSearchPaging(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, other := newEnv(t, s, "default"), newEnv(t, s, "other")
	org := newOrg(env.ID, "Acme", "")
	if err := s.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	const n = 45
	userIDs := make([]string, n)
	for i := range userIDs {
		userIDs[i] = ids.New(roster.PrefixUser)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n+40)
	for _, i := range rand.Perm(n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := newUser(env.ID, fmt.Sprintf("p%02d@paging.example", i), fmt.Sprintf("pg-%02d", i))
			u.ID = userIDs[i]
			var m *roster.Membership
			if i%3 == 0 {
				m = &roster.Membership{OrganizationID: org.ID, Status: roster.MembershipActive, Metadata: map[string]string{}, CreateTime: now(), UpdateTime: now(),
					ProvisioningMethod: roster.ProvisionedDirect}
			}
			errs <- createUser(s, ctx, u, m, nil)
		}()
	}
	for i := range 20 { // matching users of another environment, and users that do not match
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs <- createUser(s, ctx, newUser(other.ID, fmt.Sprintf("p%02d@paging.example", i), fmt.Sprintf("pg-%02d", i)), nil, nil)
		}()
		go func() {
			defer wg.Done()
			errs <- createUser(s, ctx, newUser(env.ID, fmt.Sprintf("q%02d@elsewhere.test", i), ""), nil, nil)
		}()
	}
	wg.Wait()
	for range n + 40 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	sorted := slices.Clone(userIDs)
	slices.SortFunc(sorted, func(a, b string) int { return int(userSeq(a) - userSeq(b)) })

	// Writers create matching users in both environments (up to 100 each) while the pages are
	// read.
	stop := make(chan struct{})
	var writers sync.WaitGroup
	var created []string
	var createdMu sync.Mutex
	for _, e := range []string{env.ID, other.ID} {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for k := range 100 {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
				}
				u := newUser(e, fmt.Sprintf("later%03d@paging.example", k), "")
				if err := createUser(s, ctx, u, nil, nil); err != nil {
					t.Error(err)
					return
				}
				if e == env.ID {
					createdMu.Lock()
					created = append(created, u.ID)
					createdMu.Unlock()
				}
			}
		}()
	}
	stopWriters := sync.OnceFunc(func() {
		close(stop)
		writers.Wait()
	})
	defer stopWriters()
	// pages reads every page of q, size users each, forwards (or backwards from before), and
	// checks that each holds only users of env that match, in ID order, none seen before.
	pages := func(q store.UserQuery, size int, before int64) []string {
		t.Helper()
		q.Page = store.PageQuery{Size: size, Before: before}
		var got []string
		seen := map[string]bool{}
		for range 1000 {
			page, err := s.ListUsers(ctx, env.ID, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) > size || page.Total < len(page.Items) {
				t.Fatalf("page of %d users (size %d), total %d", len(page.Items), size, page.Total)
			}
			var ids []string
			for i, u := range page.Items {
				if u.EnvironmentID != env.ID || !strings.HasSuffix(u.Email, "@paging.example") || seen[u.ID] {
					t.Fatalf("search %q returned %s (%s, environment %s, seen before %v)", q.Search, u.ID, u.Email, u.EnvironmentID, seen[u.ID])
				}
				if i > 0 && userSeq(u.ID) <= userSeq(page.Items[i-1].ID) {
					t.Fatalf("search %q: %s after %s: not in ID order", q.Search, u.ID, page.Items[i-1].ID)
				}
				seen[u.ID] = true
				ids = append(ids, u.ID)
			}
			if !page.More {
				if before > 0 {
					return append(ids, got...)
				}
				return append(got, ids...)
			}
			if len(page.Items) != size {
				t.Fatalf("a page of %d users (size %d) says there are more", len(page.Items), size)
			}
			if before > 0 {
				got = append(ids, got...)
				q.Page.Before = userSeq(page.Items[0].ID)
			} else {
				got = append(got, ids...)
				q.Page.After = userSeq(page.Items[len(page.Items)-1].ID)
			}
		}
		t.Fatal("more than 1000 pages")
		return nil
	}
	// inOrder checks that got holds want (in order) and otherwise only users created since
	// (IDs the writers took), in ID order.
	start := map[string]bool{}
	for _, id := range userIDs {
		start[id] = true
	}
	inOrder := func(what string, got, want []string) {
		t.Helper()
		var kept []string
		for i, id := range got {
			if i > 0 && userSeq(id) <= userSeq(got[i-1]) {
				t.Fatalf("%s: %s after %s: not in ID order", what, id, got[i-1])
			}
			if start[id] {
				kept = append(kept, id)
			} else if userSeq(id) <= userSeq(sorted[n-1]) {
				t.Fatalf("%s: %s is neither a user present at the start nor one created since", what, id)
			}
		}
		if !slices.Equal(kept, want) {
			t.Fatalf("%s: got %d users of the %d present at the start:\ngot  %v\nwant %v", what, len(kept), len(want), kept, want)
		}
	}
	for _, size := range []int{1, 7, 30} {
		inOrder(fmt.Sprintf("forwards by %d", size), pages(store.UserQuery{Search: "paging.EXAMPLE"}, size, 0), sorted)
	}
	// Backwards from just past the last user present at the start: users created since have
	// greater IDs, so exactly those present at the start.
	end := userSeq(sorted[n-1]) + 1
	for _, size := range []int{1, 7, 30} {
		if got := pages(store.UserQuery{Search: "paging.example"}, size, end); !slices.Equal(got, sorted) {
			t.Fatalf("backwards by %d: got %d users\ngot  %v\nwant %v", size, len(got), got, sorted)
		}
	}
	var members []string
	for _, id := range sorted {
		if slices.Index(userIDs, id)%3 == 0 {
			members = append(members, id)
		}
	}
	for _, size := range []int{1, 4, 30} {
		q := store.UserQuery{Search: "paging.example", OrganizationID: org.ID}
		if got := pages(q, size, 0); !slices.Equal(got, members) { // nobody joins the organization meanwhile
			t.Fatalf("the organization's members by %d: got %v, want %v", size, got, members)
		}
		if got := pages(q, size, end); !slices.Equal(got, members) {
			t.Fatalf("the organization's members backwards by %d: got %v, want %v", size, got, members)
		}
	}
	stopWriters()

	// With the writers stopped, the count is every match of the environment, on every page.
	createdMu.Lock()
	total := n + len(created)
	createdMu.Unlock()
	q := store.UserQuery{Search: "paging.example", Page: store.PageQuery{Size: 10}}
	for range 3 {
		page, err := s.ListUsers(ctx, env.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != total {
			t.Fatalf("total %d, want %d", page.Total, total)
		}
		q.Page.After = userSeq(page.Items[len(page.Items)-1].ID)
	}
	// The exact user ID is one match, within the page's bounds and the organization.
	idq := func(q store.UserQuery) int {
		t.Helper()
		page, err := s.ListUsers(ctx, env.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != len(page.Items) && !(q.Page.After > 0 || q.Page.Before > 0) {
			t.Fatalf("search %q: total %d for %d users", q.Search, page.Total, len(page.Items))
		}
		return len(page.Items)
	}
	member, nonMember := userIDs[3], userIDs[4]
	for _, c := range []struct {
		q    store.UserQuery
		want int
	}{
		{store.UserQuery{Search: member, Page: store.PageQuery{Size: 10}}, 1},
		{store.UserQuery{Search: member, Page: store.PageQuery{Size: 10, After: userSeq(member) - 1}}, 1},
		{store.UserQuery{Search: member, Page: store.PageQuery{Size: 10, After: userSeq(member)}}, 0},
		{store.UserQuery{Search: member, Page: store.PageQuery{Size: 10, Before: userSeq(member) + 1}}, 1},
		{store.UserQuery{Search: member, Page: store.PageQuery{Size: 10, Before: userSeq(member)}}, 0},
		{store.UserQuery{Search: member, OrganizationID: org.ID, Page: store.PageQuery{Size: 10}}, 1},
		{store.UserQuery{Search: nonMember, OrganizationID: org.ID, Page: store.PageQuery{Size: 10}}, 0},
	} {
		if got := idq(c.q); got != c.want {
			t.Errorf("search by ID %+v: %d users, want %d", c.q, got, c.want)
		}
	}
	// Another environment's user is not found by its ID.
	otherPage, err := s.ListUsers(ctx, other.ID, store.UserQuery{Search: member, Page: store.PageQuery{Size: 10}})
	if err != nil || len(otherPage.Items) != 0 || otherPage.Total != 0 {
		t.Fatalf("another environment's search by ID: %d users (total %d), %v", len(otherPage.Items), otherPage.Total, err)
	}
}

// testUserSearchCount checks the count of a search's matches on pages that do not hold them
// all (a first page that does is its own count): with one environment in the store and with
// two, a user matched both by its ID and by another's external ID counted once each, and a
// user that matches by its ID and its own external ID counted once. The count that stops at
// UserQuery.CountUpTo counts the same matches up to there.
func testUserSearchCount(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	mk := func(envID, email, ext string) roster.User {
		t.Helper()
		u := newUser(envID, email, ext)
		if err := createUser(s, ctx, u, nil, nil); err != nil {
			t.Fatal(err)
		}
		return u
	}
	a := mk(env.ID, "a@cnt.example", "")
	mk(env.ID, "b@cnt.example", "")
	c := mk(env.ID, "c@cnt.example", "")
	mk(env.ID, "d@other.test", "ref-"+a.ID) // matches a search by a's ID
	self := newUser(env.ID, "e@other.test", "")
	self.ExternalID = &self.ID // matches by its ID and its external ID
	if err := createUser(s, ctx, self, nil, nil); err != nil {
		t.Fatal(err)
	}
	check := func(envID, q string, want int) {
		t.Helper()
		for _, p := range []store.PageQuery{{Size: 1}, {Size: 1, After: 1}, {Size: 1, Before: 1 << 62}} {
			page, err := s.ListUsers(ctx, envID, store.UserQuery{Search: q, Page: p})
			if err != nil {
				t.Fatal(err)
			}
			if page.Total != want || page.TotalAtLeast {
				t.Fatalf("search %q (page %+v): total %d (at least: %v), want %d", q, p, page.Total, page.TotalAtLeast, want)
			}
			// A count that stops at CountUpTo: the same matches, counted up to there.
			for _, upTo := range []int{1, 2, want, want + 1} {
				if upTo < 1 {
					continue
				}
				page, err := s.ListUsers(ctx, envID, store.UserQuery{Search: q, Page: p, CountUpTo: upTo})
				if err != nil {
					t.Fatal(err)
				}
				if wantTotal, wantAtLeast := min(want, upTo), want > upTo; page.Total != wantTotal || page.TotalAtLeast != wantAtLeast {
					t.Fatalf("search %q (page %+v) counting up to %d: total %d (at least: %v), want %d (%v)", q, p, upTo,
						page.Total, page.TotalAtLeast, wantTotal, wantAtLeast)
				}
			}
		}
	}
	single := func() {
		check(env.ID, "cnt.example", 3)
		check(env.ID, a.ID, 2)
		check(env.ID, self.ID, 1)
		check(env.ID, "other.test", 2)
		check(env.ID, "nobody", 0)
	}
	single()
	// Another environment with matching users, and one whose external ID is a's ID.
	other := newEnv(t, s, "other")
	mk(other.ID, "a@cnt.example", "")
	mk(other.ID, "x@other.test", a.ID)
	single()
	check(other.ID, "cnt.example", 1)
	check(other.ID, a.ID, 1)
	check(other.ID, self.ID, 0)
	// Deletes are counted at once.
	if err := s.DeleteUser(ctx, env.ID, roster.UserRef{ID: c.ID}); err != nil {
		t.Fatal(err)
	}
	check(env.ID, "cnt.example", 2)
	if err := s.DeleteUser(ctx, other.ID, roster.UserRef{ExternalID: a.ID}); err != nil {
		t.Fatal(err)
	}
	check(other.ID, a.ID, 0)
	check(env.ID, a.ID, 2)
}
