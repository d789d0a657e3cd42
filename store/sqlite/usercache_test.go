package sqlite_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/sqlite"
)

// The user cache of a real store, read through every user, keeps at most its byte budget and
// still answers every read (docs/storage.md, "The user cache").
func TestUserCacheStaysWithinBytes(t *testing.T) {
	ctx := context.Background()
	const budget = 64 << 10 // about 300 such users (about 220 bytes each, encoded)
	s, err := sqlite.Open(ctx, t.TempDir(), sqlite.WithUserCache(budget))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	env := roster.Environment{ID: "env_1", Name: "default", CursorKey: make([]byte, 32), CreateTime: time.Now()}
	if err := s.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	for i := range n {
		u := roster.NewUser{Email: fmt.Sprintf("u%d@example.com", i), ExternalID: fmt.Sprintf("ext-%d", i),
			Profile: roster.ProfilePatch{Groups: []string{"staff"}}}.Build(fmt.Sprintf("usr_%d", i), env.ID, time.Now())
		if _, err := s.CreateUser(ctx, u, nil, func(*roster.User, store.AttributeDefs) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	for round := range 2 {
		for i := range n {
			u, err := s.GetUser(ctx, env.ID, roster.UserRef{ID: fmt.Sprintf("usr_%d", i)})
			if err != nil || u.Email != fmt.Sprintf("u%d@example.com", i) || u.Metadata == nil || u.Profile.CustomAttributes == nil {
				t.Fatalf("round %d user %d: %v %+v", round, i, err, u)
			}
			if users, bytes := s.UserCacheStats(); bytes > budget {
				t.Fatalf("%d users cached for %d bytes, over the budget of %d", users, bytes, budget)
			}
		}
	}
	users, bytes := s.UserCacheStats()
	t.Logf("%d of %d users cached in %d bytes (budget %d)", users, n, bytes, budget)
	if users == 0 || users >= n {
		t.Fatalf("%d of %d users cached in a budget of %d bytes", users, n, budget)
	}
}

// The cache's estimate of users read from a real database, with a membership each, against the
// Go heap they take: within a factor of 1.5 either way (docs/storage.md).
func TestUserCacheEstimateOfStoredUsers(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, t.TempDir(), sqlite.WithUserCache(1<<30))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	env := roster.Environment{ID: "env_1", Name: "default", CursorKey: make([]byte, 32), CreateTime: time.Now()}
	if err := s.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	org := roster.NewOrganization{DisplayName: "Bench Org 1"}.Build("org_1", env.ID, time.Now())
	if err := s.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	const n = 2000
	for i := range n {
		u := roster.NewUser{Email: fmt.Sprintf("u%d@bench.example.com", i), ExternalID: fmt.Sprintf("bench-user-%d", i)}.Build(fmt.Sprintf("usr_%d", i), env.ID, time.Now())
		m := &roster.Membership{OrganizationID: org.ID, Status: roster.MembershipActive, CreateTime: time.Now(), UpdateTime: time.Now()}
		if _, err := s.CreateUser(ctx, u, m, func(*roster.User, store.AttributeDefs) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	before := liveHeap()
	for i := range n {
		if _, err := s.GetUser(ctx, env.ID, roster.UserRef{ID: fmt.Sprintf("usr_%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	grown := int64(liveHeap()) - int64(before)
	users, bytes := s.UserCacheStats()
	ratio := float64(bytes) / float64(grown)
	t.Logf("%d users: estimated %d bytes each, heap grew %d each (ratio %.2f)", users, bytes/users, grown/int64(users), ratio)
	if users != n || ratio < 1/1.5 || ratio > 1.5 {
		t.Fatalf("%d users, estimate %d bytes, heap grew %d: ratio %.2f outside [0.67, 1.5]", users, bytes, grown, ratio)
	}
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// The default member role is kept per environment with the organizations' own roles of its
// name; past 64 such organizations it is resolved and kept per organization. Both ways give
// each organization its own role where it has one and the environment's elsewhere.
func TestDefaultMemberRoleWithManyOrganizationRoles(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	env := roster.Environment{ID: ids.New(roster.PrefixEnvironment), Name: "default", CursorKey: make([]byte, 32), CreateTime: time.Now()}
	if err := s.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	role := func(org, name string) roster.Role {
		r := roster.Role{ID: ids.New(roster.PrefixRole), EnvironmentID: env.ID, OrganizationID: org, Name: name, DisplayName: name, CreateTime: time.Now(), UpdateTime: time.Now()}
		if err := s.CreateRole(ctx, r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	member := role("", "member")
	own := map[string]string{} // organization → its own "member" role
	var orgs []string
	check := func(when string) {
		t.Helper()
		for _, org := range orgs {
			want := member.ID
			if id, ok := own[org]; ok {
				want = id
			}
			if got, name, ok, err := s.ResolveDefaultMemberRole(ctx, env.ID, org); err != nil || !ok || got.ID != want || name != "member" {
				t.Fatalf("%s: default member role in %s: %+v %q %v %v, want %s", when, org, got, name, ok, err, want)
			}
		}
	}
	for i := range 80 {
		o := roster.NewOrganization{DisplayName: fmt.Sprint("Org ", i)}.Build(ids.New(roster.PrefixOrganization), env.ID, time.Now())
		if err := s.CreateOrganization(ctx, o); err != nil {
			t.Fatal(err)
		}
		orgs = append(orgs, o.ID)
		if i%10 != 0 {
			role(o.ID, "viewer")
		}
		if i%10 != 9 {
			own[o.ID] = role(o.ID, "member").ID
		}
		if i == 5 || i == 79 { // 6 and 72 organizations with their own
			check(fmt.Sprintf("%d organizations", i+1))
			check(fmt.Sprintf("%d organizations, kept", i+1))
		}
	}
}
