package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// A store may keep users in memory between reads (SQLite does). These tests read a user
// through every read path before and after each kind of write, so that a read served from
// memory is held to what the database holds.

var readTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"ReadsSeeEveryWrite", testReadsSeeEveryWrite},
	{"ReadsSeeConcurrentWrites", testReadsSeeConcurrentWrites},
	{"ReadUsersAreCopies", testReadUsersAreCopies},
	{"RoleResolutionSeesWrites", testRoleResolutionSeesWrites},
	{"SearchSeesConcurrentWrites", testSearchSeesConcurrentWrites},
	{"TotalsSeeWrites", testTotalsSeeWrites},
}

// readPaths reads the user with id, external ID ext and email through GetUser by ID and by
// external ID, the lookup by email, a search, a list of the environment and a list of each
// organization in orgs; all must agree. It returns the user, or found=false when no path
// finds it.
func readPaths(t *testing.T, s store.Store, env, id, ext, email string, orgs ...string) (u roster.User, found bool) {
	t.Helper()
	ctx := context.Background()
	var got []roster.User
	missing := 0
	add := func(path string, x roster.User, err error) {
		t.Helper()
		switch {
		case roster.ErrorCode(err) == roster.ENotFound:
			missing++
		case err != nil:
			t.Fatalf("%s: %v", path, err)
		default:
			got = append(got, x)
		}
	}
	x, err := s.GetUser(ctx, env, roster.UserRef{ID: id})
	add("get by id", x, err)
	x, err = s.GetUser(ctx, env, roster.UserRef{ExternalID: ext})
	add("get by external id", x, err)
	queries := map[string]store.UserQuery{
		"lookup by email": {EmailKey: roster.EmailKey(email)},
		"search":          {Search: ext},
		"list":            {},
	}
	for _, o := range orgs {
		queries["list of "+o] = store.UserQuery{OrganizationID: o}
	}
	for path, q := range queries {
		q.Page.Size = 100
		page, err := s.ListUsers(ctx, env, q)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		n := 0
		for _, x := range page.Items {
			if x.ID == id {
				got, n = append(got, x), n+1
			}
		}
		if n == 0 {
			missing++
		}
	}
	if len(got) == 0 {
		return roster.User{}, false
	}
	if missing > 0 && len(orgs) == 0 {
		t.Fatalf("%d read paths found the user and %d did not", len(got), missing)
	}
	for _, x := range got[1:] {
		if !reflect.DeepEqual(x, got[0]) {
			t.Fatalf("read paths disagree:\n%s\n%s", show(got[0]), show(x))
		}
	}
	return got[0], true
}

