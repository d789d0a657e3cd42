package storetest

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// Events of SSO connections, SCIM directories, SCIM writes and sign-ins (docs/events.md).
var eventDirectoryTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"EventsConnections", testEventsConnections},
	{"EventsDirectories", testEventsDirectories},
	{"EventsSCIMUsers", testEventsSCIMUsers},
	{"EventsSCIMGroups", testEventsSCIMGroups},
	{"EventsSignIn", testEventsSignIn},
	{"EventsManyInOneWrite", testEventsManyInOneWrite},
}

// noSecret fails when an event's body holds a secret's value.
func noSecret(t *testing.T, evs []envelope, secrets ...string) {
	t.Helper()
	for _, e := range evs {
		for _, sec := range secrets {
			if sec != "" && strings.Contains(string(e.Data), sec) {
				t.Fatalf("event %s shows a secret %q: %s", e.Type, sec, e.Data)
			}
		}
	}
}

func testEventsConnections(t *testing.T, s store.Store) {
	op := roster.Actor{Type: roster.ActorOperator, ID: "op_1"}
	ctx := roster.WithActor(context.Background(), op)
	env, o, c := eventsOrg(ctx, t, s)

	conn, err := roster.NewConnection(ids.New(roster.PrefixConnection), env.ID, o.ID, roster.ConnectionOIDC, "OKTA", now())
	if err != nil {
		t.Fatal(err)
	}
	const sealed = "v1:sealed-client-secret-value"
	conn.OIDC.Issuer, conn.OIDC.ClientID, conn.OIDC.SecretSealed = "https://idp.example.com", "rp", sealed
	if err := s.CreateConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}
	evs := wantEvents(t, s, env.ID, &c, roster.EventConnectionCreated)
	if e := evs[0]; e.Object != roster.ObjectConnection || e.OrganizationID != o.ID || e.Actor != op || len(e.ChangedFields) != 0 ||
		!strings.Contains(string(e.Data), conn.ID) {
		t.Fatalf("created event: %+v", e)
	}
	noSecret(t, evs, sealed)

	update := func(f func(*roster.Connection)) []envelope {
		t.Helper()
		if _, err := s.UpdateConnection(ctx, env.ID, conn.ID, func(c *roster.Connection) error {
			f(c)
			c.UpdateTime = now()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var out []envelope
		out, c = eventsAfterSettled(t, s, env.ID, c)
		noSecret(t, out, sealed, "new-plain-secret", "v2:sealed-new")
		return out
	}
	evs = update(func(c *roster.Connection) {
		c.UIButtonTitle = "Sign in with Okta"
		c.OIDC.ClientSecret, c.OIDC.SecretSealed = "new-plain-secret", "v2:sealed-new"
	})
	if got := eventTypes(evs); !slices.Equal(got, []string{roster.EventConnectionUpdated}) ||
		!slices.Equal(evs[0].ChangedFields, []string{"oidc_config.client_secret", "ui_button_title"}) {
		t.Fatalf("updated events: %+v", evs)
	}
	evs = update(func(c *roster.Connection) { c.Enabled = true })
	if got := eventTypes(evs); !slices.Equal(got, []string{roster.EventConnectionEnabled}) || !slices.Equal(evs[0].ChangedFields, []string{"enabled"}) {
		t.Fatalf("enabled events: %+v", evs)
	}
	if evs = update(func(c *roster.Connection) {}); len(evs) != 0 { // changes nothing
		t.Fatalf("an update that changes nothing recorded %+v", evs)
	}
	evs = update(func(c *roster.Connection) { c.Enabled, c.DebugEnabled = false, true })
	if got := eventTypes(evs); !slices.Equal(got, []string{roster.EventConnectionDisabled}) ||
		!slices.Equal(evs[0].ChangedFields, []string{"debug_enabled", "enabled"}) {
		t.Fatalf("disabled events: %+v", evs)
	}
	// A failed update records nothing.
	if _, err := s.UpdateConnection(ctx, env.ID, conn.ID, func(c *roster.Connection) error {
		c.Enabled = true
		return &roster.Error{Code: roster.EInvalid, Message: "no"}
	}); err == nil {
		t.Fatal("want the update's error")
	}
	wantEvents(t, s, env.ID, &c)

	if err := s.DeleteConnection(ctx, env.ID, conn.ID); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventConnectionDeleted)
	noSecret(t, evs, sealed, "v2:sealed-new")
	if !strings.Contains(string(evs[0].Data), conn.ID) {
		t.Fatalf("deleted event: %+v", evs[0])
	}
	mustCode(t, s.DeleteConnection(ctx, env.ID, conn.ID), roster.ENotFound)
	wantEvents(t, s, env.ID, &c)
}

