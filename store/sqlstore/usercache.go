package sqlstore

import (
	"fmt"
	"reflect"
	"sync"
	"time"
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
	// max bounds bytes, the estimated memory of the entries and their lookup keys (userSize).
	max, bytes int
	seq        uint64
	entries    map[string]*cachedUser // by user ID
	keys       map[string]string      // lookup key (externalKey, emailKey) → user ID; by ID: entries
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

// maxCatalog bounds the catalog and the counts, each, by number: when full each starts again
// empty. Their keys are a query and its arguments or a few role names (under 1 KiB each in
// practice), so together they stay under a few MiB beside the users' budget (docs/storage.md).
const maxCatalog = 1024

type cachedUser struct {
	user roster.User // compact (compactUser), then its empty maps shared (shareEmpty); never changed
	keys []string
	size int // userSize, counted in userCache.bytes
	// shadow is a deep copy of user, kept only when checkShared is set (tests built with the
	// tag rostercheck), to catch a caller that changed a user it was handed.
	// A pointer: a roster.User here would cost its ~390 bytes in every entry.
	shadow *roster.User
}

// checkShared makes the cache keep a deep copy of each user and compare it with the user on
// every get and removal: a difference means a caller changed a user that the cache shares,
// and panics. Set by the build tag rostercheck (usercache_check.go).
var checkShared = false

// check panics if a caller changed a cached user: the shared empty map is no longer empty
// (checked always: one length), or, with checkShared, the user differs from its deep copy.
func (e *cachedUser) check() {
	if len(emptyStrings) != 0 {
		panic(fmt.Sprintf("sqlstore: a caller wrote %d entries into an empty map of a user read from the store, which users share: Clone a user before changing it", len(emptyStrings)))
	}
	if e.shadow != nil && !reflect.DeepEqual(e.user, *e.shadow) {
		panic(fmt.Sprintf("sqlstore: a caller changed user %s read from the store, which the cache shares: Clone a user before changing it\nnow:    %+v\nbefore: %+v", e.user.ID, e.user, e.shadow))
	}
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
	return &userCache{max: maxBytes, entries: map[string]*cachedUser{}, keys: map[string]string{}, held: map[string]int{}, released: map[string]uint64{},
		catalog: map[string]any{}, counts: map[string]int{}}
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

// get returns the user that key names, if cached. The user is the cache's own, shared with
// every other reader: nobody may change it (store.Store's read-only rule for users; Clone
// first). A hit allocates nothing.
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
	e.check()
	return e.user, true
}

// getID returns the cached user with this ID in the environment, by the entries' own key.
func (c *userCache) getID(environmentID, id string) (roster.User, bool) {
	if c == nil {
		return roster.User{}, false
	}
	c.mu.Lock()
	e := c.entries[id]
	c.mu.Unlock()
	if e == nil || e.user.EnvironmentID != environmentID {
		return roster.User{}, false
	}
	e.check()
	return e.user, true
}

// getIDs fills out[i] with the cached user of ids[i] in the environment, where cached, under
// one lock for the lot, looking each up by its ID (the entries' own key: no lookup key to
// build or look up first). It returns how many it filled. The users are shared, as get's.
func (c *userCache) getIDs(environmentID string, ids []string, out []roster.User) int {
	if c == nil {
		return 0
	}
	n := 0
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, id := range ids {
		if e := c.entries[id]; e != nil && e.user.EnvironmentID == environmentID {
			e.check()
			out[i] = e.user
			n++
		}
	}
	return n
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
	e := &cachedUser{user: compactUser(u), keys: make([]string, 1, 2)}
	e.keys[0] = emailKey(u.EnvironmentID, roster.EmailKey(u.Email))
	if u.ExternalID != nil {
		e.keys = append(e.keys, externalKey(u.EnvironmentID, *u.ExternalID))
	}
	e.size = userSize(e.user, e.keys) // before shareEmpty: the shared empty map costs nothing per user
	shareEmpty(&e.user)
	if checkShared {
		shadow := e.user.Clone()
		e.shadow = &shadow
	}
	if e.size > c.max/16 { // one huge user (thousands of memberships) would evict many others
		return
	}
	for c.bytes+e.size > c.max {
		for id, old := range c.entries { // map order is random: a random victim
			c.remove(id, old)
			break
		}
	}
	c.entries[u.ID] = e
	c.bytes += e.size
	for _, k := range e.keys {
		c.keys[k] = u.ID
	}
}

func (c *userCache) remove(id string, e *cachedUser) {
	e.check()
	delete(c.entries, id)
	c.bytes -= e.size
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
	c.clearUsers()
	clear(c.catalog)
	clear(c.counts)
}

// clearUsers drops every user. Go's maps keep their grown tables when cleared, so they are
// made anew: a cache emptied by a write of all users gives its memory back.
func (c *userCache) clearUsers() {
	c.entries, c.keys, c.bytes = map[string]*cachedUser{}, map[string]string{}, 0
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

// size returns the bytes the cached users are counted for (userSize), at most the budget.
func (c *userCache) size() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
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

// compactUser returns u as the cache keeps it: the empty maps that every read makes (metadata,
// custom attributes, a membership's metadata) are left out, nil, and expandUser makes them
// again on the way out. Each costs a map header (48 bytes) for nothing. Reads never fill an
// identity's raw claims (only sign-ins write them), so none are cached.
func compactUser(u roster.User) roster.User {
	u.Metadata = nilIfEmpty(u.Metadata)
	u.Profile.Metadata = nilIfEmpty(u.Profile.Metadata)
	u.Profile.CustomAttributes = nilIfEmpty(u.Profile.CustomAttributes)
	if len(u.Memberships) > 0 {
		ms := make([]roster.Membership, len(u.Memberships)) // no spare capacity
		for i, m := range u.Memberships {
			m.Metadata = nilIfEmpty(m.Metadata)
			ms[i] = m
		}
		u.Memberships = ms
	}
	if len(u.Identities) > 0 {
		ids := make([]roster.Identity, len(u.Identities))
		copy(ids, u.Identities)
		for i := range ids {
			ids[i].RawClaims = nil
		}
		u.Identities = ids
	}
	return u
}

// emptyStrings is the one empty map that every cached user holds in place of its own empty
// maps (shareEmpty): the maps that reads make are never nil, and an empty one of each user's
// own would cost a map header (48 bytes) for nothing. Nobody may write into it (get checks).
var emptyStrings = map[string]string{}

// shareEmpty undoes compactUser on the cache's own copy, in place: the nil maps become
// emptyStrings, so that a hit hands the user out as it is, without allocating.
func shareEmpty(u *roster.User) {
	u.Metadata = emptyIfNil(u.Metadata)
	u.Profile.Metadata = emptyIfNil(u.Profile.Metadata)
	u.Profile.CustomAttributes = emptyIfNil(u.Profile.CustomAttributes)
	for i := range u.Memberships { // compactUser's own slice
		u.Memberships[i].Metadata = emptyIfNil(u.Memberships[i].Metadata)
	}
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func emptyIfNil(m map[string]string) map[string]string {
	if m == nil {
		return emptyStrings
	}
	return m
}

// Sizes that userSize counts, in bytes of the Go heap (amd64). A map's entries live in groups
// of 8 slots with one control byte each, filled to at most 7/8, behind a 48-byte header and,
// past 8 entries, a table header and directory; every allocation is rounded up to a size
// class, about an eighth more on average, which userSize adds at the end.
const (
	mapHeader      = 48
	mapTable       = 64 // table header and directory slot of a map past one group
	sliceOrStrHdr  = 16
	strSlot        = 16 + 16 + 1 // a map[string]string or map[string]*T slot: two headers (or header and pointer) and a control byte
	entrySlot      = 16 + 8 + 1  // c.entries: ID header and pointer
	entryOverhead  = 64          // cachedUser's own fields beside the user, and its keys slice
	allocRounding8 = 8
)

// userSize estimates the heap bytes that caching u under keys costs: the user's struct and
// everything it points to (strings, maps, memberships, roles, identities), the entry, its
// lookup keys and their slots in the cache's maps. TestUserSizeMatchesHeap holds it within
// a stated factor of what the Go heap measures.
func userSize(u roster.User, keys []string) int {
	n := int(unsafe.Sizeof(cachedUser{})) + entryOverhead + entrySlot*8/7
	n += str(u.ID) + str(u.EnvironmentID) + str(u.Email)
	if u.ExternalID != nil {
		n += roundAlloc(sliceOrStrHdr) + str(*u.ExternalID)
	}
	if u.LastLoginTime != nil {
		n += roundAlloc(int(unsafe.Sizeof(time.Time{})))
	}
	n += strMap(u.Metadata)
	p := u.Profile
	n += str(p.GivenName) + str(p.FamilyName) + str(p.Name) + str(p.Locale) + str(p.PhoneNumber) +
		str(p.PreferredUsername) + str(p.Picture) + str(p.Gender)
	n += strSlice(p.Groups) + strMap(p.Metadata) + strMap(p.CustomAttributes)
	n += roundAlloc(cap(u.Memberships) * int(unsafe.Sizeof(roster.Membership{})))
	for _, m := range u.Memberships {
		n += str(m.OrganizationID) + str(m.UserID) + str(m.OrganizationName) + str(string(m.Status)) + str(m.ProvisioningMethod)
		n += strMap(m.Metadata)
		n += roundAlloc(cap(m.Roles) * int(unsafe.Sizeof(roster.RoleRef{})))
		for _, r := range m.Roles {
			n += str(r.ID) + str(r.Name) + str(r.DisplayName)
		}
		if m.InviterEmail != nil {
			n += roundAlloc(sliceOrStrHdr) + str(*m.InviterEmail)
		}
		for _, t := range []*time.Time{m.AcceptTime, m.ExpireTime, m.InviteResentTime} {
			if t != nil {
				n += roundAlloc(int(unsafe.Sizeof(time.Time{})))
			}
		}
	}
	n += roundAlloc(cap(u.Identities) * int(unsafe.Sizeof(roster.Identity{})))
	for _, i := range u.Identities {
		n += str(i.ConnectionID) + str(string(i.ConnectionType)) + str(i.Provider) + str(i.Subject) + roundAlloc(len(i.RawClaims))
		// UserID and EnvironmentID are the user's own strings.
	}
	n += roundAlloc(cap(keys) * sliceOrStrHdr)
	for _, k := range keys {
		n += str(k) + strSlot*8/7 // the key and its slot in c.keys (the value is the user's ID)
	}
	return n + n/8
}

// str counts a string's bytes; its header is counted in the struct that holds it.
func str(s string) int { return roundAlloc(len(s)) }

func roundAlloc(n int) int { return (n + allocRounding8 - 1) &^ (allocRounding8 - 1) }

func strSlice(s []string) int {
	n := roundAlloc(cap(s) * sliceOrStrHdr)
	for _, v := range s {
		n += str(v)
	}
	return n
}

// strMap counts a map[string]string: header, groups of slots, and its keys' and values' bytes.
func strMap(m map[string]string) int {
	if m == nil {
		return 0
	}
	n := mapHeader
	if len(m) > 0 {
		slots := 8
		if len(m) > 8 {
			n += mapTable
			for slots*7/8 < len(m) {
				slots *= 2
			}
		}
		n += roundAlloc(slots * strSlot)
	}
	for k, v := range m {
		n += str(k) + str(v)
	}
	return n
}
