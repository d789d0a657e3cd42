package sqlstore

import (
	"encoding/binary"
	"errors"
	"strings"
	"time"
	"unsafe"

	"github.com/rosterhq/roster"
)

// The user cache keeps each user encoded (encodeUser): one byte slice of varints and strings
// instead of the Go structs, maps and strings a read assembles. A user of the benchmark's
// takes about a fifth of the bytes that way, so the same budget holds about four times the
// users (docs/storage.md, "The user cache"). A hit decodes (decodeUser): the user's strings
// point into the entry's bytes, which nobody changes once encoded, so a hit copies no string;
// it allocates only the memberships, their roles, the identities, pointers and non-empty maps.

// Flags of a user, a membership and an identity.
const (
	userHasExternalID = 1 << iota
	userHasLastLogin
	userEmailVerified
	userPhoneVerified
	userEmailSplit // the email's domain is a dictionary string, apart from its local part
)

const (
	memberHasInviter = 1 << iota
	memberHasAccept
	memberHasExpire
	memberHasResent
	memberOtherUser // UserID is not the user's own ID (never, as reads fill it; kept exact anyway)
)

const (
	identityOtherUser = 1 << iota // UserID or EnvironmentID is not the user's own
	identityHasClaims
)

// userDict holds the strings that many cached users share (an environment's ID, organizations'
// IDs and names, roles, statuses), each once: an entry refers to one by its index. It only
// grows; the cache starts a new one when it empties (userCache.clearUsers), and empties
// itself when the dictionary outgrows its share of the budget.
type userDict struct {
	strs  []string // by index; append-only, so a reader's copy of the slice header stays valid
	index map[string]uint32
	bytes int // what the dictionary costs the heap, counted in the cache's budget
}

// maxInterned bounds the strings the dictionary keeps: longer ones are written out.
const maxInterned = 64

func newUserDict() *userDict { return &userDict{index: map[string]uint32{}} }

// ref returns the index of s, adding it if need be, or false for a string not to share.
func (d *userDict) ref(s string) (uint32, bool) {
	if d == nil || len(s) == 0 || len(s) > maxInterned {
		return 0, false
	}
	if i, ok := d.index[s]; ok {
		return i, true
	}
	s = strings.Clone(s) // its own bytes: a string of a user's would keep that user's alive
	i := uint32(len(d.strs))
	d.strs = append(d.strs, s)
	d.index[s] = i
	d.bytes += (roundAlloc(len(s)) + sliceOrStrHdr + dictSlot*8/7) * 9 / 8
	return i, true
}

// dictSlot is a slot of userDict.index: the string's header, the index and a control byte.
const (
	dictSlot      = 16 + 4 + 1
	sliceOrStrHdr = 16
)

