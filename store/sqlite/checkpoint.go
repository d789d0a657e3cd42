package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// checkpointEvery is how often the checkpointer copies the WAL back into the database file.
const checkpointEvery = 250 * time.Millisecond

// checkpointerCacheKiB is the page cache of the checkpointer's own connection: a checkpoint
// copies pages from the WAL to the database file without keeping them.
const checkpointerCacheKiB = 512

// restartWait bounds how long a checkpoint that restarts the WAL waits, first for the write
// lock and then, holding it, for the readers still using the WAL: writes queue behind it
// meanwhile. Reads take milliseconds, so a few suffice; a restart that runs out of time is
// tried again at the next tick.
const restartWait = 100 * time.Millisecond

// restartPoll is the pause between two tries of a restart that waits for readers.
const restartPoll = 200 * time.Microsecond

// retryFirst and retryMost bound the pause after a restart that readers held up, before the
// writer tries again (checkpointer.retryAt).
const (
	retryFirst = 5 * time.Millisecond
	retryMost  = 250 * time.Millisecond
)

// checkpointer copies committed pages from the WAL into the database file on its own
// connection, so that the writer never does: left to SQLite, the commit that fills the WAL past
// 1,000 pages checkpoints (and waits for the disk) while every write queued behind it waits
// too. A PASSIVE checkpoint never blocks the writer or readers; a page written by many commits
// between two checkpoints is copied once.
//
// PASSIVE alone does not bound the WAL. SQLite appends to the WAL until a writer finds it
// wholly copied and no reader using it; only then does the next commit start again at its
// beginning. Under writes that never pause beside readers that are always reading (a busy
// server), one of the pool's read connections is nearly always inside a read that began before
// the last commit, so the WAL was never restarted and grew for as long as the load lasted (3.5
// GB beside a 108 MB database). So once the WAL file passes limit, the checkpointer runs a
// RESTART checkpoint instead, on the writer's connection, between two write batches (it queues
// for that connection like a batch): being then the only writer, it has the write lock at once,
// copies the rest, waits for the reads of older snapshots to finish (reads that begin
// meanwhile do not hold it up) and empties the WAL. It waits at most restartWait, then lets the writes go on
// and tries again at the next tick. On its own connection, a restart had to win the write lock
// from a writer that takes it again as soon as a batch ends, and seldom did.
type checkpointer struct {
	db      *sql.DB
	writer  *sql.DB // the store's one write connection
	walPath string
	limit   int64
	// retryAt (Unix nanoseconds) is when afterBatch may try a restart again after one that
	// readers held up (fails in a row): until then the writes go on and the WAL grows past the
	// limit. The pause doubles from retryFirst up to retryMost, so that a read that outlasts
	// restartWait holds the writes back a few times, not after every batch.
	retryAt atomic.Int64
	fails   atomic.Int32
	// kick asks the loop for a PASSIVE checkpoint now (afterBatch, once the WAL has passed the
	// limit); copied says one has run since, so that the restart that follows has only the
	// writes made meanwhile left to copy (restartAfterCopy).
	kick   chan struct{}
	copied atomic.Bool
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once
	err    error
}

// startCheckpointer runs checkpoints every interval on its own connection to dsn; writer is
// the store's write pool (one connection, busy_timeout writerBusy).
func startCheckpointer(dsn string, writer *sql.DB, walPath string, limit int64, every time.Duration) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	c := &checkpointer{db: db, writer: writer, walPath: walPath, limit: limit, kick: make(chan struct{}, 1), stop: make(chan struct{}),
		done: make(chan struct{})}
	go c.loop(every)
	return c, nil
}

func (c *checkpointer) loop(every time.Duration) {
	defer close(c.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			// A failed checkpoint is retried at the next tick; the WAL only grows meanwhile.
			c.checkpoint(context.Background())
		case <-c.kick:
			c.passive(context.Background())
			c.copied.Store(true)
		}
	}
}

// checkpoint copies what it can of the WAL (PASSIVE) and, once the WAL file has passed the
// limit, empties it (restart).
func (c *checkpointer) checkpoint(ctx context.Context) {
	c.passive(ctx)
	if c.over() {
		c.restartOrRetryLater(ctx)
	}
}

