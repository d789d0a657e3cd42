package main

import (
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/rosterhq/roster/store/sqlite"
)

// --sqlite-wal-limit-mb (ROSTER_SQLITE_WAL_LIMIT_MB) sets the WAL size past which SQLite's
// checkpointer empties the WAL (docs/storage.md); it is a positive number of MiB.
func TestSQLiteWALLimitFlag(t *testing.T) {
	parse := func(args ...string) (config, error) {
		var c config
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.serveFlags(fs)
		return c, parseFlags(fs, args)
	}
	c, err := parse()
	if err != nil || c.sqliteWALLimit.bytes() != sqlite.DefaultWALLimit {
		t.Fatalf("default: %d bytes, %v; want %d", c.sqliteWALLimit.bytes(), err, sqlite.DefaultWALLimit)
	}
	if c, err := parse("--sqlite-wal-limit-mb", "16"); err != nil || c.sqliteWALLimit.bytes() != 16<<20 {
		t.Fatalf("16: %d bytes, %v", c.sqliteWALLimit.bytes(), err)
	}
	for _, v := range []string{"0", "-1", "lots", "1e3", "9999999999999"} {
		if _, err := parse("--sqlite-wal-limit-mb", v); err == nil || !strings.Contains(err.Error(), "sqlite-wal-limit-mb") {
			t.Errorf("--sqlite-wal-limit-mb %s: %v, want an error naming the flag", v, err)
		}
	}
	t.Setenv("ROSTER_SQLITE_WAL_LIMIT_MB", "8")
	if c, err := parse(); err != nil || c.sqliteWALLimit.bytes() != 8<<20 {
		t.Fatalf("ROSTER_SQLITE_WAL_LIMIT_MB=8: %d bytes, %v", c.sqliteWALLimit.bytes(), err)
	}
	t.Setenv("ROSTER_SQLITE_WAL_LIMIT_MB", "0")
	if _, err := parse(); err == nil || !strings.Contains(err.Error(), "ROSTER_SQLITE_WAL_LIMIT_MB") {
		t.Fatalf("ROSTER_SQLITE_WAL_LIMIT_MB=0: %v, want an error naming it", err)
	}
}
