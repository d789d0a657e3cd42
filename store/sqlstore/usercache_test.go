package sqlstore

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

func cacheUser(id, email, ext string) roster.User {
	return roster.User{ID: id, EnvironmentID: "env_1", Email: email, ExternalID: &ext, Metadata: map[string]string{}}
}

func TestUserCacheRefusesReadsOlderThanAWrite(t *testing.T) {
	c := newUserCache(1 << 20)
	u := cacheUser("usr_1", "Ada@Example.com", "ext-1")

	// A read that began before a write committed must not put back what it read.
	slow := c.begin()
	c.hold(u.ID)
	c.put(c.begin(), u) // a read during the write: refused, it may predate the commit
	if _, ok := c.getID("env_1", u.ID); ok {
		t.Fatal("cached a user while a write held it")
	}
	c.release(u.ID)
	c.put(slow, u)
	if _, ok := c.getID("env_1", u.ID); ok {
		t.Fatal("a read that began before the write was cached after it")
	}
	// A read that began after the write is cached, under every key.
	c.put(c.begin(), u)
	for _, k := range []string{externalKey("env_1", "ext-1"), emailKey("env_1", "ada@example.com")} {
		if got, ok := c.get(k); !ok || got.ID != u.ID {
			t.Fatalf("get %q = %v %+v", k, ok, got)
		}
	}
	if _, ok := c.getID("env_2", "usr_1"); ok {
		t.Fatal("a user was found in another environment")
	}
	if got, ok := c.getID("env_1", "usr_1"); !ok || got.ID != u.ID {
		t.Fatalf("getID = %v %+v", ok, got)
	}
	page := make([]roster.User, 2)
	if n := c.getIDs("env_1", []string{"usr_1", "usr_2"}, page); n != 1 || page[0].ID != u.ID || page[1].ID != "" {
		t.Fatalf("getIDs in env_1: %d, %+v", n, page)
	}
	if n := c.getIDs("env_2", []string{"usr_1"}, page[:1]); n != 0 {
		t.Fatal("getIDs found a user in another environment")
	}
	// A write drops it under every key.
	c.hold(u.ID)
	c.release(u.ID)
	for _, k := range []string{externalKey("env_1", "ext-1"), emailKey("env_1", "ada@example.com")} {
		if _, ok := c.get(k); ok {
			t.Fatalf("%q still cached after a write", k)
		}
	}
	if n := c.getIDs("env_1", []string{"usr_1"}, page[:1]); n != 0 {
		t.Fatal("getIDs found a user after a write")
	}
	if _, ok := c.getID("env_1", "usr_1"); ok {
		t.Fatal("getID found a user after a write")
	}
}

func TestUserCacheHoldAll(t *testing.T) {
	c := newUserCache(1 << 20)
	a, b := cacheUser("usr_1", "a@x.com", "a"), cacheUser("usr_2", "b@x.com", "b")
	c.put(c.begin(), a)
	slow := c.begin()
	c.holdAll()
	if c.len() != 0 {
		t.Fatal("holdAll kept users")
	}
	c.put(c.begin(), b)
	c.releaseAll()
	c.put(slow, b)
	if c.len() != 0 {
		t.Fatal("cached a read that began before or during a write of all users")
	}
	c.put(c.begin(), b)
	if c.len() != 1 {
		t.Fatal("refused a read that began after the write")
	}
}

func TestUserCacheForgetsManyReleases(t *testing.T) {
	c := newUserCache(1 << 20)
	slow := c.begin()
	for i := range maxReleased + 10 {
		id := "usr_x" + string(rune('a'+i%26)) + string(rune(i))
		c.hold(id)
		c.release(id)
	}
	if len(c.released) > maxReleased {
		t.Fatalf("%d release records", len(c.released))
	}
	// Forgetting the records must not let an old read in.
	c.put(slow, cacheUser("usr_xa\x00", "z@x.com", "z"))
	if c.len() != 0 {
		t.Fatal("an old read was cached after the release records were forgotten")
	}
}