// eventsAfterSettled is eventsAfter once every earlier write is in the feed.
func eventsAfterSettled(t *testing.T, s store.Store, envID string, c store.EventCursor) ([]envelope, store.EventCursor) {
	t.Helper()
	settle(t, s)
	return eventsAfter(t, s, envID, c)
}

func testEventsDirectories(t *testing.T, s store.Store) {
	op := roster.Actor{Type: roster.ActorOperator, ID: "op_1"}
	ctx := roster.WithActor(context.Background(), op)
	env, o, c := eventsOrg(ctx, t, s)

	d, err := roster.NewDirectory(ids.New(roster.PrefixDirectory), env.ID, o.ID, roster.DirectorySCIM, "OKTA", now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateDirectory(ctx, d); err != nil {
		t.Fatal(err)
	}
	evs := wantEvents(t, s, env.ID, &c, roster.EventDirectoryCreated)
	if e := evs[0]; e.Object != roster.ObjectDirectory || e.OrganizationID != o.ID || e.Actor != op || !strings.Contains(string(e.Data), d.ID) {
		t.Fatalf("created event: %+v", e)
	}
	// A second directory of the provider is refused: no event.
	dup, _ := roster.NewDirectory(ids.New(roster.PrefixDirectory), env.ID, o.ID, roster.DirectorySCIM, "OKTA", now())
	mustCode(t, s.CreateDirectory(ctx, dup), roster.EConflict)
	wantEvents(t, s, env.ID, &c)

	update := func(f func(*roster.Directory)) []envelope {
		t.Helper()
		if _, err := s.UpdateDirectory(ctx, env.ID, o.ID, d.ID, func(d *roster.Directory) error {
			f(d)
			d.UpdateTime = now()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var out []envelope
		out, c = eventsAfterSettled(t, s, env.ID, c)
		return out
	}
	evs = update(func(d *roster.Directory) { d.Name = "Okta prod" })
	if !slices.Equal(eventTypes(evs), []string{roster.EventDirectoryUpdated}) || !slices.Equal(evs[0].ChangedFields, []string{"name"}) {
		t.Fatalf("updated events: %+v", evs)
	}
	evs = update(func(d *roster.Directory) { d.Enabled = false })
	if !slices.Equal(eventTypes(evs), []string{roster.EventDirectoryDisabled}) {
		t.Fatalf("disabled events: %+v", evs)
	}
	if evs = update(func(d *roster.Directory) {}); len(evs) != 0 {
		t.Fatalf("an update that changes nothing recorded %+v", evs)
	}
	evs = update(func(d *roster.Directory) { d.Enabled = true })
	if !slices.Equal(eventTypes(evs), []string{roster.EventDirectoryEnabled}) {
		t.Fatalf("enabled events: %+v", evs)
	}

	// Secrets: created, regenerated, never the token or its hash.
	sec, token, err := roster.NewDirectorySecret(ids.New(roster.PrefixDirectorySecret), d.ID, now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateDirectorySecret(ctx, env.ID, o.ID, sec, false); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventDirectorySecretCreated)
	noSecret(t, evs, token, sec.Hash)
	if !strings.Contains(string(evs[0].Data), sec.ID) || evs[0].OrganizationID != o.ID {
		t.Fatalf("secret event: %+v", evs[0])
	}
	other, token2, _ := roster.NewDirectorySecret(ids.New(roster.PrefixDirectorySecret), d.ID, now())
	mustCode(t, s.CreateDirectorySecret(ctx, env.ID, o.ID, other, false), roster.EConflict)
	wantEvents(t, s, env.ID, &c)
	if err := s.CreateDirectorySecret(ctx, env.ID, o.ID, other, true); err != nil {
		t.Fatal(err)
	}
	noSecret(t, wantEvents(t, s, env.ID, &c, roster.EventDirectorySecretRegenerated), token, token2, other.Hash)

	// Group-to-role assignments: the whole list, and one group's.
	g := newDirGroup(t, s, d, "Engineering")
	role := newRole(t, s, env.ID, o.ID, "eng")
	// The role's creation is its own event; the group's create through the store's plain
	// CreateDirectoryGroup (no production caller: SCIM writes go through WriteDirectoryGroup)
	// records none.
	wantEvents(t, s, env.ID, &c, roster.EventRoleCreated)
	if _, err := s.SetDirectoryRoleAssignments(ctx, env.ID, o.ID, d.ID, []roster.DirectoryRoleAssignment{{GroupID: g.ID, RoleID: role.ID}}); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventDirectoryUpdated)
	if !slices.Equal(evs[0].ChangedFields, []string{"role_assignments"}) || !strings.Contains(string(evs[0].Data), role.ID) {
		t.Fatalf("assignment event: %+v", evs[0])
	}
	if _, err := s.SetDirectoryRoleAssignments(ctx, env.ID, o.ID, d.ID, []roster.DirectoryRoleAssignment{{GroupID: g.ID, RoleID: role.ID}}); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, s, env.ID, &c) // the same assignments: nothing changed
	if _, err := s.SetDirectoryGroupRole(ctx, env.ID, o.ID, d.ID, g.ID, ""); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventDirectoryUpdated)
	if !slices.Equal(evs[0].ChangedFields, []string{"role_assignments"}) {
		t.Fatalf("one group's assignment event: %+v", evs[0])
	}
	if _, err := s.SetDirectoryGroupRole(ctx, env.ID, o.ID, d.ID, "dirgroup_unknown", role.ID); err == nil {
		t.Fatal("want an unknown group refused")
	}
	wantEvents(t, s, env.ID, &c)

	if err := s.DeleteDirectory(ctx, env.ID, o.ID, d.ID); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventDirectoryDeleted)
	noSecret(t, evs, token, token2, other.Hash)
	mustCode(t, s.DeleteDirectory(ctx, env.ID, o.ID, d.ID), roster.ENotFound)
	wantEvents(t, s, env.ID, &c)
}

