package sqlstore

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"reflect"
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
	mu sync.Mutex
	// max bounds counted(): the segments' bytes, the index's slots and the dictionary of
	// shared strings (userDict.bytes).
	max int
	seq uint64
	// The entries live in segments (userSegment), appended to the newest; when the budget is
	// reached the oldest segment goes, with every entry in it (first in, first out). An entry
	// is its encoding (encodeUser) behind its length; it is never changed once written, and a
	// segment is never written over (a dropped one is left to the collector), so decoded
	// users may keep pointing into it.
	segs     []*userSegment // oldest first
	serial   uint32         // the newest segment's serial number
	segBytes int            // the segments' capacities together
	segSize  int
	// ids finds an entry by its user ID's hash, keys by a lookup key's hash (keyHash of
	// externalKey or emailKey): 8 bytes a key and 8 its location (entryLoc), no pointer, so
	// the collector never scans them. A hit is checked against the user it decodes (its ID,
	// keyMatches); two keys of one hash keep the later user, and the other misses.
	ids  map[uint64]uint64
	keys map[uint64]uint64
	seed maphash.Seed
	// dict holds the strings that entries share (userDict); its bytes count in the budget
	// beside the entries'. It starts again empty with the users (clearUsers).
	dict *userDict
	// scratch is where put encodes a user before copying it into a segment.
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

// userSegment is a run of entries, appended one after another up to its capacity.
type userSegment struct {
	serial uint32
	buf    []byte
}

// An entry's location: its segment's serial number (high 32 bits) and its offset in it.
func entryLoc(serial uint32, off int) uint64 { return uint64(serial)<<32 | uint64(uint32(off)) }

// Segment sizes: a 64th of the budget (dropping one evicts about 1.5% of the users), within
// these bounds; an entry larger than a segment gets one of its own size.
const (
	minSegment = 512
	maxSegment = 1 << 20
)

// maxScratch bounds the encoding space that the cache keeps between puts.
const maxScratch = 64 << 10

// maxCatalog bounds the catalog and the counts, each, by number: when full each starts again
// empty. Their keys are a query and its arguments or a few role names (under 1 KiB each in
// practice), so together they stay under a few MiB beside the users' budget (docs/storage.md).
const maxCatalog = 1024

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

// find decodes the entry that index (ids or keys) holds under hash h, if any; the caller checks
// that it is the user asked for (a hash may name another). The entry is found under the lock
// and decoded outside it, with the dictionary's strings of that moment: an entry's bytes never
// change. An entry that does not decode is a bug of encodeUser's: put checks every encoding
// with -tags rostercheck.
func (c *userCache) find(index map[uint64]uint64, h uint64) (roster.User, bool) {
	c.mu.Lock()
	var enc []byte
	if loc, ok := index[h]; ok {
		enc = c.entryAt(loc)
	}
	dict := c.dict.strs
	c.mu.Unlock()
	if enc == nil {
		return roster.User{}, false
	}
	checkEmpty()
	u, err := decodeUser(enc, dict)
	return u, err == nil
}

// maxReleased bounds the per-user release records; past it they are forgotten at once, and the
// reads in flight then are refused instead.
const maxReleased = 4096