// passive copies what it can of the WAL into the database file without blocking the writer
// or the readers.
func (c *checkpointer) passive(ctx context.Context) {
	_, _ = c.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`)
}

// over tells whether the WAL file has passed the limit.
func (c *checkpointer) over() bool { return c.walSize() > c.limit }

// walSize is the WAL file's size, 0 when it cannot be read.
func (c *checkpointer) walSize() int64 {
	fi, err := os.Stat(c.walPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// afterBatch runs on the group-commit writer after each batch (sqlstore.Store.AfterWriteBatch):
// once the WAL has passed the limit it is emptied there and then, before the next batch
// writes, instead of at the next tick. Between two ticks of writes at full speed the WAL grew
// by tens of MiB past the limit (61.9 MB against 32 MiB in a quick bench run). The check is one
// stat of the WAL file per batch.
//
// The restart holds the writes back while it copies what the last PASSIVE checkpoint has not
// and syncs the database file: up to a tick's worth of writes, 30-110 ms under SCIM PATCHes at
// 16 clients (2,000 writes/s, some 30 KB of WAL each), twice a second, which was their p99. So
// the writer first asks the checkpointer for a PASSIVE checkpoint, beside the writes, and
// restarts after the first batch that ends once it is done: the WAL passes the limit by the
// writes of one PASSIVE checkpoint (a quarter of the limit at most), and the restart copies
// only those.
func (c *checkpointer) afterBatch() {
	if time.Now().UnixNano() < c.retryAt.Load() {
		return
	}
	size := c.walSize()
	if size <= c.limit {
		return
	}
	// A PASSIVE checkpoint slower than the writes (a loaded machine) would let the WAL grow
	// for as long as it lasts: past a quarter of the limit more, the restart does not wait.
	if !c.copied.Load() && size <= c.limit+c.limit/4 {
		select {
		case c.kick <- struct{}{}:
		default: // asked already
		}
		return
	}
	c.restartOrRetryLater(context.Background())
}

// restartOrRetryLater restarts the WAL; if readers held it up past restartWait, afterBatch
// leaves the WAL alone for a pause that doubles with each failure in a row, from retryFirst
// to retryMost (the ticker still tries at each tick).
func (c *checkpointer) restartOrRetryLater(ctx context.Context) {
	c.copied.Store(false) // what a later restart finds was written after this one
	if done, err := c.restart(ctx); err == nil && done {
		c.fails.Store(0)
		return
	}
	n := min(c.fails.Add(1), 16)
	c.retryAt.Store(time.Now().Add(min(retryFirst<<(n-1), retryMost)).UnixNano())
}

// restart runs a RESTART checkpoint on the writer's connection, waiting at most restartWait
// for readers (or another process's writer). It reports whether the WAL was emptied (the
// next commit writes it from its beginning, and journal_size_limit cuts the file back to the
// limit); a busy result is no error: the WAL is emptied at a later try. Not TRUNCATE: cutting
// the file to nothing at each restart made the commits after it allocate its blocks again,
// and the restarts took longer (SCIM PATCHes at 16 clients: p99 48.7 ms against 38.5).
//
// Readers cannot hold it up for long: while it waits, reads that begin see the newest
// snapshot, which is wholly in the database file, so only the reads already running (single
// statements, milliseconds each) are waited for.
func (c *checkpointer) restart(ctx context.Context) (done bool, err error) {
	conn, err := c.writer.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer func() {
		// The connection goes back to the writes with their own busy_timeout, or not at all.
		if _, rerr := conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA busy_timeout = %d`, writerBusy.Milliseconds())); rerr != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			err = errors.Join(err, rerr)
		}
		conn.Close()
	}()
	// SQLite's own busy handler sleeps in steps of up to 100 ms; the reads waited for take
	// milliseconds, so the wait is a loop of tries that fail at once (busy_timeout 0), a short
	// sleep apart. No write commits between two tries (this holds the write connection), so
	// each try waits only for the reads that were already running at the first.
	if _, err := conn.ExecContext(ctx, `PRAGMA busy_timeout = 0`); err != nil {
		return false, err
	}
	for deadline := time.Now().Add(restartWait); ; {
		// The pragma answers (busy, frames in the WAL, frames checkpointed); busy 1: not emptied.
		var busy, logFrames, copied int
		if err := conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &logFrames, &copied); err != nil {
			return false, err
		}
		if busy == 0 {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		time.Sleep(restartPoll)
	}
}

// close stops the checkpointer and empties the WAL into the database file; closing again
// does nothing.
//
// The TRUNCATE does not wait for locks (busy_timeout 0). It holds the write lock while it waits
// for readers to leave the WAL, so when another process has the file open (roster serve, while
// a management command closes), waiting under the 10 s busy_timeout would hold that process's
// writes as long, and fail them with SQLITE_BUSY. Alone with the file, nothing is busy and the
// WAL is emptied; otherwise this copies what it can and the other process's checkpointer does
// the rest.
func (c *checkpointer) close() error {
	c.closed.Do(func() {
		close(c.stop)
		<-c.done
		c.err = errors.Join(c.truncate(context.Background()), c.db.Close())
	})
	return c.err
}

func (c *checkpointer) truncate(ctx context.Context) error {
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA busy_timeout = 0`); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}
