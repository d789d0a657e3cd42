package storetest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/sqlstore"
)

// testDirectoryGroupNames: a group's displayName is unique in its directory, compared
// case-insensitively (migration 0013, docs/scim.md "Group names"), whatever the writer checked
// before: concurrent creates of one name end in one group, and a refused write changes nothing.
func testDirectoryGroupNames(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, org, d := orgWithDirectory(t, s)
	newDirGroup(t, s, d, "Sales")
	create := func(dir roster.Directory, name string) error {
		at := now()
		g := roster.DirectoryGroup{ID: ids.New(roster.PrefixDirectoryGroup), EnvironmentID: dir.EnvironmentID, DirectoryID: dir.ID,
			DisplayName: name, Raw: json.RawMessage(`{"displayName":"` + name + `"}`), CreateTime: at, UpdateTime: at}
		_, err := s.WriteDirectoryGroup(ctx, store.DirectoryGroupWrite{Create: &g, EnvironmentID: dir.EnvironmentID, DirectoryID: dir.ID, Now: at})
		return err
	}
	mustCode(t, create(d, "SALES"), roster.EConflict)
	mustCode(t, s.CreateDirectoryGroup(ctx, roster.DirectoryGroup{ID: ids.New(roster.PrefixDirectoryGroup), EnvironmentID: env.ID,
		DirectoryID: d.ID, DisplayName: "sales", Raw: json.RawMessage(`{}`), CreateTime: now(), UpdateTime: now()}), roster.EConflict)

	// A rename onto the name is refused and leaves the group as it was.
	eng := newDirGroup(t, s, d, "Engineering")
	_, err := s.WriteDirectoryGroup(ctx, store.DirectoryGroupWrite{EnvironmentID: env.ID, DirectoryID: d.ID, ID: eng.ID, Now: now(),
		Update: func(g *roster.DirectoryGroup) (store.DirectoryMemberChange, error) {
			g.DisplayName, g.Raw, g.UpdateTime = "Sales", json.RawMessage(`{"displayName":"Sales"}`), now()
			return store.DirectoryMemberChange{}, nil
		}})
	mustCode(t, err, roster.EConflict)
	if got, err := s.GetDirectoryGroup(ctx, env.ID, d.ID, eng.ID); err != nil || got.DisplayName != "Engineering" {
		t.Fatalf("after a refused rename: %+v, %v", got, err)
	}
	// Another directory has names of its own.
	other := newDirectory(t, s, env.ID, org.ID, "MICROSOFT_AD")
	if err := create(other, "Sales"); err != nil {
		t.Fatalf("the name in another directory: %v", err)
	}

	// Eight writers create one new name at once: one group, seven conflicts.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = create(d, "Support")
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if roster.ErrorCode(err) != roster.EConflict {
			t.Fatalf("a concurrent create: %v", err)
		}
	}
	list, _, err := s.QueryDirectoryGroups(ctx, env.ID, d.ID, &store.DirectoryCond{Op: "eq", Attr: "displayName", Value: "support"}, 0, 10)
	if ok != 1 || err != nil || len(list) != 1 {
		t.Fatalf("concurrent creates: %d succeeded, %d groups named Support (%v)", ok, len(list), err)
	}
}

// DirectoryGroupNameMigration: a database written before migration 0013 may hold groups that
// share a name in one directory; the migration keeps the name on the oldest and appends its ID
// to each other one (column and raw resource), so the unique index can be built. open opens
// the store (running the migrations); db is the same database without them.
func DirectoryGroupNameMigration(t *testing.T, open func() *sqlstore.Store, db *sql.DB) {
	ctx := context.Background()
	s := open()
	_, _, d := orgWithDirectory(t, s)
	first := newDirGroup(t, s, d, "Ops")
	second := newDirGroup(t, s, d, "Ops-2")
	third := newDirGroup(t, s, d, "Ops-3")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// What a database before 0013 could hold: three groups named alike in any case.
	for _, q := range []string{
		`DROP INDEX directory_groups_name_key`,
		`DELETE FROM schema_migrations WHERE version = '0013_directory_group_name'`,
		`UPDATE directory_groups SET display_name = 'OPS', raw = '{"displayName":"OPS","externalId":"x"}' WHERE id = '` + second.ID + `'`,
		`UPDATE directory_groups SET display_name = 'ops', raw = '{"displayName":"ops"}' WHERE id = '` + third.ID + `'`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s = open()
	defer s.Close()
	for id, want := range map[string]string{first.ID: "Ops", second.ID: "OPS (" + second.ID + ")", third.ID: "ops (" + third.ID + ")"} {
		g, err := s.GetDirectoryGroup(ctx, d.EnvironmentID, d.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]any
		if err := json.Unmarshal(g.Raw, &raw); err != nil {
			t.Fatalf("raw of %s: %v", id, err)
		}
		if g.DisplayName != want || raw["displayName"] != want {
			t.Errorf("group %s after the migration: displayName %q, raw %s; want %q", id, g.DisplayName, g.Raw, want)
		}
	}
	mustCode(t, s.CreateDirectoryGroup(ctx, roster.DirectoryGroup{ID: ids.New(roster.PrefixDirectoryGroup), EnvironmentID: d.EnvironmentID,
		DirectoryID: d.ID, DisplayName: "oPs", Raw: json.RawMessage(`{}`), CreateTime: now(), UpdateTime: now()}), roster.EConflict)
}

// DirectoryUserUpdateMigration: a directory written before 0016 gets its latest user update
// (GetDirectory's stats) from its users' rows, and later updates move it on.
func DirectoryUserUpdateMigration(t *testing.T, open func() *sqlstore.Store, db *sql.DB) {
	ctx := context.Background()
	s := open()
	env, _, d := orgWithDirectory(t, s)
	beta := newOrg(env.ID, "Beta", "")
	if err := s.CreateOrganization(ctx, beta); err != nil {
		t.Fatal(err)
	}
	empty := newDirectory(t, s, env.ID, beta.ID, "OKTA")
	u := newDirUser(t, s, d, "ann@acme.com")
	newDirUser(t, s, d, "bob@acme.com")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// What a database before 0016 held: counts without the column; one user updated last.
	latest := now().Add(time.Hour)
	for _, q := range []string{
		`ALTER TABLE directory_counts DROP COLUMN last_update`,
		`DELETE FROM schema_migrations WHERE version = '0016_directory_user_update'`,
		fmt.Sprintf(`UPDATE directory_users SET update_time = %d WHERE id = '%s'`, latest.UnixMicro(), u.ID),
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s = open()
	defer s.Close()
	st, err := s.DirectoryStats(ctx, d.EnvironmentID, d.ID)
	if err != nil || st.Users != 2 || st.UserUpdateTime == nil || !st.UserUpdateTime.Equal(latest) {
		t.Fatalf("stats after the migration = %+v, %v; want 2 users, the latest update %v", st, err, latest)
	}
	if st, err := s.DirectoryStats(ctx, empty.EnvironmentID, empty.ID); err != nil || st.Users != 0 || st.UserUpdateTime != nil {
		t.Fatalf("stats of a directory with no users = %+v, %v", st, err)
	}
}