// encodeUser appends u's encoding to b, sharing strings through dict (nil: none). Times keep
// microseconds, as the database does.
func encodeUser(b []byte, u *roster.User, dict *userDict) []byte {
	shared := func(b []byte, s string) []byte {
		if i, ok := dict.ref(s); ok {
			return binary.AppendUvarint(b, uint64(i)<<1|1)
		}
		return appendStr(b, s)
	}
	var flags uint64
	if u.ExternalID != nil {
		flags |= userHasExternalID
	}
	if u.LastLoginTime != nil {
		flags |= userHasLastLogin
	}
	if u.Profile.EmailVerified {
		flags |= userEmailVerified
	}
	if u.Profile.PhoneNumberVerified {
		flags |= userPhoneVerified
	}
	// Most users share their email's domain with many others (an organization's): the domain
	// goes in the dictionary, the local part in the entry.
	at := strings.LastIndexByte(u.Email, '@')
	var domain uint32
	if at > 0 {
		var ok bool
		if domain, ok = dict.ref(u.Email[at:]); ok {
			flags |= userEmailSplit
		}
	}
	b = binary.AppendUvarint(b, flags)
	b = appendStr(b, u.ID)
	b = shared(b, u.EnvironmentID)
	if flags&userEmailSplit != 0 {
		b = appendStr(b, u.Email[:at])
		b = binary.AppendUvarint(b, uint64(domain))
	} else {
		b = appendStr(b, u.Email)
	}
	if u.ExternalID != nil {
		b = appendStr(b, *u.ExternalID)
	}
	b = appendMap(b, u.Metadata)
	p := &u.Profile
	for _, s := range [...]string{p.GivenName, p.FamilyName, p.Name, p.Locale, p.PhoneNumber, p.PreferredUsername, p.Picture, p.Gender} {
		b = appendStr(b, s)
	}
	b = appendLen(b, p.Groups == nil, len(p.Groups))
	for _, g := range p.Groups {
		b = appendStr(b, g)
	}
	b = appendMap(b, p.Metadata)
	b = appendMap(b, p.CustomAttributes)
	// Every other time is written as its distance from the user's creation: the times of one
	// user are mostly close together (the same request, or days apart), a few bytes each
	// instead of eight.
	created := micros(u.CreateTime)
	rel := func(b []byte, t time.Time) []byte { return binary.AppendVarint(b, micros(t)-created) }
	b = binary.AppendVarint(b, created)
	b = rel(b, u.UpdateTime)
	if u.LastLoginTime != nil {
		b = rel(b, *u.LastLoginTime)
	}
	b = appendLen(b, u.Memberships == nil, len(u.Memberships))
	for i := range u.Memberships {
		m := &u.Memberships[i]
		var mf uint64
		if m.InviterEmail != nil {
			mf |= memberHasInviter
		}
		if m.AcceptTime != nil {
			mf |= memberHasAccept
		}
		if m.ExpireTime != nil {
			mf |= memberHasExpire
		}
		if m.InviteResentTime != nil {
			mf |= memberHasResent
		}
		if m.UserID != u.ID {
			mf |= memberOtherUser
		}
		b = binary.AppendUvarint(b, mf)
		b = shared(b, m.OrganizationID)
		if mf&memberOtherUser != 0 {
			b = appendStr(b, m.UserID)
		}
		b = shared(b, m.OrganizationName)
		b = shared(b, string(m.Status))
		b = appendLen(b, m.Roles == nil, len(m.Roles))
		for _, r := range m.Roles {
			b = shared(b, r.ID)
			b = shared(b, r.Name)
			b = shared(b, r.DisplayName)
		}
		b = appendMap(b, m.Metadata)
		if m.InviterEmail != nil {
			b = appendStr(b, *m.InviterEmail)
		}
		b = rel(b, m.CreateTime)
		for _, t := range [...]*time.Time{m.AcceptTime, m.ExpireTime} {
			if t != nil {
				b = rel(b, *t)
			}
		}
		b = shared(b, m.ProvisioningMethod)
		b = binary.AppendVarint(b, int64(m.InviteResentCount))
		if m.InviteResentTime != nil {
			b = rel(b, *m.InviteResentTime)
		}
		b = rel(b, m.UpdateTime)
	}
	b = appendLen(b, u.Identities == nil, len(u.Identities))
	for i := range u.Identities {
		id := &u.Identities[i]
		var idf uint64
		if id.UserID != u.ID || id.EnvironmentID != u.EnvironmentID {
			idf |= identityOtherUser
		}
		if len(id.RawClaims) > 0 {
			idf |= identityHasClaims
		}
		b = binary.AppendUvarint(b, idf)
		b = shared(b, id.ConnectionID)
		b = shared(b, string(id.ConnectionType))
		b = shared(b, id.Provider)
		b = appendStr(b, id.Subject)
		if idf&identityOtherUser != 0 {
			b = appendStr(b, id.UserID)
			b = appendStr(b, id.EnvironmentID)
		}
		if idf&identityHasClaims != 0 {
			b = appendStr(b, string(id.RawClaims))
		}
		b = rel(b, id.CreateTime)
		b = rel(b, id.LastLoginTime)
	}
	return b
}

// appendLen encodes a slice's length, telling a nil slice (0) from an empty one (1): reads
// make some empty and leave others nil, and a hit must answer exactly what a miss does.
func appendLen(b []byte, isNil bool, n int) []byte {
	if isNil {
		return append(b, 0)
	}
	return binary.AppendUvarint(b, uint64(n)+1)
}

// appendStr writes s out: its length (shifted left one bit; a set low bit marks an index into
// the dictionary instead) and its bytes.
func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s))<<1)
	return append(b, s...)
}

// appendMap encodes a map[string]string; its pairs go in the map's order, which decoding
// does not depend on.
func appendMap(b []byte, m map[string]string) []byte {
	b = binary.AppendUvarint(b, uint64(len(m)))
	for k, v := range m {
		b = appendStr(b, k)
		b = appendStr(b, v)
	}
	return b
}

var errBadUserEncoding = errors.New("sqlstore: bad user encoding")

// userDecoder reads an encoding that encodeUser wrote. Its strings share the encoding's bytes:
// the caller keeps those unchanged for as long as any decoded user lives (the cache never
// changes an entry's bytes; a new version of a user is a new slice).
type userDecoder struct {
	b    []byte
	dict []string
	err  error
}

