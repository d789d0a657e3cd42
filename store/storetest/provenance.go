package storetest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// Provenance (docs/provenance.md): every write of a user's profile records, in its own
// transaction, the source of the fields whose values it changed; a user's creation is one
// record (roster.FieldCreated).
var provenanceTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"ProvenanceAPIWrites", testProvenanceAPIWrites},
	{"ProvenanceSignIn", testProvenanceSignIn},
	{"ProvenanceSCIM", testProvenanceSCIM},
	{"ProvenanceImport", testProvenanceImport},
}

// sources reads a user's provenance records.
func sources(t *testing.T, s store.Store, envID, userID string) map[string]roster.FieldSource {
	t.Helper()
	u, recs, err := s.UserFieldSources(context.Background(), envID, roster.UserRef{ID: userID})
	if err != nil || u.ID != userID {
		t.Fatalf("UserFieldSources(%s): %v %+v", userID, err, u)
	}
	return recs
}

// wantSources checks that recs holds exactly these fields, each with this writer.
func wantSources(t *testing.T, recs map[string]roster.FieldSource, want map[string]roster.Writer) {
	t.Helper()
	for f, w := range want {
		r, ok := recs[f]
		if !ok || r.Source != w.Source || r.SourceID != w.ID || r.UpdateTime.IsZero() {
			t.Errorf("field %q: %+v (present %v), want %+v", f, r, ok, w)
		}
	}
	for f, r := range recs {
		if _, ok := want[f]; !ok {
			t.Errorf("field %q: %+v, want no record", f, r)
		}
	}
}

