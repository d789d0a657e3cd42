package scimtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster/scim"
)

// Conformance runs the behaviour every scim.Directory must have against the directories that
// newDir returns (a fresh, empty one per call): the in-memory Backend passes it, and so must
// the store-backed one. Queries are checked against scim.Cond.Match, the reference semantics.
func Conformance(t *testing.T, newDir func(t *testing.T) scim.Directory) {
	t.Run("users", func(t *testing.T) { conformUsers(t, newDir(t)) })
	t.Run("uniqueness", func(t *testing.T) { conformUniqueness(t, newDir(t)) })
	t.Run("queries", func(t *testing.T) { conformQueries(t, newDir(t)) })
	t.Run("paging", func(t *testing.T) { conformPaging(t, newDir(t)) })
	t.Run("groups", func(t *testing.T) { conformGroups(t, newDir(t)) })
	t.Run("parallel", func(t *testing.T) { conformParallel(t, newDir(t)) })
}

var ctx = context.Background()

func user(name string, extra ...any) map[string]any {
	m := map[string]any{"userName": name}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	return m
}

func email(values ...string) []any {
	var out []any
	for i, v := range values {
		e := map[string]any{"value": v, "type": "work"}
		if i == 0 {
			e["primary"] = true
		}
		out = append(out, e)
	}
	return out
}

func mustCreate(t *testing.T, d scim.Directory, attrs map[string]any) *scim.Resource {
	t.Helper()
	r, err := d.CreateUser(ctx, attrs)
	if err != nil {
		t.Fatalf("CreateUser %v: %v", attrs, err)
	}
	return r
}

func conformUsers(t *testing.T, d scim.Directory) {
	custom := map[string]any{"tag": "blue", "n": 3.0}
	r := mustCreate(t, d, user("Ann@x.test", "urn:acme:2.0:User", custom, "active", false))
	if r.ID == "" || r.Created.IsZero() || r.LastModified.IsZero() || r.Version == "" {
		t.Fatalf("created %+v: id, created, lastModified and version must be set", r)
	}
	got, err := d.GetUser(ctx, r.ID)
	if err != nil || got.UserName() != "Ann@x.test" || got.Active() || fmt.Sprint(got.Attributes["urn:acme:2.0:User"]) != fmt.Sprint(custom) {
		t.Fatalf("GetUser: %+v %v", got, err)
	}
	// an update function's error writes nothing
	boom := errors.New("boom")
	if _, err := d.UpdateUser(ctx, r.ID, func(cur *scim.Resource) (*scim.Resource, error) {
		cur.Attributes["title"] = "x"
		return nil, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("UpdateUser with a failing update: %v, want the update's error", err)
	}
	if got, _ := d.GetUser(ctx, r.ID); got.Attributes["title"] != nil {
		t.Fatal("a failed update wrote")
	}
	up, err := d.UpdateUser(ctx, r.ID, func(cur *scim.Resource) (*scim.Resource, error) {
		cur.Attributes["title"] = "Boss"
		return cur, nil
	})
	if err != nil || up.Attributes["title"] != "Boss" || up.Version == r.Version || !up.Created.Equal(r.Created) || up.ID != r.ID {
		t.Fatalf("UpdateUser: %+v %v", up, err)
	}
	if _, err := d.GetUser(ctx, "no-such-id"); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("GetUser of an unknown id: %v", err)
	}
	if _, err := d.UpdateUser(ctx, "no-such-id", func(c *scim.Resource) (*scim.Resource, error) { return c, nil }); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("UpdateUser of an unknown id: %v", err)
	}
	if err := d.DeleteUser(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.GetUser(ctx, r.ID); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("GetUser after delete: %v", err)
	}
	if err := d.DeleteUser(ctx, r.ID); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("second DeleteUser: %v", err)
	}
}

func conformUniqueness(t *testing.T, d scim.Directory) {
	a := mustCreate(t, d, user("Same@X.test"))
	if _, err := d.CreateUser(ctx, user("same@x.TEST")); !errors.Is(err, scim.ErrUniqueness) {
		t.Errorf("second userName in another case: %v, want ErrUniqueness", err)
	}
	b := mustCreate(t, d, user("other@x.test"))
	if _, err := d.UpdateUser(ctx, b.ID, func(c *scim.Resource) (*scim.Resource, error) {
		c.Attributes["userName"] = "SAME@x.test"
		return c, nil
	}); !errors.Is(err, scim.ErrUniqueness) {
		t.Errorf("rename onto a taken userName: %v, want ErrUniqueness", err)
	}
	// renaming a user to itself in another case is fine, and frees the old name
	if _, err := d.UpdateUser(ctx, a.ID, func(c *scim.Resource) (*scim.Resource, error) {
		c.Attributes["userName"] = "renamed@x.test"
		return c, nil
	}); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, d, user("same@x.test"))
}