// scimEnv is an organization (its domain acme.com) with a directory, and the feed's position
// after their creation.
func scimEnv(t *testing.T, s store.Store) (roster.Environment, roster.Organization, roster.Directory, store.EventCursor) {
	t.Helper()
	env, org, d := orgWithDirectory(t, s)
	if err := s.CreateDomain(context.Background(), newDomain(env.ID, org.ID, "acme.com")); err != nil {
		t.Fatal(err)
	}
	_, c := eventsAfterSettled(t, s, env.ID, store.EventCursor{})
	return env, org, d, c
}

// scimUserWrite writes a directory user as a SCIM POST (create set) or PUT/PATCH does.
func scimUserWrite(ctx context.Context, s store.Store, d roster.Directory, create *roster.DirectoryUser, id string, change func(*roster.DirectoryUser)) (roster.DirectoryUser, error) {
	w := store.DirectoryUserWrite{Directory: d, Create: create, ID: id, NewUserID: ids.New(roster.PrefixUser),
		Email: func(r roster.DirectoryUser) string { return r.Email }, ProfileOf: reapplyProfile, Now: now()}
	if change != nil {
		w.Update = func(r *roster.DirectoryUser) error { change(r); return nil }
	}
	return s.WriteDirectoryUser(ctx, w)
}

func scimRow(d roster.Directory, email string) *roster.DirectoryUser {
	at := now()
	return &roster.DirectoryUser{ID: ids.New(roster.PrefixDirectoryUser), EnvironmentID: d.EnvironmentID, DirectoryID: d.ID,
		UserName: email, Email: email, Emails: []string{email}, Active: true, GivenName: "Ada", Raw: json.RawMessage(`{}`), CreateTime: at, UpdateTime: at}
}

// wantActors fails unless every event names actor.
func wantActors(t *testing.T, evs []envelope, actor roster.Actor, orgID string) {
	t.Helper()
	for _, e := range evs {
		if e.Actor != actor || e.OrganizationID != orgID {
			t.Fatalf("event %s: actor %+v, organization %q; want %+v, %q", e.Type, e.Actor, e.OrganizationID, actor, orgID)
		}
	}
}

