package sqlstore

import (
	"fmt"
	"hash/maphash"
	"reflect"
	"sync"
	"unsafe"

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
	mu sync.Mutex
	// max bounds counted(): bytes, the estimated memory of the entries with their lookup keys
	// (userSize), and the dictionary of shared strings (userDict.bytes).
	max, bytes int
	seq        uint64
	entries    map[string]*cachedUser // by user ID (a string of the entry's own bytes)
	// keys finds a user by a lookup key's hash (keyHash of externalKey or emailKey): 8 bytes a
	// key instead of the key. A hit is checked against the user it decodes (keyMatches); two
	// keys of one hash keep the later user, and the other misses.
	keys map[uint64]*cachedUser
	seed maphash.Seed
	// dict holds the strings that entries share (userDict); its bytes count in the budget
	// beside the entries'. It starts again empty with the users (clearUsers).
	dict *userDict
	// scratch is where put encodes a user before copying it into a slice of its own size.
	scratch []byte
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
	// At most maxCatalog answers; when full it starts again empty.
	catalog map[string]any
	// counts holds the numbers of users that queries match (an organization's members). Any
	// write of a user may change them, so every hold and release clears them all, and none is
	// kept while a write is in flight or from a count that began before the last release.
	counts            map[string]int
	countsStaleBefore uint64
}

// maxScratch bounds the encoding space that the cache keeps between puts.
const maxScratch = 64 << 10

// maxCatalog bounds the catalog and the counts, each, by number: when full each starts again
// empty. Their keys are a query and its arguments or a few role names (under 1 KiB each in
// practice), so together they stay under a few MiB beside the users' budget (docs/storage.md).
const maxCatalog = 1024

type cachedUser struct {
	enc  []byte    // the user, encodeUser's; never changed (decoded users' strings share it)
	keys [2]uint64 // keyHash of its lookup keys (email, external ID; 0: none)
	size int       // userSize, counted in userCache.bytes
}

// checkShared makes the cache check, on every put, that the user decodes back exactly as it
// was read (reflect.DeepEqual): a field that encodeUser forgot would otherwise be lost only
// for the reads that hit. Set by the build tag rostercheck (usercache_check.go).
var checkShared = false

// checkEmpty panics if a caller wrote into the one empty map that decoded users share.
func checkEmpty() {
	if len(emptyStrings) != 0 {
		panic(fmt.Sprintf("sqlstore: a caller wrote %d entries into an empty map of a user read from the store, which users share: Clone a user before changing it", len(emptyStrings)))
	}
}

// user decodes the entry with dict, the strings of the cache's dictionary when it was found.
// An entry that does not decode is a bug of encodeUser's: put checks every encoding with
// -tags rostercheck.
func (e *cachedUser) user(dict []string) (roster.User, bool) {
	checkEmpty()
	u, err := decodeUser(e.enc, dict)
	return u, err == nil
}

// maxReleased bounds the per-user release records; past it they are forgotten at once, and the
// reads in flight then are refused instead.
const maxReleased = 4096

// newUserCache returns a cache of at most maxBytes of users (as userSize estimates them), or
// nil (no cache) for maxBytes 0 or less.
func newUserCache(maxBytes int) *userCache {
	if maxBytes <= 0 {
		return nil
	}
	return &userCache{max: maxBytes, entries: map[string]*cachedUser{}, keys: map[uint64]*cachedUser{}, seed: maphash.MakeSeed(), dict: newUserDict(),
		held: map[string]int{}, released: map[string]uint64{}, catalog: map[string]any{}, counts: map[string]int{}}
}

// keyHash is a lookup key's hash, never 0 (0 marks no key).
func (c *userCache) keyHash(key string) uint64 {
	return maphash.String(c.seed, key) | 1
}

