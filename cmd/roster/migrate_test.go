package main

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/store/sqlite"
)

// `roster migrate` prints what a migration left for the operator: here two users that
// 0009_email_nfc finds to be one address (docs/users.md, "Emails stored before NFC").
func TestMigratePrintsNotices(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // made 0700
	ctx := context.Background()
	if err := run([]string{"migrate", "--data-dir", dir}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	env, err := directory.New(s).DefaultEnvironment(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gen := roster.NewIDGenerator()
	var ids []string
	for _, email := range []string{"ren\u00e9@example.com", "old@example.com"} {
		u, err := s.CreateUser(ctx, roster.NewUser{Email: email}.Build(gen.New(roster.PrefixUser), env.ID, time.Now()), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	s.Close()
	// The second user as an older Roster stored the NFD spelling of the first's address.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`UPDATE users SET email = 'rene` + "\u0301" + `@example.com', email_key = 'rene` + "\u0301" + `@example.com' WHERE id = '` + ids[1] + `'`,
		`DELETE FROM schema_migrations WHERE version = '0009_email_nfc'`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := run([]string{"migrate", "--data-dir", dir}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "warning: 0009_email_nfc") || !strings.Contains(out.String(), ids[0]) || !strings.Contains(out.String(), ids[1]) {
		t.Fatalf("migrate printed %q, want a warning naming %s and %s", out.String(), ids[0], ids[1])
	}
}
