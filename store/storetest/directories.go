package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

var directoryTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"Directories", testDirectories},
	{"DirectoryIsolation", testDirectoryIsolation},
	{"DirectorySecrets", testDirectorySecrets},
	{"DirectoryUsersAndGroups", testDirectoryUsersAndGroups},
	{"DirectoryRoleAssignments", testDirectoryRoleAssignments},
	{"DirectoryOrganizationDelete", testDirectoryOrganizationDelete},
	{"DirectoryLargeGroupMembers", testDirectoryLargeGroupMembers},
	{"DirectoryConcurrentMemberAdds", testDirectoryConcurrentMemberAdds},
	{"DirectoryConcurrentMemberPatches", testDirectoryConcurrentMemberPatches},
	{"DirectoryWritesDuringOrganizationDelete", testDirectoryWritesDuringOrganizationDelete},
	{"DirectoryReapply", testDirectoryReapply},
	{"DirectorySCIMPages", testDirectorySCIMPages},
	{"DirectorySCIMPagesIsolation", testDirectorySCIMPagesIsolation},
	{"DirectorySCIMPageRows", testDirectorySCIMPageRows},
	{"DirectorySCIMPagesConcurrentWrites", testDirectorySCIMPagesConcurrentWrites},
	{"DirectoryGroupNames", testDirectoryGroupNames},
	{"SCIMRequests", testSCIMRequests},
	{"DirectoryConcurrentGroupsOfOneUser", testDirectoryConcurrentGroupsOfOneUser},
	{"DirectoryGroupRoleChanges", testDirectoryGroupRoleChanges},
	{"DirectoryMemberWriteDefaultRole", testDirectoryMemberWriteDefaultRole},
	{"GroupWriteChecksSecret", testGroupWriteChecksSecret},
}

