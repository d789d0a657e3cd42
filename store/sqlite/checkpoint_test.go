package sqlite

import (
	"context"
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
