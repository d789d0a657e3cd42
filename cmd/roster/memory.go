package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/rosterhq/roster/api"
)

// Memory budget (docs/memory.md): each cache is bounded in bytes by a setting, and the Go
// runtime gets a soft memory limit made of those bounds and a working allowance, so that the
// garbage collector works harder before the process grows past them, instead of letting the
// heap grow to GOGC's multiple of whatever the caches hold.

// workingHeapBytes is the Go memory that a serving process needs beside its caches: requests
// in flight and their garbage, HTTP/2 and connection buffers, the pools, the runtime itself.
// The benchmark's 16 clients fit in it with room to spare (docs/memory.md). It took the 12 MiB
// the REST JSON memo gave up when users left it (16 MiB → 4 MiB), so the limit stayed the same.
//
// On SQLite it is 8 MiB smaller (sqliteWorkingHeapBytes): SQLite's page caches, statements and
// allocator live in the same process, outside the Go heap where the limit cannot see them, and
// with 60 MiB the benchmark's rows at 100k users peaked at 145–147 MiB of RSS, over the
// 150 MB (143.1 MiB) goal (bench/README.md, sixth session). 52 MiB took 7 MiB off every row
// and 1–4% off the pages of 100 users, the rows that make the most garbage.
const (
	workingHeapBytes       = 60 << 20
	sqliteWorkingHeapBytes = 52 << 20
)

// memoryLimit returns the soft memory limit that serve sets, and where it comes from:
// --memory-limit if set, else GOMEMLIMIT (the runtime has read it: nothing to set), else the
// budget: the user cache (SQLite only), the REST JSON memo and the working allowance
// (workingHeapBytes, sqliteWorkingHeapBytes on SQLite).
func (c *config) memoryLimit() (limit int64, from string) {
	if c.memoryLimitBytes > 0 {
		return int64(c.memoryLimitBytes), "--memory-limit"
	}
	if v, ok := os.LookupEnv("GOMEMLIMIT"); ok && v != "" {
		return debug.SetMemoryLimit(-1), "GOMEMLIMIT"
	}
	working := int64(workingHeapBytes)
	if c.databaseURL == "" {
		working = sqliteWorkingHeapBytes + int64(c.userCacheBytes)
	}
	return working + int64(c.memoBytes()), "budget"
}

// setMemoryLimit sets the soft memory limit (memoryLimit) and says so.
func (c *config) setMemoryLimit() string {
	limit, from := c.memoryLimit()
	if from != "GOMEMLIMIT" {
		debug.SetMemoryLimit(limit)
	}
	b := byteSize(limit)
	return fmt.Sprintf("%s (%s)", b.String(), from)
}

// memoBytes is api.Config.JSONMemoBytes: --rest-json-memo-bytes 0 keeps no memo.
func (c *config) memoBytes() int {
	if c.restJSONMemoBytes == 0 {
		return 0
	}
	return int(c.restJSONMemoBytes)
}

// apiMemoBytes is the value api.Config takes: negative for no memo.
func (c *config) apiMemoBytes() int {
	if c.restJSONMemoBytes == 0 {
		return -1
	}
	return int(c.restJSONMemoBytes)
}

// defaultJSONMemoBytes is --rest-json-memo-bytes's default.
const defaultJSONMemoBytes = api.DefaultJSONMemoBytes