func testEventsSCIMUsers(t *testing.T, s store.Store) {
	// The caller's actor does not matter: a SCIM write's is its directory.
	ctx := roster.WithActor(context.Background(), roster.Actor{Type: roster.ActorOperator, ID: "op_1"})
	env, org, d, c := scimEnv(t, s)
	scim := roster.Actor{Type: roster.ActorSCIMDirectory, ID: d.ID}

	row := scimRow(d, "ada@acme.com")
	out, err := scimUserWrite(ctx, s, d, row, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	evs := wantEvents(t, s, env.ID, &c, roster.EventDirectoryUserCreated, roster.EventUserCreated, roster.EventMembershipCreated)
	wantActors(t, evs, scim, org.ID)
	if !strings.Contains(string(evs[0].Data), row.ID) || !strings.Contains(string(evs[1].Data), out.UserID) ||
		!strings.Contains(string(evs[2].Data), out.UserID) || !strings.Contains(string(evs[2].Data), org.ID) {
		t.Fatalf("created events: %+v", evs)
	}

	// An identical PUT changes nothing: no event.
	if _, err := scimUserWrite(ctx, s, d, nil, row.ID, func(r *roster.DirectoryUser) {}); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, s, env.ID, &c)
	// A profile change: the directory user's and the Roster user's.
	if _, err := scimUserWrite(ctx, s, d, nil, row.ID, func(r *roster.DirectoryUser) { r.GivenName = "Augusta" }); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventDirectoryUserUpdated, roster.EventUserUpdated)
	wantActors(t, evs, scim, org.ID)
	if !slices.Equal(evs[0].ChangedFields, []string{"given_name"}) || !slices.Equal(evs[1].ChangedFields, []string{"user_profile.given_name"}) {
		t.Fatalf("updated events: %+v", evs)
	}
	// active false / true: deactivated and reactivated, with the membership's status.
	for _, tc := range []struct {
		active bool
		typ    string
	}{{false, roster.EventDirectoryUserDeactivated}, {true, roster.EventDirectoryUserReactivated}} {
		if _, err := scimUserWrite(ctx, s, d, nil, row.ID, func(r *roster.DirectoryUser) { r.Active = tc.active }); err != nil {
			t.Fatal(err)
		}
		evs = wantEvents(t, s, env.ID, &c, tc.typ, roster.EventMembershipUpdated)
		wantActors(t, evs, scim, org.ID)
		if !slices.Equal(evs[0].ChangedFields, []string{"active"}) || !slices.Equal(evs[1].ChangedFields, []string{"status"}) {
			t.Fatalf("active %v: %+v", tc.active, evs)
		}
	}
	// A refused write (a taken userName) records nothing.
	dup := scimRow(d, "other@acme.com")
	dup.UserName = row.UserName
	_, err = scimUserWrite(ctx, s, d, dup, "", nil)
	mustCode(t, err, roster.EConflict)
	wantEvents(t, s, env.ID, &c)

	// Deprovisioning: the user goes when nothing else holds it; else only its membership.
	kept := scimRow(d, "kept@acme.com")
	keptOut, err := scimUserWrite(ctx, s, d, kept, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	other := newOrg(env.ID, "Other", "")
	if err := s.CreateOrganization(ctx, other); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateMembership(ctx, env.ID, roster.UserRef{ID: keptOut.UserID}, roster.Membership{OrganizationID: other.ID,
		Status: roster.MembershipActive, Metadata: map[string]string{}, CreateTime: now(), UpdateTime: now()}); err != nil {
		t.Fatal(err)
	}
	_, c = eventsAfterSettled(t, s, env.ID, c)
	if err := s.DeprovisionDirectoryUser(ctx, env.ID, d.ID, kept.ID); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventDirectoryUserDeleted, roster.EventMembershipDeleted)
	wantActors(t, evs, scim, org.ID)
	if !strings.Contains(string(evs[1].Data), other.ID) {
		t.Fatalf("the membership event's user shows its other membership: %s", evs[1].Data)
	}
	if err := s.DeprovisionDirectoryUser(ctx, env.ID, d.ID, row.ID); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventDirectoryUserDeleted, roster.EventUserDeleted)
	wantActors(t, evs, scim, org.ID)
	if !strings.Contains(string(evs[1].Data), out.UserID) || !strings.Contains(string(evs[1].Data), org.ID) {
		t.Fatalf("user.deleted shows the user and the membership that ended: %s", evs[1].Data)
	}
	mustCode(t, s.DeprovisionDirectoryUser(ctx, env.ID, d.ID, row.ID), roster.ENotFound)
	wantEvents(t, s, env.ID, &c)
}

