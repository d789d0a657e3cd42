package sqlstore

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// realisticUser returns a user as a read of the database assembles it: every string its own
// allocation (as database/sql scans them), the empty maps that reads make, two memberships of
// which one with two roles, one SSO identity, a little metadata and two groups. Its sizes are
// those of the benchmark's users and a little more (bench/cmd/seed).
func realisticUser(i int) roster.User {
	s := func(format string, a ...any) string { return strings.Clone(fmt.Sprintf(format, a...)) }
	ext := s("bench-user-%d", i)
	now := time.UnixMicro(1_700_000_000_000_000 + int64(i)).UTC()
	login := now
	member := func(org int, roles ...string) roster.Membership {
		m := roster.Membership{OrganizationID: s("org_%020d", org), UserID: s("usr_%020d", i), OrganizationName: s("Bench Org %d", org),
			Status: roster.MembershipStatus(s("ACTIVE")), Metadata: map[string]string{}, CreateTime: now, UpdateTime: now,
			AcceptTime: &login, ProvisioningMethod: s("api")}
		for _, r := range roles {
			m.Roles = append(m.Roles, roster.RoleRef{ID: s("rol_%020d", len(r)), Name: s("%s", r), DisplayName: s("The %s", r)})
		}
		return m
	}
	return roster.User{
		ID: s("usr_%020d", i), EnvironmentID: s("env_%020d", 1), Email: s("u%d@bench.example.com", i), ExternalID: &ext,
		Metadata:   map[string]string{s("team"): s("blue-%d", i%10), s("tier"): s("gold")},
		CreateTime: now, UpdateTime: now, LastLoginTime: &login,
		Profile: roster.Profile{GivenName: s("Given%d", i), FamilyName: s("Family%d", i), Name: s("Given%d Family%d", i, i), Locale: s("en-US"),
			EmailVerified: true, Groups: []string{s("engineering"), s("staff-%d", i%7)}, Metadata: map[string]string{}, CustomAttributes: map[string]string{}},
		Memberships: []roster.Membership{member(i%100, "member"), member(100+i%1000, "admin", "billing")},
		Identities: []roster.Identity{{ConnectionID: s("conn_%020d", 7), ConnectionType: roster.ConnectionType(s("OIDC")), Provider: s("OKTA"),
			Subject: s("00u%017d", i), CreateTime: now, LastLoginTime: now}},
	}
}

// liveHeap returns the bytes of live heap objects after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// heapFactor is how far the Go heap that a full cache holds may exceed its byte budget: the
// estimate leaves out allocator waste it cannot see (size classes beyond its rounding, maps
// grown to their peak).
const heapFactor = 1.5

// A cache filled with many more users than fit holds at most its budget, by its own account
// and by the Go heap's.
func TestUserCacheHeapBound(t *testing.T) {
	withoutShadows(t) // measures the cache as it runs in production
	const budget = 4 << 20
	before := liveHeap()
	c := newUserCache(budget)
	for i := range 20_000 { // about 40 MiB of users if they were all kept
		c.put(c.begin(), realisticUser(i))
		if b := c.size(); b > budget {
			t.Fatalf("after %d users the cache counts %d bytes, over its budget of %d", i+1, b, budget)
		}
	}
	grown := int64(liveHeap()) - int64(before)
	t.Logf("%d users cached, %d bytes counted, heap grew %d bytes (budget %d)", c.len(), c.size(), grown, budget)
	if c.len() < 1000 {
		t.Fatalf("only %d users fit in %d bytes", c.len(), budget)
	}
	if float64(grown) > budget*heapFactor {
		t.Fatalf("the heap grew %d bytes for a cache of %d bytes, more than %.1f times", grown, budget, heapFactor)
	}
	runtime.KeepAlive(c)
}