// newUserCache returns a cache of at most maxBytes of users (as counted estimates them), or
// nil (no cache) for maxBytes 0 or less.
func newUserCache(maxBytes int) *userCache {
	if maxBytes <= 0 {
		return nil
	}
	return &userCache{max: maxBytes, segSize: min(max(maxBytes/64, minSegment), maxSegment),
		ids: map[uint64]uint64{}, keys: map[uint64]uint64{}, seed: maphash.MakeSeed(), dict: newUserDict(),
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
	u, ok := c.find(c.keys, c.keyHash(key))
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
	u, ok := c.find(c.ids, c.keyHash(id))
	if !ok || u.ID != id || u.EnvironmentID != environmentID {
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
	hashes := make([]uint64, len(ids))
	for i, id := range ids {
		hashes[i] = c.keyHash(id)
	}
	found := make([][]byte, len(ids))
	c.mu.Lock()
	for i, h := range hashes {
		if loc, ok := c.ids[h]; ok {
			found[i] = c.entryAt(loc)
		}
	}
	dict := c.dict.strs
	c.mu.Unlock()
	n := 0
	var slab userSlab
	checkEmpty()
	for i, enc := range found {
		if enc == nil {
			continue
		}
		if u, err := decodeUserFrom(enc, dict, &slab); err == nil && u.ID == ids[i] && u.EnvironmentID == environmentID {
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
	idHash, keys := c.hashes(u.ID, u.EnvironmentID, u.Email, u.ExternalID)
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
	enc := encodeUser(c.scratch[:0], &u, c.dict)
	c.scratch = enc
	if cap(c.scratch) > maxScratch {
		c.scratch = nil // one huge user's space is not kept
	}
	if checkShared {
		if back, err := decodeUser(enc, c.dict.strs); err != nil || !reflect.DeepEqual(back, withEmptyShared(u)) {
			panic(fmt.Sprintf("sqlstore: user %s does not decode as it was encoded (%v)\nput:     %+v\ndecoded: %+v", u.ID, err, u, back))
		}
	}
	var length [binary.MaxVarintLen64]byte
	head := binary.PutUvarint(length[:], uint64(len(enc)))
	entryLen := head + len(enc) // an entry is its encoding behind its length
	slots := 1
	for _, k := range keys {
		if k != 0 {
			slots++
		}
	}
	if entryLen+slots*indexSlot > c.max/16 { // one huge user (thousands of memberships) would evict many others
		return
	}
	c.remove(idHash)
	cur := c.newest()
	if cur == nil || cap(cur.buf)-len(cur.buf) < entryLen {
		size := max(c.segSize, entryLen)
		for len(c.segs) > 0 && c.counted()+size+slots*indexSlot > c.max {
			c.dropOldest()
		}
		c.serial++
		cur = &userSegment{serial: c.serial, buf: make([]byte, 0, size)}
		c.segs = append(c.segs, cur)
		c.segBytes += size
	}
	for len(c.segs) > 1 && c.counted()+slots*indexSlot > c.max {
		c.dropOldest() // the index has grown into the budget
	}
	loc := entryLoc(cur.serial, len(cur.buf))
	cur.buf = append(append(cur.buf, length[:head]...), enc...) // within its capacity: the segment's bytes never move
	c.ids[idHash] = loc
	for _, k := range keys {
		if k != 0 {
			c.keys[k] = loc
		}
	}
}

// hashes returns the hashes of a user's ID and of its lookup keys (email, external ID; 0:
// none).
func (c *userCache) hashes(id, environmentID, email string, ext *string) (uint64, [2]uint64) {
	var keys [2]uint64
	keys[0] = c.keyHash(emailKey(environmentID, roster.EmailKey(email)))
	if ext != nil {
		keys[1] = c.keyHash(externalKey(environmentID, *ext))
	}
	return c.keyHash(id), keys
}

func (c *userCache) newest() *userSegment {
	if len(c.segs) == 0 {
		return nil
	}
	return c.segs[len(c.segs)-1]
}

// entryAt returns the encoding at loc, or nil if its segment is gone.
func (c *userCache) entryAt(loc uint64) []byte {
	serial, off := uint32(loc>>32), int(uint32(loc))
	if len(c.segs) == 0 || serial < c.segs[0].serial || serial > c.serial {
		return nil
	}
	buf := c.segs[serial-c.segs[0].serial].buf
	n, k := binary.Uvarint(buf[off:])
	end := off + k + int(n)
	return buf[off+k : end : end]
}

// remove takes the user whose ID has this hash out of the index, if it is there.
func (c *userCache) remove(idHash uint64) {
	if loc, ok := c.ids[idHash]; ok {
		c.removeAt(loc)
	}
}

// removeAt takes the entry at loc out of the index (its bytes stay until its segment goes).
func (c *userCache) removeAt(loc uint64) {
	enc := c.entryAt(loc)
	if enc == nil {
		return
	}
	id, env, email, ext, err := decodeUserKeys(enc, c.dict.strs)
	if err != nil {
		return // never: every entry was encoded by put
	}
	idHash, keys := c.hashes(id, env, email, ext)
	if c.ids[idHash] == loc {
		delete(c.ids, idHash)
	}
	for _, k := range keys {
		if k != 0 && c.keys[k] == loc {
			delete(c.keys, k)
		}
	}
}

// dropOldest drops the oldest segment, taking each of its entries out of the index.
func (c *userCache) dropOldest() {
	seg := c.segs[0]
	for off := 0; off < len(seg.buf); {
		n, k := binary.Uvarint(seg.buf[off:])
		c.removeAt(entryLoc(seg.serial, off))
		off += k + int(n)
	}
	c.segBytes -= cap(seg.buf)
	copy(c.segs, c.segs[1:])
	c.segs[len(c.segs)-1] = nil
	c.segs = c.segs[:len(c.segs)-1]
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
		c.remove(c.keyHash(id))
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
		c.remove(c.keyHash(id))
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
	c.segs, c.segBytes = nil, 0
	c.ids, c.keys, c.dict = map[uint64]uint64{}, map[uint64]uint64{}, newUserDict()
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

// counted is what the budget bounds: the segments, the index and the dictionary.
func (c *userCache) counted() int {
	return c.segBytes + (len(c.ids)+len(c.keys))*indexSlot + c.dict.bytes
}

// len counts the cached users.
func (c *userCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ids)
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

// indexSlot is what one key of the index costs the heap, as measured
// (TestUserCacheIndexCost): a hash and a location, 16 bytes, in Go's map of them, which its
// groups' control bytes, its load (at most 7/8, down to 7/16 after a table splits) and the
// entries that come and go as segments are dropped bring to about 40 bytes a key.
const indexSlot = 41

// roundAlloc rounds an allocation up to the Go allocator's smallest step (8 bytes).
func roundAlloc(n int) int { return (n + 7) &^ 7 }
