package storetest

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/sqlstore"
)

// EmailNFCMigration checks migration 0009_email_nfc on a database that holds users stored
// before emails were normalized: their email and email_key in NFD ("e" + U+0301), as the old
// code wrote them. open opens the database (applying migrations) and may be called several
// times; db reaches the same database directly and is used only while no store is open.
// Every store this opens is closed before it returns.
func EmailNFCMigration(t *testing.T, open func() *sqlstore.Store, db *sql.DB) {
	ctx := context.Background()
	const (
		nfd       = "jose\u0301@example.com" // "josé", e + combining acute accent
		nfc       = "jos\u00e9@example.com"  // "josé", one code point
		pairNFD   = "Rene\u0301@Example.com"
		pairNFC   = "ren\u00e9@example.com"
		plainMail = "plain@example.com"
		// Two spellings, neither NFC, of one address that nobody holds in NFC: the accents in
		// canonical order and not.
		triNFD   = "fe\u0327\u0301@example.com"
		triOther = "fe\u0301\u0327@example.com"
	)
	s := open()
	env := newEnv(t, s, "default")
	org := newOrg(env.ID, "Acme", "")
	if err := s.CreateOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	create := func(email string) roster.User {
		t.Helper()
		u := roster.NewUser{Email: email}.Build(ids.New(roster.PrefixUser), env.ID, now())
		m := &roster.Membership{OrganizationID: org.ID, Status: roster.MembershipActive, Metadata: map[string]string{}, CreateTime: now(), UpdateTime: now()}
		out, err := s.CreateUser(ctx, u, m, nil)
		if err != nil {
			t.Fatalf("create %q: %v", email, err)
		}
		return out
	}
	alone := create("placeholder-1@example.com")
	twin := create("placeholder-2@example.com")
	holder := create(pairNFC) // the NFC spelling of twin's address, created after the upgrade
	plain := create(plainMail)
	tri1 := create("placeholder-3@example.com")
	tri2 := create("placeholder-4@example.com")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// What the code before NFC keys stored: the address trimmed, the key lower-cased, both as
	// sent (NFD). The migration is not applied yet, as in a database of that version.
	for id, email := range map[string]string{alone.ID: nfd, twin.ID: pairNFD, tri1.ID: triNFD, tri2.ID: triOther} {
		if _, err := db.ExecContext(ctx, `UPDATE users SET email = $1, email_key = $2 WHERE id = $3`, email, strings.ToLower(email), id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM schema_migrations WHERE version = '0009_email_nfc'`); err != nil {
		t.Fatal(err)
	}

	s = open()
	// Each colliding group is reported once, naming its users, and nothing else is.
	notices := s.MigrationNotices()
	reported := func(ids ...string) bool {
		for _, n := range notices {
			all := true
			for _, id := range ids {
				all = all && strings.Contains(n, id)
			}
			if all {
				return true
			}
		}
		return false
	}
	if len(notices) != 2 || !reported(twin.ID, holder.ID) || !reported(tri1.ID, tri2.ID) || reported(alone.ID) || reported(plain.ID) {
		t.Errorf("migration notices %q, want one naming %s and %s, one naming %s and %s", notices, twin.ID, holder.ID, tri1.ID, tri2.ID)
	}
	var applied int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = '0009_email_nfc'`).Scan(&applied); err != nil || applied != 1 {
		t.Errorf("0009_email_nfc recorded %d times (%v), want once", applied, err)
	}

	// The user stored in NFD is found by the NFC key that every lookup computes...
	page, err := s.ListUsers(ctx, env.ID, store.UserQuery{EmailKey: roster.EmailKey(nfc), Page: store.PageQuery{Size: 10}})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != alone.ID {
		t.Errorf("lookup by the NFC key: %+v %v, want %s", page.Items, err, alone.ID)
	} else if page.Items[0].Email != nfc {
		t.Errorf("email %q after the migration, want the NFC %q", page.Items[0].Email, nfc)
	}
	// ...a create with the NFC spelling is a conflict, not a second user...
	dup := roster.NewUser{Email: nfc}.Build(ids.New(roster.PrefixUser), env.ID, now())
	if _, err := s.CreateUser(ctx, dup, nil, nil); roster.ErrorCode(err) != roster.EConflict {
		t.Errorf("create with the NFC spelling of a migrated email: %v (%s), want a conflict", err, roster.ErrorCode(err))
	}
	// ...and a search by part of the address finds it.
	page, err = s.ListUsers(ctx, env.ID, store.UserQuery{Search: "jos\u00e9@", Page: store.PageQuery{Size: 10}})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != alone.ID {
		t.Errorf("search for %q: %+v %v, want %s", "jos\u00e9@", page.Items, err, alone.ID)
	}

	// The pair that is one address is left as it was: nothing merged, nothing deleted.
	for id, want := range map[string][2]string{twin.ID: {pairNFD, strings.ToLower(pairNFD)}, holder.ID: {pairNFC, pairNFC},
		tri1.ID: {triNFD, triNFD}, tri2.ID: {triOther, triOther}} {
		var email, key string
		if err := db.QueryRowContext(ctx, `SELECT email, email_key FROM users WHERE id = $1`, id).Scan(&email, &key); err != nil {
			t.Fatalf("user %s after the migration: %v", id, err)
		}
		if email != want[0] || key != want[1] {
			t.Errorf("user %s: email %q key %q, want unchanged %q %q", id, email, key, want[0], want[1])
		}
	}
	if u, err := s.GetUser(ctx, env.ID, roster.UserRef{ID: twin.ID}); err != nil || len(u.Memberships) != 1 {
		t.Errorf("the unnormalized twin: %+v %v, want it kept with its membership", u, err)
	}
	if u, err := s.GetUser(ctx, env.ID, roster.UserRef{ID: plain.ID}); err != nil || u.Email != plainMail {
		t.Errorf("an ASCII user: %+v %v", u, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The step runs once: the next start applies nothing and reports nothing.
	s = open()
	if n, err := s.Migrate(ctx); err != nil || n != 0 {
		t.Errorf("migrate again: applied %d (%v), want 0", n, err)
	}
	if notices := s.MigrationNotices(); len(notices) != 0 {
		t.Errorf("notices of a start with nothing to do: %q", notices)
	}

	// What docs/users.md tells the operator: keep one user of each group, delete the others,
	// then run the step again.
	for _, id := range []string{twin.ID, tri2.ID} {
		if err := s.DeleteUser(ctx, env.ID, roster.UserRef{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM schema_migrations WHERE version = '0009_email_nfc'`); err != nil {
		t.Fatal(err)
	}
	s = open()
	defer s.Close()
	if notices := s.MigrationNotices(); len(notices) != 0 {
		t.Errorf("notices once the duplicates are gone: %q", notices)
	}
	page, err = s.ListUsers(ctx, env.ID, store.UserQuery{EmailKey: roster.EmailKey(triOther), Page: store.PageQuery{Size: 10}})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != tri1.ID || page.Items[0].Email != roster.NormalizeEmail(triNFD) {
		t.Errorf("the kept user after the step ran again: %+v %v, want %s in NFC", page.Items, err, tri1.ID)
	}
}