func TestUserCacheBound(t *testing.T) {
	user := func(i int) roster.User { id := fmt.Sprintf("u%03d", i); return cacheUser(id, id+"@x.com", id) }
	u0 := user(0)
	// a user's entry (its length and encoding)
	entry := 1 + len(encodeUser(nil, &u0, newUserDict()))
	const budget = 16 << 10
	c := newUserCache(budget)
	for i := range 2000 {
		c.put(c.begin(), user(i))
		if c.size() > budget {
			t.Fatalf("%d bytes counted, over the budget of %d", c.size(), budget)
		}
	}
	// What it counts is its segments, its index and its dictionary; first in, first out, with
	// the segments of the last users still there, and at most one segment's worth of room
	// unused (the newest's tail) beside the index.
	if got, want := c.size(), c.segBytes+(len(c.ids)+len(c.keys))*indexSlot+c.dict.bytes; got != want {
		t.Fatalf("counted %d bytes, its parts %d", got, want)
	}
	if len(c.keys) != 2*c.len() { // email and external ID
		t.Fatalf("%d users, %d keys", c.len(), len(c.keys))
	}
	// A segment holds as many whole entries as fit (its tail is left unused), and each user
	// has three keys in the index (ID, email, external ID). Up to two segments' worth with
	// their keys may be free: the newest may be part filled, and the oldest goes whole to
	// make room for a new one.
	perSegment := c.segSize / entry
	perUser := c.segSize/perSegment + 3*indexSlot
	if min := (budget - 2*perSegment*perUser - c.dict.bytes) / perUser; c.len() < min {
		t.Fatalf("%d users in %d bytes (segments of %d), fewer than %d", c.len(), budget, c.segSize, min)
	}
	if _, ok := c.getID("env_1", "u1999"); !ok {
		t.Fatal("the last user put is not cached")
	}
	if _, ok := c.getID("env_1", "u000"); ok {
		t.Fatal("the first user put is still cached after 2,000 more")
	}
	// A user bigger than a 16th of the budget is not cached at all.
	big := cacheUser("big", "big@x.com", "big")
	big.Metadata = map[string]string{"k": strings.Repeat("x", budget/16)}
	before := c.len()
	c.put(c.begin(), big)
	if _, ok := c.getID("env_1", "big"); ok || c.len() != before {
		t.Fatal("a user of a 16th of the budget evicted others")
	}
	if newUserCache(0) != nil {
		t.Fatal("a cache of size 0 should be nil (no cache)")
	}
}

// A hit decodes the user from the entry's bytes: its strings share them and its empty maps are
// one shared map (never nil), so a hit allocates only its slices, pointers and non-empty maps.
func TestUserCacheHitsDecode(t *testing.T) {
	withoutShadows(t) // counts the allocations of a hit as it runs in production
	c := newUserCache(1 << 20)
	u := cacheUser("usr_1", "a@x.com", "a")
	u.Memberships = []roster.Membership{{OrganizationID: "org_1", UserID: "usr_1", Metadata: map[string]string{"k": "v"}, Roles: []roster.RoleRef{{Name: "r"}}},
		{OrganizationID: "org_2", UserID: "usr_1", Metadata: map[string]string{}}}
	u.Profile.CustomAttributes = map[string]string{}
	c.put(c.begin(), u)
	// the memberships, one membership's roles, the external ID, one non-empty map (its header
	// and its group of slots) and the email (its local part and its domain, the dictionary's,
	// put together)
	const want = 6
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok := c.getID("env_1", "usr_1"); !ok {
			t.Fatal("miss")
		}
	})
	if allocs > want {
		t.Fatalf("a hit allocated %v times, more than %d", allocs, want)
	}
	ids, out := []string{"usr_1", "usr_2", "usr_1"}, make([]roster.User, 3)
	allocs = testing.AllocsPerRun(100, func() {
		if n := c.getIDs("env_1", ids, out); n != 2 {
			t.Fatalf("getIDs found %d of usr_1, usr_2 (not cached), usr_1", n)
		}
	})
	if allocs > 1+2*want || out[0].ID != "usr_1" || out[1].ID != "" || out[2].ID != "usr_1" {
		t.Fatalf("getIDs allocated %v times, found %q %q %q", allocs, out[0].ID, out[1].ID, out[2].ID)
	}
	if c.getIDs("env_2", ids[:1], out[:1]) != 0 {
		t.Fatal("getIDs found a user of another environment")
	}
	got, _ := c.get(externalKey("env_1", "a"))
	if got.Metadata == nil || got.Profile.Metadata == nil || got.Profile.CustomAttributes == nil || got.Memberships[1].Metadata == nil {
		t.Fatalf("a cached user came out with a nil map: %+v", got)
	}
	if got.Memberships[0].Metadata["k"] != "v" || got.Memberships[0].Roles[0].Name != "r" || *got.ExternalID != "a" {
		t.Fatalf("cached user differs: %+v", got)
	}
	// What one reader changes in its user (not allowed, but possible) is not what the next gets.
	got.Memberships[0].Roles[0].Name = "changed"
	got.Memberships[0].Metadata["k"] = "changed"
	*got.ExternalID = "changed"
	again, _ := c.getID("env_1", "usr_1")
	if again.Memberships[0].Roles[0].Name != "r" || again.Memberships[0].Metadata["k"] != "v" || *again.ExternalID != "a" {
		t.Fatalf("a reader's change reached the cache: %+v", again)
	}
}

