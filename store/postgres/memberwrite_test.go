package postgres_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/postgres"
	"github.com/rosterhq/roster/store/postgres/pgtest"
	"github.com/rosterhq/roster/store/sqlstore"
)

// memberFixture is a directory with a group and two users, for a member write's tests.
type memberFixture struct {
	env, org, dir, group string
	users                []string
}

func newMemberFixture(t *testing.T, s *sqlstore.Store) memberFixture {
	t.Helper()
	ctx := context.Background()
	ids := roster.NewIDGenerator()
	now := time.Now().UTC().Truncate(time.Microsecond)
	env, o := newOrganization(t, s, ids, now)
	d, err := roster.NewDirectory(ids.New(roster.PrefixDirectory), env.ID, o.ID, roster.DirectorySCIM, "OKTA", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateDirectory(ctx, d); err != nil {
		t.Fatal(err)
	}
	f := memberFixture{env: env.ID, org: o.ID, dir: d.ID}
	for _, name := range []string{"a@acme.com", "b@acme.com"} {
		u := roster.DirectoryUser{ID: ids.New(roster.PrefixDirectoryUser), EnvironmentID: env.ID, DirectoryID: d.ID, UserName: name,
			Email: name, Emails: []string{name}, Active: true, Raw: json.RawMessage(`{}`), CreateTime: now, UpdateTime: now}
		if err := s.CreateDirectoryUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		f.users = append(f.users, u.ID)
	}
	g := roster.DirectoryGroup{ID: ids.New(roster.PrefixDirectoryGroup), EnvironmentID: env.ID, DirectoryID: d.ID, DisplayName: "Everyone",
		Raw: json.RawMessage(`{}`), CreateTime: now, UpdateTime: now}
	if err := s.CreateDirectoryGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	f.group = g.ID
	return f
}

// withDomain gives the fixture's organization the domain acme.com (a SCIM write links its
// users by email in it: roster.CheckLink) and returns its directory, for user writes.
func (f memberFixture) withDomain(t *testing.T, s *sqlstore.Store) roster.Directory {
	t.Helper()
	ctx, now := context.Background(), time.Now()
	if err := s.CreateDomain(ctx, roster.Domain{ID: roster.NewIDGenerator().New(roster.PrefixDomain), EnvironmentID: f.env, OrganizationID: f.org,
		Name: "acme.com", Type: roster.DomainOrganization, CreateTime: now, UpdateTime: now}); err != nil {
		t.Fatal(err)
	}
	dir, err := s.GetDirectory(ctx, f.env, f.org, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// updateUser writes the fixture's directory user i as a SCIM PATCH does: update changes the
// row, and the directory's profile function gives the Roster user the row's displayName.
func (f memberFixture) updateUser(ctx context.Context, s *sqlstore.Store, dir roster.Directory, i int, update func(*roster.DirectoryUser)) error {
	_, err := s.WriteDirectoryUser(ctx, store.DirectoryUserWrite{Directory: dir, ID: f.users[i],
		Update:    func(u *roster.DirectoryUser) error { update(u); return nil },
		NewUserID: roster.NewIDGenerator().New(roster.PrefixUser),
		Email:     func(u roster.DirectoryUser) string { return u.Email },
		ProfileOf: func(roster.Directory) func(*roster.User, roster.DirectoryUser, store.SignInState, store.AttributeDefs) error {
			return func(u *roster.User, row roster.DirectoryUser, _ store.SignInState, _ store.AttributeDefs) error {
				u.Profile.Name = row.DisplayName
				return nil
			}
		},
		Now: time.Now()})
	return err
}

func (f memberFixture) patch(ctx context.Context, s *sqlstore.Store, c store.DirectoryMemberChange) error {
	return f.patchChecked(ctx, s, c, "")
}

// patchChecked is patch checking a SCIM token's hash in the write (none when "").
func (f memberFixture) patchChecked(ctx context.Context, s *sqlstore.Store, c store.DirectoryMemberChange, hash string) error {
	w := store.DirectoryGroupWrite{EnvironmentID: f.env, DirectoryID: f.dir, ID: f.group,
		Update: func(g *roster.DirectoryGroup) (store.DirectoryMemberChange, error) {
			g.UpdateTime = time.Now() // as directory.Service's update does
			return c, nil
		}, Now: time.Now()}
	if hash != "" {
		w.EnvironmentID, w.Secret = "", &store.SecretCheck{Hash: hash}
	}
	_, err := s.WriteDirectoryGroup(ctx, w)
	return err
}

// secretHash gives the fixture's directory a secret and returns its token's hash.
func (f memberFixture) secretHash(t *testing.T, s *sqlstore.Store) string {
	t.Helper()
	sec, token, err := roster.NewDirectorySecret(roster.NewIDGenerator().New(roster.PrefixDirectorySecret), f.dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateDirectorySecret(context.Background(), f.env, f.org, sec, true); err != nil {
		t.Fatal(err)
	}
	return roster.HashDirectorySecret(token)
}

// A member PATCH (Okta's: one member added or removed) is BEGIN sent with the directory's gate
// and one statement that locks the organization, the directory and the group and reads the
// group's row and the organization's default role; one statement that inserts or deletes the
// member row and reads the member's roles; and the events' INSERT sent with COMMIT: every
// round trip is CPU on both sides and time the transaction holds its locks (it was 13). A
// directory that gives groups roles writes the row, locks the member's membership and reads
// its groups' roles in three. A SCIM member PATCH checks its bearer token in the first of
// these statements (store.DirectoryGroupWrite.Secret): no round trip more.
func TestMemberWriteRoundTrips(t *testing.T) {
	ctx := context.Background()
	var trace statements
	s, err := postgres.OpenTraced(ctx, pgtest.NewSchema(t), &trace)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f := newMemberFixture(t, s)
	if err := f.patch(ctx, s, store.DirectoryMemberChange{Add: []string{f.users[0]}}); err != nil { // warm
		t.Fatal(err)
	}
	hash := ""
	sends := func(want int, lock bool) {
		t.Helper()
		for _, c := range []store.DirectoryMemberChange{{Add: []string{f.users[1]}}, {Remove: []string{f.users[1]}}} {
			trace.take()
			if err := f.patchChecked(ctx, s, c, hash); err != nil {
				t.Fatal(err)
			}
			sent := trace.take()
			if len(sent) > want {
				t.Errorf("a member PATCH %+v sent %d statements, want at most %d:\n%s", c, len(sent), want, strings.Join(sent, "\n"))
			}
			if locked := strings.Contains(strings.Join(sent, "\n"), "FOR NO KEY UPDATE OF m"); locked != lock {
				t.Errorf("a member PATCH %+v locked the membership: %v, want %v", c, locked, lock)
			}
		}
	}
	// The events' INSERT (group_members_updated, docs/events.md) goes with COMMIT; where no
	// group gives roles, one statement writes the member row and reads the member's roles
	// (changeOneMember).
	sends(3, false)
	hash = f.secretHash(t, s)
	sends(3, false)
	hash = ""
	// Once the directory gives a group a role, the write locks the member's membership before
	// reading its groups' roles (lockRecomputedMemberships): one statement more.
	now := time.Now().UTC().Truncate(time.Microsecond)
	role := roster.Role{ID: roster.NewIDGenerator().New(roster.PrefixRole), EnvironmentID: f.env, Name: "editor", DisplayName: "Editor", CreateTime: now, UpdateTime: now}
	if err := s.CreateRole(ctx, role); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetDirectoryRoleAssignments(ctx, f.env, f.org, f.dir, []roster.DirectoryRoleAssignment{{GroupID: f.group, RoleID: role.ID}}); err != nil {
		t.Fatal(err)
	}
	sends(5, true)
}

// TestMemberWriteLockOrder: the statement that locks the organization, the directory and the
// group locks them in that order (docs/storage.md "Lock order"), as the separate statements
// did: while another transaction holds the organization (as its delete does before cascading
// to the directory and the group), a member write waiting for it holds neither the directory
// nor the group; while one holds the directory, the write holds not the group.
func TestMemberWriteLockOrder(t *testing.T) {
	ctx := context.Background()
	s, url := openStore(t, "")
	f := newMemberFixture(t, s)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	free := func(table, id string) error { // whether another transaction could lock the row exclusively now
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		var one int
		return tx.QueryRowContext(ctx, `SELECT 1 FROM `+table+` WHERE id = $1 FOR UPDATE NOWAIT`, id).Scan(&one)
	}
	for _, held := range []struct{ table, id string }{{"organizations", f.org}, {"directories", f.dir}} {
		holder, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var holderPID int
		if err := holder.QueryRowContext(ctx, `SELECT pg_backend_pid() FROM `+held.table+` WHERE id = $1 FOR UPDATE`, held.id).Scan(&holderPID); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- f.patch(ctx, s, store.DirectoryMemberChange{Add: []string{f.users[0]}}) }()
		// Wait until the write waits for the holder.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			var waiting int
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))
				AND query LIKE '%FOR SHARE OF o FOR KEY SHARE OF d, g%'`, holderPID).Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			if waiting > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the member write did not wait for the %s row", held.table)
			}
		}
		later := []struct{ table, id string }{{"directories", f.dir}, {"directory_groups", f.group}}
		if held.table == "directories" {
			later = later[1:]
		}
		for _, r := range later {
			if err := free(r.table, r.id); err != nil {
				t.Errorf("while the write waits for the %s row, the %s row is not free: %v", held.table, r.table, err)
			}
		}
		if err := holder.Rollback(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	}
	users, _, err := s.DirectoryGroupMemberIDs(ctx, f.env, f.dir, f.group)
	if err != nil || len(users) != 1 {
		t.Fatalf("members = %v, %v", users, err)
	}
}

// TestMemberWriteSkipsTheGroupTimeBeingMoved: a member write whose group's update time is due
// to move (roster.DirectoryGroupMemberTimeGranularity) does not wait for a transaction that
// is updating the group's row (another member write moving the time, or a rename): that one
// moves the time, and this one leaves it and commits its member row at once.
func TestMemberWriteSkipsTheGroupTimeBeingMoved(t *testing.T) {
	ctx := context.Background()
	s, url := openStore(t, "")
	f := newMemberFixture(t, s)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	old := time.Now().Add(-time.Minute).UnixMicro()
	if _, err := db.ExecContext(ctx, `UPDATE directory_groups SET update_time = $1 WHERE id = $2`, old, f.group); err != nil {
		t.Fatal(err)
	}
	holder, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	if _, err := holder.ExecContext(ctx, `UPDATE directory_groups SET update_time = $1 WHERE id = $2`, old+1, f.group); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := time.Now()
	if err := f.patch(wctx, s, store.DirectoryMemberChange{Add: []string{f.users[0]}}); err != nil {
		t.Fatalf("the member write waited for the group's row (%v): %v", time.Since(start), err)
	}
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	var stored int64
	if err := db.QueryRowContext(ctx, `SELECT update_time FROM directory_groups WHERE id = $1`, f.group).Scan(&stored); err != nil || stored != old {
		t.Fatalf("update time %d, want %d (left to the other transaction): %v", stored, old, err)
	}
	users, _, err := s.DirectoryGroupMemberIDs(ctx, f.env, f.dir, f.group)
	if err != nil || len(users) != 1 {
		t.Fatalf("members = %v, %v", users, err)
	}
	// With no one else on the row, the next member write moves it.
	if err := f.patch(ctx, s, store.DirectoryMemberChange{Add: []string{f.users[1]}}); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT update_time FROM directory_groups WHERE id = $1`, f.group).Scan(&stored); err != nil || stored <= old {
		t.Fatalf("update time %d, want it moved past %d: %v", stored, old, err)
	}
}
