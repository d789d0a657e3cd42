package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/cputime"
	"github.com/rosterhq/roster/store"
)

// The store's share of the SCIM hot paths: the token check every SCIM request makes, a user
// written by POST /Users, and one member added to and removed from a 20,000-member group.

func benchDirectory(b *testing.B, members int) (store.Store, roster.Environment, roster.Directory, roster.DirectoryGroup, []string) {
	ctx := context.Background()
	s, env, _ := benchStore(b)
	org := roster.NewOrganization{DisplayName: "SCIM"}.Build(ids.New(roster.PrefixOrganization), env.ID, time.Now().UTC())
	if err := s.CreateOrganization(ctx, org); err != nil {
		b.Fatal(err)
	}
	d, _ := roster.NewDirectory(ids.New(roster.PrefixDirectory), env.ID, org.ID, roster.DirectorySCIM, "OKTA", time.Now().UTC())
	if err := s.CreateDirectory(ctx, d); err != nil {
		b.Fatal(err)
	}
	g := roster.DirectoryGroup{ID: ids.New(roster.PrefixDirectoryGroup), EnvironmentID: env.ID, DirectoryID: d.ID, DisplayName: "Everyone",
		Raw: json.RawMessage(`{}`), CreateTime: time.Now().UTC(), UpdateTime: time.Now().UTC()}
	if err := s.CreateDirectoryGroup(ctx, g); err != nil {
		b.Fatal(err)
	}
	var userIDs []string
	for i := range members {
		u := benchDirUser(env, d, fmt.Sprintf("m%d@scim.example.com", i))
		if err := s.CreateDirectoryUser(ctx, u); err != nil {
			b.Fatal(err)
		}
		userIDs = append(userIDs, u.ID)
	}
	if members > 0 {
		if _, _, err := s.AddDirectoryGroupMembers(ctx, env.ID, d.ID, g.ID, userIDs, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	return s, env, d, g, userIDs
}

func benchDirUser(env roster.Environment, d roster.Directory, name string) roster.DirectoryUser {
	at := time.Now().UTC()
	return roster.DirectoryUser{ID: ids.New(roster.PrefixDirectoryUser), EnvironmentID: env.ID, DirectoryID: d.ID, UserName: name,
		ExternalID: "00u" + name, Active: true, Email: name, GivenName: "Given", FamilyName: "Family", Emails: []string{name},
		Raw:        json.RawMessage(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + name + `","active":true}`),
		CreateTime: at, UpdateTime: at}
}

func BenchmarkStoreFindDirectoryBySecret(b *testing.B) {
	ctx := context.Background()
	s, env, d, _, _ := benchDirectory(b, 0)
	sec, token, _ := roster.NewDirectorySecret(ids.New(roster.PrefixDirectorySecret), d.ID, time.Now())
	if err := s.CreateDirectorySecret(ctx, env.ID, d.OrganizationID, sec, false); err != nil {
		b.Fatal(err)
	}
	hash := roster.HashDirectorySecret(token)
	b.ReportAllocs()
	cpu0 := cputime.Process()
	for b.Loop() {
		if _, err := s.FindDirectoryBySecret(ctx, hash, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	cputime.Report(b, cpu0)
}

func BenchmarkStoreCreateDirectoryUser(b *testing.B) {
	ctx := context.Background()
	s, env, d, _, _ := benchDirectory(b, 0)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		if err := s.CreateDirectoryUser(ctx, benchDirUser(env, d, fmt.Sprintf("b%d@scim.example.com", i))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreGroupMemberAddRemove adds one member to a 20,000-member group and removes it
// again: two writes per iteration, each touching one member row.
func BenchmarkStoreGroupMemberAddRemove(b *testing.B) {
	ctx := context.Background()
	s, env, d, g, _ := benchDirectory(b, 20000)
	extra := benchDirUser(env, d, "extra@scim.example.com")
	if err := s.CreateDirectoryUser(ctx, extra); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if added, _, err := s.AddDirectoryGroupMembers(ctx, env.ID, d.ID, g.ID, []string{extra.ID}, time.Now()); err != nil || added != 1 {
			b.Fatal(added, err)
		}
		if removed, err := s.RemoveDirectoryGroupMembers(ctx, env.ID, d.ID, g.ID, []string{extra.ID}, time.Now()); err != nil || removed != 1 {
			b.Fatal(removed, err)
		}
	}
}

// benchDirectoryUsers is a directory of n users, made once per process and shared by the
// page benchmarks (seeding 100k users takes a while).
func benchDirectoryUsers(b *testing.B, n int) (store.Store, roster.Directory) {
	ctx := context.Background()
	s, env, d, _, _ := benchDirectory(b, 0)
	for i := range n {
		if err := s.CreateDirectoryUser(ctx, benchDirUser(env, d, fmt.Sprintf("p%d@scim.example.com", i))); err != nil {
			b.Fatal(err)
		}
	}
	return s, d
}

// BenchmarkStoreSCIMPage reads one SCIM page (GET /Users?startIndex=…&count=100, no filter)
// of a 100k-user directory, startIndex drawn over the whole directory as bench/run.sh's
// scim_list row does: the count of all and the page at that position.
func BenchmarkStoreSCIMPage(b *testing.B) {
	ctx := context.Background()
	const n = 100_000
	s, d := benchDirectoryUsers(b, n)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	cpu0 := cputime.Process()
	for b.Loop() {
		offset := rng.IntN(n)
		rows, total, err := s.QueryDirectoryUsers(ctx, d.EnvironmentID, d.ID, nil, offset, 100)
		if err != nil || total != n || len(rows) != min(100, n-offset) {
			b.Fatal(len(rows), total, err)
		}
	}
	cputime.Report(b, cpu0)
}

// BenchmarkStoreSCIMPageAfterWrite is BenchmarkStoreSCIMPage with a user created before each
// page: the worst case of the page marks, which every write makes stale (each page rebuilds
// them in one pass over the directory's index).
func BenchmarkStoreSCIMPageAfterWrite(b *testing.B) {
	ctx := context.Background()
	const n = 100_000
	s, d := benchDirectoryUsers(b, n)
	env := roster.Environment{ID: d.EnvironmentID}
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	cpu0 := cputime.Process()
	i := 0
	for b.Loop() {
		i++
		if err := s.CreateDirectoryUser(ctx, benchDirUser(env, d, fmt.Sprintf("w%d@scim.example.com", i))); err != nil {
			b.Fatal(err)
		}
		if _, total, err := s.QueryDirectoryUsers(ctx, d.EnvironmentID, d.ID, nil, rng.IntN(n), 100); err != nil || total != n+i {
			b.Fatal(total, err)
		}
	}
	cputime.Report(b, cpu0)
}