func ids(rs []*scim.Resource) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func conformQueries(t *testing.T, d scim.Directory) {
	var all []*scim.Resource
	add := func(attrs map[string]any) {
		all = append(all, mustCreate(t, d, attrs))
		time.Sleep(2 * time.Millisecond) // distinct lastModified
	}
	add(user("bjensen@x.test", "externalId", "EXT-1", "displayName", "Barbara Jensen", "emails", email("bj@work.test", "Barbara@Home.test"), "active", true))
	add(user("JSmith@x.test", "externalId", "ext-1", "displayName", "john smith", "emails", email("js@work.test"), "active", false))
	add(user("mdoe@x.test", "displayName", "Mary Doe"))
	add(user("zed@y.test", "externalId", "EXT-3", "emails", email("zed@y.test"), "active", false))
	add(user("amy@x.test", "emails", email("amy@home.test"), "active", true))
	mid := all[2].LastModified

	var conds []scim.Cond
	cmp := func(attr, op string, v any) {
		conds = append(conds, scim.Cond{Op: op, Attr: attr, Value: v, CaseExact: attr == "id" || attr == "externalId"})
	}
	for _, op := range []string{"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"} {
		cmp("userName", op, "JSMITH@x.test")
		cmp("userName", op, "x.test")
		cmp("externalId", op, "EXT-1")
		cmp("externalId", op, "ext")
		cmp("displayName", op, "MARY DOE")
		cmp("displayName", op, "j")
		cmp("emails.value", op, "barbara@home.test")
		cmp("emails.value", op, "WORK.test")
		cmp("id", op, all[1].ID)
	}
	for _, attr := range scim.IndexedAttributes(scim.Users) {
		cmp(attr, "pr", nil)
	}
	cmp("active", "eq", true)
	cmp("active", "eq", false)
	cmp("active", "ne", false)
	for _, op := range []string{"eq", "ne", "gt", "ge", "lt", "le"} {
		cmp("meta.lastModified", op, mid)
	}
	n := len(conds)
	for i := 0; i+1 < n; i += 3 {
		conds = append(conds,
			scim.Cond{Op: "and", Args: []scim.Cond{conds[i], conds[i+1]}},
			scim.Cond{Op: "or", Args: []scim.Cond{conds[i], conds[n-1-i]}},
			scim.Cond{Op: "not", Args: []scim.Cond{conds[i]}})
	}
	for _, c := range conds {
		var want []string
		for _, r := range all {
			cur, err := d.GetUser(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if c.Match(scim.Users, cur) {
				want = append(want, r.ID)
			}
		}
		page, err := d.ListUsers(ctx, scim.ListQuery{Filter: &c, StartIndex: 1, Count: 100})
		if err != nil {
			t.Errorf("%v: %v", c, err)
			continue
		}
		got := ids(page.Resources)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) || page.TotalResults != len(want) {
			t.Errorf("%v: got %v (total %d), want %v", c, got, page.TotalResults, want)
		}
	}
}

func conformPaging(t *testing.T, d scim.Directory) {
	var want []string
	for i := range 9 {
		want = append(want, mustCreate(t, d, user(fmt.Sprintf("p%d@x.test", 8-i))).ID)
	}
	// an update does not move a user in the order
	if _, err := d.UpdateUser(ctx, want[0], func(c *scim.Resource) (*scim.Resource, error) { return c, nil }); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, count := range []int{1, 2, 4, 9, 20} {
		var got []string
		for start := 1; start <= 9; start += count {
			page, err := d.ListUsers(ctx, scim.ListQuery{StartIndex: start, Count: count})
			if err != nil {
				t.Fatal(err)
			}
			if page.TotalResults != 9 || len(page.Resources) != min(count, 9-start+1) {
				t.Fatalf("start %d count %d: total %d, %d resources", start, count, page.TotalResults, len(page.Resources))
			}
			got = append(got, ids(page.Resources)...)
		}
		if order == nil {
			order = got
		}
		if !slices.Equal(got, order) {
			t.Fatalf("count %d pages %v, count 1 pages %v: the order must not depend on count", count, got, order)
		}
	}
	if !sameSet(order, want) {
		t.Fatalf("pages hold %v, want %v", order, want)
	}
	page, err := d.ListUsers(ctx, scim.ListQuery{StartIndex: 1, Count: 0})
	if err != nil || page.TotalResults != 9 || len(page.Resources) != 0 {
		t.Fatalf("count 0: %d resources, total %d, %v", len(page.Resources), page.TotalResults, err)
	}
	page, err = d.ListUsers(ctx, scim.ListQuery{StartIndex: 10, Count: 5})
	if err != nil || page.TotalResults != 9 || len(page.Resources) != 0 {
		t.Fatalf("past the end: %d resources, total %d, %v", len(page.Resources), page.TotalResults, err)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func members(t *testing.T, d scim.Directory, gid string) []string {
	t.Helper()
	ms, err := d.GroupMembers(ctx, gid)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Value)
	}
	return out
}

