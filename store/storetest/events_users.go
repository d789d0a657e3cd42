package storetest

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// The events of the user-side writes (docs/events.md, section 2): users, memberships,
// imports, roles, permissions, custom attributes and domains. The stores render data as the
// domain value's plain JSON (no encoder set), which these tests decode.

// userEventTests are the events of the user-side writes (Run appends them).
var userEventTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"EventsUsers", testEventsUsers},
	{"EventsMemberships", testEventsMemberships},
	{"EventsImport", testEventsImport},
	{"EventsRolesAndPermissions", testEventsRoles},
	{"EventsAttributesAndDomains", testEventsAttributesAndDomains},
}

// userData decodes a user event's data.
func userData(t *testing.T, e envelope) roster.User {
	t.Helper()
	var u roster.User
	if err := json.Unmarshal(e.Data, &u); err != nil {
		t.Fatalf("%s data: %v: %s", e.Type, err, e.Data)
	}
	return u
}

// memberData decodes a membership event's data.
func memberData(t *testing.T, e envelope) roster.MembershipEventData {
	t.Helper()
	var d roster.MembershipEventData
	if err := json.Unmarshal(e.Data, &d); err != nil {
		t.Fatalf("%s data: %v: %s", e.Type, err, e.Data)
	}
	return d
}

// wantOrgs fails unless the events' organization_ids are these, in order.
func wantOrgs(t *testing.T, evs []envelope, orgIDs ...string) {
	t.Helper()
	var got []string
	for _, e := range evs {
		got = append(got, e.OrganizationID)
	}
	if !slices.Equal(got, orgIDs) {
		t.Fatalf("organization_ids: got %q, want %q", got, orgIDs)
	}
}

func wantChanged(t *testing.T, e envelope, fields ...string) {
	t.Helper()
	if fields == nil {
		fields = []string{}
	}
	if !slices.Equal(e.ChangedFields, fields) {
		t.Fatalf("%s changed_fields: got %q, want %q", e.Type, e.ChangedFields, fields)
	}
}

