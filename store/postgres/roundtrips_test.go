package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/postgres"
	"github.com/rosterhq/roster/store/postgres/pgtest"
	"github.com/rosterhq/roster/store/sqlstore"
)

// statements counts the round trips the store sends, BEGIN and COMMIT included: a statement
// each, and a batch (statements sent together, "; " between them) one.
type statements struct {
	mu    sync.Mutex
	sql   []string
	batch []string
}

func (c *statements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.mu.Lock()
	c.sql = append(c.sql, strings.Join(strings.Fields(d.SQL), " "))
	c.mu.Unlock()
	return ctx
}

func (c *statements) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *statements) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (c *statements) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	c.mu.Lock()
	c.batch = append(c.batch, strings.Join(strings.Fields(d.SQL), " "))
	c.mu.Unlock()
}

func (c *statements) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {
	c.mu.Lock()
	c.sql = append(c.sql, strings.Join(c.batch, "; "))
	c.batch = nil
	c.mu.Unlock()
}

func (c *statements) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.sql
	c.sql = nil
	return out
}

// openStore opens a store on a new schema, its URL given params (such as "&lock_timeout=200ms"),
// closed when the test ends, and returns it with the schema's URL (without params).
func openStore(t *testing.T, params string) (*sqlstore.Store, string) {
	t.Helper()
	url := pgtest.NewSchema(t)
	s, err := postgres.Open(context.Background(), url+params)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, url
}