// Lookup keys are kept as hashes: a hash that names another user (two keys of one hash) is a
// miss, never the other user.
func TestUserCacheKeyHashIsChecked(t *testing.T) {
	c := newUserCache(1 << 20)
	c.put(c.begin(), cacheUser("usr_1", "a@x.com", "a"))
	loc := c.ids[c.keyHash("usr_1")]
	c.ids[c.keyHash("usr_9")] = loc // as if usr_9's hash were usr_1's
	if got, ok := c.getID("env_1", "usr_9"); ok {
		t.Fatalf("usr_9 found %s", got.ID)
	}
	if out := make([]roster.User, 1); c.getIDs("env_1", []string{"usr_9"}, out) != 0 {
		t.Fatalf("getIDs of usr_9 found %s", out[0].ID)
	}
	for _, key := range []string{emailKey("env_1", "b@x.com"), externalKey("env_1", "b"), emailKey("env_2", "a@x.com"), externalKey("env_2", "a")} {
		c.keys[c.keyHash(key)] = loc // as if key's hash were the user's
		if got, ok := c.get(key); ok {
			t.Fatalf("%q found %s", key, got.ID)
		}
	}
	for _, key := range []string{emailKey("env_1", "a@x.com"), externalKey("env_1", "a")} {
		if got, ok := c.get(key); !ok || got.ID != "usr_1" {
			t.Fatalf("%q: %v %q", key, ok, got.ID)
		}
	}
}

// A caller that writes into a shared empty map would change every cached user that has one:
// the next get panics rather than hand that out.
func TestUserCachePanicsOnAChangedUser(t *testing.T) {
	c := newUserCache(1 << 20)
	c.put(c.begin(), cacheUser("usr_1", "a@x.com", "a"))
	got, _ := c.getID("env_1", "usr_1")
	defer func() {
		clear(emptyStrings)
		if recover() == nil {
			t.Fatal("a write into the shared empty map went unnoticed")
		}
	}()
	got.Metadata["k"] = "changed"
	c.getID("env_1", "usr_1")
}

// withoutShadows turns checkShared off for the test (it is on with -tags rostercheck): its
// round trip of every put costs a decode and a deep comparison.
func withoutShadows(t *testing.T) {
	v := checkShared
	checkShared = false
	t.Cleanup(func() { checkShared = v })
}

// With checkShared (-tags rostercheck) a user that does not decode as it was put panics.
func TestUserCacheCheckSharedCatchesLostFields(t *testing.T) {
	defer func(v bool) { checkShared = v }(checkShared)
	checkShared = true
	c := newUserCache(1 << 20)
	u := cacheUser("usr_1", "a@x.com", "a")
	u.Memberships = []roster.Membership{{OrganizationID: "org_1", UserID: "usr_1", Roles: []roster.RoleRef{{Name: "r"}}}}
	c.put(c.begin(), u)                              // decodes as it was
	u.CreateTime = u.CreateTime.Add(time.Nanosecond) // the encoding keeps microseconds, as the database does
	defer func() {
		if recover() == nil {
			t.Fatal("a field lost by the encoding went unnoticed")
		}
	}()
	c.put(c.begin(), u)
}

// The answers kept beside the users are bounded by a small fixed count each (maxCatalog).
func TestUserCacheCatalogAndCountsBound(t *testing.T) {
	c := newUserCache(1 << 20)
	for i := range 5 * maxCatalog {
		c.catalogPut(c.begin(), fmt.Sprintf("roles\x00env_1\x00org_%d\x00member", i), []roster.RoleRef{{Name: "member"}})
		c.putCount(c.begin(), fmt.Sprintf("SELECT count(*) FROM memberships WHERE organization_id = ?\x00org_%d", i), i)
		if len(c.catalog) > maxCatalog || len(c.counts) > maxCatalog {
			t.Fatalf("%d catalog answers, %d counts, over %d", len(c.catalog), len(c.counts), maxCatalog)
		}
	}
}