// keyMatches reports whether u is the user that lookup key names.
func keyMatches(u *roster.User, key string) bool {
	switch {
	case len(key) > 2 && key[0] == 'x':
		return u.ExternalID != nil && key == externalKey(u.EnvironmentID, *u.ExternalID)
	case len(key) > 2 && key[0] == 'e':
		return key == emailKey(u.EnvironmentID, roster.EmailKey(u.Email))
	}
	return false
}

// Lookup keys: an external ID or an email key, each within an environment. A user is looked up
// by its ID in entries itself (getID), which saves a key of ~50 bytes and its map entry per
// cached user (~120 bytes: ~8% more users in the same budget).
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

// get returns the user that key names, if cached. The user is decoded anew, but its strings
// and empty maps are shared with every other reader: nobody may change them (store.Store's
// read-only rule for users; Clone first).
func (c *userCache) get(key string) (roster.User, bool) {
	if c == nil {
		return roster.User{}, false
	}
	h := c.keyHash(key)
	c.mu.Lock()
	e, dict := c.keys[h], c.dict.strs
	c.mu.Unlock()
	if e == nil {
		return roster.User{}, false
	}
	u, ok := e.user(dict)
	if !ok || !keyMatches(&u, key) {
		return roster.User{}, false
	}
	return u, true
}

// getID returns the cached user with this ID in the environment, by the entries' own key.
func (c *userCache) getID(environmentID, id string) (roster.User, bool) {
	if c == nil {
		return roster.User{}, false
	}
	c.mu.Lock()
	e, dict := c.entries[id], c.dict.strs
	c.mu.Unlock()
	if e == nil {
		return roster.User{}, false
	}
	u, ok := e.user(dict)
	if !ok || u.EnvironmentID != environmentID {
		return roster.User{}, false
	}
	return u, true
}

// getIDs fills out[i] with the cached user of ids[i] in the environment, where cached, under
// one lock for the lot, looking each up by its ID (the entries' own key: no lookup key to
// build or look up first). It returns how many it filled. The users share their strings, as
// get's. They are decoded outside the lock: an entry's bytes never change.
func (c *userCache) getIDs(environmentID string, ids []string, out []roster.User) int {
	if c == nil {
		return 0
	}
	found := make([]*cachedUser, len(ids))
	c.mu.Lock()
	for i, id := range ids {
		found[i] = c.entries[id]
	}
	dict := c.dict.strs
	c.mu.Unlock()
	n := 0
	var slab userSlab
	checkEmpty()
	for i, e := range found {
		if e == nil {
			continue
		}
		if u, err := decodeUserFrom(e.enc, dict, &slab); err == nil && u.EnvironmentID == environmentID {
			out[i] = u
			n++
		}
	}
	return n
}

