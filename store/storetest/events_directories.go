package storetest

import (
	"context"
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
	env := newEnv(t, s, "events")
	o := newOrg(env.ID, "Acme", "")
	if err := s.CreateOrganization(ctx, o); err != nil {
		t.Fatal(err)
	}
	var c store.EventCursor
	wantEvents(t, s, env.ID, &c, roster.EventOrganizationCreated)

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
	env := newEnv(t, s, "events")
	o := newOrg(env.ID, "Acme", "")
	if err := s.CreateOrganization(ctx, o); err != nil {
		t.Fatal(err)
	}
	var c store.EventCursor
	wantEvents(t, s, env.ID, &c, roster.EventOrganizationCreated)

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
	wantEvents(t, s, env.ID, &c) // the API's group create and role create are not this suite's
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
