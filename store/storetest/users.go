package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// userTests are the conformance tests of users, memberships, roles and attributes.
var userTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"UserCRUD", testUserCRUD},
	{"UserUniqueness", testUserUniqueness},
	{"UserSearch", testUserSearch},
	{"UserSearchPaging", testUserSearchPaging},
	{"UserSearchCount", testUserSearchCount},
	{"Memberships", testMemberships},
	{"RolesAndPermissions", testRolesAndPermissions},
	{"AttributeDefinitions", testAttributeDefinitions},
	{"CreateUserWithADeletedRole", testCreateUserWithADeletedRole},
	{"CreateUserWithTheDefaultRole", testCreateUserWithTheDefaultRole},
}

func newUser(envID, email, externalID string) roster.User {
	return roster.NewUser{Email: email, ExternalID: externalID, Metadata: map[string]string{"dept": "eng"}}.
		Build(ids.New(roster.PrefixUser), envID, now())
}

func member(s store.Store, t *testing.T, envID, orgID string, roleNames ...string) *roster.Membership {
	t.Helper()
	m := &roster.Membership{OrganizationID: orgID, Status: roster.MembershipActive, Metadata: map[string]string{}, CreateTime: now(), UpdateTime: now(), ProvisioningMethod: roster.ProvisionedDirect}
	for _, n := range roleNames {
		r, err := s.GetRole(context.Background(), envID, "", n)
		if err != nil {
			t.Fatalf("role %s: %v", n, err)
		}
		m.Roles = append(m.Roles, roster.RoleRef{ID: r.ID, Name: r.Name})
	}
	return m
}

func newRole(t *testing.T, s store.Store, envID, orgID, name string, perms ...string) roster.Role {
	t.Helper()
	r := roster.Role{ID: ids.New(roster.PrefixRole), EnvironmentID: envID, OrganizationID: orgID, Name: name, DisplayName: name, Permissions: perms, CreateTime: now(), UpdateTime: now()}
	if err := s.CreateRole(context.Background(), r); err != nil {
		t.Fatalf("create role %s: %v", name, err)
	}
	return r
}

