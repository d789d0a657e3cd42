package sqlstore

import (
	"sync"

	"github.com/rosterhq/roster"
)

// userCache keeps users as reads assembled them (row, attributes, identities, memberships with
// organization names and roles), for a store that is the only writer of its database: SQLite,
// whose file one `roster serve` owns. Every write transaction says which users it may change
// (hold) and lets go of them once it has ended (release); a write that cannot say (an
// organization renamed, a role deleted, an attribute definition removed) holds every user.
// PostgreSQL gets no cache: other nodes write to the same database (docs/storage.md).
//
// The rules that keep it from answering what the database no longer holds:
//   - hold drops the user and refuses to cache it until the write has ended, committed or not;
//     meanwhile reads go to the database.
//   - release drops it again, and a read that misses offers its result with the sequence
//     number it took before it queried: a read that began before the release is refused, so
//     it never puts back what it read before the write committed.
//
// So a cached user was read after the last write that changed it, and a reader never sees a
// user go back to an older state. The zero of a *userCache (nil) caches nothing.
type userCache struct {
	mu      sync.Mutex
	max     int
	seq     uint64
	entries map[string]*cachedUser // by user ID
	keys    map[string]string      // lookup key (idKey, externalKey, emailKey) → user ID
	// held counts the writes in flight per user; heldAll those that may change any user.
	held    map[string]int
	heldAll int
	// released holds, per user ID, the sequence number of its last release, for the reads in
	// flight; staleBefore refuses every read that began before it (a release of all, or
	// released grown too large and forgotten).
	released    map[string]uint64
	staleBefore uint64
	// catalog holds small answers that only writes of every user's kind change (inTx): the
	// roles a name resolves to, the default member role. Cleared like the users by holdAll.
	catalog map[string]any
	// counts holds the numbers of users that queries match (an organization's members). Any
	// write of a user may change them, so every hold and release clears them all, and none is
	// kept while a write is in flight or from a count that began before the last release.
	counts            map[string]int
	countsStaleBefore uint64
}

// maxCatalog bounds the catalog; when full it starts again empty.
const maxCatalog = 10_000

type cachedUser struct {
	user roster.User
	keys []string
}

// maxReleased bounds the per-user release records; past it they are forgotten at once, and the
// reads in flight then are refused instead.
const maxReleased = 4096

func newUserCache(max int) *userCache {
	if max <= 0 {
		return nil
	}
	return &userCache{max: max, entries: map[string]*cachedUser{}, keys: map[string]string{}, held: map[string]int{}, released: map[string]uint64{},
		catalog: map[string]any{}, counts: map[string]int{}}
}

// Lookup keys: a user ID, an external ID or an email key, each within an environment.
func idKey(environmentID, id string) string        { return "i\x00" + environmentID + "\x00" + id }
func externalKey(environmentID, ext string) string { return "x\x00" + environmentID + "\x00" + ext }
func emailKey(environmentID, key string) string    { return "e\x00" + environmentID + "\x00" + key }

// begin returns the sequence number that a read about to query the database offers its result with.
func (c *userCache) begin() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seq
}

// get returns a copy of the user that key names, if cached.
func (c *userCache) get(key string) (roster.User, bool) {
	if c == nil {
		return roster.User{}, false
	}
	c.mu.Lock()
	e := c.entries[c.keys[key]]
	c.mu.Unlock()
	if e == nil {
		return roster.User{}, false
	}
	return e.user.Clone(), true // e.user is never changed once cached
}

// put caches u, read by a query that began at seq, unless a write holds u or released it since.
// The cache keeps u itself: the caller must not change it afterwards.
func (c *userCache) put(seq uint64, u roster.User) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.heldAll > 0 || c.held[u.ID] > 0 || seq < c.staleBefore || c.released[u.ID] > seq {
		return
	}
	if old := c.entries[u.ID]; old != nil {
		c.remove(u.ID, old)
	}
	for len(c.entries) >= c.max {
		for id, e := range c.entries { // map order is random: a random victim
			c.remove(id, e)
			break
		}
	}
	e := &cachedUser{user: u, keys: []string{idKey(u.EnvironmentID, u.ID), emailKey(u.EnvironmentID, roster.EmailKey(u.Email))}}
	if u.ExternalID != nil {
		e.keys = append(e.keys, externalKey(u.EnvironmentID, *u.ExternalID))
	}
	c.entries[u.ID] = e
	for _, k := range e.keys {
		c.keys[k] = u.ID
	}
}

func (c *userCache) remove(id string, e *cachedUser) {
	delete(c.entries, id)
	for _, k := range e.keys {
		if c.keys[k] == id {
			delete(c.keys, k)
		}
	}
}

// hold drops the users with these IDs and keeps them out until release.
func (c *userCache) hold(ids ...string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		c.held[id]++
		if e := c.entries[id]; e != nil {
			c.remove(id, e)
		}
	}
	clear(c.counts)
}

// release ends holds taken by hold(ids...), and drops the users again.
func (c *userCache) release(ids ...string) {
	if c == nil || len(ids) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	clear(c.counts)
	c.countsStaleBefore = c.seq
	if len(c.released)+len(ids) > maxReleased {
		clear(c.released)
		c.staleBefore = c.seq
	}
	for _, id := range ids {
		if c.held[id]--; c.held[id] <= 0 {
			delete(c.held, id)
		}
		if e := c.entries[id]; e != nil {
			c.remove(id, e)
		}
		if c.staleBefore != c.seq {
			c.released[id] = c.seq
		}
	}
}

// holdAll is hold for every user.
func (c *userCache) holdAll() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.heldAll++
	clear(c.entries)
	clear(c.keys)
	clear(c.catalog)
	clear(c.counts)
}

// releaseAll ends a holdAll.
func (c *userCache) releaseAll() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.heldAll--
	c.seq++
	c.staleBefore = c.seq
	clear(c.entries)
	clear(c.keys)
	clear(c.released)
	clear(c.catalog)
	clear(c.counts)
	c.countsStaleBefore = c.seq
}

// catalogGet returns the catalog answer under key. Answers must be values that nobody changes.
func (c *userCache) catalogGet(key string) (any, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.catalog[key]
	return v, ok
}

// catalogPut keeps v under key, read by a query that began at seq, unless a write of every
// user's kind ran since.
func (c *userCache) catalogPut(seq uint64, key string, v any) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.heldAll > 0 || seq < c.staleBefore {
		return
	}
	if len(c.catalog) >= maxCatalog {
		clear(c.catalog)
	}
	c.catalog[key] = v
}

// count returns the count kept under key.
func (c *userCache) count(key string) (int, bool) {
	if c == nil {
		return 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.counts[key]
	return n, ok
}

// putCount keeps a count read by a query that began at seq, unless a write of a user is in
// flight or ended since.
func (c *userCache) putCount(seq uint64, key string, n int) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.heldAll > 0 || len(c.held) > 0 || seq < c.countsStaleBefore {
		return
	}
	if len(c.counts) >= maxCatalog {
		clear(c.counts)
	}
	c.counts[key] = n
}

// len counts the cached users.
func (c *userCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
