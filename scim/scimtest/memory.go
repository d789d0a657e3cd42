// Package scimtest is an in-memory scim.Backend for tests: correct under concurrency (one
// mutex), with the semantics the store-backed Backend must have (userName unique
// case-insensitively per directory, stable creation order, member rows).
package scimtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rosterhq/roster/scim"
)

// Backend holds directories by token.
type Backend struct {
	mu   sync.Mutex
	dirs []*Dir
	seq  int64
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// New returns an empty Backend.
func New() *Backend { return &Backend{} }

// Dir is one directory.
type Dir struct {
	b        *Backend
	token    string
	Disabled bool // set under the Backend's lock only through SetDisabled
	users    map[string]*scim.Resource
	byName   map[string]string // lower-cased userName -> user id
	groups   map[string]*scim.Resource
	order    map[string]int64               // creation sequence of users and groups
	members  map[string]map[string]struct{} // group id -> member ids
	// MemberListReads counts GroupMembers calls (to show a member PATCH reads no member list).
	MemberListReads int
}

// AddDirectory adds a directory that token opens.
func (b *Backend) AddDirectory(token string) *Dir {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := &Dir{b: b, token: token, users: map[string]*scim.Resource{}, byName: map[string]string{}, groups: map[string]*scim.Resource{},
		order: map[string]int64{}, members: map[string]map[string]struct{}{}}
	b.dirs = append(b.dirs, d)
	return d
}

// SetDisabled disables or enables a directory.
func (d *Dir) SetDisabled(disabled bool) {
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	d.Disabled = disabled
}

// Reads returns MemberListReads under the lock.
func (d *Dir) Reads() int {
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	return d.MemberListReads
}

// Open finds the directory whose token matches, comparing every token in constant time.
func (b *Backend) Open(ctx context.Context, token string) (scim.Directory, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var found *Dir
	for _, d := range b.dirs {
		if scim.ConstantTimeEqual(token, d.token) {
			found = d
		}
	}
	if found == nil || found.Disabled {
		return nil, scim.ErrUnauthorized
	}
	return found, nil
}

func (b *Backend) now() time.Time {
	if b.Now != nil {
		return b.Now().UTC()
	}
	return time.Now().UTC().Round(0)
}

func newID() string {
	var buf [16]byte
	rand.Read(buf[:])
	h := hex.EncodeToString(buf[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (d *Dir) stamp(r *scim.Resource, created bool) {
	d.b.seq++
	now := d.b.now()
	if created {
		r.Created = now
		d.order[r.ID] = d.b.seq
	}
	r.LastModified = now
	r.Version = strconv.FormatInt(d.b.seq, 10)
}

func (d *Dir) userNameTaken(name, except string) bool {
	id, ok := d.byName[strings.ToLower(name)]
	return ok && id != except
}

func (d *Dir) CreateUser(ctx context.Context, attrs map[string]any) (*scim.Resource, error) {
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	r := &scim.Resource{ID: newID(), Attributes: attrs}
	if d.userNameTaken(r.UserName(), "") {
		return nil, scim.ErrUniqueness
	}
	d.stamp(r, true)
	d.users[r.ID] = r
	d.byName[strings.ToLower(r.UserName())] = r.ID
	return r.Clone(), nil
}

func (d *Dir) GetUser(ctx context.Context, id string) (*scim.Resource, error) {
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	u, ok := d.users[id]
	if !ok {
		return nil, scim.ErrNotFound
	}
	return u.Clone(), nil
}

func (d *Dir) UpdateUser(ctx context.Context, id string, update func(*scim.Resource) (*scim.Resource, error)) (*scim.Resource, error) {
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	u, ok := d.users[id]
	if !ok {
		return nil, scim.ErrNotFound
	}
	next, err := update(u.Clone())
	if err != nil {
		return nil, err
	}
	if d.userNameTaken(next.UserName(), id) {
		return nil, scim.ErrUniqueness
	}
	next = next.Clone()
	next.ID, next.Created = id, u.Created
	d.stamp(next, false)
	delete(d.byName, strings.ToLower(u.UserName()))
	d.byName[strings.ToLower(next.UserName())] = id
	d.users[id] = next
	return next.Clone(), nil
}

func (d *Dir) DeleteUser(ctx context.Context, id string) error {
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	u, ok := d.users[id]
	if !ok {
		return scim.ErrNotFound
	}
	delete(d.byName, strings.ToLower(u.UserName()))
	delete(d.users, id)
	delete(d.order, id)
	for _, m := range d.members {
		delete(m, id)
	}
	return nil
}

func (d *Dir) list(rt *scim.ResourceType, all map[string]*scim.Resource, q scim.ListQuery) scim.Page {
	var matched []*scim.Resource
	for _, r := range all {
		if q.Filter == nil || q.Filter.Match(rt, r) {
			matched = append(matched, r)
		}
	}
	slices.SortFunc(matched, func(a, b *scim.Resource) int { return int(d.order[a.ID] - d.order[b.ID]) })
	page := scim.Page{TotalResults: len(matched)}
	if i := q.StartIndex - 1; i >= 0 && i < len(matched) {
		for _, r := range matched[i:min(len(matched), i+q.Count)] {
			page.Resources = append(page.Resources, r.Clone())
		}
	}
	return page
}

func (d *Dir) ListUsers(ctx context.Context, q scim.ListQuery) (scim.Page, error) {
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	return d.list(scim.Users, d.users, q), nil
}

func (d *Dir) checkMembers(ids []string) error {
	for _, id := range ids {
		_, u := d.users[id]
		_, g := d.groups[id]
		if !u && !g {
			return &scim.Error{Status: http.StatusBadRequest, ScimType: scim.TypeInvalidValue,
				Detail: fmt.Sprintf("no user or group %q in this directory", id)}
		}
	}
	return nil
}

func (d *Dir) CreateGroup(ctx context.Context, attrs map[string]any, members []string) (*scim.Resource, error) {
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	if err := d.checkMembers(members); err != nil {
		return nil, err
	}
	r := &scim.Resource{ID: newID(), Attributes: attrs}
	d.stamp(r, true)
	d.groups[r.ID] = r
	set := map[string]struct{}{}
	for _, m := range members {
		set[m] = struct{}{}
	}
	d.members[r.ID] = set
	return r.Clone(), nil
}

func (d *Dir) GetGroup(ctx context.Context, id string) (*scim.Resource, error) {
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	g, ok := d.groups[id]
	if !ok {
		return nil, scim.ErrNotFound
	}
	return g.Clone(), nil
}

func (d *Dir) UpdateGroup(ctx context.Context, id string, update func(*scim.Resource) (*scim.Resource, scim.MemberChange, error)) (*scim.Resource, error) {
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	g, ok := d.groups[id]
	if !ok {
		return nil, scim.ErrNotFound
	}
	next, mc, err := update(g.Clone())
	if err != nil {
		return nil, err
	}
	if err := d.checkMembers(mc.Add); err != nil {
		return nil, err
	}
	set := d.members[id]
	if mc.Replace {
		set = map[string]struct{}{}
		d.members[id] = set
	}
	for _, m := range mc.Add {
		set[m] = struct{}{}
	}
	for _, m := range mc.Remove {
		delete(set, m)
	}
	next = next.Clone()
	next.ID, next.Created = id, g.Created
	d.stamp(next, false)
	d.groups[id] = next
	return next.Clone(), nil
}

func (d *Dir) DeleteGroup(ctx context.Context, id string) error {
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	if _, ok := d.groups[id]; !ok {
		return scim.ErrNotFound
	}
	delete(d.groups, id)
	delete(d.members, id)
	delete(d.order, id)
	for _, m := range d.members {
		delete(m, id)
	}
	return nil
}

func (d *Dir) ListGroups(ctx context.Context, q scim.ListQuery) (scim.Page, error) {
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	return d.list(scim.Groups, d.groups, q), nil
}

func (d *Dir) GroupMembers(ctx context.Context, id string) ([]scim.Member, error) {
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	set, ok := d.members[id]
	if !ok {
		return nil, scim.ErrNotFound
	}
	d.MemberListReads++
	var out []scim.Member
	for m := range set {
		if u, ok := d.users[m]; ok {
			out = append(out, scim.Member{Value: m, Type: "User", Display: u.UserName()})
		} else if g, ok := d.groups[m]; ok {
			out = append(out, scim.Member{Value: m, Type: "Group", Display: g.DisplayName()})
		}
	}
	slices.SortFunc(out, func(a, b scim.Member) int { return int(d.order[a.Value] - d.order[b.Value]) })
	return out, nil
}

// MemberIDs lists a group's member ids (for tests), sorted.
func (d *Dir) MemberIDs(id string) []string {
	d.b.mu.Lock()
	defer d.b.mu.Unlock()
	var out []string
	for m := range d.members[id] {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}
