package storetest

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// SearchBenchUsers is the number of users BenchUserSearch seeds.
const SearchBenchUsers = 100_000

// BenchUserSearch measures the user search (ListUsers with Search, as SearchUsers and the
// dashboard call it) over SearchBenchUsers users of one environment, seeded through
// ImportUsers with emails user<N>@bench.example.com and external IDs ext-<N>. Each query is
// measured twice: "cached", where the count of the matches comes from the store's cache
// after the first call (SQLite; PostgreSQL has no cache and counts each time), and
// "after-write", where a user's profile is updated (outside the timer) before each search, so
// that the count is taken again as it is on a server with writes. Last, "two-environments"
// is all/after-write once another environment holds 1,000 users that match too (which no
// answer may include).
//
//	all    bench.example: every user matches (the first page, and a page 50,000 users deep)
//	part   user4242: part of an email, 11 users match
//	none   example.bench: no user matches, most of its trigrams are everyone's
//	id     a whole user ID
//
// afterSeed, when not nil, runs once the users are in (PostgreSQL: ANALYZE, which autovacuum
// would run a minute later).
func BenchUserSearch(b *testing.B, s store.Store, afterSeed func()) {
	ctx := context.Background()
	seed := func(name string, n int) (roster.Environment, []string) {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		env := roster.Environment{ID: ids.New(roster.PrefixEnvironment), Name: name, CursorKey: key, CreateTime: now()}
		if err := s.CreateEnvironment(ctx, env); err != nil {
			b.Fatal(err)
		}
		var userIDs []string
		const batch = 1000
		for from := 0; from < n; from += batch {
			lines := make([]store.ImportLine, min(batch, n-from))
			for i := range lines {
				k := from + i
				lines[i] = store.ImportLine{NewID: ids.New(roster.PrefixUser), User: roster.ImportUser{
					Email: fmt.Sprintf("user%d@bench.example.com", k), ExternalID: strp(fmt.Sprintf("ext-%d", k))}}
			}
			out, err := s.ImportUsers(ctx, env.ID, now(), lines)
			if err != nil {
				b.Fatal(err)
			}
			for _, o := range out {
				if o.Err != nil {
					b.Fatal(o.Err)
				}
				userIDs = append(userIDs, o.UserID)
			}
		}
		return env, userIDs
	}
	start := time.Now()
	env, userIDs := seed("bench", SearchBenchUsers)
	if afterSeed != nil {
		afterSeed()
	}
	b.Logf("seeded %d users in %s", SearchBenchUsers, time.Since(start).Round(time.Millisecond))
	deep, ok := roster.IDNumber(userIDs[SearchBenchUsers/2], roster.PrefixUser)
	if !ok {
		b.Fatal("bad id")
	}
	cases := []struct {
		name         string
		q            store.UserQuery
		items, total int
	}{
		{"all", store.UserQuery{Search: "bench.example"}, 30, SearchBenchUsers},
		{"all-deep", store.UserQuery{Search: "bench.example", Page: store.PageQuery{After: deep}}, 30, SearchBenchUsers},
		{"part", store.UserQuery{Search: "user4242"}, 11, 11},
		{"none", store.UserQuery{Search: "example.bench"}, 0, 0},
		{"id", store.UserQuery{Search: userIDs[4242]}, 1, 1},
	}
	i := 0
	write := func() {
		i++
		_, err := s.UpdateUser(ctx, env.ID, roster.UserRef{ID: userIDs[i%len(userIDs)]}, func(u *roster.User, _ store.AttributeDefs) error {
			u.Profile.GivenName = fmt.Sprint("Given ", i)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	for _, mode := range []string{"cached", "after-write", "two-environments"} {
		if mode == "two-environments" {
			seed("other", 1000)
			if afterSeed != nil {
				afterSeed()
			}
		}
		for _, c := range cases {
			if mode == "two-environments" && c.name != "all" {
				continue
			}
			b.Run(c.name+"/"+mode, func(b *testing.B) {
				q := c.q
				q.Page.Size = 30
				search := func() {
					page, err := s.ListUsers(ctx, env.ID, q)
					if err != nil {
						b.Fatal(err)
					}
					if len(page.Items) != c.items || page.Total != c.total {
						b.Fatalf("%d users of %d, want %d of %d", len(page.Items), page.Total, c.items, c.total)
					}
				}
				search()
				b.ResetTimer()
				for range b.N {
					if mode != "cached" {
						b.StopTimer()
						write()
						b.StartTimer()
					}
					search()
				}
			})
		}
	}
}
