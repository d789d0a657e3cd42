package main

import (
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/store/sqlite"
)

// The soft memory limit comes from --memory-limit, else GOMEMLIMIT, else the budget: the
// caches' bounds (the user cache on SQLite only) plus the working allowance.
func TestMemoryLimitFromTheBudget(t *testing.T) {
	parse := func(args ...string) config {
		t.Helper()
		var c config
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.serveFlags(fs)
		if err := parseFlags(fs, args); err != nil {
			t.Fatal(err)
		}
		if err := c.check(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	t.Setenv("GOMEMLIMIT", "")
	for _, tc := range []struct {
		args []string
		want int64
		from string
		memo int
	}{
		// The defaults: 72 MiB on SQLite (52 + the 16 MiB user cache + the 4 MiB memo), 64 MiB on
		// PostgreSQL (60 + the memo), as docs/memory.md's budget table says.
		{nil, 72 << 20, "budget", api.DefaultJSONMemoBytes},
		{[]string{"--database-url", "postgres://x/y"}, 64 << 20, "budget", api.DefaultJSONMemoBytes},
		{[]string{"--rest-json-memo-bytes", "0", "--user-cache-bytes", "8MiB"}, sqliteWorkingHeapBytes + 8<<20, "budget", -1},
		{[]string{"--rest-json-memo-bytes", "2MiB"}, sqliteWorkingHeapBytes + sqlite.DefaultUserCacheBytes + 2<<20, "budget", 2 << 20},
		{[]string{"--memory-limit", "200MiB"}, 200 << 20, "--memory-limit", api.DefaultJSONMemoBytes},
	} {
		c := parse(tc.args...)
		if got, from := c.memoryLimit(); got != tc.want || from != tc.from {
			t.Errorf("%v: limit %d from %s, want %d from %s", tc.args, got, from, tc.want, tc.from)
		}
		if got := c.apiMemoBytes(); got != tc.memo {
			t.Errorf("%v: memo %d, want %d", tc.args, got, tc.memo)
		}
	}
	t.Setenv("GOMEMLIMIT", "300MiB")
	if c := parse(); func() string { _, from := c.memoryLimit(); return from }() != "GOMEMLIMIT" {
		t.Errorf("GOMEMLIMIT set: the limit does not come from it")
	}
	t.Setenv("ROSTER_REST_JSON_MEMO_BYTES", "2MiB")
	t.Setenv("ROSTER_MEMORY_LIMIT", "100MiB")
	if c := parse(); c.apiMemoBytes() != 2<<20 || c.memoryLimitBytes != 100<<20 {
		t.Errorf("environment twins: memo %d, limit %d", c.apiMemoBytes(), c.memoryLimitBytes)
	}
	if c := parse(); func() string { _, from := c.memoryLimit(); return from }() != "--memory-limit" {
		t.Errorf("--memory-limit (env) does not win over GOMEMLIMIT")
	}
	var c config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.serveFlags(fs)
	if err := parseFlags(fs, []string{"--rest-json-memo-bytes", "lots"}); err == nil || !strings.Contains(err.Error(), "rest-json-memo-bytes") {
		t.Errorf("--rest-json-memo-bytes lots: %v", err)
	}
}