// userSize is an honest estimate: for a realistic user it is within a factor of 1.5 either way
// of the heap that caching many such users takes, per user.
func TestUserSizeMatchesHeap(t *testing.T) {
	withoutShadows(t) // measures the cache as it runs in production
	const n = 5000
	c := newUserCache(1 << 30)
	before := liveHeap()
	estimate := 0
	for i := range n {
		c.put(c.begin(), realisticUser(i))
	}
	estimate = c.size() // the segments, the index and the strings the users share, once
	measured := int64(liveHeap()) - int64(before)
	runtime.KeepAlive(c)
	ratio := float64(estimate) / float64(measured)
	t.Logf("per user: estimated %d bytes, measured %d (ratio %.2f)", estimate/n, measured/n, ratio)
	if ratio < 1/1.5 || ratio > 1.5 {
		t.Fatalf("estimate %d bytes for %d users, heap measured %d: ratio %.2f outside [0.67, 1.5]", estimate, n, measured, ratio)
	}
	if c.size() != estimate {
		t.Fatalf("cache counts %d bytes, its entries %d", c.size(), estimate)
	}
}

// BenchmarkUserCacheBytesPerUser caches 10,000 realistic users (realisticUser) and reports
// what one costs: est-bytes/user as the cache counts it (userSize) and heap-bytes/user as the
// Go heap measures it after a collection. ns/op is the time of the 10,000 puts.
func BenchmarkUserCacheBytesPerUser(b *testing.B) {
	const n = 10_000
	var est, heap float64
	for range b.N {
		b.StopTimer()
		before := liveHeap()
		c := newUserCache(1 << 30)
		users := make([]roster.User, n)
		for i := range users {
			users[i] = realisticUser(i)
		}
		b.StartTimer()
		for _, u := range users {
			c.put(c.begin(), u)
		}
		b.StopTimer()
		users = nil // only the cache holds them now
		heap = float64(int64(liveHeap())-int64(before)) / n
		est = float64(c.size()) / n
		runtime.KeepAlive(c)
		b.StartTimer()
	}
	b.ReportMetric(est, "est-bytes/user")
	b.ReportMetric(heap, "heap-bytes/user")
}

// BenchmarkUserCacheGetIDs: a page of 100 users found in a full cache of 10k (a page of
// ListOrganizationUsers whose users are all cached), per page.
func BenchmarkUserCacheGetIDs(b *testing.B) {
	c := newUserCache(64 << 20)
	const n = 10_000
	for i := range n {
		c.put(c.begin(), realisticUser(i))
	}
	env := realisticUser(0).EnvironmentID
	pages := make([][]string, 50)
	for p := range pages {
		for k := range 100 {
			pages[p] = append(pages[p], realisticUser((p*197+k*89)%n).ID)
		}
	}
	out := make([]roster.User, 100)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		if got := c.getIDs(env, pages[i%len(pages)], out); got != 100 {
			b.Fatalf("%d of 100 found", got)
		}
	}
}

// The index's keys are counted at what they cost the heap (indexSlot) at most, in a cache that
// has turned over its users several times, as a full one does: at a few points of its maps'
// growth (a key costs 30–41 bytes as the tables fill and split), never more than counted.
func TestUserCacheIndexCost(t *testing.T) {
	withoutShadows(t)
	for _, tc := range []struct{ budget, n int }{{4 << 20, 50_000}, {4 << 20, 110_000}, {16 << 20, 300_000}} {
		c, n := newUserCache(tc.budget), tc.n
		for i := range n {
			ext := fmt.Sprintf("bench-user-%d", i)
			c.put(c.begin(), roster.User{ID: fmt.Sprintf("usr_%018d", i), EnvironmentID: "env_1", Email: fmt.Sprintf("u%d@bench.example.com", i),
				ExternalID: &ext, Metadata: map[string]string{}})
		}
		keys := len(c.ids) + len(c.keys)
		before := liveHeap()
		c.ids, c.keys = nil, nil
		measured := float64(int64(before)-int64(liveHeap())) / float64(keys)
		runtime.KeepAlive(c)
		t.Logf("after %d users: %d keys, %.1f bytes each measured, %d counted", n, keys, measured, indexSlot)
		if measured > indexSlot*1.05 || indexSlot > 1.5*measured {
			t.Fatalf("a key of the index costs %.1f bytes, counted %d", measured, indexSlot)
		}
	}
}
