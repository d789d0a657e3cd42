package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// bulkTests are the conformance tests of bulk import and export.
var bulkTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"ImportCreateUpdateUnchanged", testImportCreateUpdateUnchanged},
	{"ImportBadLineAppliesNothing", testImportBadLineAppliesNothing},
	{"ImportConflicts", testImportConflicts},
	{"ImportUniqueAttribute", testImportUniqueAttribute},
	{"ImportSeenByReads", testImportSeenByReads},
	{"ImportManyAndRepeated", testImportManyAndRepeated},
	{"ImportSameUserByTwoKeys", testImportSameUserByTwoKeys},
	{"ExportRoundTrip", testExportRoundTrip},
	{"ExportOneTransaction", testExportOneTransaction},
}

// bulkFixture is an environment with two organizations and two environment roles.
type bulkFixture struct {
	env           roster.Environment
	a, b          roster.Organization
	member, admin roster.RoleRef
}

func newBulkFixture(t *testing.T, s store.Store) bulkFixture {
	t.Helper()
	ctx := context.Background()
	f := bulkFixture{env: newEnv(t, s, "default")}
	f.a, f.b = newOrg(f.env.ID, "A", "a"), newOrg(f.env.ID, "B", "b")
	for _, o := range []roster.Organization{f.a, f.b} {
		if err := s.CreateOrganization(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	m, a := newRole(t, s, f.env.ID, "", "member"), newRole(t, s, f.env.ID, "", "admin")
	f.member, f.admin = roster.RoleRef{ID: m.ID, Name: m.Name, DisplayName: m.DisplayName}, roster.RoleRef{ID: a.ID, Name: a.Name, DisplayName: a.DisplayName}
	return f
}

// line is a store import line as the directory makes it: roles resolved, the default member
// role given.
func (f bulkFixture) line(in roster.ImportUser) store.ImportLine {
	l := store.ImportLine{User: in, NewID: ids.New(roster.PrefixUser)}
	for _, m := range in.Memberships {
		var res store.ImportMembership
		if m.Roles != nil {
			res.Roles = []roster.RoleRef{}
			for _, n := range m.Roles {
				switch n {
				case "member":
					res.Roles = append(res.Roles, f.member)
				case "admin":
					res.Roles = append(res.Roles, f.admin)
				}
			}
		}
		res.DefaultRoles = []roster.RoleRef{f.member}
		l.Memberships = append(l.Memberships, res)
	}
	return l
}

func (f bulkFixture) lines(in ...roster.ImportUser) []store.ImportLine {
	out := make([]store.ImportLine, len(in))
	for i, u := range in {
		out[i] = f.line(u)
	}
	return out
}

func strp(s string) *string { return &s }

func importOK(t *testing.T, s store.Store, envID string, lines []store.ImportLine, want ...roster.ImportResult) []store.ImportOutcome {
	t.Helper()
	out, err := s.ImportUsers(context.Background(), envID, now(), lines)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if len(out) != len(lines) {
		t.Fatalf("%d outcomes for %d lines", len(out), len(lines))
	}
	for i, o := range out {
		if i < len(want) && o.Result != want[i] {
			t.Fatalf("line %d: want %s, got %s (%v)", i, want[i], o.Result, o.Err)
		}
	}
	return out
}

// mustField checks that err is a line error of code naming field.
func mustField(t *testing.T, err error, code roster.Code, field string) {
	t.Helper()
	mustCode(t, err, code)
	for _, v := range err.(*roster.Error).Violations {
		if v.Field == field {
			return
		}
	}
	t.Fatalf("want a violation of %s, got %+v", field, err.(*roster.Error).Violations)
}

func testImportCreateUpdateUnchanged(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := newBulkFixture(t, s)
	ada := roster.ImportUser{Email: "ada@example.com", ExternalID: strp("e-ada"), Metadata: map[string]string{"dept": "eng"},
		Profile:     roster.ProfilePatch{GivenName: strp("Ada")},
		Memberships: []roster.ImportMembership{{OrganizationID: f.a.ID, Roles: []string{"admin"}, Metadata: map[string]string{"team": "core"}}}}
	bob := roster.ImportUser{Email: "bob@example.com", Memberships: []roster.ImportMembership{{OrganizationID: f.a.ID}}}
	out := importOK(t, s, f.env.ID, f.lines(ada, bob), roster.ImportCreated, roster.ImportCreated)
	got, err := s.GetUser(ctx, f.env.ID, roster.UserRef{ExternalID: "e-ada"})
	if err != nil || got.ID != out[0].UserID || got.Profile.Name != "Ada" || got.Metadata["dept"] != "eng" || len(got.Memberships) != 1 ||
		got.Memberships[0].Status != roster.MembershipActive || got.Memberships[0].ProvisioningMethod != roster.ProvisionedDirect ||
		len(got.Memberships[0].Roles) != 1 || got.Memberships[0].Roles[0].Name != "admin" || got.Memberships[0].OrganizationName != "A" {
		t.Fatalf("created: %+v %v", got, err)
	}
	bobGot, _ := s.GetUser(ctx, f.env.ID, roster.UserRef{ID: out[1].UserID})
	if len(bobGot.Memberships) != 1 || len(bobGot.Memberships[0].Roles) != 1 || bobGot.Memberships[0].Roles[0].Name != "member" {
		t.Fatalf("a membership without roles gets the default member role: %+v", bobGot.Memberships)
	}
	before := got

	// The same batch again (new IDs offered, an email in another case) changes nothing, not
	// even the update time: importing twice is importing once.
	ada2 := ada
	ada2.Email = "ADA@example.com"
	importOK(t, s, f.env.ID, f.lines(ada2, bob), roster.ImportUnchanged, roster.ImportUnchanged)
	again, _ := s.GetUser(ctx, f.env.ID, roster.UserRef{ID: got.ID})
	if !reflect.DeepEqual(again, before) {
		t.Fatalf("unchanged import changed the user:\n%+v\n%+v", before, again)
	}

	// Matched by external ID: the email changes; maps merge; memberships not listed stay;
	// a new membership is added; the existing one's roles are replaced.
	change := roster.ImportUser{Email: "lovelace@example.com", ExternalID: strp("e-ada"), Metadata: map[string]string{"dept": "", "site": "ldn"},
		Memberships: []roster.ImportMembership{{OrganizationID: f.b.ID, Status: roster.MembershipInactive}}}
	importOK(t, s, f.env.ID, f.lines(change), roster.ImportUpdated)
	got, _ = s.GetUser(ctx, f.env.ID, roster.UserRef{ID: got.ID})
	if got.Email != "lovelace@example.com" || got.Metadata["site"] != "ldn" || got.Metadata["dept"] != "" || len(got.Memberships) != 2 {
		t.Fatalf("updated: %+v", got)
	}
	for _, m := range got.Memberships {
		if m.OrganizationID == f.b.ID && m.Status != roster.MembershipInactive {
			t.Fatalf("new membership with a status: %+v", m)
		}
	}
	// Only a membership change is still an update.
	roles := roster.ImportUser{Email: "lovelace@example.com", Memberships: []roster.ImportMembership{{OrganizationID: f.a.ID, Roles: []string{"member"}}}}
	importOK(t, s, f.env.ID, f.lines(roles), roster.ImportUpdated)
	got, _ = s.GetUser(ctx, f.env.ID, roster.UserRef{ID: got.ID})
	if r := got.MembershipRoles(f.a.ID); len(r) != 1 || r[0].Name != "member" {
		t.Fatalf("roles after replace: %+v", r)
	}
	if _, err := s.GetUser(ctx, f.env.ID, roster.UserRef{ID: got.ID}); err != nil {
		t.Fatal(err)
	}
	if page, _ := s.ListUsers(ctx, f.env.ID, store.UserQuery{Search: "lovelace", Page: store.PageQuery{Size: 10}}); len(page.Items) != 1 {
		t.Fatalf("search after an imported email change: %+v", page.Items)
	}
}

func testImportBadLineAppliesNothing(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := newBulkFixture(t, s)
	bad := roster.ImportUser{Email: "bad@example.com", Memberships: []roster.ImportMembership{{OrganizationID: f.a.ID}, {OrganizationID: "org_404"}}}
	out := importOK(t, s, f.env.ID, f.lines(
		roster.ImportUser{Email: "one@example.com"}, bad, roster.ImportUser{Email: "three@example.com"}),
		roster.ImportCreated, roster.ImportFailed, roster.ImportCreated)
	mustField(t, out[1].Err, roster.ENotFound, "memberships[1].organization_id")
	if out[1].UserID != "" {
		t.Fatalf("a failed line reports no user: %+v", out[1])
	}
	if page, _ := s.ListUsers(ctx, f.env.ID, store.UserQuery{EmailKey: "bad@example.com", Page: store.PageQuery{Size: 10}}); len(page.Items) != 0 {
		t.Fatalf("the bad line's user was created: %+v", page.Items)
	}
	if page, _ := s.ListUsers(ctx, f.env.ID, store.UserQuery{OrganizationID: f.a.ID, Page: store.PageQuery{Size: 10}}); page.Total != 0 {
		t.Fatalf("the bad line's first membership was created: %+v", page.Items)
	}
	page, _ := s.ListUsers(ctx, f.env.ID, store.UserQuery{Page: store.PageQuery{Size: 10}})
	if page.Total != 2 {
		t.Fatalf("want the two good lines' users, got %d", page.Total)
	}
	// An existing user's bad line leaves it as it was.
	one, _ := s.GetUser(ctx, f.env.ID, roster.UserRef{ID: out[0].UserID})
	out = importOK(t, s, f.env.ID, f.lines(roster.ImportUser{Email: "one@example.com", Metadata: map[string]string{"dept": "eng"},
		Memberships: []roster.ImportMembership{{OrganizationID: f.a.ID}, {OrganizationID: "org_404"}}}), roster.ImportFailed)
	after, _ := s.GetUser(ctx, f.env.ID, roster.UserRef{ID: one.ID})
	if !reflect.DeepEqual(one, after) {
		t.Fatalf("a failed line changed its user:\n%+v\n%+v", one, after)
	}
}

func testImportConflicts(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := newBulkFixture(t, s)
	out := importOK(t, s, f.env.ID, f.lines(
		roster.ImportUser{Email: "ada@example.com", ExternalID: strp("e-ada")},
		roster.ImportUser{Email: "bob@example.com", ExternalID: strp("e-bob")}),
		roster.ImportCreated, roster.ImportCreated)
	res := importOK(t, s, f.env.ID, f.lines(
		// Ada (by external ID) takes Bob's email.
		roster.ImportUser{Email: "bob@example.com", ExternalID: strp("e-ada")},
		// A third person with Ada's email: not merged into Ada.
		roster.ImportUser{Email: "ada@example.com", ExternalID: strp("e-carol")},
		// An id that is not the matched user's.
		roster.ImportUser{ID: out[1].UserID, Email: "ada@example.com"},
		// Nobody's external ID or email: created with a new ID, whatever the line's id.
		roster.ImportUser{Email: "dan@example.com", ExternalID: strp("e-dan"), ID: out[0].UserID},
	), roster.ImportFailed, roster.ImportFailed, roster.ImportFailed, roster.ImportCreated)
	mustField(t, res[0].Err, roster.EConflict, "user.email")
	mustField(t, res[1].Err, roster.EConflict, "email")
	mustField(t, res[2].Err, roster.EInvalid, "id")
	if res[3].UserID == out[0].UserID {
		t.Fatalf("a new user takes a new ID, whatever the line's id: %+v", res[3])
	}
	ada, _ := s.GetUser(ctx, f.env.ID, roster.UserRef{ID: out[0].UserID})
	if ada.Email != "ada@example.com" {
		t.Fatalf("a refused line changed the user: %+v", ada)
	}
}

func testImportUniqueAttribute(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := newBulkFixture(t, s)
	d := roster.AttributeDefinition{EnvironmentID: f.env.ID, Key: "badge", DisplayName: "Badge", Type: roster.AttributeString, Unique: true, CreateTime: now(), UpdateTime: now()}
	if err := s.CreateAttribute(ctx, d); err != nil {
		t.Fatal(err)
	}
	attrs := func(v string) roster.ProfilePatch {
		return roster.ProfilePatch{CustomAttributes: map[string]string{"badge": v}}
	}
	out := importOK(t, s, f.env.ID, f.lines(
		roster.ImportUser{Email: "ada@example.com", Profile: attrs("1")},
		roster.ImportUser{Email: "bob@example.com", Profile: attrs("1")},
		roster.ImportUser{Email: "carol@example.com", Profile: roster.ProfilePatch{CustomAttributes: map[string]string{"nope": "x"}}},
		roster.ImportUser{Email: "dan@example.com", Profile: attrs("2")},
	), roster.ImportCreated, roster.ImportFailed, roster.ImportFailed, roster.ImportCreated)
	mustField(t, out[1].Err, roster.EConflict, "user.user_profile.custom_attributes")
	mustField(t, out[2].Err, roster.EInvalid, "user_profile.custom_attributes")
	// Dan takes Ada's badge: refused; Ada gives hers up and Dan takes it in the same batch.
	res := importOK(t, s, f.env.ID, f.lines(
		roster.ImportUser{Email: "dan@example.com", Profile: attrs("1")},
		roster.ImportUser{Email: "ada@example.com", Profile: attrs("3")},
		roster.ImportUser{Email: "dan@example.com", Profile: attrs("1")},
	), roster.ImportFailed, roster.ImportUpdated, roster.ImportUpdated)
	mustCode(t, res[0].Err, roster.EConflict)
	dan, _ := s.GetUser(ctx, f.env.ID, roster.UserRef{ID: out[3].UserID})
	if dan.Profile.CustomAttributes["badge"] != "1" {
		t.Fatalf("dan: %+v", dan.Profile.CustomAttributes)
	}
}

// testImportSeenByReads checks that reads (through the SQLite user cache) see an import.
func testImportSeenByReads(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := newBulkFixture(t, s)
	out := importOK(t, s, f.env.ID, f.lines(roster.ImportUser{Email: "ada@example.com", ExternalID: strp("e-ada"),
		Profile: roster.ProfilePatch{GivenName: strp("Ada")}}), roster.ImportCreated)
	// Read every way, so that a cache holds the user by ID, external ID and email.
	for i := 0; i < 2; i++ {
		if _, found := readPaths(t, s, f.env.ID, out[0].UserID, "e-ada", "ada@example.com"); !found {
			t.Fatal("imported user not found")
		}
	}
	importOK(t, s, f.env.ID, f.lines(roster.ImportUser{Email: "lovelace@example.com", ExternalID: strp("e-ada"),
		Profile:     roster.ProfilePatch{GivenName: strp("Augusta")},
		Memberships: []roster.ImportMembership{{OrganizationID: f.a.ID, Roles: []string{"admin"}}}}), roster.ImportUpdated)
	got, err := s.GetUser(ctx, f.env.ID, roster.UserRef{ID: out[0].UserID})
	if err != nil || got.Profile.GivenName != "Augusta" || got.Email != "lovelace@example.com" || len(got.Memberships) != 1 {
		t.Fatalf("read after import: %+v %v", got, err)
	}
	if got, err := s.GetUser(ctx, f.env.ID, roster.UserRef{ExternalID: "e-ada"}); err != nil || got.Profile.GivenName != "Augusta" {
		t.Fatalf("read by external ID after import: %+v %v", got, err)
	}
	if page, _ := s.ListUsers(ctx, f.env.ID, store.UserQuery{EmailKey: "ada@example.com", Page: store.PageQuery{Size: 10}}); len(page.Items) != 0 {
		t.Fatalf("the old email still finds the user: %+v", page.Items)
	}
	if page, _ := s.ListUsers(ctx, f.env.ID, store.UserQuery{OrganizationID: f.a.ID, Page: store.PageQuery{Size: 10}}); page.Total != 1 {
		t.Fatalf("organization count after import: %d", page.Total)
	}
}

func exportAll(t *testing.T, s store.Store, envID, orgID string, batch int) []roster.User {
	t.Helper()
	var all []roster.User
	err := s.ExportUsers(context.Background(), envID, orgID, batch, func(us []roster.User) error {
		if len(us) > batch {
			t.Errorf("batch of %d, want at most %d", len(us), batch)
		}
		all = append(all, us...)
		return nil
	})
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	return all
}

func testExportRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := newBulkFixture(t, s)
	d := roster.AttributeDefinition{EnvironmentID: f.env.ID, Key: "tier", DisplayName: "Tier", Type: roster.AttributeString, CreateTime: now(), UpdateTime: now()}
	if err := s.CreateAttribute(ctx, d); err != nil {
		t.Fatal(err)
	}
	var lines []roster.ImportUser
	for i := 0; i < 25; i++ {
		in := roster.ImportUser{Email: fmt.Sprintf("u%02d@example.com", i), Metadata: map[string]string{"idx": fmt.Sprint(i)},
			Profile: roster.ProfilePatch{GivenName: strp("U"), Locale: strp("en-us"), Groups: []string{"g1"},
				CustomAttributes: map[string]string{"tier": "gold"}}}
		if i%2 == 0 {
			in.ExternalID = strp(fmt.Sprintf("e%d", i))
			in.Memberships = []roster.ImportMembership{{OrganizationID: f.a.ID, Roles: []string{"admin", "member"}, Metadata: map[string]string{"team": "x"}}}
		}
		if i%3 == 0 {
			in.Memberships = append(in.Memberships, roster.ImportMembership{OrganizationID: f.b.ID, Status: roster.MembershipPendingInvite})
		}
		lines = append(lines, in)
	}
	importOK(t, s, f.env.ID, f.lines(lines...))
	all := exportAll(t, s, f.env.ID, "", 7)
	if len(all) != 25 {
		t.Fatalf("exported %d users, want 25", len(all))
	}
	for i, u := range all {
		if i > 0 {
			prev, _ := roster.IDNumber(all[i-1].ID, roster.PrefixUser)
			cur, _ := roster.IDNumber(u.ID, roster.PrefixUser)
			if cur <= prev {
				t.Fatalf("export not in ID order at %d", i)
			}
		}
		got, err := s.GetUser(ctx, f.env.ID, roster.UserRef{ID: u.ID})
		if err != nil || !reflect.DeepEqual(got, u) {
			t.Fatalf("exported user differs from GetUser's:\n%+v\n%+v (%v)", u, got, err)
		}
	}
	members := exportAll(t, s, f.env.ID, f.a.ID, 5)
	if len(members) != 13 {
		t.Fatalf("exported %d members of A, want 13", len(members))
	}
	for _, u := range members {
		if u.MembershipRoles(f.a.ID) == nil {
			t.Fatalf("non-member exported: %+v", u)
		}
	}
	err := s.ExportUsers(ctx, f.env.ID, "org_404", 10, func([]roster.User) error { return nil })
	mustCode(t, err, roster.ENotFound)
	// Re-importing the export changes nothing.
	var back []roster.ImportUser
	for _, u := range all {
		back = append(back, roster.ImportUserOf(u))
	}
	for i, o := range importOK(t, s, f.env.ID, f.lines(back...)) {
		if o.Result != roster.ImportUnchanged {
			t.Fatalf("line %d of the export: %s (%v)", i, o.Result, o.Err)
		}
	}
	if again := exportAll(t, s, f.env.ID, "", 100); !reflect.DeepEqual(again, all) {
		t.Fatal("the export changed after re-importing it")
	}
}

// testExportOneTransaction writes while an export runs: the export sees none of it.
func testExportOneTransaction(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := newBulkFixture(t, s)
	var lines []roster.ImportUser
	for i := 0; i < 6; i++ {
		lines = append(lines, roster.ImportUser{Email: fmt.Sprintf("u%d@example.com", i), Profile: roster.ProfilePatch{GivenName: strp("Before")}})
	}
	out := importOK(t, s, f.env.ID, f.lines(lines...))
	var seen []roster.User
	batches := 0
	err := s.ExportUsers(ctx, f.env.ID, "", 2, func(us []roster.User) error {
		batches++
		seen = append(seen, us...)
		if batches == 1 {
			// Change the last user, delete the fourth and add one, while the export runs.
			importOK(t, s, f.env.ID, f.lines(
				roster.ImportUser{Email: "u5@example.com", Profile: roster.ProfilePatch{GivenName: strp("After")}},
				roster.ImportUser{Email: "new@example.com"}), roster.ImportUpdated, roster.ImportCreated)
			if err := s.DeleteUser(ctx, f.env.ID, roster.UserRef{ID: out[3].UserID}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 6 {
		t.Fatalf("export saw %d users, want the 6 of its start", len(seen))
	}
	for _, u := range seen {
		if u.Profile.GivenName != "Before" {
			t.Fatalf("export saw a write that committed after it began: %+v", u)
		}
	}
	// An error from fn stops the export.
	stop := fmt.Errorf("stop")
	calls := 0
	err = s.ExportUsers(ctx, f.env.ID, "", 2, func([]roster.User) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("want the callback's error after one call, got %v after %d", err, calls)
	}
}

// testImportManyAndRepeated imports a batch larger than a run of new users, in which some
// lines repeat an earlier line's user (those update it, in order).
func testImportManyAndRepeated(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := newBulkFixture(t, s)
	d := roster.AttributeDefinition{EnvironmentID: f.env.ID, Key: "badge", DisplayName: "Badge", Type: roster.AttributeString, Unique: true, CreateTime: now(), UpdateTime: now()}
	if err := s.CreateAttribute(ctx, d); err != nil {
		t.Fatal(err)
	}
	var lines []roster.ImportUser
	for i := 0; i < 700; i++ {
		in := roster.ImportUser{Email: fmt.Sprintf("u%d@example.com", i), ExternalID: strp(fmt.Sprintf("e%d", i)),
			Profile:     roster.ProfilePatch{CustomAttributes: map[string]string{"badge": fmt.Sprint(i)}},
			Memberships: []roster.ImportMembership{{OrganizationID: f.a.ID, Roles: []string{"admin", "member"}}}}
		if i%100 == 99 { // the user of line i-1 again, by external ID, with a new name
			in.Email, in.ExternalID = fmt.Sprintf("u%d@example.com", i-1), strp(fmt.Sprintf("e%d", i-1))
			in.Profile = roster.ProfilePatch{GivenName: strp("Again")}
		}
		lines = append(lines, in)
	}
	out := importOK(t, s, f.env.ID, f.lines(lines...))
	for i, o := range out {
		want := roster.ImportCreated
		if i%100 == 99 {
			want = roster.ImportUpdated
		}
		if o.Result != want || o.Err != nil {
			t.Fatalf("line %d: %s %v, want %s", i, o.Result, o.Err, want)
		}
	}
	all := exportAll(t, s, f.env.ID, "", 1000)
	if len(all) != 693 {
		t.Fatalf("%d users, want 693", len(all))
	}
	for _, u := range all {
		if len(u.Memberships) != 1 || len(u.Memberships[0].Roles) != 2 || u.Profile.CustomAttributes["badge"] == "" {
			t.Fatalf("imported user: %+v", u)
		}
	}
	again, _ := s.GetUser(ctx, f.env.ID, roster.UserRef{ExternalID: "e98"})
	if again.Profile.GivenName != "Again" || again.ID != out[98].UserID {
		t.Fatalf("repeated line: %+v", again)
	}
	// Two new lines with the same badge: the run fails in the database and is applied line by
	// line, so the first gets it and the second is refused.
	res := importOK(t, s, f.env.ID, f.lines(
		roster.ImportUser{Email: "x@example.com", Profile: roster.ProfilePatch{CustomAttributes: map[string]string{"badge": "x"}}},
		roster.ImportUser{Email: "y@example.com", Profile: roster.ProfilePatch{CustomAttributes: map[string]string{"badge": "x"}}},
		roster.ImportUser{Email: "z@example.com"},
	), roster.ImportCreated, roster.ImportFailed, roster.ImportCreated)
	mustCode(t, res[1].Err, roster.EConflict)
}

// testImportSameUserByTwoKeys names one user in two lines of a batch, by external ID and then
// by email: the second line sees what the first wrote.
func testImportSameUserByTwoKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	f := newBulkFixture(t, s)
	out := importOK(t, s, f.env.ID, f.lines(roster.ImportUser{Email: "ada@example.com", ExternalID: strp("e-ada")}), roster.ImportCreated)
	res := importOK(t, s, f.env.ID, f.lines(
		roster.ImportUser{Email: "ada@example.com", ExternalID: strp("e-ada"), Profile: roster.ProfilePatch{GivenName: strp("Ada")}},
		roster.ImportUser{Email: "ada@example.com", Profile: roster.ProfilePatch{FamilyName: strp("Lovelace")}},
		roster.ImportUser{Email: "ada@example.com", Profile: roster.ProfilePatch{FamilyName: strp("Lovelace")}},
		roster.ImportUser{ID: out[0].UserID, Email: "ADA@example.com", Memberships: []roster.ImportMembership{{OrganizationID: f.a.ID}}},
	), roster.ImportUpdated, roster.ImportUpdated, roster.ImportUnchanged, roster.ImportUpdated)
	for _, o := range res {
		if o.UserID != out[0].UserID {
			t.Fatalf("line matched %s, want %s", o.UserID, out[0].UserID)
		}
	}
	got, _ := s.GetUser(ctx, f.env.ID, roster.UserRef{ID: out[0].UserID})
	if got.Profile.Name != "Ada Lovelace" || len(got.Memberships) != 1 {
		t.Fatalf("user after both lines: %+v", got)
	}
}