func (d *userDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// varint reads binary.AppendVarint's zig-zag form: the sign in the lowest bit.
func (d *userDecoder) varint() int64 {
	u := d.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

func (d *userDecoder) fail() {
	if d.err == nil {
		d.err = errBadUserEncoding
	}
	d.b = nil
}

func (d *userDecoder) str() string {
	n := d.uvarint()
	if n&1 != 0 { // a string of the dictionary's
		return d.dictAt(n >> 1)
	}
	n >>= 1
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	if n == 0 {
		return ""
	}
	s := unsafe.String(&d.b[0], int(n))
	d.b = d.b[n:]
	return s
}

// count reads a length that says how many items of at least min bytes follow: one that the
// rest of the encoding cannot hold fails, so a bad encoding allocates nothing large.
func (d *userDecoder) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/min) {
		d.fail()
		return 0
	}
	return int(n)
}

// sliceLen reads appendLen's length: -1 for a nil slice.
func (d *userDecoder) sliceLen(min int) int {
	n := d.uvarint()
	if n == 0 {
		return -1
	}
	if n-1 > uint64(len(d.b)/min) {
		d.fail()
		return -1
	}
	return int(n - 1)
}

// strMap returns the map, or the shared emptyStrings when it has no pairs: users read from
// the store are read-only (store.Store), and an empty map of its own would cost each hit an
// allocation.
func (d *userDecoder) strMap() map[string]string {
	n := d.count(2)
	if n == 0 {
		return emptyStrings
	}
	m := make(map[string]string, n)
	for range n {
		k := d.str()
		m[k] = d.str()
	}
	return m
}

// relTime reads a time written as its distance from the user's creation (in microseconds).
func (d *userDecoder) relTime(created int64) time.Time { return fromMicros(created + d.varint()) }

// dictAt returns the dictionary's string i; an index past it fails the decoding.
func (d *userDecoder) dictAt(i uint64) string {
	if i >= uint64(len(d.dict)) {
		d.fail()
		return ""
	}
	return d.dict[i]
}

// userSlab hands out the slices and pointed-to values of the users that one call decodes
// (a page's) from a few shared allocations: a page of 100 users takes a handful of
// allocations instead of three hundred. Each user's slices are capped at their length, so an
// append by a caller copies instead of writing into a neighbour's. The nil slab allocates per
// user.
type userSlab struct {
	members []roster.Membership
	roles   []roster.RoleRef
	idents  []roster.Identity
	strs    []string
	times   []time.Time
	bytes   []byte // the strings it puts together (concat); never written again once handed out
}

// slabChunk is how many items of a kind a slab allocates at a time.
const slabChunk = 32

// slabBytes is how many bytes of strings a slab allocates at a time (about 32 emails).
const slabBytes = 1 << 10

func take[T any](pool *[]T, n int) []T {
	if n == 0 {
		return []T{}
	}
	if cap(*pool)-len(*pool) < n {
		*pool = make([]T, 0, max(n, slabChunk))
	}
	l := len(*pool)
	*pool = (*pool)[:l+n]
	return (*pool)[l : l+n : l+n]
}

func (s *userSlab) memberships(n int) []roster.Membership {
	if s == nil {
		return make([]roster.Membership, n)
	}
	return take(&s.members, n)
}

func (s *userSlab) roleRefs(n int) []roster.RoleRef {
	if s == nil {
		return make([]roster.RoleRef, n)
	}
	return take(&s.roles, n)
}

func (s *userSlab) identities(n int) []roster.Identity {
	if s == nil {
		return make([]roster.Identity, n)
	}
	return take(&s.idents, n)
}

func (s *userSlab) strings(n int) []string {
	if s == nil {
		return make([]string, n)
	}
	return take(&s.strs, n)
}

func (s *userSlab) str(v string) *string {
	if s == nil {
		return &v
	}
	p := &take(&s.strs, 1)[0]
	*p = v
	return p
}

// concat returns a + b, its bytes out of the slab's (a page's emails share one allocation).
func (s *userSlab) concat(a, b string) string {
	if s == nil {
		return a + b
	}
	n := len(a) + len(b)
	if cap(s.bytes)-len(s.bytes) < n {
		s.bytes = make([]byte, 0, max(n, slabBytes))
	}
	l := len(s.bytes)
	s.bytes = append(append(s.bytes, a...), b...)
	return unsafe.String(&s.bytes[l], n)
}

func (s *userSlab) time(v time.Time) *time.Time {
	if s == nil {
		return &v
	}
	p := &take(&s.times, 1)[0]
	*p = v
	return p
}

// decodeUser decodes an encoding of encodeUser's with the strings of the dictionary it used
// (the dictionary's strs). The user's empty maps are emptyStrings.
func decodeUser(b []byte, dict []string) (roster.User, error) { return decodeUserFrom(b, dict, nil) }