// put caches u, read by a query that began at seq, unless a write holds u or released it since.
// The cache keeps an encoding of u (encodeUser): the caller may go on using u.
func (c *userCache) put(seq uint64, u roster.User) {
	if c == nil {
		return
	}
	var keys [2]uint64
	keys[0] = c.keyHash(emailKey(u.EnvironmentID, roster.EmailKey(u.Email)))
	if u.ExternalID != nil {
		keys[1] = c.keyHash(externalKey(u.EnvironmentID, *u.ExternalID))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.heldAll > 0 || c.held[u.ID] > 0 || seq < c.staleBefore || c.released[u.ID] > seq {
		return
	}
	if c.dict.bytes > c.max/4 {
		// Strings of users long gone (organizations, roles) have taken a quarter of the
		// budget: start again empty.
		c.clearUsers()
	}
	// Encoded under the lock: it adds to the dictionary (a few hundred nanoseconds).
	c.scratch = encodeUser(c.scratch[:0], &u, c.dict)
	e := &cachedUser{enc: append([]byte(nil), c.scratch...), keys: keys}
	if cap(c.scratch) > maxScratch {
		c.scratch = nil // one huge user's space is not kept
	}
	if checkShared {
		if back, err := decodeUser(e.enc, c.dict.strs); err != nil || !reflect.DeepEqual(back, withEmptyShared(u)) {
			panic(fmt.Sprintf("sqlstore: user %s does not decode as it was encoded (%v)\nput:     %+v\ndecoded: %+v", u.ID, err, u, back))
		}
	}
	e.size = userSize(e)
	if e.size > c.max/16 { // one huge user (thousands of memberships) would evict many others
		return
	}
	id := unsafe.String(&e.enc[idOffset(e.enc)], len(u.ID)) // the entry's own copy of the ID
	if old := c.entries[u.ID]; old != nil {
		c.remove(u.ID, old)
	}
	for c.counted()+e.size > c.max && len(c.entries) > 0 {
		for id, old := range c.entries { // map order is random: a random victim
			c.remove(id, old)
			break
		}
	}
	c.entries[id] = e
	c.bytes += e.size
	for _, k := range e.keys {
		if k != 0 {
			c.keys[k] = e
		}
	}
}

func (c *userCache) remove(id string, e *cachedUser) {
	delete(c.entries, id)
	c.bytes -= e.size
	for _, k := range e.keys {
		if k != 0 && c.keys[k] == e {
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
	c.clearUsers()
	clear(c.catalog)
	clear(c.counts)
}

// clearUsers drops every user. Go's maps keep their grown tables when cleared, so they are
// made anew: a cache emptied by a write of all users gives its memory back.
func (c *userCache) clearUsers() {
	c.entries, c.keys, c.dict, c.bytes = map[string]*cachedUser{}, map[uint64]*cachedUser{}, newUserDict(), 0
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
	c.clearUsers()
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

// size returns the bytes the cache is counted for (counted), at most the budget.
func (c *userCache) size() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counted()
}

// counted is what the budget bounds: the entries and the dictionary.
func (c *userCache) counted() int { return c.bytes + c.dict.bytes }

// len counts the cached users.
func (c *userCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// emptyStrings is the one empty map that every decoded user holds in place of its own empty
// maps: the maps that reads make are never nil, and an empty one of each user's own would
// cost every hit an allocation. Nobody may write into it (every hit checks).
var emptyStrings = map[string]string{}

// withEmptyShared returns u with its empty maps made emptyStrings, as decodeUser makes them:
// what a put must decode back to.
func withEmptyShared(u roster.User) roster.User {
	share := func(m map[string]string) map[string]string {
		if len(m) == 0 {
			return emptyStrings
		}
		return m
	}
	u.Metadata = share(u.Metadata)
	u.Profile.Metadata = share(u.Profile.Metadata)
	u.Profile.CustomAttributes = share(u.Profile.CustomAttributes)
	if u.Memberships != nil {
		ms := make([]roster.Membership, len(u.Memberships))
		for i, m := range u.Memberships {
			m.Metadata = share(m.Metadata)
			ms[i] = m
		}
		u.Memberships = ms
	}
	return u
}

// Sizes that userSize counts, in bytes of the Go heap (amd64): an entry's struct and its
// encoding, each rounded up to a size class (about an eighth more on average, which userSize
// adds at the end), and its slots in the cache's maps. A map's entries live in groups of 8
// slots with one control byte each, filled to at most 7/8.
const (
	entrySlot      = 16 + 8 + 1 // c.entries: ID header and pointer
	keySlot        = 8 + 8 + 1  // c.keys: hash and pointer
	allocRounding8 = 8
)

// userSize estimates the heap bytes that caching e costs: its struct, its encoding and its
// slots in the cache's maps. TestUserSizeMatchesHeap holds it within a stated factor of what
// the Go heap measures.
func userSize(e *cachedUser) int {
	n := roundAlloc(int(unsafe.Sizeof(cachedUser{}))) + roundAlloc(cap(e.enc)) + entrySlot*8/7
	for _, k := range e.keys {
		if k != 0 {
			n += keySlot * 8 / 7
		}
	}
	return n + n/8
}

func roundAlloc(n int) int { return (n + allocRounding8 - 1) &^ (allocRounding8 - 1) }
