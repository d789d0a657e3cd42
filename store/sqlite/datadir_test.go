package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rosterhq/roster/store/sqlite"
)

// The database files hold the signing keys and every user: whatever the umask, only their
// owner may read them, and a data directory Roster creates is its owner's alone.
func TestDataFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022) // the usual umask, under which SQLite makes files 0644
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	s, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkMode(t, dir, 0o700)
	for _, name := range []string{sqlite.FileName, sqlite.FileName + "-wal", sqlite.FileName + "-shm"} {
		checkMode(t, filepath.Join(dir, name), 0o600)
	}
}

// A database that an older Roster created readable by all is made private when it opens.
func TestOpenTightensExistingFiles(t *testing.T) {
	dir := t.TempDir()
	s, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	path := filepath.Join(dir, sqlite.FileName)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkMode(t, path, 0o600)
}

// An existing data directory that others may read is refused, with the chmod to run and the
// setting that accepts it; with the setting it opens. A missing one is created 0700.
func TestOpenDataDirRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	err := sqlite.PrepareDataDir(dir, false)
	if err == nil {
		t.Fatal("a world-readable data directory was accepted")
	}
	for _, want := range []string{"chmod 700 " + dir, "--allow-open-data-dir", "ROSTER_ALLOW_OPEN_DATA_DIR"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if err := sqlite.PrepareDataDir(dir, true); err != nil {
		t.Fatalf("allowed: %v", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := sqlite.PrepareDataDir(dir, false); err != nil {
		t.Fatalf("after chmod 700: %v", err)
	}
	missing := filepath.Join(dir, "a", "b")
	if err := sqlite.PrepareDataDir(missing, false); err != nil {
		t.Fatal(err)
	}
	checkMode(t, missing, 0o700)
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %#o, want %#o", filepath.Base(path), got, want)
	}
}