// The dictionary of shared strings counts in the budget and cannot outgrow it: users that each
// bring strings of their own (a new organization each) make the cache start again empty once
// the dictionary holds a quarter of the budget, and every user read after that is still right.
func TestUserCacheDictionaryBound(t *testing.T) {
	const budget = 64 << 10
	c := newUserCache(budget)
	for i := range 5000 {
		u := cacheUser(fmt.Sprintf("usr_%d", i), fmt.Sprintf("u%d@x.com", i), fmt.Sprintf("x%d", i))
		u.Memberships = []roster.Membership{{OrganizationID: fmt.Sprintf("org_%020d", i), UserID: u.ID,
			OrganizationName: fmt.Sprintf("Organization number %d", i), Metadata: map[string]string{}}}
		c.put(c.begin(), u)
		if c.size() > budget || c.dict.bytes > budget/4+1024 {
			t.Fatalf("after %d users: %d bytes counted (dictionary %d), budget %d", i+1, c.size(), c.dict.bytes, budget)
		}
		got, ok := c.getID("env_1", u.ID)
		if !ok || got.Memberships[0].OrganizationName != u.Memberships[0].OrganizationName {
			t.Fatalf("user %d: %v %+v", i, ok, got)
		}
	}
}

// Readers decode entries outside the lock while writers append to the same segment and drop
// old ones: every hit is the user asked for, whole (run with -race in the README's test
// command), and users decoded before their segment went stay as they were.
func TestUserCacheConcurrentSegments(t *testing.T) {
	c := newUserCache(64 << 10) // segments of 1 KiB: many drops
	user := func(i int) roster.User {
		u := cacheUser(fmt.Sprintf("usr_%d", i), fmt.Sprintf("u%d@example.com", i), fmt.Sprintf("ext-%d", i))
		u.Profile.GivenName = strings.Repeat("g", i%50)
		return u
	}
	const n, rounds = 3000, 4
	kept := make(chan roster.User, 64)
	done := make(chan struct{})
	var writers, readers sync.WaitGroup
	var hits atomic.Int64
	for w := range 2 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for r := range rounds {
				for i := w; i < n; i += 2 {
					c.put(c.begin(), user(i))
					if i%97 == r {
						c.hold(user(i).ID)
						c.release(user(i).ID)
					}
				}
			}
		}()
	}
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for j := 0; ; j++ {
				select {
				case <-done:
					return
				default:
				}
				i := j * 7 % n
				want := user(i)
				check := func(u roster.User, ok bool, how string) {
					if ok {
						hits.Add(1)
					}
					if ok && (u.ID != want.ID || u.Email != want.Email || *u.ExternalID != *want.ExternalID || u.Profile.GivenName != want.Profile.GivenName) {
						t.Errorf("%s %s: got %s %s %s %q", how, want.ID, u.ID, u.Email, *u.ExternalID, u.Profile.GivenName)
					}
					if ok && i%100 == 0 {
						select {
						case kept <- u:
						default:
						}
					}
				}
				u, ok := c.getID("env_1", want.ID)
				check(u, ok, "by ID")
				u, ok = c.get(emailKey("env_1", roster.EmailKey(want.Email)))
				check(u, ok, "by email")
				page := make([]roster.User, 2)
				if got := c.getIDs("env_1", []string{want.ID, want.ID}, page); got == 2 {
					check(page[0], true, "in a page")
				}
			}
		}()
	}
	writers.Wait()
	close(done)
	readers.Wait()
	if hits.Load() == 0 {
		t.Fatal("the readers never found a user")
	}
	close(kept)
	for u := range kept {
		var i int
		fmt.Sscanf(u.ID, "usr_%d", &i)
		if w := user(i); u.Email != w.Email || u.Profile.GivenName != w.Profile.GivenName {
			t.Fatalf("a user decoded earlier changed: %+v", u)
		}
	}
	if c.size() > 64<<10 {
		t.Fatalf("%d bytes counted, over the budget", c.size())
	}
}
