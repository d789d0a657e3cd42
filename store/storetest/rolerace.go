package storetest

import (
	"context"
	"encoding/json"
	"fmt"
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
	var dirUsers, userIDs []string
	for i := range users {
		at := now()
		email := fmt.Sprintf("m%d@acme.com", i)
		row := roster.DirectoryUser{ID: ids.New(roster.PrefixDirectoryUser), EnvironmentID: env.ID, DirectoryID: d.ID,
			UserName: email, Email: email, Emails: []string{email}, Active: true, Raw: json.RawMessage(`{}`), CreateTime: at, UpdateTime: at}
		out, err := s.WriteDirectoryUser(ctx, store.DirectoryUserWrite{Directory: d, Create: &row, NewUserID: ids.New(roster.PrefixUser),
			Email: func(r roster.DirectoryUser) string { return r.Email }, ProfileOf: reapplyProfile, DefaultRoles: defaults, Now: at})
		if err != nil {
			t.Fatal(err)
		}
		dirUsers, userIDs = append(dirUsers, out.ID), append(userIDs, out.UserID)
	}
	group := func(name string, members []string) string {
		at := now()
		g := roster.DirectoryGroup{ID: ids.New(roster.PrefixDirectoryGroup), EnvironmentID: env.ID, DirectoryID: d.ID,
			DisplayName: name, Raw: json.RawMessage(`{}`), CreateTime: at, UpdateTime: at}
		out, err := s.WriteDirectoryGroup(ctx, store.DirectoryGroupWrite{Create: &g, EnvironmentID: env.ID, DirectoryID: d.ID,
			Members: store.DirectoryMemberChange{Add: members}, DefaultRoles: defaults, Now: at})
		if err != nil {
			t.Fatal(err)
		}
		return out.ID
	}
	a, b := group("Editors A", dirUsers), group("Editors B", nil)
	if _, err := s.SetDirectoryRoleAssignments(ctx, env.ID, org.ID, d.ID, []roster.DirectoryRoleAssignment{{GroupID: a, RoleID: editor.ID},
		{GroupID: b, RoleID: editor.ID}}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecomputeDirectoryRoles(ctx, env.ID, d.ID, defaults); err != nil {
		t.Fatal(err)
	}
	patch := func(groupID string, c store.DirectoryMemberChange) error {
		_, err := s.WriteDirectoryGroup(ctx, store.DirectoryGroupWrite{EnvironmentID: env.ID, DirectoryID: d.ID, ID: groupID,
			Update: func(*roster.DirectoryGroup) (store.DirectoryMemberChange, error) { return c, nil }, DefaultRoles: defaults, Now: now()})
		return err
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
