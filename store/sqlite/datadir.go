package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The data directory holds the database (every user, the sealed signing keys) and, by
// default, the encryption key: it is its owner's alone (docs/operations.md).

// PrepareDataDir creates dir with mode 0700 when it is missing. An existing dir that the group
// or other users may enter or read is refused, unless allowOpen, with a message that says how
// to close it, as PostgreSQL does for its own data directory.
func PrepareDataDir(dir string, allowOpen bool) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return createDataDir(dir)
	}
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("data directory %s is not a directory", dir)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && !allowOpen {
		return fmt.Errorf("data directory %s has mode %#o: other users could read the database and its signing keys. "+
			"Run `chmod 700 %s`, or start with --allow-open-data-dir (ROSTER_ALLOW_OPEN_DATA_DIR=true) to accept it", dir, perm, dir)
	}
	return nil
}

// createDataDir creates dir, when missing, with mode 0700 whatever the umask.
func createDataDir(dir string) error {
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	return os.Chmod(dir, 0o700)
}

// private creates path with mode 0600 when it is missing, and sets an existing one to 0600:
// SQLite creates its files 0644 less the umask, and its -wal and -shm files take the
// database file's mode.
func private(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Chmod(0o600)
}

// privateIfExists is private for a file SQLite made (-wal, -shm), if it is there.
func privateIfExists(path string) error {
	err := os.Chmod(path, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// ErrInUse is what Lock's error is (errors.Is) when a roster serve holds the data directory.
var ErrInUse = errors.New("the data directory is in use by roster serve")

type inUse struct{ error }

func (inUse) Is(target error) bool { return target == ErrInUse }

// LockFileName is the file in the data directory that a running `roster serve` holds locked.
const LockFileName = "serve.lock"

// Lock takes the data directory for one `roster serve`: the user cache of a server is only
// right while it is the only server writing the database. It fails at once, naming the
// process that holds the lock, when another server runs on dir. The lock is released by
// unlock, or by the process ending however it ends. Commands that do not serve (roster
// clients, roster migrate) take no lock.
func Lock(dir string) (unlock func() error, err error) {
	path := filepath.Join(dir, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			holder := "another process"
			if b, err := os.ReadFile(path); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
					holder = "process " + strconv.Itoa(pid)
				}
			}
			return nil, inUse{fmt.Errorf("data directory %s is in use by another roster serve (%s); "+
				"one roster serve per SQLite data directory: stop it first, or give this one another --data-dir", dir, holder)}
		}
		return nil, fmt.Errorf("lock data directory %s: %w", dir, err)
	}
	// Only the holder writes its PID, so that a refused server does not overwrite it.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() error {
		_ = f.Truncate(0)
		return f.Close() // closing the file releases the lock
	}, nil
}