func testReadsSeeEveryWrite(t *testing.T, s store.Store) {
	ctx := context.Background()
	env, acme, conn := orgWithConnection(t, s)
	ownDomain(t, s, conn, "acme.com")
	globex := newOrg(env.ID, "Globex", "")
	if err := s.CreateOrganization(ctx, globex); err != nil {
		t.Fatal(err)
	}
	member := newRole(t, s, env.ID, "", "member") // the default member role, which cannot be deleted
	engineer := newRole(t, s, env.ID, "", "engineer")
	if err := s.CreateAttribute(ctx, roster.AttributeDefinition{EnvironmentID: env.ID, Key: "zip_code", DisplayName: "Zip", Type: roster.AttributeString, CreateTime: now(), UpdateTime: now()}); err != nil {
		t.Fatal(err)
	}
	u := newUser(env.ID, "ada@acme.com", "ext-ada")
	u.Profile.CustomAttributes = map[string]string{"zip_code": "10001"}
	m := &roster.Membership{OrganizationID: acme.ID, Status: roster.MembershipActive, Metadata: map[string]string{}, CreateTime: now(), UpdateTime: now(),
		ProvisioningMethod: roster.ProvisionedDirect, Roles: []roster.RoleRef{{ID: engineer.ID, Name: engineer.Name}}}
	if err := createUser(s, ctx, u, m, nil); err != nil {
		t.Fatal(err)
	}
	read := func(step string, check func(u roster.User) bool) roster.User {
		t.Helper()
		got, found := readPaths(t, s, env.ID, u.ID, "ext-ada", "ada@acme.com", acme.ID)
		if !found || !check(got) {
			t.Fatalf("after %s: found=%v %+v", step, found, got)
		}
		return got
	}
	read("create", func(u roster.User) bool {
		return u.Profile.CustomAttributes["zip_code"] == "10001" && len(u.Memberships) == 1
	})
	read("a second read", func(u roster.User) bool { return u.Profile.CustomAttributes["zip_code"] == "10001" })

	if _, err := s.UpdateUser(ctx, env.ID, roster.UserRef{ID: u.ID}, func(x *roster.User, _ store.AttributeDefs) error {
		x.Profile.GivenName, x.Metadata["team"] = "Ada", "core"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	read("update user", func(u roster.User) bool { return u.Profile.GivenName == "Ada" && u.Metadata["team"] == "core" })

	if _, err := s.UpdateOrganization(ctx, env.ID, roster.OrganizationRef{ID: acme.ID}, func(o *roster.Organization) error {
		o.DisplayName = "Acme Corp"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	read("rename organization", func(u roster.User) bool { return u.Memberships[0].OrganizationName == "Acme Corp" })

	if _, err := s.UpdateRole(ctx, env.ID, "", "engineer", func(r *roster.Role) error { r.DisplayName = "Team member"; return nil }); err != nil {
		t.Fatal(err)
	}
	read("rename role", func(u roster.User) bool { return u.Memberships[0].Roles[0].DisplayName == "Team member" })

	m2 := &roster.Membership{OrganizationID: globex.ID, Status: roster.MembershipActive, Metadata: map[string]string{}, CreateTime: now(), UpdateTime: now(),
		ProvisioningMethod: roster.ProvisionedDirect}
	if _, err := s.CreateMembership(ctx, env.ID, roster.UserRef{ExternalID: "ext-ada"}, *m2); err != nil {
		t.Fatal(err)
	}
	read("add membership", func(u roster.User) bool { return len(u.Memberships) == 2 })
	readPaths(t, s, env.ID, u.ID, "ext-ada", "ada@acme.com", globex.ID)

	if _, err := s.UpdateMembership(ctx, env.ID, globex.ID, roster.UserRef{ID: u.ID}, func(m *roster.Membership) error {
		m.Metadata = map[string]string{"seat": "12"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	read("update membership", func(u roster.User) bool { return len(u.Memberships) == 2 && u.Memberships[1].Metadata["seat"] == "12" })

	if _, err := s.DeleteMembership(ctx, env.ID, globex.ID, roster.UserRef{ID: u.ID}, true); err != nil {
		t.Fatal(err)
	}
	read("remove membership", func(u roster.User) bool { return len(u.Memberships) == 1 })

	if err := s.DeleteAttribute(ctx, env.ID, "zip_code"); err != nil {
		t.Fatal(err)
	}
	read("delete attribute definition", func(u roster.User) bool { return len(u.Profile.CustomAttributes) == 0 })

	if _, err := s.SignIn(ctx, signIn(conn, "sub-ada", "ada@acme.com", "Augusta", "code-ada")); err != nil {
		t.Fatal(err)
	}
	read("sign in", func(u roster.User) bool { return u.Profile.GivenName == "Augusta" && len(u.Identities) == 1 })

	if err := s.DeleteConnection(ctx, env.ID, conn.ID); err != nil {
		t.Fatal(err)
	}
	read("delete connection", func(u roster.User) bool { return len(u.Identities) == 0 })

	if err := s.DeleteRole(ctx, env.ID, "", "engineer", member.ID); err != nil {
		t.Fatal(err)
	}
	read("delete role", func(u roster.User) bool {
		return len(u.Memberships[0].Roles) == 1 && u.Memberships[0].Roles[0].Name == "member"
	})

	// Deleting an organization keeps the members who belong elsewhere.
	if _, err := s.CreateMembership(ctx, env.ID, roster.UserRef{ID: u.ID}, *m2); err != nil {
		t.Fatal(err)
	}
	read("add membership again", func(u roster.User) bool { return len(u.Memberships) == 2 })
	if err := s.DeleteOrganization(ctx, env.ID, roster.OrganizationRef{ID: acme.ID}); err != nil {
		t.Fatal(err)
	}
	if got, found := readPaths(t, s, env.ID, u.ID, "ext-ada", "ada@acme.com", globex.ID); !found || len(got.Memberships) != 1 || got.Memberships[0].OrganizationID != globex.ID {
		t.Fatalf("after deleting the organization: found=%v %+v", found, got)
	}

	if err := s.DeleteUser(ctx, env.ID, roster.UserRef{ID: u.ID}); err != nil {
		t.Fatal(err)
	}
	if got, found := readPaths(t, s, env.ID, u.ID, "ext-ada", "ada@acme.com"); found {
		t.Fatalf("a deleted user is still read: %+v", got)
	}
}

// testReadsSeeConcurrentWrites updates one user many times while readers read it through every
// path: once the writes are done, every path reads the last one.
func testReadsSeeConcurrentWrites(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	o := newOrg(env.ID, "Acme", "")
	if err := s.CreateOrganization(ctx, o); err != nil {
		t.Fatal(err)
	}
	m := &roster.Membership{OrganizationID: o.ID, Status: roster.MembershipActive, Metadata: map[string]string{}, CreateTime: now(), UpdateTime: now(),
		ProvisioningMethod: roster.ProvisionedDirect}
	u := newUser(env.ID, "grace@acme.com", "ext-grace")
	if err := createUser(s, ctx, u, m, nil); err != nil {
		t.Fatal(err)
	}
	const writes = 100
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(done)
	for r := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				var err error
				switch r % 3 {
				case 0:
					_, err = s.GetUser(ctx, env.ID, roster.UserRef{ID: u.ID})
				case 1:
					_, err = s.GetUser(ctx, env.ID, roster.UserRef{ExternalID: "ext-grace"})
				default:
					_, err = s.ListUsers(ctx, env.ID, store.UserQuery{OrganizationID: o.ID, Page: store.PageQuery{Size: 10}})
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := range writes {
		if _, err := s.UpdateUser(ctx, env.ID, roster.UserRef{ID: u.ID}, func(x *roster.User, _ store.AttributeDefs) error {
			x.Profile.GivenName = fmt.Sprintf("v%d", i)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		// Each write is seen by every path as soon as it has returned.
		if got, _ := readPaths(t, s, env.ID, u.ID, "ext-grace", "grace@acme.com", o.ID); got.Profile.GivenName != fmt.Sprintf("v%d", i) {
			t.Fatalf("after write %d: read %q", i, got.Profile.GivenName)
		}
	}
}

// testReadUsersAreCopies: the users a read returns are read-only (store.Store, GetUser), as a
// backend may share them with its cache; a caller changes a Clone. Changing everything of a
// Clone of each read leaves the store as it was. (Tests built with -tags rostercheck also
// check that every user SQLite's cache keeps decodes as it was read.)
func testReadUsersAreCopies(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	o := newOrg(env.ID, "Acme", "")
	if err := s.CreateOrganization(ctx, o); err != nil {
		t.Fatal(err)
	}
	m := &roster.Membership{OrganizationID: o.ID, Status: roster.MembershipActive, Metadata: map[string]string{"seat": "1"}, CreateTime: now(), UpdateTime: now(),
		ProvisioningMethod: roster.ProvisionedDirect}
	u := newUser(env.ID, "linus@acme.com", "ext-linus")
	u.Profile.Groups = []string{"eng"}
	if err := createUser(s, ctx, u, m, nil); err != nil {
		t.Fatal(err)
	}
	before, _ := readPaths(t, s, env.ID, u.ID, "ext-linus", "linus@acme.com", o.ID)
	change := func(x roster.User) {
		x.Metadata["dept"] = "changed"
		x.Profile.Metadata["k"] = "changed"
		x.Profile.CustomAttributes["k"] = "changed"
		x.Profile.Groups[0] = "changed"
		*x.ExternalID = "changed"
		x.Memberships[0].Metadata["seat"] = "changed"
		x.Memberships[0].OrganizationName = "changed"
	}
	for range 2 {
		x, err := s.GetUser(ctx, env.ID, roster.UserRef{ID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		change(x.Clone())
		page, err := s.ListUsers(ctx, env.ID, store.UserQuery{OrganizationID: o.ID, Page: store.PageQuery{Size: 10}})
		if err != nil || len(page.Items) != 1 {
			t.Fatal(err)
		}
		change(page.Items[0].Clone())
	}
	after, _ := readPaths(t, s, env.ID, u.ID, "ext-linus", "linus@acme.com", o.ID)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("changing a clone of a read user changed the store:\n%s\n%s", show(before), show(after))
	}
}

func show(u roster.User) string {
	b, _ := json.Marshal(u)
	return string(b)
}

// testRoleResolutionSeesWrites resolves role names and the default member role before and
// after the writes that change them.
func testRoleResolutionSeesWrites(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	o := newOrg(env.ID, "Acme", "")
	if err := s.CreateOrganization(ctx, o); err != nil {
		t.Fatal(err)
	}
	member := newRole(t, s, env.ID, "", "member")
	resolve := func(step string, name, wantID, wantDisplay string) {
		t.Helper()
		for range 2 { // the second read may be served from memory
			found, missing, err := s.ResolveRoles(ctx, env.ID, o.ID, []string{name})
			switch {
			case err != nil:
				t.Fatalf("%s: %v", step, err)
			case wantID == "" && len(missing) != 1:
				t.Fatalf("%s: %q resolved to %+v", step, name, found)
			case wantID != "" && (len(found) != 1 || found[0].ID != wantID || found[0].DisplayName != wantDisplay):
				t.Fatalf("%s: %q resolved to %+v, missing %v", step, name, found, missing)
			}
		}
	}
	defaultRole := func(step, wantName, wantID string) {
		t.Helper()
		for range 2 {
			r, name, ok, err := s.ResolveDefaultMemberRole(ctx, env.ID, o.ID)
			if err != nil || name != wantName || ok != (wantID != "") || r.ID != wantID {
				t.Fatalf("%s: default role %+v %q %v %v", step, r, name, ok, err)
			}
		}
	}
	resolve("start", "admin", "", "")
	defaultRole("start", "member", member.ID)
	admin := newRole(t, s, env.ID, "", "admin")
	resolve("create role", "admin", admin.ID, "admin")
	if _, err := s.UpdateRole(ctx, env.ID, "", "admin", func(r *roster.Role) error { r.DisplayName = "Administrator"; return nil }); err != nil {
		t.Fatal(err)
	}
	resolve("rename role", "admin", admin.ID, "Administrator")
	own := newRole(t, s, env.ID, o.ID, "admin")
	resolve("an organization's own role", "admin", own.ID, "admin")
	if err := s.SetDefaultMemberRole(ctx, env.ID, "admin"); err != nil {
		t.Fatal(err)
	}
	defaultRole("change the default role", "admin", own.ID)
	if err := s.DeleteRole(ctx, env.ID, o.ID, "admin", ""); err != nil {
		t.Fatal(err)
	}
	resolve("delete the organization's role", "admin", admin.ID, "Administrator")
	defaultRole("delete the organization's role", "admin", admin.ID)
}

// testSearchSeesConcurrentWrites creates users from many goroutines at once (on SQLite they
// share write batches, and search indexing happens once per batch), deletes and renames some
// while others are created, and checks that search finds exactly the users that exist.
func testSearchSeesConcurrentWrites(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	const n = 64
	userIDs := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	// The delete and the change are sent while the create may still be waiting for its batch,
	// retried until the user exists, so that some land in the same batch as the create.
	until := func(i int, op func(id string) error) {
		defer wg.Done()
		for {
			err := op(userIDs[i])
			if roster.ErrorCode(err) != roster.ENotFound {
				errs <- err
				return
			}
			runtime.Gosched()
		}
	}
	for i := range n {
		userIDs[i] = ids.New(roster.PrefixUser)
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := newUser(env.ID, fmt.Sprintf("searchable%02d@acme.com", i), fmt.Sprintf("srch-%02d", i))
			u.ID = userIDs[i]
			if err := createUser(s, ctx, u, nil, nil); err != nil {
				errs <- err
			}
		}()
		switch i % 4 {
		case 1: // deleted as soon as it exists
			wg.Add(1)
			go until(i, func(id string) error { return s.DeleteUser(ctx, env.ID, roster.UserRef{ID: id}) })
		case 2: // external ID changed as soon as it exists
			wg.Add(1)
			go until(i, func(id string) error {
				_, err := s.UpdateUser(ctx, env.ID, roster.UserRef{ID: id}, func(x *roster.User, _ store.AttributeDefs) error {
					ext := fmt.Sprintf("renamed-%02d", i)
					x.ExternalID = &ext
					return nil
				})
				return err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	count := func(q string) int {
		t.Helper()
		page, err := s.ListUsers(ctx, env.ID, store.UserQuery{Search: q, Page: store.PageQuery{Size: 100}})
		if err != nil {
			t.Fatal(err)
		}
		return page.Total
	}
	if got := count("searchable"); got != n-n/4 {
		t.Fatalf("search finds %d users, %d exist", got, n-n/4)
	}
	if got := count("renamed-"); got != n/4 {
		t.Fatalf("search finds %d renamed users, want %d", got, n/4)
	}
	if got := count("srch-"); got != n/2 {
		t.Fatalf("search finds %d users by their unchanged external ID, want %d", got, n/2)
	}
	for i := range n {
		want := 1
		if i%4 == 1 {
			want = 0
		}
		if got := count(fmt.Sprintf("searchable%02d@", i)); got != want {
			t.Fatalf("user %d: found %d times, want %d", i, got, want)
		}
	}
}

// testTotalsSeeWrites reads the total of an organization's members on a page that does not hold
// them all (the total is then counted, and a store may keep the count) after each write that
// changes it.
func testTotalsSeeWrites(t *testing.T, s store.Store) {
	ctx := context.Background()
	env := newEnv(t, s, "default")
	o, other := newOrg(env.ID, "Acme", ""), newOrg(env.ID, "Globex", "")
	for _, x := range []roster.Organization{o, other} {
		if err := s.CreateOrganization(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	join := func(orgID string) *roster.Membership {
		return &roster.Membership{OrganizationID: orgID, Status: roster.MembershipActive, Metadata: map[string]string{}, CreateTime: now(), UpdateTime: now(),
			ProvisioningMethod: roster.ProvisionedDirect}
	}
	var users []roster.User
	for i := range 5 {
		u := newUser(env.ID, fmt.Sprintf("member%d@acme.com", i), "")
		if err := createUser(s, ctx, u, join(o.ID), nil); err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	total := func(step string, want int) {
		t.Helper()
		for range 2 { // the second read may be served from memory
			page, err := s.ListUsers(ctx, env.ID, store.UserQuery{OrganizationID: o.ID, Page: store.PageQuery{Size: 2}})
			if err != nil || page.Total != want || !page.More {
				t.Fatalf("after %s: total %d (more %v), want %d: %v", step, page.Total, page.More, want, err)
			}
		}
	}
	total("creating 5 members", 5)
	u := newUser(env.ID, "late@acme.com", "")
	if err := createUser(s, ctx, u, join(o.ID), nil); err != nil {
		t.Fatal(err)
	}
	total("creating a member", 6)
	if err := createUser(s, ctx, newUser(env.ID, "elsewhere@globex.com", ""), join(other.ID), nil); err != nil {
		t.Fatal(err)
	}
	total("creating a member of another organization", 6)
	x := newUser(env.ID, "joiner@globex.com", "")
	if err := createUser(s, ctx, x, join(other.ID), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateMembership(ctx, env.ID, roster.UserRef{ID: x.ID}, *join(o.ID)); err != nil {
		t.Fatal(err)
	}
	total("adding a membership", 7)
	if _, err := s.DeleteMembership(ctx, env.ID, o.ID, roster.UserRef{ID: users[0].ID}, false); err != nil {
		t.Fatal(err)
	}
	total("removing a membership", 6)
	if err := s.DeleteUser(ctx, env.ID, roster.UserRef{ID: users[1].ID}); err != nil {
		t.Fatal(err)
	}
	total("deleting a member", 5)
	if _, err := s.SignIn(ctx, func() store.SignIn {
		c := newOIDCConnection(t, s, env.ID, o.ID)
		ownDomain(t, s, c, "acme.com")
		return signIn(c, "sub-total", "sso@acme.com", "Sso", "code-total")
	}()); err != nil {
		t.Fatal(err)
	}
	total("a first sign-in", 6)
}