// decodeUserFrom is decodeUser taking the user's slices and pointers from slab.
func decodeUserFrom(b []byte, dict []string, slab *userSlab) (roster.User, error) {
	d := userDecoder{b: b, dict: dict}
	var u roster.User
	var ext string
	flags := d.head(&u.ID, &u.EnvironmentID, &u.Email, &ext, slab)
	if flags&userHasExternalID != 0 {
		u.ExternalID = slab.str(ext)
	}
	u.Metadata = d.strMap()
	pr := &u.Profile
	for _, s := range [...]*string{&pr.GivenName, &pr.FamilyName, &pr.Name, &pr.Locale, &pr.PhoneNumber, &pr.PreferredUsername, &pr.Picture, &pr.Gender} {
		*s = d.str()
	}
	pr.EmailVerified = flags&userEmailVerified != 0
	pr.PhoneNumberVerified = flags&userPhoneVerified != 0
	if n := d.sliceLen(1); n >= 0 {
		pr.Groups = slab.strings(n)
		for i := range pr.Groups {
			pr.Groups[i] = d.str()
		}
	}
	pr.Metadata = d.strMap()
	pr.CustomAttributes = d.strMap()
	created := d.varint()
	u.CreateTime = fromMicros(created)
	u.UpdateTime = d.relTime(created)
	if flags&userHasLastLogin != 0 {
		u.LastLoginTime = slab.time(d.relTime(created))
	}
	if n := d.sliceLen(8); n >= 0 {
		u.Memberships = slab.memberships(n)
		for i := range u.Memberships {
			m := &u.Memberships[i]
			mf := d.uvarint()
			m.OrganizationID = d.str()
			m.UserID = u.ID
			if mf&memberOtherUser != 0 {
				m.UserID = d.str()
			}
			m.OrganizationName = d.str()
			m.Status = roster.MembershipStatus(d.str())
			if nr := d.sliceLen(3); nr >= 0 {
				m.Roles = slab.roleRefs(nr)
				for j := range m.Roles {
					m.Roles[j] = roster.RoleRef{ID: d.str(), Name: d.str(), DisplayName: d.str()}
				}
			}
			m.Metadata = d.strMap()
			if mf&memberHasInviter != 0 {
				m.InviterEmail = slab.str(d.str())
			}
			m.CreateTime = d.relTime(created)
			if mf&memberHasAccept != 0 {
				m.AcceptTime = slab.time(d.relTime(created))
			}
			if mf&memberHasExpire != 0 {
				m.ExpireTime = slab.time(d.relTime(created))
			}
			m.ProvisioningMethod = d.str()
			m.InviteResentCount = int(d.varint())
			if mf&memberHasResent != 0 {
				m.InviteResentTime = slab.time(d.relTime(created))
			}
			m.UpdateTime = d.relTime(created)
		}
	}
	if n := d.sliceLen(8); n >= 0 {
		u.Identities = slab.identities(n)
		for i := range u.Identities {
			id := &u.Identities[i]
			idf := d.uvarint()
			id.ConnectionID = d.str()
			id.ConnectionType = roster.ConnectionType(d.str())
			id.Provider = d.str()
			id.Subject = d.str()
			id.UserID, id.EnvironmentID = u.ID, u.EnvironmentID
			if idf&identityOtherUser != 0 {
				id.UserID = d.str()
				id.EnvironmentID = d.str()
			}
			if idf&identityHasClaims != 0 {
				id.RawClaims = []byte(d.str()) // a copy: a byte slice could be written through
			}
			id.CreateTime = d.relTime(created)
			id.LastLoginTime = d.relTime(created)
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return roster.User{}, d.err
	}
	return u, nil
}

// head reads what every encoding begins with: the flags, the ID, the environment, the email
// and the external ID ("" if the flags say there is none).
func (d *userDecoder) head(id, env, email, ext *string, slab *userSlab) uint64 {
	flags := d.uvarint()
	*id = d.str()
	*env = d.str()
	*email = d.str()
	if flags&userEmailSplit != 0 {
		*email = slab.concat(*email, d.dictAt(d.uvarint()))
	}
	if flags&userHasExternalID != 0 {
		*ext = d.str()
	}
	return flags
}

// decodeUserKeys reads what the cache finds an entry by: its ID and the parts of its lookup
// keys (ext nil: no external ID).
func decodeUserKeys(b []byte, dict []string) (id, env, email string, ext *string, err error) {
	d := userDecoder{b: b, dict: dict}
	var x string
	if d.head(&id, &env, &email, &x, nil)&userHasExternalID != 0 {
		ext = &x
	}
	return id, env, email, ext, d.err
}