func testEventsUsers(t *testing.T, s store.Store) {
	ctx := roster.WithClientID(context.Background(), "skc_1")
	apiActor := roster.Actor{Type: roster.ActorAPIClient, ID: "skc_1"}
	env := newEnv(t, s, "events")
	o := newOrg(env.ID, "Acme", "")
	if err := s.CreateOrganization(ctx, o); err != nil {
		t.Fatal(err)
	}
	newRole(t, s, env.ID, "", "member")
	var c store.EventCursor
	wantEvents(t, s, env.ID, &c, roster.EventOrganizationCreated, roster.EventRoleCreated)

	// A user alone: user.created, no organization.
	alone := newUser(env.ID, "alone@example.com", "ext-alone")
	if _, err := s.CreateUser(ctx, alone, nil, nil); err != nil {
		t.Fatal(err)
	}
	evs := wantEvents(t, s, env.ID, &c, roster.EventUserCreated)
	wantOrgs(t, evs, "")
	if e := evs[0]; e.Object != roster.ObjectUser || e.Actor != apiActor || userData(t, e).ID != alone.ID || len(e.ChangedFields) != 0 {
		t.Fatalf("user.created: %+v", e)
	}

	// With a membership: both events, in one write, with the organization.
	u := newUser(env.ID, "jane@example.com", "ext-jane")
	if _, err := s.CreateUser(ctx, u, member(s, t, env.ID, o.ID, "member"), nil); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventUserCreated, roster.EventMembershipCreated)
	wantOrgs(t, evs, o.ID, o.ID)
	if got := userData(t, evs[0]); len(got.Memberships) != 1 || got.Memberships[0].OrganizationID != o.ID {
		t.Fatalf("user.created data: %+v", got)
	}
	d := memberData(t, evs[1])
	if d.Organization.ID != o.ID || d.Organization.DisplayName != "Acme" || d.User.ID != u.ID || len(d.User.Memberships) != 1 ||
		len(d.User.Memberships[0].Roles) != 1 || evs[1].Object != roster.ObjectMembership || evs[1].OccurredAt != evs[0].OccurredAt {
		t.Fatalf("membership_created: %+v, data %+v", evs[1], d)
	}

	// An invitation.
	inv := newUser(env.ID, "invited@example.com", "")
	m := member(s, t, env.ID, o.ID)
	m.Status, m.ProvisioningMethod = roster.MembershipPendingInvite, roster.ProvisionedInvitation
	if _, err := s.CreateUser(ctx, inv, m, nil); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, s, env.ID, &c, roster.EventUserCreated, roster.EventInvitation)

	// Refused creates: a taken email, a check that fails. No event.
	_, err := s.CreateUser(ctx, newUser(env.ID, "JANE@example.com", ""), member(s, t, env.ID, o.ID), nil)
	mustCode(t, err, roster.EConflict)
	_, err = s.CreateUser(ctx, newUser(env.ID, "new@example.com", ""), nil, func(*roster.User, store.AttributeDefs) error {
		return roster.Errorf(roster.EInvalid, "no")
	})
	mustCode(t, err, roster.EInvalid)
	wantEvents(t, s, env.ID, &c)

	// UpdateUser: the fields it changed; nothing changed but update_time: none; refused: none.
	if _, err := s.UpdateUser(ctx, env.ID, roster.UserRef{ID: u.ID}, func(u *roster.User, _ store.AttributeDefs) error {
		u.Profile.GivenName = "Jane"
		u.Metadata["plan"] = "gold" // in place: the event still sees the change
		u.UpdateTime = now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventUserUpdated)
	wantOrgs(t, evs, "")
	wantChanged(t, evs[0], "metadata", "user_profile.given_name")
	if got := userData(t, evs[0]); got.Profile.GivenName != "Jane" || len(got.Memberships) != 1 || evs[0].Actor != apiActor {
		t.Fatalf("user.updated: %+v, data %+v", evs[0], got)
	}
	if _, err := s.UpdateUser(ctx, env.ID, roster.UserRef{ID: u.ID}, func(u *roster.User, _ store.AttributeDefs) error {
		u.UpdateTime = now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateUser(ctx, env.ID, roster.UserRef{ID: u.ID}, func(u *roster.User, _ store.AttributeDefs) error {
		u.Profile.GivenName = "never"
		return roster.Errorf(roster.EInvalid, "no")
	})
	mustCode(t, err, roster.EInvalid)
	ext := "ext-alone" // alone's: a uniqueness conflict
	_, err = s.UpdateUser(ctx, env.ID, roster.UserRef{ID: u.ID}, func(u *roster.User, _ store.AttributeDefs) error {
		u.ExternalID = &ext
		return nil
	})
	mustCode(t, err, roster.EConflict)
	wantEvents(t, s, env.ID, &c)

	// DeleteUser: the user as last shown, with its memberships; no membership events.
	if err := s.DeleteUser(ctx, env.ID, roster.UserRef{ID: u.ID}); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventUserDeleted)
	wantOrgs(t, evs, "")
	if got := userData(t, evs[0]); got.ID != u.ID || got.Profile.GivenName != "Jane" || len(got.Memberships) != 1 {
		t.Fatalf("user.deleted data: %+v", got)
	}
	mustCode(t, s.DeleteUser(ctx, env.ID, roster.UserRef{ID: u.ID}), roster.ENotFound)
	wantEvents(t, s, env.ID, &c)
}

func testEventsMemberships(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "events")
	a, b := newOrg(env.ID, "A", ""), newOrg(env.ID, "B", "")
	for _, o := range []roster.Organization{a, b} {
		if err := s.CreateOrganization(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	member1, admin := newRole(t, s, env.ID, "", "member"), newRole(t, s, env.ID, "", "admin")
	u := newUser(env.ID, "jane@example.com", "")
	if _, err := s.CreateUser(ctx, u, member(s, t, env.ID, a.ID, "member"), nil); err != nil {
		t.Fatal(err)
	}
	var c store.EventCursor
	wantEvents(t, s, env.ID, &c, roster.EventOrganizationCreated, roster.EventOrganizationCreated, roster.EventRoleCreated,
		roster.EventRoleCreated, roster.EventUserCreated, roster.EventMembershipCreated)

	// CreateMembership: the user shows both memberships.
	if _, err := s.CreateMembership(ctx, env.ID, roster.UserRef{ID: u.ID}, *member(s, t, env.ID, b.ID)); err != nil {
		t.Fatal(err)
	}
	evs := wantEvents(t, s, env.ID, &c, roster.EventMembershipCreated)
	wantOrgs(t, evs, b.ID)
	if d := memberData(t, evs[0]); d.Organization.ID != b.ID || d.Organization.DisplayName != "B" || len(d.User.Memberships) != 2 {
		t.Fatalf("membership_created data: %+v", d)
	}
	// A second one is a conflict: no event.
	_, err := s.CreateMembership(ctx, env.ID, roster.UserRef{ID: u.ID}, *member(s, t, env.ID, b.ID))
	mustCode(t, err, roster.EConflict)
	wantEvents(t, s, env.ID, &c)

	// UpdateMembership: the fields it changed.
	if _, err := s.UpdateMembership(ctx, env.ID, a.ID, roster.UserRef{ID: u.ID}, func(m *roster.Membership) error {
		m.Roles = append(m.Roles, roster.RoleRef{ID: admin.ID, Name: admin.Name})
		m.Metadata = map[string]string{"team": "core"}
		m.UpdateTime = now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventMembershipUpdated)
	wantOrgs(t, evs, a.ID)
	wantChanged(t, evs[0], "metadata", "roles")
	d := memberData(t, evs[0])
	if d.Organization.DisplayName != "A" || len(d.User.Memberships) != 2 || len(d.User.Memberships[0].Roles) != 2 {
		t.Fatalf("membership_updated data: %+v", d)
	}
	// The same roles in another order, update_time only, a refused update: no event.
	if _, err := s.UpdateMembership(ctx, env.ID, a.ID, roster.UserRef{ID: u.ID}, func(m *roster.Membership) error {
		m.Roles = []roster.RoleRef{{ID: member1.ID, Name: member1.Name}, {ID: admin.ID, Name: admin.Name}}
		slices.Reverse(m.Roles)
		m.UpdateTime = now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateMembership(ctx, env.ID, a.ID, roster.UserRef{ID: u.ID}, func(m *roster.Membership) error {
		m.Status = roster.MembershipInactive
		return roster.Errorf(roster.EFailedPrecondition, "no")
	})
	mustCode(t, err, roster.EFailedPrecondition)
	wantEvents(t, s, env.ID, &c)

	// An invitation resent is the invitation again.
	if _, err := s.UpdateMembership(ctx, env.ID, b.ID, roster.UserRef{ID: u.ID}, func(m *roster.Membership) error {
		m.Status = roster.MembershipPendingInvite
		m.InviteResentCount++
		m.UpdateTime = now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventInvitation)
	wantOrgs(t, evs, b.ID)
	wantChanged(t, evs[0], "status")

	// DeleteMembership, the user kept: membership_deleted; the user no longer shows it.
	if deleted, err := s.DeleteMembership(ctx, env.ID, b.ID, roster.UserRef{ID: u.ID}, true); err != nil || deleted {
		t.Fatalf("delete membership: %v, %v", deleted, err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventMembershipDeleted)
	wantOrgs(t, evs, b.ID)
	if d := memberData(t, evs[0]); d.Organization.DisplayName != "B" || len(d.User.Memberships) != 1 || d.User.Memberships[0].OrganizationID != a.ID {
		t.Fatalf("membership_deleted data: %+v", d)
	}
	_, err = s.DeleteMembership(ctx, env.ID, b.ID, roster.UserRef{ID: u.ID}, true)
	mustCode(t, err, roster.ENotFound)
	wantEvents(t, s, env.ID, &c)

	// The last membership with cascade: user.deleted only, showing the membership that ended.
	if deleted, err := s.DeleteMembership(ctx, env.ID, a.ID, roster.UserRef{ID: u.ID}, true); err != nil || !deleted {
		t.Fatalf("delete last membership: %v, %v", deleted, err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventUserDeleted)
	wantOrgs(t, evs, a.ID)
	if got := userData(t, evs[0]); got.ID != u.ID || len(got.Memberships) != 1 || got.Memberships[0].OrganizationID != a.ID {
		t.Fatalf("user.deleted data: %+v", got)
	}
}

func testEventsImport(t *testing.T, s store.Store) {
	ctx := roster.WithClientID(context.Background(), "skc_import")
	f := newBulkFixture(t, s)
	d := roster.AttributeDefinition{EnvironmentID: f.env.ID, Key: "badge", DisplayName: "Badge", Type: roster.AttributeString, Unique: true,
		CreateTime: now(), UpdateTime: now()}
	if err := s.CreateAttribute(ctx, d); err != nil {
		t.Fatal(err)
	}
	var c store.EventCursor
	settle(t, s)
	_, c = eventsAfter(t, s, f.env.ID, c)

	// New users on the fast path, a bad line beside them.
	lines := f.lines(
		roster.ImportUser{Email: "a@example.com", Memberships: []roster.ImportMembership{{OrganizationID: f.a.ID}}},
		roster.ImportUser{Email: "bad@example.com", Memberships: []roster.ImportMembership{{OrganizationID: "org_missing"}}},
		roster.ImportUser{Email: "b@example.com", ExternalID: strp("ext-b"),
			Memberships: []roster.ImportMembership{{OrganizationID: f.a.ID}, {OrganizationID: f.b.ID, Status: roster.MembershipPendingInvite}}},
		roster.ImportUser{Email: "alone@example.com"},
	)
	out, err := s.ImportUsers(ctx, f.env.ID, now(), lines)
	if err != nil {
		t.Fatal(err)
	}
	if out[1].Err == nil || out[0].Err != nil || out[2].Err != nil {
		t.Fatalf("outcomes: %+v", out)
	}
	evs := wantEvents(t, s, f.env.ID, &c, roster.EventUserCreated, roster.EventMembershipCreated,
		roster.EventUserCreated, roster.EventMembershipCreated, roster.EventInvitation, roster.EventUserCreated)
	wantOrgs(t, evs, f.a.ID, f.a.ID, f.a.ID, f.a.ID, f.b.ID, "")
	for _, e := range evs {
		if e.Actor != (roster.Actor{Type: roster.ActorAPIClient, ID: "skc_import"}) {
			t.Fatalf("import event's actor: %+v", e)
		}
	}
	if got := userData(t, evs[2]); got.ID != out[2].UserID || len(got.Memberships) != 2 || len(got.Memberships[0].Roles) != 1 {
		t.Fatalf("user.created data: %+v", got)
	}
	if md := memberData(t, evs[4]); md.Organization.DisplayName != "B" || md.User.ID != out[2].UserID {
		t.Fatalf("invitation data: %+v", md)
	}

	// Lines one at a time (existing users): changes, a membership added, a line that changes
	// nothing, a refused line.
	lines = f.lines(
		roster.ImportUser{Email: "a@example.com", Profile: roster.ProfilePatch{GivenName: strp("Ann")},
			Memberships: []roster.ImportMembership{{OrganizationID: f.a.ID, Roles: []string{"admin"}}, {OrganizationID: f.b.ID}}},
		roster.ImportUser{Email: "b@example.com", ExternalID: strp("ext-b")},
		roster.ImportUser{Email: "alone@example.com", Profile: roster.ProfilePatch{GivenName: strp("Al")},
			Memberships: []roster.ImportMembership{{OrganizationID: "org_missing"}}},
	)
	importOK(t, s, f.env.ID, lines, roster.ImportUpdated, roster.ImportUnchanged, roster.ImportFailed)
	evs = wantEvents(t, s, f.env.ID, &c, roster.EventUserUpdated, roster.EventMembershipUpdated, roster.EventMembershipCreated)
	wantOrgs(t, evs, "", f.a.ID, f.b.ID)
	wantChanged(t, evs[0], "user_profile.given_name", "user_profile.name") // the name follows
	wantChanged(t, evs[1], "roles")
	if md := memberData(t, evs[2]); md.User.Profile.GivenName != "Ann" || len(md.User.Memberships) != 2 {
		t.Fatalf("membership_created data: %+v", md)
	}

	// Two new users with the same unique attribute value: the run fails in the database and
	// its lines run one at a time; the refused one has no events.
	lines = f.lines(
		roster.ImportUser{Email: "c@example.com", Profile: roster.ProfilePatch{CustomAttributes: map[string]string{"badge": "7"}}},
		roster.ImportUser{Email: "d@example.com", Profile: roster.ProfilePatch{CustomAttributes: map[string]string{"badge": "7"}}},
	)
	out = importOK(t, s, f.env.ID, lines, roster.ImportCreated, roster.ImportFailed)
	evs = wantEvents(t, s, f.env.ID, &c, roster.EventUserCreated)
	if got := userData(t, evs[0]); got.ID != out[0].UserID || got.Profile.CustomAttributes["badge"] != "7" {
		t.Fatalf("user.created data: %+v", got)
	}
}

func testEventsRoles(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, o, c := eventsOrg(ctx, t, s)

	// Permissions.
	p := roster.Permission{ID: ids.New(roster.PrefixPermission), EnvironmentID: env.ID, Name: "read", CreateTime: now(), UpdateTime: now()}
	if err := s.CreatePermission(ctx, p); err != nil {
		t.Fatal(err)
	}
	dup := p
	dup.ID = ids.New(roster.PrefixPermission)
	mustCode(t, s.CreatePermission(ctx, dup), roster.EConflict)
	evs := wantEvents(t, s, env.ID, &c, roster.EventPermissionCreated)
	wantOrgs(t, evs, "")
	if _, err := s.UpdatePermission(ctx, env.ID, "read", func(p *roster.Permission) error {
		p.Description, p.UpdateTime = "Read things", now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdatePermission(ctx, env.ID, "read", func(p *roster.Permission) error {
		p.UpdateTime = now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventPermissionUpdated)
	wantChanged(t, evs[0], "description")

	// Roles: an environment role has no organization, an organization's role has it.
	admin := newRole(t, s, env.ID, "", "admin", "read")
	member1 := newRole(t, s, env.ID, "", "member")
	own := newRole(t, s, env.ID, o.ID, "owner")
	evs = wantEvents(t, s, env.ID, &c, roster.EventRoleCreated, roster.EventRoleCreated, roster.EventRoleCreated)
	wantOrgs(t, evs, "", "", o.ID)
	var r roster.Role
	if err := json.Unmarshal(evs[0].Data, &r); err != nil || r.ID != admin.ID || !slices.Equal(r.Permissions, []string{"read"}) {
		t.Fatalf("role.created data: %v %s", err, evs[0].Data)
	}
	dupRole := own
	dupRole.ID = ids.New(roster.PrefixRole)
	mustCode(t, s.CreateRole(ctx, dupRole), roster.EConflict)
	if _, err := s.UpdateRole(ctx, env.ID, "", "admin", func(r *roster.Role) error {
		r.DisplayName, r.Permissions, r.UpdateTime = "Administrator", nil, now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateRole(ctx, env.ID, "", "admin", func(r *roster.Role) error {
		r.UpdateTime = now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err := s.UpdateRole(ctx, env.ID, "", "admin", func(r *roster.Role) error {
		r.Permissions = []string{"missing"}
		return nil
	})
	mustCode(t, err, roster.EInvalid)
	evs = wantEvents(t, s, env.ID, &c, roster.EventRoleUpdated)
	wantChanged(t, evs[0], "display_name", "permissions")

	// DeletePermission: its event; an unknown one: none.
	if err := s.DeletePermission(ctx, env.ID, "read"); err != nil {
		t.Fatal(err)
	}
	mustCode(t, s.DeletePermission(ctx, env.ID, "read"), roster.ENotFound)
	evs = wantEvents(t, s, env.ID, &c, roster.EventPermissionDeleted)
	var gotP roster.Permission
	if err := json.Unmarshal(evs[0].Data, &gotP); err != nil || gotP.ID != p.ID || gotP.Description != "Read things" {
		t.Fatalf("permission.deleted data: %v %s", err, evs[0].Data)
	}

	// DeleteRole: refused while held; with reassign, role.deleted and each moved membership.
	var users []roster.User
	for _, email := range []string{"a@example.com", "b@example.com"} {
		u, err := s.CreateUser(ctx, newUser(env.ID, email, ""), member(s, t, env.ID, o.ID, "admin"), nil)
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	wantEvents(t, s, env.ID, &c, roster.EventUserCreated, roster.EventMembershipCreated, roster.EventUserCreated, roster.EventMembershipCreated)
	mustCode(t, s.DeleteRole(ctx, env.ID, "", "admin", ""), roster.EFailedPrecondition)
	wantEvents(t, s, env.ID, &c)
	if err := s.DeleteRole(ctx, env.ID, "", "admin", member1.ID); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventRoleDeleted, roster.EventMembershipUpdated, roster.EventMembershipUpdated)
	wantOrgs(t, evs, "", o.ID, o.ID)
	seen := map[string]bool{}
	for _, e := range evs[1:] {
		wantChanged(t, e, "roles")
		d := memberData(t, e)
		if d.Organization.DisplayName != "Acme" || len(d.User.Memberships) != 1 || len(d.User.Memberships[0].Roles) != 1 ||
			d.User.Memberships[0].Roles[0].ID != member1.ID {
			t.Fatalf("moved membership's data: %+v", d)
		}
		seen[d.User.ID] = true
	}
	if !seen[users[0].ID] || !seen[users[1].ID] {
		t.Fatalf("moved memberships: %v", seen)
	}
	if err := s.DeleteRole(ctx, env.ID, o.ID, "owner", ""); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventRoleDeleted)
	wantOrgs(t, evs, o.ID)
}

func testEventsAttributesAndDomains(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, o, c := eventsOrg(ctx, t, s)

	d := roster.AttributeDefinition{EnvironmentID: env.ID, Key: "badge", DisplayName: "Badge", Type: roster.AttributeString, CreateTime: now(), UpdateTime: now()}
	if err := s.CreateAttribute(ctx, d); err != nil {
		t.Fatal(err)
	}
	mustCode(t, s.CreateAttribute(ctx, d), roster.EConflict)
	evs := wantEvents(t, s, env.ID, &c, roster.EventAttributeCreated)
	wantOrgs(t, evs, "")
	if evs[0].Object != roster.ObjectCustomAttributes {
		t.Fatalf("custom_attribute.created: %+v", evs[0])
	}
	for _, email := range []string{"a@example.com", "b@example.com"} {
		u := newUser(env.ID, email, "")
		u.Profile.CustomAttributes = map[string]string{"badge": email[:1]}
		if _, err := s.CreateUser(ctx, u, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	wantEvents(t, s, env.ID, &c, roster.EventUserCreated, roster.EventUserCreated)
	if _, err := s.UpdateAttribute(ctx, env.ID, "badge", func(d *roster.AttributeDefinition) error {
		d.DisplayName, d.Unique, d.UpdateTime = "Badge number", true, now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateAttribute(ctx, env.ID, "badge", func(d *roster.AttributeDefinition) error {
		d.UpdateTime = now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err := s.UpdateAttribute(ctx, env.ID, "badge", func(d *roster.AttributeDefinition) error {
		d.Required = true
		return roster.Errorf(roster.EInvalid, "no")
	})
	mustCode(t, err, roster.EInvalid)
	evs = wantEvents(t, s, env.ID, &c, roster.EventAttributeUpdated)
	wantChanged(t, evs[0], "display_name", "unique")
	// One event for the definition, none per user whose value went with it.
	if err := s.DeleteAttribute(ctx, env.ID, "badge"); err != nil {
		t.Fatal(err)
	}
	mustCode(t, s.DeleteAttribute(ctx, env.ID, "badge"), roster.ENotFound)
	evs = wantEvents(t, s, env.ID, &c, roster.EventAttributeDeleted)
	var got roster.AttributeDefinition
	if err := json.Unmarshal(evs[0].Data, &got); err != nil || got.Key != "badge" || got.DisplayName != "Badge number" {
		t.Fatalf("custom_attribute.deleted data: %v %s", err, evs[0].Data)
	}

	// Domains.
	dom := newDomain(env.ID, o.ID, "acme.com")
	if err := s.CreateDomain(ctx, dom); err != nil {
		t.Fatal(err)
	}
	again := newDomain(env.ID, o.ID, "acme.com")
	mustCode(t, s.CreateDomain(ctx, again), roster.EConflict)
	evs = wantEvents(t, s, env.ID, &c, roster.EventOrganizationDomainCreated)
	wantOrgs(t, evs, o.ID)
	if err := s.DeleteDomain(ctx, env.ID, dom.ID); err != nil {
		t.Fatal(err)
	}
	mustCode(t, s.DeleteDomain(ctx, env.ID, dom.ID), roster.ENotFound)
	evs = wantEvents(t, s, env.ID, &c, roster.EventOrganizationDomainDeleted)
	wantOrgs(t, evs, o.ID)
	var gotD roster.Domain
	if err := json.Unmarshal(evs[0].Data, &gotD); err != nil || gotD.ID != dom.ID || gotD.Name != "acme.com" {
		t.Fatalf("domain_deleted data: %v %s", err, evs[0].Data)
	}
}