// membersData is DirectoryGroupMembersData as the default encoder shows it.
type membersData struct {
	Group          struct{ ID string }
	Added, Removed []string
}

func wantMembers(t *testing.T, e envelope, added, removed []string) {
	t.Helper()
	var m membersData
	if err := json.Unmarshal(e.Data, &m); err != nil {
		t.Fatal(err)
	}
	if m.Group.ID == "" || !slices.Equal(m.Added, added) || !slices.Equal(m.Removed, removed) {
		t.Fatalf("members event %s: want added %q, removed %q", e.Data, added, removed)
	}
}

func testEventsSCIMGroups(t *testing.T, s store.Store) {
	op := roster.Actor{Type: roster.ActorOperator, ID: "op_1"}
	ctx := roster.WithActor(context.Background(), op)
	env, org, d, c := scimEnv(t, s)
	scim := roster.Actor{Type: roster.ActorSCIMDirectory, ID: d.ID}
	u1, err := scimUserWrite(ctx, s, d, scimRow(d, "u1@acme.com"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	u2, err := scimUserWrite(ctx, s, d, scimRow(d, "u2@acme.com"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	role := newRole(t, s, env.ID, org.ID, "eng")
	_, c = eventsAfterSettled(t, s, env.ID, c)

	at := now()
	g := roster.DirectoryGroup{ID: ids.New(roster.PrefixDirectoryGroup), EnvironmentID: env.ID, DirectoryID: d.ID,
		DisplayName: "Engineering", Raw: json.RawMessage(`{}`), CreateTime: at, UpdateTime: at}
	if _, err := s.WriteDirectoryGroup(ctx, store.DirectoryGroupWrite{Create: &g, EnvironmentID: env.ID, DirectoryID: d.ID,
		Members: store.DirectoryMemberChange{Add: []string{u1.ID}}, Now: at}); err != nil {
		t.Fatal(err)
	}
	evs := wantEvents(t, s, env.ID, &c, roster.EventDirectoryGroupCreated, roster.EventDirectoryGroupMembers)
	wantActors(t, evs, scim, org.ID)
	wantMembers(t, evs[1], []string{u1.ID}, []string{})

	// The group gets a role: the directory's event, then each member's membership event
	// (RecomputeDirectoryRoles, by the assignment's author).
	if _, err := s.SetDirectoryGroupRole(ctx, env.ID, org.ID, d.ID, g.ID, role.ID); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, s, env.ID, &c, roster.EventDirectoryUpdated)
	if err := s.RecomputeDirectoryRoles(ctx, env.ID, d.ID, nil); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventMembershipUpdated)
	wantActors(t, evs, op, org.ID)
	if !slices.Equal(evs[0].ChangedFields, []string{"roles"}) || !strings.Contains(string(evs[0].Data), u1.UserID) ||
		!strings.Contains(string(evs[0].Data), role.ID) {
		t.Fatalf("recomputed role event: %+v", evs[0])
	}
	if err := s.RecomputeDirectoryRoles(ctx, env.ID, d.ID, nil); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, s, env.ID, &c) // nothing changed

	patch := func(change store.DirectoryMemberChange) error {
		return patchDirGroupMembers(s, d, g.ID, change)
	}
	if err := patch(store.DirectoryMemberChange{Add: []string{u2.ID}}); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventDirectoryGroupMembers, roster.EventMembershipUpdated)
	wantActors(t, evs, scim, org.ID)
	wantMembers(t, evs[0], []string{u2.ID}, []string{})
	if !strings.Contains(string(evs[1].Data), u2.UserID) {
		t.Fatalf("the added member's membership event: %s", evs[1].Data)
	}
	// Adding a member again adds nothing; an unknown member refuses the whole PATCH.
	if err := patch(store.DirectoryMemberChange{Add: []string{u2.ID}}); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, s, env.ID, &c)
	mustCode(t, patch(store.DirectoryMemberChange{Add: []string{"diruser_unknown"}, Remove: []string{u1.ID}}), roster.EInvalid)
	wantEvents(t, s, env.ID, &c)

	// A rename is group_updated; a taken name refuses the write.
	rename := func(name string) error {
		_, err := s.WriteDirectoryGroup(ctx, store.DirectoryGroupWrite{EnvironmentID: env.ID, DirectoryID: d.ID, ID: g.ID, Now: now(),
			Update: func(g *roster.DirectoryGroup) (store.DirectoryMemberChange, error) {
				g.DisplayName, g.UpdateTime = name, now()
				return store.DirectoryMemberChange{}, nil
			}})
		return err
	}
	if err := rename("Engineers"); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventDirectoryGroupUpdated)
	if !slices.Equal(evs[0].ChangedFields, []string{"display_name"}) {
		t.Fatalf("updated event: %+v", evs[0])
	}
	writeDirGroup(t, s, d, "Sales", nil)
	_, c = eventsAfterSettled(t, s, env.ID, c)
	mustCode(t, rename("Sales"), roster.EConflict)
	wantEvents(t, s, env.ID, &c)

	// A PUT replaces the members: added and removed are the difference.
	if err := patch(store.DirectoryMemberChange{Replace: true, Add: []string{u2.ID}}); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventDirectoryGroupMembers, roster.EventMembershipUpdated)
	wantMembers(t, evs[0], []string{}, []string{u1.ID})
	if !strings.Contains(string(evs[1].Data), u1.UserID) {
		t.Fatalf("the removed member's membership event: %s", evs[1].Data)
	}
	// The same PUT again changes nothing: no event.
	if err := patch(store.DirectoryMemberChange{Replace: true, Add: []string{u2.ID}}); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, s, env.ID, &c)

	if err := s.RemoveDirectoryGroup(ctx, env.ID, d.ID, g.ID, nil); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &c, roster.EventDirectoryGroupDeleted, roster.EventMembershipUpdated)
	wantActors(t, evs, scim, org.ID)
	if !strings.Contains(string(evs[0].Data), g.ID) || !strings.Contains(string(evs[1].Data), u2.UserID) {
		t.Fatalf("deleted events: %+v", evs)
	}
	mustCode(t, s.RemoveDirectoryGroup(ctx, env.ID, d.ID, g.ID, nil), roster.ENotFound)
	wantEvents(t, s, env.ID, &c)
}