// newEnvironment creates an environment in s, its ID drawn from ids, made at now.
func newEnvironment(t *testing.T, s *sqlstore.Store, ids *roster.IDGenerator, now time.Time) roster.Environment {
	t.Helper()
	env := roster.Environment{ID: ids.New(roster.PrefixEnvironment), Name: "default", CursorKey: make([]byte, 32), CreateTime: now}
	if err := s.CreateEnvironment(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	return env
}

// newOrganization creates an environment and, in it, an organization named Acme.
func newOrganization(t *testing.T, s *sqlstore.Store, ids *roster.IDGenerator, now time.Time) (roster.Environment, roster.Organization) {
	t.Helper()
	env := newEnvironment(t, s, ids, now)
	o := roster.NewOrganization{DisplayName: "Acme"}.Build(ids.New(roster.PrefixOrganization), env.ID, now)
	if err := s.CreateOrganization(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	return env, o
}

// Each statement of a write is a round trip to PostgreSQL, which costs both sides tens of
// microseconds of CPU (issue 12: creates on PostgreSQL were 10 round trips). A user created
// with a membership and its role takes: BEGIN sent with the organization's share lock (which
// reads its name, whether the environment defines custom attributes, and, given
// store.DefaultMemberRole, the default member role, too), the attribute definitions when there
// are any, one statement that inserts the users row, its provenance, the membership and its
// roles (locked), and the INSERT of its events sent with COMMIT (docs/events.md): 3, where it
// was 5 and one more to read the default role before.
func TestCreateUserRoundTrips(t *testing.T) {
	ctx := context.Background()
	var trace statements
	s, err := postgres.OpenTraced(ctx, pgtest.NewSchema(t), &trace)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids := roster.NewIDGenerator()
	now := time.Now().UTC().Truncate(time.Microsecond)
	env, o := newOrganization(t, s, ids, now)
	role := roster.Role{ID: ids.New(roster.PrefixRole), EnvironmentID: env.ID, Name: "member", DisplayName: "Member", CreateTime: now, UpdateTime: now}
	if err := s.CreateRole(ctx, role); err != nil {
		t.Fatal(err)
	}
	create := func(email string, byDefault bool) roster.User {
		t.Helper()
		m := &roster.Membership{OrganizationID: o.ID, Status: roster.MembershipActive, CreateTime: now, UpdateTime: now,
			ProvisioningMethod: roster.ProvisionedDirect, Roles: []roster.RoleRef{{ID: role.ID, Name: role.Name}}}
		if byDefault {
			m.Roles = []roster.RoleRef{store.DefaultMemberRole}
		}
		// The directory's check reads the attribute definitions (required ones must be set).
		check := func(_ *roster.User, defs store.AttributeDefs) error { _, err := defs(); return err }
		u, err := s.CreateUser(ctx, roster.NewUser{Email: email}.Build(ids.New(roster.PrefixUser), env.ID, now), m, check)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	createSent := func(email string, want int) {
		t.Helper()
		trace.take()
		u := create(email, false)
		if sent := trace.take(); len(sent) > want {
			t.Errorf("a create sent %d statements, want at most %d:\n%s", len(sent), want, strings.Join(sent, "\n"))
		}
		if len(u.Memberships) != 1 || u.Memberships[0].OrganizationName != "Acme" || len(u.Memberships[0].Roles) != 1 {
			t.Fatalf("created %+v", u.Memberships)
		}
	}
	if err := s.SetDefaultMemberRole(ctx, env.ID, "member"); err != nil {
		t.Fatal(err)
	}
	create("first@example.com", false) // connections and statements warm
	create("first-default@example.com", true)
	createSent("second@example.com", 3)
	trace.take()
	if u := create("second-default@example.com", true); len(u.Memberships[0].Roles) != 1 || u.Memberships[0].Roles[0].ID != role.ID {
		t.Fatalf("created with the default role: %+v", u.Memberships)
	}
	if sent := trace.take(); len(sent) > 3 {
		t.Errorf("a create with the default member role sent %d statements, want at most 3:\n%s", len(sent), strings.Join(sent, "\n"))
	}
	// With a definition, the create reads (and share-locks) the definitions, and checks them.
	d := roster.AttributeDefinition{EnvironmentID: env.ID, Key: "tier", DisplayName: "Tier", Type: roster.AttributeString, CreateTime: now, UpdateTime: now}
	if err := s.CreateAttribute(ctx, d); err != nil {
		t.Fatal(err)
	}
	createSent("third@example.com", 4)
	var seen map[string]roster.AttributeDefinition
	m := &roster.Membership{OrganizationID: o.ID, Status: roster.MembershipActive, CreateTime: now, UpdateTime: now, ProvisioningMethod: roster.ProvisionedDirect}
	_, err = s.CreateUser(ctx, roster.NewUser{Email: "fourth@example.com"}.Build(ids.New(roster.PrefixUser), env.ID, now), m,
		func(_ *roster.User, defs store.AttributeDefs) error { seen, err = defs(); return err })
	if err != nil || len(seen) != 1 || seen["tier"].DisplayName != "Tier" {
		t.Fatalf("the check saw %+v (%v), want the definition", seen, err)
	}
}

// A SCIM user write (an update, as a PATCH or PUT of an existing user) starts with the
// directory's gate (gate.go) and one statement, both sent with the BEGIN, that locks the
// organization and the directory and reads the directory's mapping
// (lockDirectoryWithOrganization: it was five round trips with the BEGIN); then it locks and
// reads the directory user and its Roster user, reads which organization owns the profile,
// writes the user with its fields' provenance, the directory user and the directory's change
// count (the SCIM page cache's), and sends its events with COMMIT: 8.
func TestDirectoryUserWriteRoundTrips(t *testing.T) {
	ctx := context.Background()
	var trace statements
	s, err := postgres.OpenTraced(ctx, pgtest.NewSchema(t), &trace)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f := newMemberFixture(t, s)
	dir := f.withDomain(t, s)
	write := func(name string) []string {
		t.Helper()
		trace.take()
		if err := f.updateUser(ctx, s, dir, 0, func(u *roster.DirectoryUser) { u.DisplayName = name }); err != nil {
			t.Fatal(err)
		}
		return trace.take()
	}
	write("A") // links the Roster user, warms the statements
	sent := write("B")
	if !strings.HasPrefix(sent[0], "BEGIN; SELECT pg_advisory_xact_lock_shared(") || !strings.Contains(sent[0], "; SELECT o.id, o.display_name") {
		t.Errorf("the first round trip: %s, want BEGIN with the directory's gate and the organization's and directory's lock", sent[0])
	}
	if len(sent) > 8 {
		t.Errorf("a SCIM user update sent %d statements, want at most 8:\n%s", len(sent), strings.Join(sent, "\n"))
	}
}