func newDirectory(t *testing.T, s store.Store, envID, orgID, provider string) roster.Directory {
	t.Helper()
	d, err := roster.NewDirectory(ids.New(roster.PrefixDirectory), envID, orgID, roster.DirectorySCIM, provider, now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateDirectory(context.Background(), d); err != nil {
		t.Fatalf("create directory: %v", err)
	}
	return d
}

func orgWithDirectory(t *testing.T, s store.Store) (roster.Environment, roster.Organization, roster.Directory) {
	t.Helper()
	env := newEnv(t, s, "default")
	org := newOrg(env.ID, "Acme", "")
	if err := s.CreateOrganization(context.Background(), org); err != nil {
		t.Fatal(err)
	}
	return env, org, newDirectory(t, s, env.ID, org.ID, "OKTA")
}

func newDirUser(t *testing.T, s store.Store, d roster.Directory, userName string) roster.DirectoryUser {
	t.Helper()
	at := now()
	u := roster.DirectoryUser{ID: ids.New(roster.PrefixDirectoryUser), EnvironmentID: d.EnvironmentID, DirectoryID: d.ID,
		UserName: userName, ExternalID: "ext-" + userName, Active: true, Email: userName, Emails: []string{userName},
		GivenName: "Given", FamilyName: "Family", Raw: json.RawMessage(`{"userName":"` + userName + `"}`), CreateTime: at, UpdateTime: at}
	if err := s.CreateDirectoryUser(context.Background(), u); err != nil {
		t.Fatalf("create directory user %s: %v", userName, err)
	}
	return u
}

func newDirGroup(t *testing.T, s store.Store, d roster.Directory, name string) roster.DirectoryGroup {
	t.Helper()
	at := now()
	g := roster.DirectoryGroup{ID: ids.New(roster.PrefixDirectoryGroup), EnvironmentID: d.EnvironmentID, DirectoryID: d.ID,
		DisplayName: name, ExternalID: "ext-" + name, Raw: json.RawMessage(`{"displayName":"` + name + `"}`), CreateTime: at, UpdateTime: at}
	if err := s.CreateDirectoryGroup(context.Background(), g); err != nil {
		t.Fatalf("create directory group: %v", err)
	}
	return g
}

func testDirectories(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, org, d := orgWithDirectory(t, s)
	got, err := s.GetDirectory(ctx, env.ID, org.ID, d.ID)
	if err != nil || got.Name != d.Name || got.Provider != "OKTA" || !got.Enabled || got.Type != roster.DirectorySCIM ||
		got.HasSecret || got.LastSyncTime != nil || len(got.Mappings) != 0 || len(got.RoleAssignments) != 0 || !got.CreateTime.Equal(d.CreateTime) {
		t.Fatalf("get directory = %+v, %v", got, err)
	}
	if got.Status() != roster.DirectoryDraft {
		t.Fatalf("status = %s, want DRAFT", got.Status())
	}
	// Any organization of the environment ("") finds it too.
	if _, err := s.GetDirectory(ctx, env.ID, "", d.ID); err != nil {
		t.Fatal(err)
	}
	// One directory per organization and provider; another provider is a second directory.
	dup, _ := roster.NewDirectory(ids.New(roster.PrefixDirectory), env.ID, org.ID, roster.DirectorySCIM, "OKTA", now())
	err = s.CreateDirectory(ctx, dup)
	mustCode(t, err, roster.EConflict)
	if v := err.(*roster.Error).Violations; len(v) != 1 || v[0].Field != "directory.directory_provider" {
		t.Fatalf("violations = %+v", v)
	}
	second := newDirectory(t, s, env.ID, org.ID, "MICROSOFT_AD")
	list, err := s.ListDirectories(ctx, env.ID, org.ID)
	if err != nil || len(list) != 2 || list[0].ID != d.ID || list[1].ID != second.ID {
		t.Fatalf("list = %+v, %v", list, err)
	}
	// Changing the provider to a taken one conflicts; the directory stays as it was.
	_, err = s.UpdateDirectory(ctx, env.ID, org.ID, second.ID, func(x *roster.Directory) error { x.Provider = "OKTA"; return nil })
	mustCode(t, err, roster.EConflict)
	upd, err := s.UpdateDirectory(ctx, env.ID, org.ID, d.ID, func(x *roster.Directory) error {
		x.Name, x.Enabled = "Okta prod", false
		x.Mappings = []roster.DirectoryMapping{{Key: "given_name", MapTo: "name.givenName"}, {Key: "department", MapTo: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}}
		x.UpdateTime = now()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetDirectory(ctx, env.ID, org.ID, d.ID)
	if got.Name != "Okta prod" || got.Enabled || len(got.Mappings) != 2 || got.Mappings[1] != upd.Mappings[1] {
		t.Fatalf("after update = %+v", got)
	}
	// An update that fails changes nothing.
	_, err = s.UpdateDirectory(ctx, env.ID, org.ID, d.ID, func(x *roster.Directory) error {
		x.Name = "changed"
		return roster.Errorf(roster.EInvalid, "no")
	})
	mustCode(t, err, roster.EInvalid)
	if got, _ = s.GetDirectory(ctx, env.ID, org.ID, d.ID); got.Name != "Okta prod" {
		t.Fatalf("failed update changed the name to %q", got.Name)
	}
	// Sync time: recorded, then not rewritten within the granularity.
	at := now()
	if err := s.RecordDirectorySync(ctx, d.ID, at); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordDirectorySync(ctx, d.ID, at.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.GetDirectory(ctx, env.ID, org.ID, d.ID); got.LastSyncTime == nil || !got.LastSyncTime.Equal(at) || got.Status() != roster.DirectoryCompleted {
		t.Fatalf("last sync = %v, status %s", got.LastSyncTime, got.Status())
	}
	if err := s.DeleteDirectory(ctx, env.ID, org.ID, d.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetDirectory(ctx, env.ID, org.ID, d.ID)
	mustCode(t, err, roster.ENotFound)
	mustCode(t, s.DeleteDirectory(ctx, env.ID, org.ID, d.ID), roster.ENotFound)
	// Deleting the directory frees its provider.
	newDirectory(t, s, env.ID, org.ID, "OKTA")
}

func testDirectoryIsolation(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, org, d := orgWithDirectory(t, s)
	other := newOrg(env.ID, "Other", "")
	if err := s.CreateOrganization(ctx, other); err != nil {
		t.Fatal(err)
	}
	env2 := newEnv(t, s, "second")
	org2 := newOrg(env2.ID, "Acme", "")
	if err := s.CreateOrganization(ctx, org2); err != nil {
		t.Fatal(err)
	}
	u := newDirUser(t, s, d, "ann@acme.com")
	g := newDirGroup(t, s, d, "Engineering")
	touch := func(x *roster.Directory) error { x.Name = "stolen"; return nil }
	for _, c := range []struct{ env, org string }{{env.ID, other.ID}, {env2.ID, org2.ID}, {env2.ID, ""}} {
		_, err := s.GetDirectory(ctx, c.env, c.org, d.ID)
		mustCode(t, err, roster.ENotFound)
		_, err = s.UpdateDirectory(ctx, c.env, c.org, d.ID, touch)
		mustCode(t, err, roster.ENotFound)
		if c.org != "" {
			mustCode(t, s.DeleteDirectory(ctx, c.env, c.org, d.ID), roster.ENotFound)
			list, err := s.ListDirectories(ctx, c.env, c.org)
			if err != nil || len(list) != 0 {
				t.Fatalf("another organization lists %+v, %v", list, err)
			}
			sec, _, _ := roster.NewDirectorySecret(ids.New(roster.PrefixDirectorySecret), d.ID, now())
			mustCode(t, s.CreateDirectorySecret(ctx, c.env, c.org, sec, true), roster.ENotFound)
			_, err = s.SetDirectoryRoleAssignments(ctx, c.env, c.org, d.ID, nil)
			mustCode(t, err, roster.ENotFound)
		}
	}
	// Users and groups of the directory are out of reach from another environment.
	_, err := s.GetDirectoryUser(ctx, env2.ID, d.ID, u.ID)
	mustCode(t, err, roster.ENotFound)
	_, err = s.UpdateDirectoryUser(ctx, env2.ID, d.ID, u.ID, func(x *roster.DirectoryUser) error { return nil })
	mustCode(t, err, roster.ENotFound)
	mustCode(t, s.DeleteDirectoryUser(ctx, env2.ID, d.ID, u.ID), roster.ENotFound)
	mustCode(t, s.DeleteDirectoryGroup(ctx, env2.ID, d.ID, g.ID), roster.ENotFound)
	_, _, err = s.AddDirectoryGroupMembers(ctx, env2.ID, d.ID, g.ID, []string{u.ID}, now())
	mustCode(t, err, roster.ENotFound)
	page, err := s.ListDirectoryUsers(ctx, env2.ID, d.ID, store.DirectoryUserQuery{Page: store.PageQuery{Size: 10}})
	if err != nil || len(page.Items) != 0 || page.Total != 0 {
		t.Fatalf("another environment lists %+v, %v", page, err)
	}
	u2 := u
	u2.ID, u2.EnvironmentID = ids.New(roster.PrefixDirectoryUser), env2.ID
	mustCode(t, s.CreateDirectoryUser(ctx, u2), roster.ENotFound)
	got, err := s.GetDirectory(ctx, env.ID, org.ID, d.ID)
	if err != nil || got.Name != d.Name {
		t.Fatalf("directory after the attempts = %+v, %v", got, err)
	}
	if _, err := s.GetDirectoryUser(ctx, env.ID, d.ID, u.ID); err != nil {
		t.Fatal(err)
	}
}

func testDirectorySecrets(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, org, d := orgWithDirectory(t, s)
	sec, token, err := roster.NewDirectorySecret(ids.New(roster.PrefixDirectorySecret), d.ID, now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateDirectorySecret(ctx, env.ID, org.ID, sec, false); err != nil {
		t.Fatal(err)
	}
	a, err := s.FindDirectoryBySecret(ctx, roster.HashDirectorySecret(token), now())
	if err != nil || a.Directory.ID != d.ID || a.Secret.ID != sec.ID || a.Organization.ID != org.ID || !a.Directory.HasSecret {
		t.Fatalf("find by secret = %+v, %v", a, err)
	}
	if a.Directory.Status() != roster.DirectoryInProgress {
		t.Fatalf("status = %s", a.Directory.Status())
	}
	// A second secret is refused without replace.
	other, _, _ := roster.NewDirectorySecret(ids.New(roster.PrefixDirectorySecret), d.ID, now())
	mustCode(t, s.CreateDirectorySecret(ctx, env.ID, org.ID, other, false), roster.EConflict)
	// Last use is recorded, and not rewritten within the granularity.
	at := now()
	if err := s.RecordDirectorySecretUse(ctx, sec.ID, at); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordDirectorySecretUse(ctx, sec.ID, at.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListDirectorySecrets(ctx, d.ID)
	if err != nil || len(list) != 1 || list[0].LastUsedTime == nil || !list[0].LastUsedTime.Equal(at) || list[0].Suffix != token[len(token)-4:] {
		t.Fatalf("secrets = %+v, %v", list, err)
	}
	// Regenerating replaces the old secret at once.
	regen, token2, _ := roster.NewDirectorySecret(ids.New(roster.PrefixDirectorySecret), d.ID, now())
	if err := s.CreateDirectorySecret(ctx, env.ID, org.ID, regen, true); err != nil {
		t.Fatal(err)
	}
	_, err = s.FindDirectoryBySecret(ctx, roster.HashDirectorySecret(token), now())
	mustCode(t, err, roster.ENotFound)
	if a, err := s.FindDirectoryBySecret(ctx, roster.HashDirectorySecret(token2), now()); err != nil || a.Secret.ID != regen.ID {
		t.Fatalf("new secret finds %+v, %v", a, err)
	}
	if list, _ := s.ListDirectorySecrets(ctx, d.ID); len(list) != 1 || list[0].ID != regen.ID {
		t.Fatalf("secrets after regenerate = %+v", list)
	}
	// A disabled directory is not found by its secret; enabled again, it is.
	disable := func(on bool) {
		if _, err := s.UpdateDirectory(ctx, env.ID, org.ID, d.ID, func(x *roster.Directory) error { x.Enabled = on; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	disable(false)
	_, err = s.FindDirectoryBySecret(ctx, roster.HashDirectorySecret(token2), now())
	mustCode(t, err, roster.ENotFound)
	disable(true)
	if _, err := s.FindDirectoryBySecret(ctx, roster.HashDirectorySecret(token2), now()); err != nil {
		t.Fatal(err)
	}
	// An expired secret finds nothing.
	exp := now().Add(-time.Second)
	expired, token3, _ := roster.NewDirectorySecret(ids.New(roster.PrefixDirectorySecret), d.ID, now())
	expired.ExpireTime = &exp
	if err := s.CreateDirectorySecret(ctx, env.ID, org.ID, expired, true); err != nil {
		t.Fatal(err)
	}
	_, err = s.FindDirectoryBySecret(ctx, roster.HashDirectorySecret(token3), now())
	mustCode(t, err, roster.ENotFound)
	// A deleted directory is not found by its secret.
	fresh, token4, _ := roster.NewDirectorySecret(ids.New(roster.PrefixDirectorySecret), d.ID, now())
	if err := s.CreateDirectorySecret(ctx, env.ID, org.ID, fresh, true); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDirectory(ctx, env.ID, org.ID, d.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.FindDirectoryBySecret(ctx, roster.HashDirectorySecret(token4), now())
	mustCode(t, err, roster.ENotFound)
}

func testDirectoryUsersAndGroups(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, _, d := orgWithDirectory(t, s)
	t0 := now()
	var users []roster.DirectoryUser
	for i := range 5 {
		users = append(users, newDirUser(t, s, d, fmt.Sprintf("user%d@acme.com", i)))
	}
	// userName is unique per directory, case-insensitively.
	dup := users[0]
	dup.ID, dup.UserName = ids.New(roster.PrefixDirectoryUser), "USER0@ACME.COM"
	err := s.CreateDirectoryUser(ctx, dup)
	mustCode(t, err, roster.EConflict)
	if v := err.(*roster.Error).Violations; len(v) != 1 || v[0].Field != "userName" {
		t.Fatalf("violations = %+v", v)
	}
	// The same userName in another directory is fine.
	org2 := newOrg(env.ID, "Globex", "")
	if err := s.CreateOrganization(ctx, org2); err != nil {
		t.Fatal(err)
	}
	d2 := newDirectory(t, s, env.ID, org2.ID, "OKTA")
	newDirUser(t, s, d2, "user0@acme.com")

	got, err := s.GetDirectoryUser(ctx, env.ID, d.ID, users[1].ID)
	if err != nil || got.UserName != "user1@acme.com" || got.Email != "user1@acme.com" || len(got.Emails) != 1 || string(got.Raw) != `{"userName":"user1@acme.com"}` {
		t.Fatalf("get user = %+v, %v", got, err)
	}
	// Page through in ID order.
	page, err := s.ListDirectoryUsers(ctx, env.ID, d.ID, store.DirectoryUserQuery{Page: store.PageQuery{Size: 2}})
	if err != nil || page.Total != 5 || len(page.Items) != 2 || !page.More || page.Items[0].ID != users[0].ID {
		t.Fatalf("page 1 = %+v, %v", page, err)
	}
	after, _ := roster.IDNumber(page.Items[1].ID, roster.PrefixDirectoryUser)
	page, _ = s.ListDirectoryUsers(ctx, env.ID, d.ID, store.DirectoryUserQuery{Page: store.PageQuery{Size: 2, After: after}})
	if len(page.Items) != 2 || page.Items[0].ID != users[2].ID || !page.More {
		t.Fatalf("page 2 = %+v", page)
	}
	// Filters: userName (case-insensitive), externalId.
	page, _ = s.ListDirectoryUsers(ctx, env.ID, d.ID, store.DirectoryUserQuery{UserNameKey: roster.UserNameKey("User3@Acme.com"), Page: store.PageQuery{Size: 10}})
	if len(page.Items) != 1 || page.Items[0].ID != users[3].ID {
		t.Fatalf("by userName = %+v", page)
	}
	ext := "ext-user4@acme.com"
	page, _ = s.ListDirectoryUsers(ctx, env.ID, d.ID, store.DirectoryUserQuery{ExternalID: &ext, Page: store.PageQuery{Size: 10}})
	if len(page.Items) != 1 || page.Items[0].ID != users[4].ID {
		t.Fatalf("by externalId = %+v", page)
	}
	// updated_after.
	time.Sleep(2 * time.Millisecond)
	t1 := now()
	time.Sleep(2 * time.Millisecond)
	if _, err := s.UpdateDirectoryUser(ctx, env.ID, d.ID, users[2].ID, func(u *roster.DirectoryUser) error {
		u.Active, u.GivenName, u.UpdateTime = false, "Changed", now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	page, _ = s.ListDirectoryUsers(ctx, env.ID, d.ID, store.DirectoryUserQuery{UpdatedAfter: &t1, Page: store.PageQuery{Size: 10}})
	if page.Total != 1 || page.Items[0].ID != users[2].ID || page.Items[0].Active || page.Items[0].GivenName != "Changed" {
		t.Fatalf("updated after = %+v", page)
	}
	page, _ = s.ListDirectoryUsers(ctx, env.ID, d.ID, store.DirectoryUserQuery{UpdatedAfter: &t0, Page: store.PageQuery{Size: 10}})
	if page.Total != 5 {
		t.Fatalf("updated after t0 = %d users", page.Total)
	}
	// Renaming onto a taken userName conflicts.
	_, err = s.UpdateDirectoryUser(ctx, env.ID, d.ID, users[2].ID, func(u *roster.DirectoryUser) error { u.UserName = "user0@ACME.com"; return nil })
	mustCode(t, err, roster.EConflict)

	// Groups and members.
	eng := newDirGroup(t, s, d, "Engineering")
	ops := newDirGroup(t, s, d, "Ops")
	added, missing, err := s.AddDirectoryGroupMembers(ctx, env.ID, d.ID, eng.ID, []string{users[0].ID, users[1].ID, users[1].ID, "diruser_1"}, now())
	if err != nil || added != 2 || len(missing) != 1 || missing[0] != "diruser_1" {
		t.Fatalf("add members = %d %v %v", added, missing, err)
	}
	// A user of another directory is not a member candidate.
	other := newDirUser(t, s, d2, "x@globex.com")
	if _, missing, _ := s.AddDirectoryGroupMembers(ctx, env.ID, d.ID, eng.ID, []string{other.ID}, now()); len(missing) != 1 {
		t.Fatalf("another directory's user was added")
	}
	page, _ = s.ListDirectoryUsers(ctx, env.ID, d.ID, store.DirectoryUserQuery{GroupID: eng.ID, Page: store.PageQuery{Size: 10}})
	if page.Total != 2 || page.Items[0].ID != users[0].ID || page.Items[1].ID != users[1].ID {
		t.Fatalf("members of eng = %+v", page)
	}
	g, err := s.GetDirectoryGroup(ctx, env.ID, d.ID, eng.ID)
	if err != nil || g.MemberCount != 2 || g.DisplayName != "Engineering" {
		t.Fatalf("get group = %+v, %v", g, err)
	}
	members, err := s.ListDirectoryGroupMembers(ctx, env.ID, d.ID, eng.ID, "", 10)
	if err != nil || len(members) != 2 || members[0] != users[0].ID {
		t.Fatalf("members = %v, %v", members, err)
	}
	if members, _ := s.ListDirectoryGroupMembers(ctx, env.ID, d.ID, eng.ID, users[0].ID, 10); len(members) != 1 || members[0] != users[1].ID {
		t.Fatalf("members after the first = %v", members)
	}
	if _, _, err := s.AddDirectoryGroupMembers(ctx, env.ID, d.ID, ops.ID, []string{users[0].ID}, now()); err != nil {
		t.Fatal(err)
	}
	ug, err := s.DirectoryUserGroups(ctx, env.ID, d.ID, []string{users[0].ID, users[1].ID, users[2].ID})
	if err != nil || len(ug[users[0].ID]) != 2 || ug[users[0].ID][0].ID != eng.ID || ug[users[0].ID][1].DisplayName != "Ops" ||
		len(ug[users[1].ID]) != 1 || len(ug[users[2].ID]) != 0 {
		t.Fatalf("user groups = %+v, %v", ug, err)
	}
	if ug, _ := s.DirectoryUserGroups(ctx, env2ID(t, s), d.ID, []string{users[0].ID}); len(ug) != 0 {
		t.Fatalf("another environment reads user groups %+v", ug)
	}
	if _, err := s.RemoveDirectoryGroupMembers(ctx, env.ID, d.ID, ops.ID, []string{users[0].ID}, now()); err != nil {
		t.Fatal(err)
	}
	gpage, err := s.ListDirectoryGroups(ctx, env.ID, d.ID, store.DirectoryGroupQuery{Page: store.PageQuery{Size: 10}})
	if err != nil || gpage.Total != 2 || gpage.Items[0].ID != eng.ID || gpage.Items[0].MemberCount != 2 || gpage.Items[1].MemberCount != 0 {
		t.Fatalf("groups = %+v, %v", gpage, err)
	}
	name := "Ops"
	gpage, _ = s.ListDirectoryGroups(ctx, env.ID, d.ID, store.DirectoryGroupQuery{DisplayName: &name, Page: store.PageQuery{Size: 10}})
	if len(gpage.Items) != 1 || gpage.Items[0].ID != ops.ID {
		t.Fatalf("by displayName = %+v", gpage)
	}
	if _, err := s.UpdateDirectoryGroup(ctx, env.ID, d.ID, ops.ID, func(g *roster.DirectoryGroup) error {
		g.DisplayName, g.UpdateTime = "Operations", now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if g, _ := s.GetDirectoryGroup(ctx, env.ID, d.ID, ops.ID); g.DisplayName != "Operations" {
		t.Fatalf("renamed group = %+v", g)
	}
	removed, err := s.RemoveDirectoryGroupMembers(ctx, env.ID, d.ID, eng.ID, []string{users[0].ID, users[3].ID}, now())
	if err != nil || removed != 1 {
		t.Fatalf("remove = %d, %v", removed, err)
	}
	// Deleting a user removes its memberships; deleting a group its member rows.
	if _, _, err := s.AddDirectoryGroupMembers(ctx, env.ID, d.ID, ops.ID, []string{users[1].ID}, now()); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDirectoryUser(ctx, env.ID, d.ID, users[1].ID); err != nil {
		t.Fatal(err)
	}
	if g, _ := s.GetDirectoryGroup(ctx, env.ID, d.ID, eng.ID); g.MemberCount != 0 {
		t.Fatalf("members after user delete = %d", g.MemberCount)
	}
	if _, _, err := s.AddDirectoryGroupMembers(ctx, env.ID, d.ID, ops.ID, []string{users[4].ID}, now()); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDirectoryGroup(ctx, env.ID, d.ID, ops.ID); err != nil {
		t.Fatal(err)
	}
	page, _ = s.ListDirectoryUsers(ctx, env.ID, d.ID, store.DirectoryUserQuery{GroupID: ops.ID, Page: store.PageQuery{Size: 10}})
	if page.Total != 0 {
		t.Fatalf("a deleted group still has %d members", page.Total)
	}
	st, err := s.DirectoryStats(ctx, env.ID, d.ID)
	if err != nil || st.Users != 4 || st.Groups != 1 || st.UserUpdateTime == nil || st.GroupUpdateTime == nil {
		t.Fatalf("stats = %+v, %v", st, err)
	}
	// The latest user update follows an update of any user (an hour on, to stand out).
	later := now().Add(time.Hour)
	if _, err := s.UpdateDirectoryUser(ctx, env.ID, d.ID, users[3].ID, func(u *roster.DirectoryUser) error {
		u.UpdateTime = later
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if st, err := s.DirectoryStats(ctx, env.ID, d.ID); err != nil || st.UserUpdateTime == nil || !st.UserUpdateTime.Equal(later) || st.Users != 4 {
		t.Fatalf("stats after an update at %v = %+v, %v", later, st, err)
	}
	_, err = s.GetDirectoryUser(ctx, env.ID, d.ID, users[1].ID)
	mustCode(t, err, roster.ENotFound)
}

func testDirectoryRoleAssignments(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, org, d := orgWithDirectory(t, s)
	at := now()
	role := roster.Role{ID: ids.New(roster.PrefixRole), EnvironmentID: env.ID, Name: "editor", DisplayName: "Editor", CreateTime: at, UpdateTime: at}
	if err := s.CreateRole(ctx, role); err != nil {
		t.Fatal(err)
	}
	g := newDirGroup(t, s, d, "Editors")
	out, err := s.SetDirectoryRoleAssignments(ctx, env.ID, org.ID, d.ID, []roster.DirectoryRoleAssignment{{GroupID: g.ID, RoleID: role.ID}})
	if err != nil || len(out) != 1 || out[0].RoleName != "editor" || out[0].GroupID != g.ID {
		t.Fatalf("assign = %+v, %v", out, err)
	}
	got, _ := s.GetDirectory(ctx, env.ID, org.ID, d.ID)
	if len(got.RoleAssignments) != 1 || got.RoleAssignments[0].RoleID != role.ID {
		t.Fatalf("directory's assignments = %+v", got.RoleAssignments)
	}
	// A group of another directory is refused, and nothing changes.
	org2 := newOrg(env.ID, "Globex", "")
	if err := s.CreateOrganization(ctx, org2); err != nil {
		t.Fatal(err)
	}
	foreign := newDirGroup(t, s, newDirectory(t, s, env.ID, org2.ID, "OKTA"), "Foreign")
	_, err = s.SetDirectoryRoleAssignments(ctx, env.ID, org.ID, d.ID, []roster.DirectoryRoleAssignment{{GroupID: foreign.ID, RoleID: role.ID}})
	mustCode(t, err, roster.ENotFound)
	if got, _ = s.GetDirectory(ctx, env.ID, org.ID, d.ID); len(got.RoleAssignments) != 1 {
		t.Fatalf("a refused assignment changed them: %+v", got.RoleAssignments)
	}
	// Deleting the group removes its assignment.
	if err := s.DeleteDirectoryGroup(ctx, env.ID, d.ID, g.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.GetDirectory(ctx, env.ID, org.ID, d.ID); len(got.RoleAssignments) != 0 {
		t.Fatalf("assignments after group delete = %+v", got.RoleAssignments)
	}
}

// countRows counts the rows of the directory tables that belong to a directory.
func countDirectoryRows(t *testing.T, s store.Store, env roster.Environment, d roster.Directory) (users, groups, members, secrets int) {
	t.Helper()
	ctx := context.Background()
	up, err := s.ListDirectoryUsers(ctx, env.ID, d.ID, store.DirectoryUserQuery{Page: store.PageQuery{Size: 1}})
	if err != nil {
		t.Fatal(err)
	}
	gp, err := s.ListDirectoryGroups(ctx, env.ID, d.ID, store.DirectoryGroupQuery{Page: store.PageQuery{Size: 100}})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gp.Items {
		members += g.MemberCount
	}
	list, err := s.ListDirectorySecrets(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	return up.Total, gp.Total, members, len(list)
}

func testDirectoryOrganizationDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, org, d := orgWithDirectory(t, s)
	sec, token, _ := roster.NewDirectorySecret(ids.New(roster.PrefixDirectorySecret), d.ID, now())
	if err := s.CreateDirectorySecret(ctx, env.ID, org.ID, sec, false); err != nil {
		t.Fatal(err)
	}
	u := newDirUser(t, s, d, "ann@acme.com")
	g := newDirGroup(t, s, d, "Everyone")
	if _, _, err := s.AddDirectoryGroupMembers(ctx, env.ID, d.ID, g.ID, []string{u.ID}, now()); err != nil {
		t.Fatal(err)
	}
	// A directory of another organization stays.
	keep := newOrg(env.ID, "Keep", "")
	if err := s.CreateOrganization(ctx, keep); err != nil {
		t.Fatal(err)
	}
	kd := newDirectory(t, s, env.ID, keep.ID, "OKTA")
	ku := newDirUser(t, s, kd, "ann@acme.com")

	if users, groups, members, secrets := countDirectoryRows(t, s, env, d); users != 1 || groups != 1 || members != 1 || secrets != 1 {
		t.Fatalf("before: %d users %d groups %d members %d secrets", users, groups, members, secrets)
	}
	if err := s.DeleteOrganization(ctx, env.ID, roster.OrganizationRef{ID: org.ID}); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetDirectory(ctx, env.ID, "", d.ID)
	mustCode(t, err, roster.ENotFound)
	_, err = s.FindDirectoryBySecret(ctx, roster.HashDirectorySecret(token), now())
	mustCode(t, err, roster.ENotFound)
	if users, groups, members, secrets := countDirectoryRows(t, s, env, d); users+groups+members+secrets != 0 {
		t.Fatalf("after: %d users %d groups %d members %d secrets", users, groups, members, secrets)
	}
	_, err = s.GetDirectoryUser(ctx, env.ID, d.ID, u.ID)
	mustCode(t, err, roster.ENotFound)
	if _, err := s.GetDirectoryUser(ctx, env.ID, kd.ID, ku.ID); err != nil {
		t.Fatalf("another organization's directory user: %v", err)
	}
}

// largeGroupSize is the members of the large group test: enough that rewriting the group
// would show in the row counts.
const largeGroupSize = 1000

func testDirectoryLargeGroupMembers(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, _, d := orgWithDirectory(t, s)
	g := newDirGroup(t, s, d, "Everyone")
	ids := make([]string, 0, largeGroupSize)
	for i := range largeGroupSize {
		ids = append(ids, newDirUser(t, s, d, fmt.Sprintf("u%04d@acme.com", i)).ID)
	}
	extra := newDirUser(t, s, d, "extra@acme.com")
	if added, _, err := s.AddDirectoryGroupMembers(ctx, env.ID, d.ID, g.ID, ids, now()); err != nil || added != largeGroupSize {
		t.Fatalf("add %d = %d, %v", largeGroupSize, added, err)
	}
	// One member in: one row written, every other member as it was.
	added, missing, err := s.AddDirectoryGroupMembers(ctx, env.ID, d.ID, g.ID, []string{extra.ID}, now())
	if err != nil || added != 1 || len(missing) != 0 {
		t.Fatalf("add one = %d %v %v", added, missing, err)
	}
	if got, _ := s.GetDirectoryGroup(ctx, env.ID, d.ID, g.ID); got.MemberCount != largeGroupSize+1 {
		t.Fatalf("members = %d", got.MemberCount)
	}
	// Adding a member again writes no row.
	if added, _, _ := s.AddDirectoryGroupMembers(ctx, env.ID, d.ID, g.ID, []string{extra.ID}, now()); added != 0 {
		t.Fatalf("re-add wrote %d rows", added)
	}
	// One member out: one row removed.
	removed, err := s.RemoveDirectoryGroupMembers(ctx, env.ID, d.ID, g.ID, []string{ids[500]}, now())
	if err != nil || removed != 1 {
		t.Fatalf("remove one = %d, %v", removed, err)
	}
	page, _ := s.ListDirectoryUsers(ctx, env.ID, d.ID, store.DirectoryUserQuery{GroupID: g.ID, Page: store.PageQuery{Size: 1}})
	if page.Total != largeGroupSize {
		t.Fatalf("members after remove = %d", page.Total)
	}
}

func testDirectoryConcurrentMemberAdds(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, _, d := orgWithDirectory(t, s)
	g := newDirGroup(t, s, d, "Everyone")
	const workers, each = 8, 10
	var users [workers][]string
	for w := range workers {
		for i := range each {
			users[w] = append(users[w], newDirUser(t, s, d, fmt.Sprintf("w%d-%d@acme.com", w, i)).ID)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, id := range users[w] { // one PATCH per member, as IdPs send them
				if _, _, err := s.AddDirectoryGroupMembers(ctx, env.ID, d.ID, g.ID, []string{id}, now()); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got, _ := s.GetDirectoryGroup(ctx, env.ID, d.ID, g.ID); got.MemberCount != workers*each {
		t.Fatalf("members = %d, want %d", got.MemberCount, workers*each)
	}
}

// env2ID makes another environment and returns its ID.
func env2ID(t *testing.T, s store.Store) string { return newEnv(t, s, "other-"+ids.New("")).ID }

// testDirectoryWritesDuringOrganizationDelete: SCIM writes (users, groups, members) that run
// while the organization is deleted either finish before it or find nothing (NOT_FOUND); none
// deadlocks into an internal error, and nothing of the directory is left.
func testDirectoryWritesDuringOrganizationDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, org, d := orgWithDirectory(t, s)
	g := newDirGroup(t, s, d, "Everyone")
	// A Roster member, so that deleting the organization locks user rows too.
	u := roster.User{ID: ids.New(roster.PrefixUser), EnvironmentID: env.ID, Email: "member@acme.com", CreateTime: now(), UpdateTime: now()}
	m := roster.Membership{OrganizationID: org.ID, Status: roster.MembershipActive, CreateTime: now(), UpdateTime: now()}
	if _, err := s.CreateUser(ctx, u, &m, nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				at := now()
				du := roster.DirectoryUser{ID: ids.New(roster.PrefixDirectoryUser), EnvironmentID: env.ID, DirectoryID: d.ID,
					UserName: fmt.Sprintf("w%d-%d@acme.com", w, i), Emails: []string{}, CreateTime: at, UpdateTime: at}
				if w == 0 && i == 0 {
					du.UserID = u.ID
				}
				err := s.CreateDirectoryUser(ctx, du)
				if err == nil {
					_, _, err = s.AddDirectoryGroupMembers(ctx, env.ID, d.ID, g.ID, []string{du.ID}, now())
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	time.Sleep(5 * time.Millisecond)
	if err := s.DeleteOrganization(ctx, env.ID, roster.OrganizationRef{ID: org.ID}); err != nil {
		t.Fatalf("delete organization: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if roster.ErrorCode(err) != roster.ENotFound {
			t.Fatalf("a write crossing the organization's delete: %v", err)
		}
	}
	if users, groups, members, secrets := countDirectoryRows(t, s, env, d); users+groups+members+secrets != 0 {
		t.Fatalf("left: %d users %d groups %d members %d secrets", users, groups, members, secrets)
	}
}

// reapplyProfile is a stand-in for a SCIM write's profile function: the user's given name is
// the row's, with the directory's mapping count appended (so changing the mapping changes it).
func reapplyProfile(d roster.Directory) func(u *roster.User, row roster.DirectoryUser, st store.SignInState, defs store.AttributeDefs) error {
	return func(u *roster.User, row roster.DirectoryUser, st store.SignInState, defs store.AttributeDefs) error {
		u.Profile.GivenName = fmt.Sprintf("%s-%d", row.GivenName, len(d.Mappings))
		return nil
	}
}

// testDirectoryReapply: ReapplyDirectoryUsers walks a directory's users in batches by a
// keyset (AfterSeq, Limit, LastSeq), runs the profile function of the directory as read in
// its transaction, writes only the users whose profile changed, skips a directory user with
// no Roster user, and finds nothing of another environment's directory.
func testDirectoryReapply(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, org, d := orgWithDirectory(t, s)
	if err := s.CreateDomain(ctx, newDomain(env.ID, org.ID, "acme.com")); err != nil {
		t.Fatal(err)
	}
	var userIDs []string
	for i := range 6 {
		at := now()
		row := roster.DirectoryUser{ID: ids.New(roster.PrefixDirectoryUser), EnvironmentID: env.ID, DirectoryID: d.ID,
			UserName: fmt.Sprintf("u%d@acme.com", i), Email: fmt.Sprintf("u%d@acme.com", i), Emails: []string{}, Active: true,
			GivenName: fmt.Sprint("G", i), Raw: json.RawMessage(`{}`), CreateTime: at, UpdateTime: at}
		out, err := s.WriteDirectoryUser(ctx, store.DirectoryUserWrite{Directory: d, Create: &row, NewUserID: ids.New(roster.PrefixUser),
			Email: func(r roster.DirectoryUser) string { return r.Email }, ProfileOf: reapplyProfile, Now: at})
		if err != nil {
			t.Fatal(err)
		}
		userIDs = append(userIDs, out.UserID)
	}
	newDirUser(t, s, d, "unlinked@acme.com") // no Roster user: skipped
	given := func(i int) string {
		u, err := s.GetUser(ctx, env.ID, roster.UserRef{ID: userIDs[i]})
		if err != nil {
			t.Fatal(err)
		}
		return u.Profile.GivenName
	}
	if g := given(0); g != "G0-0" {
		t.Fatalf("after the write: %q", g)
	}
	run := func(limit int) (sum store.DirectoryReapplyBatch, batches int) {
		t.Helper()
		var after int64
		for {
			b, err := s.ReapplyDirectoryUsers(ctx, store.DirectoryReapply{EnvironmentID: env.ID, DirectoryID: d.ID, AfterSeq: after, Limit: limit,
				Profile: reapplyProfile, Now: now()})
			if err != nil {
				t.Fatal(err)
			}
			batches++
			if b.Examined > limit || (b.Examined > 0 && b.LastSeq <= after) || (b.Examined == 0 && b.LastSeq != after) {
				t.Fatalf("batch after %d: %+v", after, b)
			}
			sum.Examined, sum.Changed, sum.Skipped = sum.Examined+b.Examined, sum.Changed+b.Changed, sum.Skipped+b.Skipped
			after = b.LastSeq
			if b.Examined < limit {
				return sum, batches
			}
		}
	}
	if sum, batches := run(3); sum.Examined != 7 || sum.Changed != 0 || sum.Skipped != 1 || batches != 3 {
		t.Fatalf("same mapping: %+v in %d batches", sum, batches)
	}
	before, err := s.GetUser(ctx, env.ID, roster.UserRef{ID: userIDs[0]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateDirectory(ctx, env.ID, org.ID, d.ID, func(d *roster.Directory) error {
		d.Mappings = []roster.DirectoryMapping{{Key: "given_name", MapTo: "nickName"}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if sum, batches := run(3); sum.Examined != 7 || sum.Changed != 6 || sum.Skipped != 1 || batches != 3 {
		t.Fatalf("changed mapping: %+v in %d batches", sum, batches)
	}
	for i := range userIDs {
		if g, want := given(i), fmt.Sprintf("G%d-1", i); g != want {
			t.Errorf("user %d: %q, want %q", i, g, want)
		}
	}
	after, err := s.GetUser(ctx, env.ID, roster.UserRef{ID: userIDs[0]})
	if err != nil {
		t.Fatal(err)
	}
	if !after.UpdateTime.After(before.UpdateTime) || after.Email != before.Email || len(after.Memberships) != len(before.Memberships) {
		t.Fatalf("before %+v\nafter %+v", before, after)
	}
	if sum, _ := run(100); sum.Changed != 0 {
		t.Fatalf("a second pass changed %d users", sum.Changed)
	}
	if _, err := s.ReapplyDirectoryUsers(ctx, store.DirectoryReapply{EnvironmentID: env2ID(t, s), DirectoryID: d.ID, Limit: 10,
		Profile: reapplyProfile, Now: now()}); roster.ErrorCode(err) != roster.ENotFound {
		t.Fatalf("another environment's directory: %v", err)
	}
}

// scimPageIDs reads a SCIM page of users (offset 0-based) and returns its IDs and the total.
func scimPageIDs(t *testing.T, s store.Store, envID, dirID string, c *store.DirectoryCond, offset, limit int) ([]string, int) {
	t.Helper()
	rows, total, err := s.QueryDirectoryUsers(context.Background(), envID, dirID, c, offset, limit)
	if err != nil {
		t.Fatalf("query users at %d: %v", offset, err)
	}
	ids := []string{}
	for _, u := range rows {
		ids = append(ids, u.ID)
	}
	return ids, total
}

// checkSCIMPages checks that every page of the directory's users, at offsets around the
// store's internal marks too, is want's slice at that position, with want's length as total.
func checkSCIMPages(t *testing.T, s store.Store, envID, dirID string, want []string) {
	t.Helper()
	offsets := []int{0, 1, 50, 126, 127, 128, 129, 200, 255, 256, 257, len(want) - 1, len(want), len(want) + 1, 10_000}
	for _, off := range offsets {
		for _, limit := range []int{1, 7, 100} {
			got, total := scimPageIDs(t, s, envID, dirID, nil, max(off, 0), limit)
			var exp []string
			if o := max(off, 0); o < len(want) {
				exp = want[o:min(len(want), o+limit)]
			}
			if total != len(want) || !slices.Equal(got, nonNil(exp)) {
				t.Fatalf("page at %d of %d: total %d, got %v, want %v", off, limit, total, got, exp)
			}
		}
	}
	if got, total := scimPageIDs(t, s, envID, dirID, nil, 0, 0); total != len(want) || len(got) != 0 {
		t.Fatalf("count=0: total %d, %d rows, want %d", total, len(got), len(want))
	}
	var all []string // page by page, as an IdP walks startIndex
	for off := 0; off < len(want); off += 40 {
		got, _ := scimPageIDs(t, s, envID, dirID, nil, off, 40)
		all = append(all, got...)
	}
	if !slices.Equal(all, want) {
		t.Fatalf("walking the pages: %d users, want %d (%v...)", len(all), len(want), all[:min(3, len(all))])
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// testDirectorySCIMPages: SCIM list pages (startIndex/count) keep creation order at every
// position, and stay right after deletes, appends, and an insert that sorts before the rows
// already listed (an ID made by another node whose clock is behind); totals and GetDirectory's
// counts follow.
func testDirectorySCIMPages(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, _, d := orgWithDirectory(t, s)
	var want []string
	for i := range 300 {
		want = append(want, newDirUser(t, s, d, fmt.Sprintf("p%03d@acme.com", i)).ID)
	}
	checkSCIMPages(t, s, env.ID, d.ID, want)

	// Deletes at the start, across a mark and in the middle, through both delete paths.
	for _, i := range []int{0, 128, 200} {
		if i == 200 {
			if err := s.DeprovisionDirectoryUser(ctx, env.ID, d.ID, want[i]); err != nil {
				t.Fatal(err)
			}
		} else if err := s.DeleteDirectoryUser(ctx, env.ID, d.ID, want[i]); err != nil {
			t.Fatal(err)
		}
	}
	want = slices.Delete(slices.Delete(slices.Delete(slices.Clone(want), 200, 201), 128, 129), 0, 1)
	checkSCIMPages(t, s, env.ID, d.ID, want)
	// A delete of a user that is not there changes nothing.
	mustCode(t, s.DeleteDirectoryUser(ctx, env.ID, d.ID, want[0]+"0"), roster.ENotFound)
	checkSCIMPages(t, s, env.ID, d.ID, want)

	// Appends.
	for i := range 5 {
		want = append(want, newDirUser(t, s, d, fmt.Sprintf("q%d@acme.com", i)).ID)
	}
	checkSCIMPages(t, s, env.ID, d.ID, want)

	// An insert whose ID sorts before every row listed so far.
	first, _ := roster.IDNumber(want[0], roster.PrefixDirectoryUser)
	early := roster.PrefixDirectoryUser + strconv.FormatInt(first/2, 10)
	u := roster.DirectoryUser{ID: early, EnvironmentID: env.ID, DirectoryID: d.ID, UserName: "early@acme.com", Active: true,
		Email: "early@acme.com", Emails: []string{"early@acme.com"}, Raw: json.RawMessage(`{}`), CreateTime: now(), UpdateTime: now()}
	if err := s.CreateDirectoryUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	want = append([]string{early}, want...)
	checkSCIMPages(t, s, env.ID, d.ID, want)

	// A filter counts and pages its matches only.
	sw := &store.DirectoryCond{Op: "sw", Attr: "userName", Value: "q"}
	if got, total := scimPageIDs(t, s, env.ID, d.ID, sw, 2, 2); total != 5 || !slices.Equal(got, want[len(want)-3:len(want)-1]) {
		t.Fatalf("filtered page: total %d, %v", total, got)
	}
	if got, total := scimPageIDs(t, s, env.ID, d.ID, sw, 5, 2); total != 5 || len(got) != 0 {
		t.Fatalf("filtered page past the end: total %d, %v", total, got)
	}

	st, err := s.DirectoryStats(ctx, env.ID, d.ID)
	if err != nil || st.Users != len(want) || st.Groups != 0 {
		t.Fatalf("stats = %+v, %v; want %d users", st, err, len(want))
	}

	// Groups page the same way.
	var groups []string
	for i := range 4 {
		groups = append(groups, newDirGroup(t, s, d, fmt.Sprintf("g%d", i)).ID)
	}
	if err := s.DeleteDirectoryGroup(ctx, env.ID, d.ID, groups[1]); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveDirectoryGroup(ctx, env.ID, d.ID, groups[2], nil); err != nil {
		t.Fatal(err)
	}
	groups = []string{groups[0], groups[3]}
	for _, off := range []int{0, 1, 2, 3} {
		rows, total, err := s.QueryDirectoryGroups(ctx, env.ID, d.ID, nil, off, 10)
		var got []string
		for _, g := range rows {
			got = append(got, g.ID)
		}
		if err != nil || total != 2 || !slices.Equal(got, groups[min(off, 2):]) {
			t.Fatalf("groups at %d: total %d, %v, %v", off, total, got, err)
		}
	}
	if st, err := s.DirectoryStats(ctx, env.ID, d.ID); err != nil || st.Users != len(want) || st.Groups != 2 {
		t.Fatalf("stats = %+v, %v", st, err)
	}
}

// testDirectorySCIMPageRows: a SCIM page gives each user and group as stored (ID, raw
// resource, create and update times), also after an update of it, with and without a filter.
func testDirectorySCIMPageRows(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, _, d := orgWithDirectory(t, s)
	var users []roster.DirectoryUser
	for i := range 5 {
		users = append(users, newDirUser(t, s, d, fmt.Sprintf("row%d@acme.com", i)))
	}
	later := now().Add(time.Hour)
	u, err := s.UpdateDirectoryUser(ctx, env.ID, d.ID, users[2].ID, func(u *roster.DirectoryUser) error {
		u.Raw = json.RawMessage(`{"name":{"givenName":"Änne \u003c3"},"userName":"row2@acme.com"}`)
		u.UpdateTime = later
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	users[2] = u
	g1, g2 := newDirGroup(t, s, d, "Row One"), newDirGroup(t, s, d, "Row Two")
	if _, _, err := s.AddDirectoryGroupMembers(ctx, env.ID, d.ID, g1.ID, []string{users[0].ID, users[1].ID}, now()); err != nil {
		t.Fatal(err)
	}
	g1, err = s.GetDirectoryGroup(ctx, env.ID, d.ID, g1.ID) // its update time moved
	if err != nil {
		t.Fatal(err)
	}
	same := func(what string, got store.DirectoryResource, id string, raw []byte, created, updated time.Time) {
		t.Helper()
		if got.ID != id || string(got.Raw) != string(raw) || !got.CreateTime.Equal(created) || !got.UpdateTime.Equal(updated) {
			t.Fatalf("%s: page row %+v (raw %s), want %s %s %v %v", what, got, got.Raw, id, raw, created, updated)
		}
	}
	for _, c := range []*store.DirectoryCond{nil, {Op: "pr", Attr: "id"}} {
		rows, total, err := s.QueryDirectoryUsers(ctx, env.ID, d.ID, c, 1, 3)
		if err != nil || total != 5 || len(rows) != 3 {
			t.Fatalf("users page with %+v: %d rows, total %d, %v", c, len(rows), total, err)
		}
		for i, r := range rows {
			want := users[i+1]
			same("user", r, want.ID, want.Raw, want.CreateTime, want.UpdateTime)
		}
		groups, total, err := s.QueryDirectoryGroups(ctx, env.ID, d.ID, c, 0, 10)
		if err != nil || total != 2 || len(groups) != 2 {
			t.Fatalf("groups page with %+v: %d rows, total %d, %v", c, len(groups), total, err)
		}
		same("group", groups[0], g1.ID, g1.Raw, g1.CreateTime, g1.UpdateTime)
		same("group", groups[1], g2.ID, g2.Raw, g2.CreateTime, g2.UpdateTime)
	}
}

// testDirectorySCIMPagesConcurrentWrites: pages read while users are appended and deleted are
// each a run of the directory in creation order (no user that stays is skipped, none is
// listed twice, each as stored), and the pages after the writes are exact.
func testDirectorySCIMPagesConcurrentWrites(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, _, d := orgWithDirectory(t, s)
	const n = 400
	var initial []string
	raw := map[string]string{}
	for i := range n {
		u := newDirUser(t, s, d, fmt.Sprintf("c%03d@acme.com", i))
		initial = append(initial, u.ID)
		raw[u.ID] = string(u.Raw)
	}
	doomed := map[string]bool{} // every third user is deleted during the reads
	for i := 0; i < n; i += 3 {
		doomed[initial[i]] = true
	}
	pos := map[string]int{} // an initial user's position
	for i, id := range initial {
		pos[id] = i
	}
	var mu sync.Mutex // guards raw
	var appended []string
	errs := make(chan error, 64)
	var writers, readers sync.WaitGroup
	stop := make(chan struct{})
	writers.Go(func() {
		for i := 0; i < n; i += 3 {
			if err := s.DeleteDirectoryUser(ctx, env.ID, d.ID, initial[i]); err != nil {
				errs <- fmt.Errorf("delete: %w", err)
				return
			}
		}
	})
	writers.Go(func() {
		for i := range 100 {
			at := now()
			name := fmt.Sprintf("late%03d@acme.com", i)
			u := roster.DirectoryUser{ID: ids.New(roster.PrefixDirectoryUser), EnvironmentID: d.EnvironmentID, DirectoryID: d.ID,
				UserName: name, Active: true, Email: name, Emails: []string{name}, Raw: json.RawMessage(`{"userName":"` + name + `"}`),
				CreateTime: at, UpdateTime: at}
			mu.Lock()
			raw[u.ID] = string(u.Raw)
			mu.Unlock()
			if err := s.CreateDirectoryUser(ctx, u); err != nil {
				errs <- fmt.Errorf("create: %w", err)
				return
			}
			appended = append(appended, u.ID)
		}
	})
	for r := range 4 {
		readers.Go(func() {
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				off, limit := (k*37+r*101)%(n+50), []int{1, 7, 100}[(k+r)%3]
				rows, total, err := s.QueryDirectoryUsers(ctx, env.ID, d.ID, nil, off, limit)
				if err != nil {
					errs <- err
					return
				}
				if total < n-len(doomed) || total > n+100 || len(rows) > limit {
					errs <- fmt.Errorf("page at %d of %d: %d rows, total %d", off, limit, len(rows), total)
					return
				}
				last := -1
				for _, row := range rows {
					seq, _ := roster.IDNumber(row.ID, roster.PrefixDirectoryUser)
					mu.Lock()
					want, known := raw[row.ID]
					mu.Unlock()
					if !known || string(row.Raw) != want || int64(last) >= seq && last != -1 {
						errs <- fmt.Errorf("page at %d of %d: row %s (raw %s, known %v) out of order or not as stored", off, limit, row.ID, row.Raw, known)
						return
					}
					last = int(seq)
				}
				// No initial user that stays is skipped between the first and last listed.
				var first, end = -1, -1
				for _, row := range rows {
					if p, ok := pos[row.ID]; ok {
						if first < 0 {
							first = p
						}
						end = p
					}
				}
				listed := map[string]bool{}
				for _, row := range rows {
					listed[row.ID] = true
				}
				for p := first; first >= 0 && p <= end; p++ {
					if id := initial[p]; !doomed[id] && !listed[id] {
						errs <- fmt.Errorf("page at %d of %d skips %s (position %d)", off, limit, id, p)
						return
					}
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var want []string
	for _, id := range initial {
		if !doomed[id] {
			want = append(want, id)
		}
	}
	checkSCIMPages(t, s, env.ID, d.ID, append(want, appended...))
}

// testDirectorySCIMPagesIsolation: another environment's SCIM list of a directory ID lists
// nothing and counts nothing, also right after the directory's own environment listed it.
func testDirectorySCIMPagesIsolation(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, _, d := orgWithDirectory(t, s)
	env2 := newEnv(t, s, "second")
	var want []string
	for i := range 3 {
		want = append(want, newDirUser(t, s, d, fmt.Sprintf("iso%d@acme.com", i)).ID)
	}
	g := newDirGroup(t, s, d, "Engineering")
	for _, envID := range []string{env.ID, env2.ID, env.ID, env2.ID} {
		mine := envID == env.ID
		for _, c := range []*store.DirectoryCond{nil, {Op: "eq", Attr: "userName", Value: "iso1@acme.com"}, {Op: "pr", Attr: "id"}} {
			for _, off := range []int{0, 1} {
				got, total := scimPageIDs(t, s, envID, d.ID, c, off, 100)
				if !mine && (total != 0 || len(got) != 0) {
					t.Fatalf("another environment lists %v (total %d) of the directory with %+v at %d", got, total, c, off)
				}
				if mine && len(got) == 0 && off == 0 {
					t.Fatalf("the directory's environment lists nothing with %+v", c)
				}
			}
		}
		rows, total, err := s.QueryDirectoryGroups(ctx, envID, d.ID, nil, 0, 100)
		if err != nil || (mine != (total == 1 && len(rows) == 1 && rows[0].ID == g.ID)) {
			t.Fatalf("groups of %s: %+v, total %d, %v", envID, rows, total, err)
		}
	}
	// The API's lists of the directory (page tokens, not startIndex) too.
	if up, err := s.ListDirectoryUsers(ctx, env2.ID, d.ID, store.DirectoryUserQuery{Page: store.PageQuery{Size: 10}}); err != nil || up.Total != 0 || len(up.Items) != 0 {
		t.Fatalf("another environment lists users %+v, %v", up, err)
	}
	if gp, err := s.ListDirectoryGroups(ctx, env2.ID, d.ID, store.DirectoryGroupQuery{Page: store.PageQuery{Size: 10}}); err != nil || gp.Total != 0 || len(gp.Items) != 0 {
		t.Fatalf("another environment lists groups %+v, %v", gp, err)
	}
	if up, err := s.ListDirectoryUsers(ctx, env.ID, d.ID, store.DirectoryUserQuery{Page: store.PageQuery{Size: 10}}); err != nil || up.Total != 3 || len(up.Items) != 3 {
		t.Fatalf("the directory's environment lists users %+v, %v", up, err)
	}
	if st, err := s.DirectoryStats(ctx, env2.ID, d.ID); err != nil || st.Users != 0 || st.Groups != 0 || st.UserUpdateTime != nil {
		t.Fatalf("another environment's stats of the directory = %+v, %v", st, err)
	}
	if st, err := s.DirectoryStats(ctx, env.ID, d.ID); err != nil || st.Users != 3 || st.Groups != 1 || st.UserUpdateTime == nil {
		t.Fatalf("stats = %+v, %v", st, err)
	}
	// A directory ID that does not exist lists nothing.
	if got, total := scimPageIDs(t, s, env.ID, ids.New(roster.PrefixDirectory), nil, 0, 100); total != 0 || len(got) != 0 {
		t.Fatalf("unknown directory lists %v (total %d)", got, total)
	}
}

// testDirectoryConcurrentMemberPatches: member PATCHes of one group, as IdPs send them (one
// member added or removed each), from many clients at once: every add and remove of a
// distinct member takes effect, the members' roles follow their groups, a PATCH naming an
// unknown member changes nothing, and adds racing the group's delete leave no member row
// and no role of the deleted group.
func testDirectoryConcurrentMemberPatches(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, org, d := orgWithDirectory(t, s)
	if err := s.CreateDomain(ctx, newDomain(env.ID, org.ID, "acme.com")); err != nil {
		t.Fatal(err)
	}
	member := newRole(t, s, env.ID, "", "member")
	editor := newRole(t, s, env.ID, "", "editor")
	defaults := []roster.RoleRef{{ID: member.ID, Name: member.Name}}
	const half = 16
	dirUsers, userIDs := linkedDirUsers(t, s, d, "p", 2*half+1)
	newGroup := func(name string, members []string) roster.DirectoryGroup {
		t.Helper()
		return writeDirGroup(t, s, d, name, members)
	}
	patch := func(groupID string, c store.DirectoryMemberChange) error {
		return patchDirGroupMembers(s, d, groupID, c)
	}
	roles := func(i int) string {
		t.Helper()
		u, err := s.GetUser(ctx, env.ID, roster.UserRef{ID: userIDs[i]})
		if err != nil || len(u.Memberships) != 1 {
			t.Fatalf("user %d: %+v, %v", i, u.Memberships, err)
		}
		var names []string
		for _, r := range u.Memberships[0].Roles {
			names = append(names, r.Name)
		}
		slices.Sort(names)
		return fmt.Sprint(names)
	}
	// Users 0-15 are in the editors' group, 16-31 out of it; then each is moved across by
	// its own PATCH, all at once, beside PATCHes that name an unknown member with user 32.
	g := newGroup("Editors", dirUsers[:half])
	if _, err := s.SetDirectoryRoleAssignments(ctx, env.ID, org.ID, d.ID, []roster.DirectoryRoleAssignment{{GroupID: g.ID, RoleID: editor.ID}}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecomputeDirectoryRoles(ctx, env.ID, d.ID, defaults); err != nil {
		t.Fatal(err)
	}
	if r := roles(0); r != "[editor]" {
		t.Fatalf("a member's roles before: %s", r)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*half+4)
	for i := range 2 * half {
		wg.Go(func() {
			c := store.DirectoryMemberChange{Add: []string{dirUsers[i]}}
			if i < half {
				c = store.DirectoryMemberChange{Remove: []string{dirUsers[i]}}
			}
			errs <- patch(g.ID, c)
		})
	}
	for range 4 {
		wg.Go(func() {
			err := patch(g.ID, store.DirectoryMemberChange{Add: []string{dirUsers[2*half], ids.New(roster.PrefixDirectoryUser)}})
			if roster.ErrorCode(err) != roster.EInvalid {
				errs <- fmt.Errorf("a PATCH naming an unknown member: %v, want INVALID_ARGUMENT", err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, _, err := s.DirectoryGroupMemberIDs(ctx, env.ID, d.ID, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Sorted(slices.Values(dirUsers[half : 2*half])); !slices.Equal(got, want) {
		t.Fatalf("members after the PATCHes: %d of %d (%v)", len(got), len(want), got)
	}
	for i := range 2*half + 1 {
		want := "[member]"
		if i >= half && i < 2*half {
			want = "[editor]"
		}
		if r := roles(i); r != want {
			t.Errorf("user %d: roles %s, want %s", i, r, want)
		}
	}
	// Adds racing the group's delete: each finishes before it (and the delete takes the
	// member's role back) or finds no group; no member row is left.
	doomed := newGroup("Doomed", dirUsers[:2])
	if _, err := s.SetDirectoryRoleAssignments(ctx, env.ID, org.ID, d.ID, []roster.DirectoryRoleAssignment{{GroupID: g.ID, RoleID: editor.ID},
		{GroupID: doomed.ID, RoleID: editor.ID}}); err != nil {
		t.Fatal(err)
	}
	errs = make(chan error, half+1)
	for i := range half {
		wg.Go(func() {
			if err := patch(doomed.ID, store.DirectoryMemberChange{Add: []string{dirUsers[i]}}); err != nil && roster.ErrorCode(err) != roster.ENotFound {
				errs <- err
			}
		})
		if i == half/2 {
			wg.Go(func() { errs <- s.RemoveDirectoryGroup(ctx, env.ID, d.ID, doomed.ID, defaults) })
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.DirectoryGroupMemberIDs(ctx, env.ID, d.ID, doomed.ID); roster.ErrorCode(err) != roster.ENotFound {
		t.Fatalf("the deleted group: %v", err)
	}
	page, err := s.ListDirectoryUsers(ctx, env.ID, d.ID, store.DirectoryUserQuery{GroupID: doomed.ID, Page: store.PageQuery{Size: 1}})
	if err != nil || page.Total != 0 {
		t.Fatalf("the deleted group has %d member rows (%v)", page.Total, err)
	}
	for i := range half {
		if r := roles(i); r != "[member]" {
			t.Errorf("user %d after the group's delete: roles %s, want [member]", i, r)
		}
	}
}