func conformGroups(t *testing.T, d scim.Directory) {
	u1 := mustCreate(t, d, user("g1@x.test")).ID
	u2 := mustCreate(t, d, user("g2@x.test")).ID
	u3 := mustCreate(t, d, user("g3@x.test")).ID
	g, err := d.CreateGroup(ctx, map[string]any{"displayName": "Eng", "externalId": "E"}, []string{u1, u2})
	if err != nil {
		t.Fatal(err)
	}
	if got := members(t, d, g.ID); !sameSet(got, []string{u1, u2}) {
		t.Fatalf("members after create: %v", got)
	}
	ms, _ := d.GroupMembers(ctx, g.ID)
	for _, m := range ms {
		if m.Type != "User" {
			t.Errorf("member %+v: type must be User", m)
		}
	}
	change := func(mc scim.MemberChange, want ...string) {
		t.Helper()
		if _, err := d.UpdateGroup(ctx, g.ID, func(c *scim.Resource) (*scim.Resource, scim.MemberChange, error) { return c, mc, nil }); err != nil {
			t.Fatal(err)
		}
		if got := members(t, d, g.ID); !sameSet(got, want) {
			t.Fatalf("after %+v: members %v, want %v", mc, got, want)
		}
	}
	change(scim.MemberChange{Add: []string{u3, u1}}, u1, u2, u3)            // adding a member twice is no error
	change(scim.MemberChange{Remove: []string{u2, "not-a-member"}}, u1, u3) // nor removing a non-member
	change(scim.MemberChange{Add: []string{u2}, Remove: []string{u1}}, u2, u3)
	change(scim.MemberChange{Replace: true, Add: []string{u1}}, u1)
	change(scim.MemberChange{Replace: true}, []string{}...)
	change(scim.MemberChange{Add: []string{u1, u2}}, u1, u2)
	// an unknown member id is 400 invalidValue, and nothing is written
	_, err = d.UpdateGroup(ctx, g.ID, func(c *scim.Resource) (*scim.Resource, scim.MemberChange, error) {
		c.Attributes["displayName"] = "Changed"
		return c, scim.MemberChange{Add: []string{u3, "ghost"}}, nil
	})
	var se *scim.Error
	if !errors.As(err, &se) || se.Status != http.StatusBadRequest || se.ScimType != scim.TypeInvalidValue {
		t.Fatalf("unknown member: %v, want 400 invalidValue", err)
	}
	if cur, _ := d.GetGroup(ctx, g.ID); cur.DisplayName() != "Eng" || !sameSet(members(t, d, g.ID), []string{u1, u2}) {
		t.Fatalf("a refused group update wrote: %v %v", cur.Attributes, members(t, d, g.ID))
	}
	if _, err := d.CreateGroup(ctx, map[string]any{"displayName": "X"}, []string{"ghost"}); !errors.As(err, &se) || se.ScimType != scim.TypeInvalidValue {
		t.Errorf("CreateGroup with an unknown member: %v", err)
	}
	// a group may be a member; a deleted user leaves its groups
	g2, err := d.CreateGroup(ctx, map[string]any{"displayName": "Sub"}, []string{g.ID})
	if err != nil {
		t.Fatal(err)
	}
	if ms, _ := d.GroupMembers(ctx, g2.ID); len(ms) != 1 || ms[0].Type != "Group" {
		t.Errorf("group member: %+v", ms)
	}
	if err := d.DeleteUser(ctx, u1); err != nil {
		t.Fatal(err)
	}
	if got := members(t, d, g.ID); !sameSet(got, []string{u2}) {
		t.Errorf("after deleting a member: %v", got)
	}
	// group queries
	c := scim.Cond{Op: "eq", Attr: "displayName", Value: "eng"}
	page, err := d.ListGroups(ctx, scim.ListQuery{Filter: &c, StartIndex: 1, Count: 10})
	if err != nil || page.TotalResults != 1 || page.Resources[0].ID != g.ID {
		t.Errorf("displayName eq \"eng\": %+v %v", page, err)
	}
	if err := d.DeleteGroup(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.GetGroup(ctx, g.ID); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("GetGroup after delete: %v", err)
	}
	if _, err := d.GroupMembers(ctx, g.ID); !errors.Is(err, scim.ErrNotFound) {
		t.Errorf("GroupMembers after delete: %v", err)
	}
	if got := members(t, d, g2.ID); len(got) != 0 {
		t.Errorf("a deleted group is still a member: %v", got)
	}
}

func conformParallel(t *testing.T, d scim.Directory) {
	var wg sync.WaitGroup
	// one userName, in two spellings: exactly one creation
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "same.parallel@x.test"
			if i%2 == 1 {
				name = strings.ToUpper(name)
			}
			_, errs[i] = d.CreateUser(ctx, user(name))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, scim.ErrUniqueness):
			t.Errorf("parallel create: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d of 8 parallel creates of one userName succeeded, want 1", ok)
	}
	// parallel member adds and removes on one group lose nothing
	g, err := d.CreateGroup(ctx, map[string]any{"displayName": "P"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var uids []string
	for i := range 16 {
		uids = append(uids, mustCreate(t, d, user(fmt.Sprintf("pm%d@x.test", i))).ID)
	}
	for _, id := range uids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := d.UpdateGroup(ctx, g.ID, func(c *scim.Resource) (*scim.Resource, scim.MemberChange, error) {
				return c, scim.MemberChange{Add: []string{id}}, nil
			}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := members(t, d, g.ID); !sameSet(got, uids) {
		t.Fatalf("%d members after 16 parallel adds", len(got))
	}
}
