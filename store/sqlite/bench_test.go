package sqlite_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/sqlite"
	"github.com/rosterhq/roster/store/storetest"
)

// The store's share of the user hot paths, without the server around it.

func benchStore(b testing.TB, opts ...sqlite.Option) (store.Store, roster.Environment, []roster.User) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, b.TempDir(), opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := roster.Environment{ID: ids.New(roster.PrefixEnvironment), Name: "bench", CursorKey: key, CreateTime: time.Now().UTC()}
	if err := s.CreateEnvironment(ctx, env); err != nil {
		b.Fatal(err)
	}
	role := roster.Role{ID: ids.New(roster.PrefixRole), EnvironmentID: env.ID, Name: "member", DisplayName: "Member", CreateTime: time.Now(), UpdateTime: time.Now()}
	if err := s.CreateRole(ctx, role); err != nil {
		b.Fatal(err)
	}
	org := roster.NewOrganization{DisplayName: "Bench"}.Build(ids.New(roster.PrefixOrganization), env.ID, time.Now().UTC())
	if err := s.CreateOrganization(ctx, org); err != nil {
		b.Fatal(err)
	}
	var users []roster.User
	for i := range 200 {
		u := roster.NewUser{Email: fmt.Sprintf("u%d@bench.example.com", i), ExternalID: fmt.Sprintf("ext-%d", i)}.Build(ids.New(roster.PrefixUser), env.ID, time.Now().UTC())
		m := &roster.Membership{OrganizationID: org.ID, Status: roster.MembershipActive, Metadata: map[string]string{}, CreateTime: time.Now(), UpdateTime: time.Now(),
			ProvisioningMethod: roster.ProvisionedDirect, Roles: []roster.RoleRef{{ID: role.ID, Name: role.Name}}}
		u, err := s.CreateUser(ctx, u, m, nil)
		if err != nil {
			b.Fatal(err)
		}
		users = append(users, u)
	}
	return s, env, users
}

func BenchmarkStoreGetUser(b *testing.B) {
	s, env, users := benchStore(b)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		if _, err := s.GetUser(context.Background(), env.ID, roster.UserRef{ID: users[i%len(users)].ID}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStoreUpdateUser(b *testing.B) {
	s, env, users := benchStore(b)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		if _, err := s.UpdateUser(context.Background(), env.ID, roster.UserRef{ID: users[i%len(users)].ID}, func(u *roster.User, _ store.AttributeDefs) error {
			u.Profile.GivenName = fmt.Sprint("Jane ", i)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreGetUserUncached reads users with the user cache off: what a read over a data set
// bigger than the cache costs (issue 12's uniform rows), by each key a lookup may use.
func BenchmarkStoreGetUserUncached(b *testing.B) {
	ctx := context.Background()
	s, env, users := benchStore(b, sqlite.WithUserCache(0))
	for _, by := range []string{"id", "external_id", "email"} {
		b.Run(by, func(b *testing.B) {
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				u := users[i%len(users)]
				var err error
				switch by {
				case "id":
					_, err = s.GetUser(ctx, env.ID, roster.UserRef{ID: u.ID})
				case "external_id":
					_, err = s.GetUser(ctx, env.ID, roster.UserRef{ExternalID: *u.ExternalID})
				default:
					_, err = s.ListUsers(ctx, env.ID, store.UserQuery{EmailKey: roster.EmailKey(u.Email), Page: store.PageQuery{Size: 10}})
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUserSearch: storetest.BenchUserSearch on SQLite (100,000 users).
//
//	go test -run '^$' -bench BenchmarkUserSearch -benchtime 20x ./store/sqlite
func BenchmarkUserSearch(b *testing.B) {
	s, err := sqlite.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchUserSearch(b, s, nil)
}

func BenchmarkStoreCreateUser(b *testing.B) {
	ctx := context.Background()
	s, env, users := benchStore(b)
	m0 := users[0].Memberships[0]
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		now := time.Now().UTC()
		u := roster.NewUser{Email: fmt.Sprintf("new%d@bench.example.com", i)}.Build(ids.New(roster.PrefixUser), env.ID, now)
		m := &roster.Membership{OrganizationID: m0.OrganizationID, Status: roster.MembershipActive, Metadata: map[string]string{},
			CreateTime: now, UpdateTime: now, ProvisioningMethod: roster.ProvisionedDirect, Roles: m0.Roles}
		if _, err := s.CreateUser(ctx, u, m, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreImportUsers imports batches of 10 lines: "new" creates users (the fast path),
// "update" changes existing users' profiles (a savepoint per line).
func BenchmarkStoreImportUsers(b *testing.B) {
	ctx := context.Background()
	s, env, users := benchStore(b)
	orgID := users[0].Memberships[0].OrganizationID
	const batch = 10
	b.Run("new", func(b *testing.B) {
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			lines := make([]store.ImportLine, batch)
			for j := range lines {
				i++
				lines[j] = store.ImportLine{NewID: ids.New(roster.PrefixUser), User: roster.ImportUser{
					Email:       fmt.Sprintf("imp%d@bench.example.com", i),
					Memberships: []roster.ImportMembership{{OrganizationID: orgID}}},
					Memberships: []store.ImportMembership{{DefaultRoles: users[0].Memberships[0].Roles}}}
			}
			if _, err := s.ImportUsers(ctx, env.ID, time.Now().UTC(), lines); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("update", func(b *testing.B) {
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			lines := make([]store.ImportLine, batch)
			for j := range lines {
				i++
				u := users[i%len(users)]
				name := fmt.Sprint("Jane ", i)
				lines[j] = store.ImportLine{User: roster.ImportUser{Email: u.Email, ExternalID: u.ExternalID,
					Profile: roster.ProfilePatch{GivenName: &name}}}
			}
			if _, err := s.ImportUsers(ctx, env.ID, time.Now().UTC(), lines); err != nil {
				b.Fatal(err)
			}
		}
	})
}
