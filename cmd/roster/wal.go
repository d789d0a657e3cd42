package main

import (
	"fmt"
	"strconv"

	"github.com/rosterhq/roster/store/sqlite"
)

// walLimitMB is --sqlite-wal-limit-mb: the SQLite WAL size, in MiB, past which the
// checkpointer empties the WAL even if writes wait for it a moment (docs/storage.md). Zero (a
// config made without flags) means the default.
type walLimitMB int64

// maxWALLimitMB keeps the limit's bytes well inside an int64 (1 TiB).
const maxWALLimitMB = 1 << 20

func (w *walLimitMB) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > maxWALLimitMB {
		return fmt.Errorf("want a whole number of MiB from 1 to %d, not %q", maxWALLimitMB, s)
	}
	*w = walLimitMB(n)
	return nil
}

func (w *walLimitMB) String() string {
	if w == nil || *w == 0 {
		return strconv.Itoa(sqlite.DefaultWALLimit >> 20)
	}
	return strconv.FormatInt(int64(*w), 10)
}

// bytes is the limit for sqlite.WithWALLimit.
func (w walLimitMB) bytes() int64 {
	if w == 0 {
		return sqlite.DefaultWALLimit
	}
	return int64(w) << 20
}
