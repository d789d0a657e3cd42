package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"
)

// checkpointEvery is how often the checkpointer copies the WAL back into the database file.
const checkpointEvery = 250 * time.Millisecond

// checkpointer copies committed pages from the WAL into the database file on its own
// connection, so that the writer never does: left to SQLite, the commit that fills the WAL past
// 1,000 pages checkpoints (and waits for the disk) while every write queued behind it waits
// too. A PASSIVE checkpoint never blocks the writer or readers; a page written by many commits
// between two checkpoints is copied once.
type checkpointer struct {
	db     *sql.DB
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once
	err    error
}

func startCheckpointer(dsn string, every time.Duration) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	c := &checkpointer{db: db, stop: make(chan struct{}), done: make(chan struct{})}
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
			_, _ = c.db.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`)
		}
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
