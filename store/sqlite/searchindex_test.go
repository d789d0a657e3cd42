package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/sqlite"
)

// A database made before migration 0020 (search index keyed by users.rowid), holding users
// stored out of ID order, gets the index keyed by seq: searches then page in ID order, and
// FTS5's integrity check agrees with the users table.
func TestSearchIndexMigration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	env := roster.Environment{ID: ids.New(roster.PrefixEnvironment), Name: "default", CursorKey: make([]byte, 32), CreateTime: time.Now()}
	if err := s.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	const n = 40
	userIDs := make([]string, n)
	for i := range userIDs {
		userIDs[i] = ids.New(roster.PrefixUser)
	}
	var wg sync.WaitGroup
	for _, i := range rand.Perm(n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := roster.NewUser{Email: fmt.Sprintf("m%02d@mig.example", i)}.Build(userIDs[i], env.ID, time.Now())
			if _, err := s.CreateUser(ctx, u, nil, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	s.Close()

	// Back to the index of migrations 0003-0007.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`DROP TRIGGER users_search_delete`,
		`DROP TRIGGER users_search_update`,
		`DROP TABLE users_search`,
		`CREATE VIRTUAL TABLE users_search USING fts5(email_key, external_id, content='users', tokenize='trigram')`,
		`CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
			INSERT INTO users_search (users_search, rowid, email_key, external_id)
				SELECT 'delete', old.rowid, old.email_key, old.external_id
				WHERE NOT EXISTS (SELECT 1 FROM users_search_queue WHERE user_rowid = old.rowid);
			DELETE FROM users_search_queue WHERE user_rowid = old.rowid;
		END`,
		`CREATE TRIGGER users_search_update AFTER UPDATE OF email_key, external_id ON users
		WHEN (old.email_key IS NOT new.email_key OR old.external_id IS NOT new.external_id)
			AND NOT EXISTS (SELECT 1 FROM users_search_queue WHERE user_rowid = old.rowid) BEGIN
			INSERT INTO users_search (users_search, rowid, email_key, external_id) VALUES ('delete', old.rowid, old.email_key, old.external_id);
			INSERT INTO users_search (rowid, email_key, external_id) VALUES (new.rowid, new.email_key, new.external_id);
		END`,
		`INSERT INTO users_search (users_search) VALUES ('rebuild')`,
		`DELETE FROM schema_migrations WHERE version = '0020_user_search_seq'`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	var outOfOrder int
	if err := db.QueryRow(`SELECT COUNT(*) FROM users a JOIN users b ON a.rowid < b.rowid AND a.seq > b.seq`).Scan(&outOfOrder); err != nil {
		t.Fatal(err)
	}
	db.Close()
	t.Logf("%d pairs of users stored out of ID order", outOfOrder)

	s2, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	c := checkedStore{s2, t, filepath.Join(dir, sqlite.FileName)}
	defer c.Close()
	want := slices.Clone(userIDs) // taken in ID order
	var got []string
	q := store.UserQuery{Search: "mig.example", Page: store.PageQuery{Size: 7}}
	for {
		page, err := c.ListUsers(ctx, env.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != n {
			t.Fatalf("total %d, want %d", page.Total, n)
		}
		for _, u := range page.Items {
			got = append(got, u.ID)
		}
		if !page.More {
			break
		}
		q.Page.After, _ = roster.IDNumber(page.Items[len(page.Items)-1].ID, roster.PrefixUser)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("after the migration the search pages\n%v\nwant\n%v", got, want)
	}
	// The index follows changes made after the migration.
	if err := c.DeleteUser(ctx, env.ID, roster.UserRef{ID: userIDs[3]}); err != nil {
		t.Fatal(err)
	}
	if page, err := c.ListUsers(ctx, env.ID, store.UserQuery{Search: "m03@mig", Page: store.PageQuery{Size: 7}}); err != nil || len(page.Items) != 0 {
		t.Fatalf("a deleted user is found: %v %v", page.Items, err)
	}
}
