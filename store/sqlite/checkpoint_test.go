package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// Closing the store copies the whole WAL into the database file and empties it.
func TestCloseEmptiesTheWAL(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	env := roster.Environment{ID: "env_1", Name: "default", CursorKey: make([]byte, 32), CreateTime: time.Now()}
	if err := s.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		o := roster.NewOrganization{DisplayName: fmt.Sprintf("Org %d", i)}.Build(fmt.Sprintf("org_%d", i), env.ID, time.Now())
		if err := s.CreateOrganization(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	wal := filepath.Join(dir, FileName+"-wal")
	if fi, err := os.Stat(wal); err != nil || fi.Size() == 0 {
		t.Fatalf("no WAL while the store is open: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(wal); err == nil && fi.Size() != 0 {
		t.Fatalf("the WAL holds %d bytes after close", fi.Size())
	}
	s.Close() // closing twice is harmless (tests and shutdown paths do)
}

// A management command (roster clients create) opens the file of a running server, writes and
// closes. Its closing checkpoint must not take the server's writes hostage: a TRUNCATE that
// waits (busy_timeout) for the server's readers holds the write lock all that time, 10 s, and
// the server's writes wait as long, or fail with SQLITE_BUSY.
func TestClosingASecondStoreDoesNotBlockTheFirstsWrites(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	serve, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer serve.Close()
	env := roster.Environment{ID: "env_1", Name: "default", CursorKey: make([]byte, 32), CreateTime: time.Now()}
	if err := serve.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	// A reader of the server's (a long listing, a backup) is inside its read transaction.
	reader, err := sql.Open("sqlite", "file:"+filepath.Join(dir, FileName)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	rtx, err := reader.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer rtx.Rollback()
	var n int
	if err := rtx.QueryRow(`SELECT COUNT(*) FROM organizations`).Scan(&n); err != nil {
		t.Fatal(err)
	}

	cli, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.CreateOrganization(ctx, roster.NewOrganization{DisplayName: "From the CLI"}.Build("org_1", env.ID, time.Now())); err != nil {
		t.Fatal(err)
	}
	wrote := make(chan error, 1)
	go func() {
		time.Sleep(20 * time.Millisecond) // while the command closes
		wrote <- serve.CreateOrganization(ctx, roster.NewOrganization{DisplayName: "From the server"}.Build("org_2", env.ID, time.Now()))
	}()
	start := time.Now()
	if err := cli.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the command took %v to close", d)
	}
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatalf("the server's write: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the server's write waited for the command's checkpoint")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the server's write ended %v after the command began to close", d)
	}
}