func testEventsSignIn(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, o, c := orgWithConnection(t, s)
	ownDomain(t, s, c, "acme.com")
	ssoActor := roster.Actor{Type: roster.ActorSSOConnection, ID: c.ID}
	_, cur := eventsAfterSettled(t, s, env.ID, store.EventCursor{})

	// The first sign-in creates the user and its membership: one transaction, three events.
	u, err := s.SignIn(ctx, signIn(c, "sub-1", "ada@acme.com", "Ada", "code-1"))
	if err != nil {
		t.Fatal(err)
	}
	evs := wantEvents(t, s, env.ID, &cur, roster.EventUserCreated, roster.EventMembershipCreated, roster.EventLogin)
	wantActors(t, evs, ssoActor, o.ID)
	noSecret(t, evs, c.OIDC.SecretSealed)
	var login struct {
		User       struct{ ID string }
		Connection struct{ ID string }
	}
	if err := json.Unmarshal(evs[2].Data, &login); err != nil || login.User.ID != u.ID || login.Connection.ID != c.ID {
		t.Fatalf("login event: %v %s", err, evs[2].Data)
	}
	// The next one changes the given name: user.updated, then user.login.
	if _, err := s.SignIn(ctx, signIn(c, "sub-1", "ada@acme.com", "Augusta", "code-2")); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &cur, roster.EventUserUpdated, roster.EventLogin)
	if !slices.Equal(evs[0].ChangedFields, []string{"user_profile.given_name"}) {
		t.Fatalf("updated event: %+v", evs[0])
	}
	// One that changes nothing: user.login alone.
	if _, err := s.SignIn(ctx, signIn(c, "sub-1", "ada@acme.com", "Augusta", "code-3")); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, s, env.ID, &cur, roster.EventLogin)

	// Refusals record nothing and say why: not a member, a suspended member, the linking rule.
	in := signIn(c, "sub-2", "eve@acme.com", "Eve", "code-4")
	in.Membership = nil
	_, err = s.SignIn(ctx, in)
	if roster.ErrorCode(err) != roster.EPermissionDenied || roster.ErrorReason(err) != roster.LoginFailedNotMember {
		t.Fatalf("not a member: %v (%q)", err, roster.ErrorReason(err))
	}
	if _, err := s.UpdateMembership(ctx, env.ID, o.ID, roster.UserRef{ID: u.ID}, func(m *roster.Membership) error {
		m.Status = roster.MembershipInactive
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, cur = eventsAfterSettled(t, s, env.ID, cur) // the API's membership update is not this suite's
	_, err = s.SignIn(ctx, signIn(c, "sub-1", "ada@acme.com", "Augusta", "code-5"))
	if roster.ErrorCode(err) != roster.EPermissionDenied || roster.ErrorReason(err) != roster.LoginFailedMemberSuspended {
		t.Fatalf("a suspended member: %v (%q)", err, roster.ErrorReason(err))
	}
	_, err = s.SignIn(ctx, signIn(c, "sub-3", "mallory@elsewhere.com", "Mallory", "code-6"))
	if roster.ErrorCode(err) != roster.EPermissionDenied || roster.ErrorReason(err) != roster.LoginFailedLinkRefused {
		t.Fatalf("the linking rule: %v (%q)", err, roster.ErrorReason(err))
	}
	if roster.ErrorMessage(err) == "" {
		t.Fatal("a refusal keeps its message")
	}
	wantEvents(t, s, env.ID, &cur)

	// RecordEvents writes events of no write, in their own transaction.
	failed := roster.Event{Type: roster.EventLoginFailed, EnvironmentID: env.ID, OrganizationID: o.ID, Actor: ssoActor,
		Data: roster.LoginFailedData{ConnectionID: c.ID, OrganizationID: o.ID, Reason: roster.LoginFailedNotMember, Message: "no"}}
	if err := s.RecordEvents(ctx, failed); err != nil {
		t.Fatal(err)
	}
	evs = wantEvents(t, s, env.ID, &cur, roster.EventLoginFailed)
	wantActors(t, evs, ssoActor, o.ID)
	if !strings.Contains(string(evs[0].Data), `"reason":"not_member"`) {
		t.Fatalf("login_failed event: %s", evs[0].Data)
	}
}

// testEventsManyInOneWrite: a write with more events than one statement's parameters allow
// (PostgreSQL: 65,535, six per event), such as a recompute of a large directory's roles,
// records them all.
func testEventsManyInOneWrite(t *testing.T, s store.Store) {
	env := newEnv(t, s, "many")
	const n = 12000
	evs := make([]roster.Event, n)
	for i := range evs {
		evs[i] = roster.Event{Type: roster.EventLoginFailed, EnvironmentID: env.ID, Data: roster.LoginFailedData{Reason: roster.LoginFailedExpired}}
	}
	if err := s.RecordEvents(context.Background(), evs...); err != nil {
		t.Fatal(err)
	}
	settle(t, s)
	got := allEvents(t, s, env.ID, store.EventQuery{})
	if len(got) != n {
		t.Fatalf("%d events recorded, want %d", len(got), n)
	}
	ids := map[string]bool{}
	for i, e := range got {
		if ids[e.ID] || (i > 0 && !e.Cursor.After(got[i-1].Cursor)) {
			t.Fatalf("event %d (%s at %+v): an ID seen before, or a position not after the last", i, e.ID, e.Cursor)
		}
		ids[e.ID] = true
	}
	// A scan bound and a read through it, from a position inside the write's events (which
	// a store may keep together, eventblock.go): exactly the events between.
	ctx := context.Background()
	from := got[2500].Cursor
	bound, full, err := s.EventScanBound(ctx, env.ID, from, 5000)
	if err != nil || !full || bound != got[7500].Cursor {
		t.Fatalf("EventScanBound(%+v, 5000) = %+v, %v, %v; want %+v", from, bound, full, err, got[7500].Cursor)
	}
	between := allEvents(t, s, env.ID, store.EventQuery{After: from, Through: bound, Types: []string{roster.EventLoginFailed}})
	if len(between) != 5000 || between[0].ID != got[2501].ID || between[4999].ID != got[7500].ID {
		t.Fatalf("read through the bound: %d events, want the 5,000 after the position", len(between))
	}
}