func testProvenanceAPIWrites(t *testing.T, s store.Store) {
	ctx := roster.WithClientID(context.Background(), "skc_1")
	env := newEnv(t, s, "default")
	d := roster.AttributeDefinition{EnvironmentID: env.ID, Key: "shoe_size", DisplayName: "Shoe size", Type: roster.AttributeString,
		CreateTime: now(), UpdateTime: now()}
	if err := s.CreateAttribute(ctx, d); err != nil {
		t.Fatal(err)
	}
	u := newUser(env.ID, "ada@example.com", "e-ada")
	u.Profile.GivenName, u.Profile.CustomAttributes = "Ada", map[string]string{"shoe_size": "38"}
	if err := createUser(s, ctx, u, nil, nil); err != nil {
		t.Fatal(err)
	}
	api := roster.Writer{Source: roster.SourceAPI, ID: "skc_1"}
	created := sources(t, s, env.ID, u.ID)
	wantSources(t, created, map[string]roster.Writer{roster.FieldCreated: api})
	if !created[roster.FieldCreated].UpdateTime.Equal(u.CreateTime) {
		t.Errorf("creation record at %v, want the user's create time %v", created[roster.FieldCreated].UpdateTime, u.CreateTime)
	}

	// An update records the fields it changed, as the API client of its context.
	other := roster.WithClientID(context.Background(), "skc_2")
	update := func(ctx context.Context, f func(*roster.User)) {
		t.Helper()
		if _, err := s.UpdateUser(ctx, env.ID, roster.UserRef{ID: u.ID}, func(x *roster.User, _ store.AttributeDefs) error {
			f(x)
			x.UpdateTime = now()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	update(other, func(x *roster.User) {
		x.Profile.FamilyName = "Lovelace"
		x.Profile.CustomAttributes["shoe_size"] = "39" // changed in place: the store compares with a copy
	})
	api2 := roster.Writer{Source: roster.SourceAPI, ID: "skc_2"}
	recs := sources(t, s, env.ID, u.ID)
	wantSources(t, recs, map[string]roster.Writer{roster.FieldCreated: api, roster.FieldFamilyName: api2, roster.CustomFieldPrefix + "shoe_size": api2})
	// A write that sets the values they have already records nothing.
	update(ctx, func(x *roster.User) { x.Profile.FamilyName, x.Profile.GivenName = "Lovelace", "Ada" })
	if again := sources(t, s, env.ID, u.ID); again[roster.FieldFamilyName] != recs[roster.FieldFamilyName] || len(again) != len(recs) {
		t.Errorf("an update that changed nothing changed the records: %+v", again)
	}
	// Removing a value is a change too; a user without an API client in its context records "".
	update(context.Background(), func(x *roster.User) {
		x.Profile.Groups, x.Profile.Metadata = []string{"eng"}, map[string]string{"k": "v"}
		delete(x.Profile.CustomAttributes, "shoe_size")
	})
	anon := roster.Writer{Source: roster.SourceAPI}
	wantSources(t, sources(t, s, env.ID, u.ID), map[string]roster.Writer{roster.FieldCreated: api, roster.FieldFamilyName: api2,
		roster.CustomFieldPrefix + "shoe_size": anon, roster.FieldGroups: anon, roster.FieldMetadata: anon})

	// Deleting the definition deletes its key's records (its values went with it).
	update(ctx, func(x *roster.User) { x.Profile.CustomAttributes = map[string]string{"shoe_size": "40"} })
	if err := s.DeleteAttribute(ctx, env.ID, "shoe_size"); err != nil {
		t.Fatal(err)
	}
	if _, ok := sources(t, s, env.ID, u.ID)[roster.CustomFieldPrefix+"shoe_size"]; ok {
		t.Error("a deleted attribute's record stayed")
	}

	// By external ID; another environment's user is not found; a deleted user takes its
	// records along.
	if got, _, err := s.UserFieldSources(ctx, env.ID, roster.UserRef{ExternalID: "e-ada"}); err != nil || got.ID != u.ID {
		t.Fatalf("by external ID: %v %+v", err, got)
	}
	_, _, err := s.UserFieldSources(ctx, newEnv(t, s, "other").ID, roster.UserRef{ID: u.ID})
	mustCode(t, err, roster.ENotFound)
	if err := s.DeleteUser(ctx, env.ID, roster.UserRef{ID: u.ID}); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.UserFieldSources(ctx, env.ID, roster.UserRef{ID: u.ID})
	mustCode(t, err, roster.ENotFound)
}

func testProvenanceSignIn(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, _, c := orgWithConnection(t, s)
	ownDomain(t, s, c, "acme.com")
	u, err := s.SignIn(ctx, signIn(c, "sub-1", "ada@acme.com", "Ada", "code-1"))
	if err != nil {
		t.Fatal(err)
	}
	sso := roster.Writer{Source: roster.SourceSSO, ID: c.ID}
	wantSources(t, sources(t, s, env.ID, u.ID), map[string]roster.Writer{roster.FieldCreated: sso})
	if _, err := s.SignIn(ctx, signIn(c, "sub-1", "ada@acme.com", "Augusta", "code-2")); err != nil {
		t.Fatal(err)
	}
	wantSources(t, sources(t, s, env.ID, u.ID), map[string]roster.Writer{roster.FieldCreated: sso, roster.FieldGivenName: sso})

	// Another organization's connection that links the user (its organization holds the
	// domain now) changes no field and records nothing.
	o2 := newOrg(env.ID, "Globex", "")
	if err := s.CreateOrganization(ctx, o2); err != nil {
		t.Fatal(err)
	}
	c2 := newOIDCConnection(t, s, env.ID, o2.ID)
	doms, err := s.ListDomains(ctx, env.ID, c.OrganizationID, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range doms {
		if err := s.DeleteDomain(ctx, env.ID, d.ID); err != nil {
			t.Fatal(err)
		}
	}
	ownDomain(t, s, c2, "acme.com")
	if _, err := s.SignIn(ctx, signIn(c2, "sub-9", "ada@acme.com", "Mallory", "code-3")); err != nil {
		t.Fatal(err)
	}
	wantSources(t, sources(t, s, env.ID, u.ID), map[string]roster.Writer{roster.FieldCreated: sso, roster.FieldGivenName: sso})
}

func testProvenanceSCIM(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, org, d := orgWithDirectory(t, s)
	if err := s.CreateDomain(ctx, newDomain(env.ID, org.ID, "acme.com")); err != nil {
		t.Fatal(err)
	}
	// The profile function writes the row's given name and email.
	profile := func(u *roster.User, row roster.DirectoryUser, _ store.SignInState, _ store.AttributeDefs) error {
		u.Profile.GivenName = row.GivenName
		return nil
	}
	email := func(r roster.DirectoryUser) string { return r.Email }
	at := now()
	row := roster.DirectoryUser{ID: ids.New(roster.PrefixDirectoryUser), EnvironmentID: env.ID, DirectoryID: d.ID, UserName: "ada@acme.com",
		Email: "ada@acme.com", Emails: []string{"ada@acme.com"}, Active: true, GivenName: "Ada", Raw: json.RawMessage(`{}`), CreateTime: at, UpdateTime: at}
	out, err := s.WriteDirectoryUser(ctx, store.DirectoryUserWrite{Directory: d, Create: &row, NewUserID: ids.New(roster.PrefixUser),
		Email: email, Profile: profile, Now: at})
	if err != nil {
		t.Fatal(err)
	}
	scim := roster.Writer{Source: roster.SourceSCIM, ID: d.ID}
	wantSources(t, sources(t, s, env.ID, out.UserID), map[string]roster.Writer{roster.FieldCreated: scim})
	// An update that changes the email and nothing else of the profile records the email.
	write := func(change func(*roster.DirectoryUser)) {
		t.Helper()
		if _, err := s.WriteDirectoryUser(ctx, store.DirectoryUserWrite{Directory: d, ID: row.ID, Email: email, Profile: profile, Now: now(),
			Update: func(r *roster.DirectoryUser) error { change(r); return nil }}); err != nil {
			t.Fatal(err)
		}
	}
	write(func(r *roster.DirectoryUser) { r.Email = "ada.lovelace@acme.com" })
	wantSources(t, sources(t, s, env.ID, out.UserID), map[string]roster.Writer{roster.FieldCreated: scim, roster.FieldEmail: scim})
	write(func(r *roster.DirectoryUser) { r.Active = false }) // no profile change: nothing new
	wantSources(t, sources(t, s, env.ID, out.UserID), map[string]roster.Writer{roster.FieldCreated: scim, roster.FieldEmail: scim})
	// A re-application that changes the given name records it as the directory's.
	if _, err := s.ReapplyDirectoryUsers(ctx, store.DirectoryReapply{EnvironmentID: env.ID, DirectoryID: d.ID, Limit: 10, Now: now(),
		Profile: reapplyProfile}); err != nil {
		t.Fatal(err)
	}
	wantSources(t, sources(t, s, env.ID, out.UserID), map[string]roster.Writer{roster.FieldCreated: scim, roster.FieldEmail: scim,
		roster.FieldGivenName: scim})
}

func testProvenanceImport(t *testing.T, s store.Store) {
	ctx := roster.WithClientID(context.Background(), "skc_9")
	f := newBulkFixture(t, s)
	ada := roster.ImportUser{Email: "ada@example.com", ExternalID: strp("e-ada"), Profile: roster.ProfilePatch{GivenName: strp("Ada")},
		Memberships: []roster.ImportMembership{{OrganizationID: f.a.ID}}}
	bob := roster.ImportUser{Email: "bob@example.com", Memberships: []roster.ImportMembership{{OrganizationID: f.a.ID}}}
	out, err := s.ImportUsers(ctx, f.env.ID, now(), f.lines(ada, bob))
	if err != nil || out[0].Result != roster.ImportCreated || out[1].Result != roster.ImportCreated {
		t.Fatalf("import: %v %+v", err, out)
	}
	imp := roster.Writer{Source: roster.SourceImport, ID: "skc_9"}
	for _, o := range out {
		wantSources(t, sources(t, s, f.env.ID, o.UserID), map[string]roster.Writer{roster.FieldCreated: imp})
	}
	// A line that changes a user records the fields it changed (the family name, and the name
	// that follows it), as IMPORT of no API client here; an unchanged line records nothing.
	ada.Profile.FamilyName = strp("Lovelace")
	again, err := s.ImportUsers(context.Background(), f.env.ID, now(), f.lines(ada, bob))
	if err != nil || again[0].Result != roster.ImportUpdated || again[1].Result != roster.ImportUnchanged {
		t.Fatalf("re-import: %v %+v", err, again)
	}
	wantSources(t, sources(t, s, f.env.ID, out[0].UserID), map[string]roster.Writer{roster.FieldCreated: imp,
		roster.FieldFamilyName: {Source: roster.SourceImport}, roster.FieldName: {Source: roster.SourceImport}})
	wantSources(t, sources(t, s, f.env.ID, out[1].UserID), map[string]roster.Writer{roster.FieldCreated: imp})
}
