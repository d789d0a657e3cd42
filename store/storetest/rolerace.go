package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// testDirectoryConcurrentGroupsOfOneUser: a user moved from one group to another by two
// PATCHes at once, one on each group, where both groups give the same role, ends with the
// role its groups give: neither write may decide from a view that misses the other's change.
func testDirectoryConcurrentGroupsOfOneUser(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, org, d := orgWithDirectory(t, s)
	if err := s.CreateDomain(ctx, newDomain(env.ID, org.ID, "acme.com")); err != nil {
		t.Fatal(err)
	}
	member := newRole(t, s, env.ID, "", "member")
	editor := newRole(t, s, env.ID, "", "editor")
	defaults := []roster.RoleRef{{ID: member.ID, Name: member.Name}}
	const users = 8
	dirUsers, userIDs := linkedDirUsers(t, s, d, "m", users)
	a, b := writeDirGroup(t, s, d, "Editors A", dirUsers).ID, writeDirGroup(t, s, d, "Editors B", nil).ID
	if _, err := s.SetDirectoryRoleAssignments(ctx, env.ID, org.ID, d.ID, []roster.DirectoryRoleAssignment{{GroupID: a, RoleID: editor.ID},
		{GroupID: b, RoleID: editor.ID}}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecomputeDirectoryRoles(ctx, env.ID, d.ID, defaults); err != nil {
		t.Fatal(err)
	}
	patch := func(groupID string, c store.DirectoryMemberChange) error {
		return patchDirGroupMembers(s, d, groupID, c)
	}
	from, to := a, b
	for round := range 20 {
		var wg sync.WaitGroup
		errs := make(chan error, 2*users)
		for i := range users {
			wg.Go(func() { errs <- patch(from, store.DirectoryMemberChange{Remove: []string{dirUsers[i]}}) })
			wg.Go(func() { errs <- patch(to, store.DirectoryMemberChange{Add: []string{dirUsers[i]}}) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for i := range users {
			u, err := s.GetUser(ctx, env.ID, roster.UserRef{ID: userIDs[i]})
			if err != nil || len(u.Memberships) != 1 {
				t.Fatalf("user %d: %+v, %v", i, u.Memberships, err)
			}
			if r := u.Memberships[0].Roles; len(r) != 1 || r[0].ID != editor.ID {
				t.Fatalf("round %d: user %d is in a group that gives editor, and holds %+v", round, i, r)
			}
		}
		from, to = to, from
	}
}

// testDirectoryGroupRoleChanges: one group's assignment changes while the others stay as they
// are when it is written, so changes of different groups at once all stay; a group of
// another directory is NOT_FOUND; a directory maps at most roster.MaxRoleAssignments groups.
func testDirectoryGroupRoleChanges(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, org, d := orgWithDirectory(t, s)
	editor := newRole(t, s, env.ID, "", "editor")
	viewer := newRole(t, s, env.ID, "", "viewer")
	const groups = 12
	var gs []string
	for i := range groups {
		gs = append(gs, newDirGroup(t, s, d, fmt.Sprint("Group ", i)).ID)
	}
	var wg sync.WaitGroup
	errs := make(chan error, groups)
	for _, g := range gs {
		wg.Go(func() {
			_, err := s.SetDirectoryGroupRole(ctx, env.ID, org.ID, d.ID, g, editor.ID)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetDirectory(ctx, env.ID, org.ID, d.ID)
	if err != nil || len(got.RoleAssignments) != groups {
		t.Fatalf("after %d concurrent changes of different groups: %d assignments (%v)", groups, len(got.RoleAssignments), err)
	}
	// Change one, remove another: the rest stay.
	if _, err := s.SetDirectoryGroupRole(ctx, env.ID, org.ID, d.ID, gs[0], viewer.ID); err != nil {
		t.Fatal(err)
	}
	out, err := s.SetDirectoryGroupRole(ctx, env.ID, org.ID, d.ID, gs[1], "")
	if err != nil {
		t.Fatal(err)
	}
	byGroup := map[string]string{}
	for _, a := range out {
		byGroup[a.GroupID] = a.RoleName
	}
	if len(out) != groups-1 || byGroup[gs[0]] != "viewer" || byGroup[gs[2]] != "editor" || byGroup[gs[1]] != "" {
		t.Fatalf("assignments = %+v", out)
	}
	// Another directory's group is not found; nothing changes.
	org2 := newOrg(env.ID, "Globex", "")
	if err := s.CreateOrganization(ctx, org2); err != nil {
		t.Fatal(err)
	}
	foreign := newDirGroup(t, s, newDirectory(t, s, env.ID, org2.ID, "OKTA"), "Foreign")
	_, err = s.SetDirectoryGroupRole(ctx, env.ID, org.ID, d.ID, foreign.ID, editor.ID)
	mustCode(t, err, roster.ENotFound)
	// The cap.
	for i := groups; i < roster.MaxRoleAssignments+2; i++ { // the last one past the cap
		g := newDirGroup(t, s, d, fmt.Sprint("Group ", i)).ID
		_, err := s.SetDirectoryGroupRole(ctx, env.ID, org.ID, d.ID, g, editor.ID)
		if n := i; n <= roster.MaxRoleAssignments { // groups-1 kept, then one more each
			if err != nil {
				t.Fatalf("assignment %d: %v", n, err)
			}
		} else {
			mustCode(t, err, roster.EInvalid)
		}
	}
	if got, _ := s.GetDirectory(ctx, env.ID, org.ID, d.ID); len(got.RoleAssignments) != roster.MaxRoleAssignments {
		t.Fatalf("%d assignments, want the cap %d", len(got.RoleAssignments), roster.MaxRoleAssignments)
	}
}

// linkedDirUsers provisions n users of directory d (emails prefix0@acme.com, ...; the
// organization must have acme.com as a domain), each linked to a new Roster user whose
// membership holds the organization's default member role.
func linkedDirUsers(t *testing.T, s store.Store, d roster.Directory, prefix string, n int) (dirUsers, userIDs []string) {
	t.Helper()
	for i := range n {
		at := now()
		email := fmt.Sprintf("%s%d@acme.com", prefix, i)
		row := roster.DirectoryUser{ID: ids.New(roster.PrefixDirectoryUser), EnvironmentID: d.EnvironmentID, DirectoryID: d.ID,
			UserName: email, Email: email, Emails: []string{email}, Active: true, Raw: json.RawMessage(`{}`), CreateTime: at, UpdateTime: at}
		out, err := s.WriteDirectoryUser(context.Background(), store.DirectoryUserWrite{Directory: d, Create: &row, NewUserID: ids.New(roster.PrefixUser),
			Email: func(r roster.DirectoryUser) string { return r.Email }, ProfileOf: reapplyProfile, Now: at})
		if err != nil {
			t.Fatal(err)
		}
		dirUsers, userIDs = append(dirUsers, out.ID), append(userIDs, out.UserID)
	}
	return dirUsers, userIDs
}

// writeDirGroup creates a group of directory d with members, as a SCIM POST does. Members
// no assigned group gives a role get the organization's default member role.
func writeDirGroup(t *testing.T, s store.Store, d roster.Directory, name string, members []string) roster.DirectoryGroup {
	t.Helper()
	at := now()
	g := roster.DirectoryGroup{ID: ids.New(roster.PrefixDirectoryGroup), EnvironmentID: d.EnvironmentID, DirectoryID: d.ID,
		DisplayName: name, Raw: json.RawMessage(`{}`), CreateTime: at, UpdateTime: at}
	out, err := s.WriteDirectoryGroup(context.Background(), store.DirectoryGroupWrite{Create: &g, EnvironmentID: d.EnvironmentID, DirectoryID: d.ID,
		Members: store.DirectoryMemberChange{Add: members}, Now: at})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// patchDirGroupMembers changes a group's members, as a SCIM member PATCH does.
func patchDirGroupMembers(s store.Store, d roster.Directory, groupID string, c store.DirectoryMemberChange) error {
	_, err := s.WriteDirectoryGroup(context.Background(), store.DirectoryGroupWrite{EnvironmentID: d.EnvironmentID, DirectoryID: d.ID, ID: groupID,
		Update: func(*roster.DirectoryGroup) (store.DirectoryMemberChange, error) { return c, nil }, Now: now()})
	return err
}

// testDirectoryMemberWriteDefaultRole: a member write gives a member that no assigned group
// gives a role the organization's default member role, read in the write's own transaction:
// the organization's own role of the environment's default name over the environment's.
func testDirectoryMemberWriteDefaultRole(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, org, d := orgWithDirectory(t, s)
	if err := s.CreateDomain(ctx, newDomain(env.ID, org.ID, "acme.com")); err != nil {
		t.Fatal(err)
	}
	envMember := newRole(t, s, env.ID, "", "member")
	dirUsers, userIDs := linkedDirUsers(t, s, d, "d", 3) // holding envMember, the default
	roles := func(i int) []string {
		t.Helper()
		u, err := s.GetUser(ctx, env.ID, roster.UserRef{ID: userIDs[i]})
		if err != nil || len(u.Memberships) != 1 {
			t.Fatalf("user %d: %+v, %v", i, u.Memberships, err)
		}
		var ids []string
		for _, r := range u.Memberships[0].Roles {
			ids = append(ids, r.ID)
		}
		return ids
	}
	// The organization gets a role of its own by the default name: it wins.
	orgMember := newRole(t, s, env.ID, org.ID, "member")
	g := writeDirGroup(t, s, d, "Staff", []string{dirUsers[0]}) // a create's members
	if err := patchDirGroupMembers(s, d, g.ID, store.DirectoryMemberChange{Add: []string{dirUsers[1]}}); err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]string{{orgMember.ID}, {orgMember.ID}, {envMember.ID}} { // the third was not written
		if got := roles(i); !slices.Equal(got, want) {
			t.Fatalf("user %d holds %v, want %v", i, got, want)
		}
	}
	// A user write's new membership gets it too (lockDirectoryWithOrganization).
	more, moreIDs := linkedDirUsers(t, s, d, "e", 1)
	dirUsers, userIDs = append(dirUsers, more...), append(userIDs, moreIDs...)
	if got := roles(3); !slices.Equal(got, []string{orgMember.ID}) {
		t.Fatalf("a user created by a SCIM write holds %v, want the organization's member %s", got, orgMember.ID)
	}
	// Another default name, which only the environment has a role of: that one.
	staff := newRole(t, s, env.ID, "", "staff")
	if err := s.SetDefaultMemberRole(ctx, env.ID, "staff"); err != nil {
		t.Fatal(err)
	}
	if err := patchDirGroupMembers(s, d, g.ID, store.DirectoryMemberChange{Add: []string{dirUsers[2]}}); err != nil {
		t.Fatal(err)
	}
	if got := roles(2); !slices.Equal(got, []string{staff.ID}) {
		t.Fatalf("user 2 holds %v, want the environment's staff %s", got, staff.ID)
	}
}