func testUserCRUD(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	o := newOrg(env.ID, "Acme", "")
	if err := s.CreateOrganization(ctx, o); err != nil {
		t.Fatal(err)
	}
	newRole(t, s, env.ID, "", "member")
	u := newUser(env.ID, "John.Doe@Example.com", "ext-1")
	u.Profile.GivenName, u.Profile.Groups = "John", []string{"eng"}
	if err := createUser(s, ctx, u, member(s, t, env.ID, o.ID, "member"), nil); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []roster.UserRef{{ID: u.ID}, {ExternalID: "ext-1"}} {
		got, err := s.GetUser(ctx, env.ID, ref)
		if err != nil {
			t.Fatal(err)
		}
		if got.Email != "John.Doe@Example.com" || got.Profile.GivenName != "John" || len(got.Profile.Groups) != 1 ||
			len(got.Memberships) != 1 || got.Memberships[0].OrganizationName != "Acme" || len(got.Memberships[0].Roles) != 1 ||
			got.Memberships[0].Roles[0].Name != "member" || got.Metadata["dept"] != "eng" {
			t.Fatalf("get %+v = %+v", ref, got)
		}
	}
	login := now().Add(time.Minute)
	_, err := s.UpdateUser(ctx, env.ID, roster.UserRef{ID: u.ID}, func(x *roster.User, _ store.AttributeDefs) error {
		x.Profile.FamilyName, x.LastLoginTime = "Doe", &login
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetUser(ctx, env.ID, roster.UserRef{ID: u.ID})
	if got.Profile.FamilyName != "Doe" || got.LastLoginTime == nil || !got.LastLoginTime.Equal(login) {
		t.Fatalf("after update: %+v", got)
	}
	// A failing update function changes nothing.
	_, err = s.UpdateUser(ctx, env.ID, roster.UserRef{ID: u.ID}, func(x *roster.User, _ store.AttributeDefs) error {
		x.Profile.FamilyName = "Changed"
		return roster.Errorf(roster.EInvalid, "no")
	})
	mustCode(t, err, roster.EInvalid)
	if got, _ := s.GetUser(ctx, env.ID, roster.UserRef{ID: u.ID}); got.Profile.FamilyName != "Doe" {
		t.Fatal("failed update changed the user")
	}
	if err := s.DeleteUser(ctx, env.ID, roster.UserRef{ExternalID: "ext-1"}); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetUser(ctx, env.ID, roster.UserRef{ID: u.ID})
	mustCode(t, err, roster.ENotFound)
	mustCode(t, s.DeleteUser(ctx, env.ID, roster.UserRef{ID: u.ID}), roster.ENotFound)
}

func testUserUniqueness(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, other := newEnv(t, s, "default"), newEnv(t, s, "other")
	if err := createUser(s, ctx, newUser(env.ID, "a@example.com", "ext"), nil, nil); err != nil {
		t.Fatal(err)
	}
	err := createUser(s, ctx, newUser(env.ID, "A@EXAMPLE.COM", ""), nil, nil)
	mustCode(t, err, roster.EConflict)
	var e *roster.Error
	if !errors.As(err, &e) || e.Violations[0].Field != "user.email" {
		t.Fatalf("email conflict should name user.email: %v", err)
	}
	err = createUser(s, ctx, newUser(env.ID, "b@example.com", "ext"), nil, nil)
	if !errors.As(err, &e) || e.Code != roster.EConflict || e.Violations[0].Field != "user.external_id" {
		t.Fatalf("external id conflict should name user.external_id: %v", err)
	}
	if err := createUser(s, ctx, newUser(other.ID, "a@example.com", "ext"), nil, nil); err != nil {
		t.Fatalf("same email and external id in another environment: %v", err)
	}
	// A unique custom attribute's values are unique; a non-unique one's are not.
	for _, d := range []roster.AttributeDefinition{
		{EnvironmentID: env.ID, Key: "employee_id", DisplayName: "E", Type: roster.AttributeString, Unique: true, CreateTime: now(), UpdateTime: now()},
		{EnvironmentID: env.ID, Key: "team", DisplayName: "T", Type: roster.AttributeString, CreateTime: now(), UpdateTime: now()},
	} {
		if err := s.CreateAttribute(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	withAttrs := func(email string) roster.User {
		u := newUser(env.ID, email, "")
		u.Profile.CustomAttributes = map[string]string{"employee_id": "E-1", "team": "core"}
		return u
	}
	if err := createUser(s, ctx, withAttrs("c@example.com"), nil, nil); err != nil {
		t.Fatal(err)
	}
	mustCode(t, createUser(s, ctx, withAttrs("d@example.com"), nil, nil), roster.EConflict)
	page, _ := s.ListUsers(ctx, env.ID, store.UserQuery{Page: store.PageQuery{Size: 10}})
	if page.Total != 2 {
		t.Fatalf("a refused create left a user behind: %d users", page.Total)
	}
}

func testUserSearch(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	var users []roster.User
	for _, c := range []struct{ email, ext string }{
		{"John_Doe@Acme.com", "CRM-1001"}, {"jane@acme.com", ""}, {"bob@globex.org", "crm-2002"}, {"100%real@x.io", ""},
	} {
		u := newUser(env.ID, c.email, c.ext)
		if err := createUser(s, ctx, u, nil, nil); err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	search := func(q string) int {
		page, err := s.ListUsers(ctx, env.ID, store.UserQuery{Search: q, Page: store.PageQuery{Size: 10}})
		if err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
		if page.Total != len(page.Items) {
			t.Fatalf("search %q: total %d for %d items", q, page.Total, len(page.Items))
		}
		return page.Total
	}
	for q, want := range map[string]int{
		"ACME.COM": 2, "n_do": 1, "nxdo": 0, "john_doe@acme.com": 1, "crm-": 2, "CRM-2002": 1, "0%r": 1, "zzz": 0,
		users[2].ID: 1, "globex": 1,
	} {
		if got := search(q); got != want {
			t.Errorf("search %q: %d users, want %d", q, got, want)
		}
	}
	// An exact, case-insensitive email lookup finds that one user with its data, or nobody.
	for email, want := range map[string]int{"JOHN_DOE@acme.com": 1, "john_doe@acme.co": 0, "bob@globex.org": 1} {
		page, err := s.ListUsers(ctx, env.ID, store.UserQuery{EmailKey: roster.EmailKey(email), Page: store.PageQuery{Size: 10}})
		if err != nil {
			t.Fatalf("email %q: %v", email, err)
		}
		if len(page.Items) != want || page.Total != want || page.More {
			t.Fatalf("email %q: %d users (total %d, more %v), want %d", email, len(page.Items), page.Total, page.More, want)
		}
		if want == 1 && (roster.EmailKey(page.Items[0].Email) != roster.EmailKey(email) || page.Items[0].Metadata["dept"] != "eng") {
			t.Errorf("email %q found %+v", email, page.Items[0])
		}
	}
	// The index follows updates and deletes.
	_, err := s.UpdateUser(ctx, env.ID, roster.UserRef{ID: users[2].ID}, func(u *roster.User, _ store.AttributeDefs) error {
		ext := "ERP-9"
		u.ExternalID = &ext
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if search("crm-") != 1 || search("erp-9") != 1 {
		t.Errorf("search after update")
	}
	if err := s.DeleteUser(ctx, env.ID, roster.UserRef{ID: users[1].ID}); err != nil {
		t.Fatal(err)
	}
	if search("acme") != 1 {
		t.Errorf("search after delete")
	}
}

func testMemberships(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	a, b := newOrg(env.ID, "A", "a"), newOrg(env.ID, "B", "b")
	for _, o := range []roster.Organization{a, b} {
		if err := s.CreateOrganization(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	newRole(t, s, env.ID, "", "member")
	newRole(t, s, env.ID, "", "admin")
	both, onlyA := newUser(env.ID, "both@x.com", ""), newUser(env.ID, "only@x.com", "")
	for _, u := range []roster.User{both, onlyA} {
		if err := createUser(s, ctx, u, member(s, t, env.ID, a.ID, "member"), nil); err != nil {
			t.Fatal(err)
		}
	}
	u, err := s.CreateMembership(ctx, env.ID, roster.UserRef{ID: both.ID}, *member(s, t, env.ID, b.ID, "admin", "member"))
	if err != nil || len(u.Memberships) != 2 {
		t.Fatalf("second membership: %+v %v", u, err)
	}
	_, err = s.CreateMembership(ctx, env.ID, roster.UserRef{ID: both.ID}, *member(s, t, env.ID, b.ID))
	mustCode(t, err, roster.EConflict)
	_, err = s.CreateMembership(ctx, env.ID, roster.UserRef{ID: both.ID}, *member(s, t, env.ID, "org_404"))
	mustCode(t, err, roster.ENotFound)

	u, err = s.UpdateMembership(ctx, env.ID, b.ID, roster.UserRef{ID: both.ID}, func(m *roster.Membership) error {
		m.Roles = m.Roles[:1]
		m.Metadata = map[string]string{"team": "ops"}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetUser(ctx, env.ID, roster.UserRef{ID: both.ID})
	for _, m := range got.Memberships {
		if m.OrganizationID == b.ID && (len(m.Roles) != 1 || m.Metadata["team"] != "ops") {
			t.Fatalf("membership after update: %+v", m)
		}
	}
	page, err := s.ListUsers(ctx, env.ID, store.UserQuery{OrganizationID: a.ID, Page: store.PageQuery{Size: 1}})
	if err != nil || page.Total != 2 || len(page.Items) != 1 || !page.More {
		t.Fatalf("organization users: %+v %v", page, err)
	}
	// Deleting A keeps the user who is also in B and deletes the one only in A.
	if err := s.DeleteOrganization(ctx, env.ID, roster.OrganizationRef{ID: a.ID}); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetUser(ctx, env.ID, roster.UserRef{ID: both.ID})
	if err != nil || len(got.Memberships) != 1 || got.Memberships[0].OrganizationID != b.ID {
		t.Fatalf("user in both after deleting A: %+v %v", got, err)
	}
	_, err = s.GetUser(ctx, env.ID, roster.UserRef{ID: onlyA.ID})
	mustCode(t, err, roster.ENotFound)
	// Cascade: the last membership takes the user with it unless cascade is off.
	deleted, err := s.DeleteMembership(ctx, env.ID, b.ID, roster.UserRef{ID: both.ID}, false)
	if err != nil || deleted {
		t.Fatalf("delete without cascade: %v %v", deleted, err)
	}
	if _, err := s.CreateMembership(ctx, env.ID, roster.UserRef{ID: both.ID}, *member(s, t, env.ID, b.ID)); err != nil {
		t.Fatal(err)
	}
	deleted, err = s.DeleteMembership(ctx, env.ID, b.ID, roster.UserRef{ID: both.ID}, true)
	if err != nil || !deleted {
		t.Fatalf("delete with cascade: %v %v", deleted, err)
	}
}

func testRolesAndPermissions(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	for _, n := range []string{"invoices:read", "invoices:write"} {
		if err := s.CreatePermission(ctx, roster.Permission{ID: ids.New(roster.PrefixPermission), EnvironmentID: env.ID, Name: n, CreateTime: now(), UpdateTime: now()}); err != nil {
			t.Fatal(err)
		}
	}
	mustCode(t, s.CreatePermission(ctx, roster.Permission{ID: ids.New(roster.PrefixPermission), EnvironmentID: env.ID, Name: "invoices:read"}), roster.EConflict)
	newRole(t, s, env.ID, "", "member")
	billing := newRole(t, s, env.ID, "", "billing", "invoices:read", "invoices:write")
	mustCode(t, s.CreateRole(ctx, roster.Role{ID: ids.New(roster.PrefixRole), EnvironmentID: env.ID, Name: "billing"}), roster.EConflict)
	mustCode(t, s.CreateRole(ctx, roster.Role{ID: ids.New(roster.PrefixRole), EnvironmentID: env.ID, Name: "x", Permissions: []string{"nope"}}), roster.EInvalid)
	got, err := s.GetRole(ctx, env.ID, "", "billing")
	if err != nil || fmt.Sprint(got.Permissions) != "[invoices:read invoices:write]" {
		t.Fatalf("role: %+v %v", got, err)
	}
	o := newOrg(env.ID, "Acme", "")
	if err := s.CreateOrganization(ctx, o); err != nil {
		t.Fatal(err)
	}
	newRole(t, s, env.ID, o.ID, "billing") // an organization role may share an environment role's name
	if roles, _ := s.ListRoles(ctx, env.ID, o.ID); len(roles) != 1 {
		t.Fatalf("organization roles: %+v", roles)
	}
	u := newUser(env.ID, "u@x.com", "")
	if err := createUser(s, ctx, u, member(s, t, env.ID, o.ID, "billing"), nil); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountRoleMembers(ctx, billing.ID); n != 1 {
		t.Fatalf("members of billing: %d", n)
	}
	mustCode(t, s.DeleteRole(ctx, env.ID, "", "billing", ""), roster.EFailedPrecondition)
	member, _ := s.GetRole(ctx, env.ID, "", "member")
	if err := s.DeleteRole(ctx, env.ID, "", "billing", member.ID); err != nil {
		t.Fatal(err)
	}
	gotU, _ := s.GetUser(ctx, env.ID, roster.UserRef{ID: u.ID})
	if len(gotU.Memberships[0].Roles) != 1 || gotU.Memberships[0].Roles[0].Name != "member" {
		t.Fatalf("holders were not moved: %+v", gotU.Memberships)
	}
	mustCode(t, s.DeleteRole(ctx, env.ID, "", "member", ""), roster.EFailedPrecondition) // the default member role
	if err := s.DeletePermission(ctx, env.ID, "invoices:read"); err != nil {
		t.Fatal(err)
	}
	mustCode(t, s.DeletePermission(ctx, env.ID, "invoices:read"), roster.ENotFound)
	if def, err := s.DefaultMemberRole(ctx, env.ID); err != nil || def != "member" {
		t.Fatalf("default member role: %q %v", def, err)
	}
	// The default member role resolves as ResolveRoles resolves its name: an organization's
	// own role of that name wins.
	if got, name, ok, err := s.ResolveDefaultMemberRole(ctx, env.ID, o.ID); err != nil || !ok || got.ID != member.ID || name != "member" {
		t.Fatalf("default member role in %s: %+v %q %v %v", o.ID, got, name, ok, err)
	}
	other := newOrg(env.ID, "Other", "")
	if err := s.CreateOrganization(ctx, other); err != nil {
		t.Fatal(err)
	}
	if got, _, ok, err := s.ResolveDefaultMemberRole(ctx, env.ID, other.ID); err != nil || !ok || got.ID != member.ID {
		t.Fatalf("default member role in %s: %+v %v %v", other.ID, got, ok, err)
	}
	own := newRole(t, s, env.ID, o.ID, "member")
	if got, _, ok, err := s.ResolveDefaultMemberRole(ctx, env.ID, o.ID); err != nil || !ok || got.ID != own.ID || got.Name != "member" {
		t.Fatalf("organization's own default member role: %+v %v %v", got, ok, err)
	}
	// Another organization's own role does not apply here (SQLite keeps one answer for the
	// environment, with the organizations' own roles in it).
	if got, _, ok, err := s.ResolveDefaultMemberRole(ctx, env.ID, other.ID); err != nil || !ok || got.ID != member.ID {
		t.Fatalf("default member role in %s beside %s's own: %+v %v %v", other.ID, o.ID, got, ok, err)
	}
	// An organization's own role of another name changes nothing.
	newRole(t, s, env.ID, other.ID, "viewer")
	if got, _, ok, err := s.ResolveDefaultMemberRole(ctx, env.ID, other.ID); err != nil || !ok || got.ID != member.ID {
		t.Fatalf("default member role in %s with its own viewer role: %+v %v %v", other.ID, got, ok, err)
	}
	bare := newEnv(t, s, "bare") // no role named "member"
	if got, name, ok, err := s.ResolveDefaultMemberRole(ctx, bare.ID, ""); err != nil || ok || name != "member" {
		t.Fatalf("missing default member role: %+v %q %v %v", got, name, ok, err)
	}
	_, _, _, err = s.ResolveDefaultMemberRole(ctx, ids.New(roster.PrefixEnvironment), "")
	mustCode(t, err, roster.ENotFound)
}

func testAttributeDefinitions(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	d := roster.AttributeDefinition{EnvironmentID: env.ID, Key: "tier", DisplayName: "Tier", Type: roster.AttributeEnum, EnumValues: []string{"gold", "silver"}, CreateTime: now(), UpdateTime: now()}
	if err := s.CreateAttribute(ctx, d); err != nil {
		t.Fatal(err)
	}
	mustCode(t, s.CreateAttribute(ctx, d), roster.EConflict)
	for i, v := range []string{"gold", "gold"} {
		u := newUser(env.ID, fmt.Sprintf("u%d@x.com", i), "")
		u.Profile.CustomAttributes = map[string]string{"tier": v}
		if err := createUser(s, ctx, u, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.UpdateAttribute(ctx, env.ID, "tier", func(d *roster.AttributeDefinition) error { d.EnumValues = []string{"silver"}; return nil })
	mustCode(t, err, roster.EFailedPrecondition)
	_, err = s.UpdateAttribute(ctx, env.ID, "tier", func(d *roster.AttributeDefinition) error { d.Unique = true; return nil })
	mustCode(t, err, roster.EFailedPrecondition)
	got, err := s.UpdateAttribute(ctx, env.ID, "tier", func(d *roster.AttributeDefinition) error { d.DisplayName = "Service tier"; return nil })
	if err != nil || got.DisplayName != "Service tier" {
		t.Fatalf("update: %+v %v", got, err)
	}
	if err := s.DeleteAttribute(ctx, env.ID, "tier"); err != nil {
		t.Fatal(err)
	}
	page, _ := s.ListUsers(ctx, env.ID, store.UserQuery{Page: store.PageQuery{Size: 10}})
	for _, u := range page.Items {
		if len(u.Profile.CustomAttributes) != 0 {
			t.Fatalf("values survived their definition: %+v", u.Profile.CustomAttributes)
		}
	}
	mustCode(t, s.DeleteAttribute(ctx, env.ID, "tier"), roster.ENotFound)
}

func createUser(s store.Store, ctx context.Context, u roster.User, m *roster.Membership, check store.UserCheck) error {
	_, err := s.CreateUser(ctx, u, m, check)
	return err
}

// A role deleted after the caller resolved it (and before the write) is dropped from the new
// membership, as the delete's cascade would have done had the write come first; the user and
// the membership's other roles are created, and the answer shows what was stored.
func testCreateUserWithADeletedRole(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	o := newOrg(env.ID, "Acme", "")
	if err := s.CreateOrganization(ctx, o); err != nil {
		t.Fatal(err)
	}
	newRole(t, s, env.ID, "", "member")
	newRole(t, s, env.ID, "", "auditor")
	newRole(t, s, env.ID, "", "admin")
	m := member(s, t, env.ID, o.ID, "admin", "auditor", "member")
	if err := s.DeleteRole(ctx, env.ID, "", "auditor", ""); err != nil {
		t.Fatal(err)
	}
	created, err := s.CreateUser(ctx, newUser(env.ID, "late@example.com", ""), m, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetUser(ctx, env.ID, roster.UserRef{ID: created.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []roster.User{created, got} {
		if len(u.Memberships) != 1 || u.Memberships[0].OrganizationName != "Acme" {
			t.Fatalf("memberships = %+v", u.Memberships)
		}
		var names []string
		for _, r := range u.Memberships[0].Roles {
			names = append(names, r.Name)
		}
		if fmt.Sprint(names) != "[admin member]" {
			t.Fatalf("roles = %v, want the two that exist", names)
		}
	}
}
