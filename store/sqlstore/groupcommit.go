package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// maxBatch bounds how many write transactions share one database transaction, and so how
// long the last of them waits for its commit.
const maxBatch = 128

// errClosed answers writes that arrive after Close.
var errClosed = errors.New("sqlstore: the store is closed")

// groupCommit runs the write transactions of a database with one writer (SQLite) on one
// goroutine, and commits those that queued up meanwhile together: one BEGIN and one COMMIT per
// batch instead of per request, each request inside its own SAVEPOINT. A request that fails
// rolls back to its savepoint and the others still commit; every caller is answered only after
// the COMMIT (or with its error). Requests run one after another, so uniqueness is decided as
// with one transaction each. Owning the only write connection also lets the writer run its
// statements prepared.
type groupCommit struct {
	db      *sql.DB
	stmts   *stmtCache // prepared on db, whose one connection the writer uses
	dialect Dialect    // its BeforeCommit statements end each batch
	// want holds the queries the current batch ran unprepared; the writer prepares them after
	// the batch, when the connection is free. Only the writer goroutine touches it.
	want map[string]bool
	reqs chan *writeReq
	// events holds the batch's events until its commit; only the writer goroutine touches it.
	events *eventBuffer
	// after, if set, runs on the writer goroutine after each batch, once its callers have
	// their answers and before the next batch begins (SQLite: bound the WAL, checkpoint.go).
	after atomic.Pointer[func()]
	// batches and writes count the batches run and the requests they held (Store.WriteBatches).
	batches, writes atomic.Uint64
	quit            chan struct{}
	stop            sync.Once
	done            chan struct{}
}

type writeReq struct {
	ctx      context.Context
	fn       func(txConn) error
	answer   chan error // buffered: the writer never waits for a caller
	panicked any
}

func startGroupCommit(db *sql.DB, stmts *stmtCache, d Dialect, events *eventBuffer) *groupCommit {
	g := &groupCommit{db: db, stmts: stmts, dialect: d, events: events, want: map[string]bool{}, reqs: make(chan *writeReq),
		quit: make(chan struct{}), done: make(chan struct{})}
	go g.loop()
	return g
}

// run runs fn in the next batch and returns once its outcome is committed or rolled back.
func (g *groupCommit) run(ctx context.Context, fn func(txConn) error) error {
	r := &writeReq{ctx: ctx, fn: fn, answer: make(chan error, 1)}
	select {
	case g.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-g.done:
		return errClosed
	}
	// Wait even if ctx ends now: the work may already be part of a batch that commits.
	err := <-r.answer
	if r.panicked != nil {
		panic(r.panicked)
	}
	return err
}

func (g *groupCommit) close() {
	g.stop.Do(func() { close(g.quit) })
	<-g.done
}

func (g *groupCommit) loop() {
	defer close(g.done)
	batch := make([]*writeReq, 0, maxBatch)
	for {
		select {
		case r := <-g.reqs:
			batch = append(batch[:0], r)
		case <-g.quit:
			return
		}
		batch = g.fill(batch)
		g.commit(batch)
		g.batches.Add(1)
		g.writes.Add(uint64(len(batch)))
		clear(batch)
		for q := range g.want {
			g.stmts.stmt(context.Background(), q)
		}
		clear(g.want)
		if f := g.after.Load(); f != nil {
			(*f)()
		}
	}
}

// fill adds to batch the requests that are queued, and those that the goroutines ready to run
// are about to queue; it never waits for more.
//
// Before taking them it yields the processor, and again for as long as that brought new
// requests. A request's send hands the writer the processor next (Go runs a goroutine woken
// by a channel before the others that are ready), so without the yield, on one core (the
// benchmark pins the server to one), the writer began a batch with one request while the
// other clients' handlers, already past their reads, had not yet reached the queue: 16 clients
// made batches of 1.1 requests on average, and each create paid its own commit, search-index
// flush and WAL pages. With the yield the handlers that are ready queue first. A yield with
// nothing else ready returns at once, so one client alone waits for nothing.
func (g *groupCommit) fill(batch []*writeReq) []*writeReq {
	for len(batch) < maxBatch {
		n := len(batch)
		runtime.Gosched()
	take:
		for len(batch) < maxBatch {
			select {
			case r := <-g.reqs:
				batch = append(batch, r)
			default:
				break take
			}
		}
		if len(batch) == n {
			break
		}
	}
	return batch
}

// commit runs one batch in one transaction.
func (g *groupCommit) commit(batch []*writeReq) {
	// The transaction and the savepoint statements run without any request's context: a
	// request that goes away must not roll back the others' work.
	ctx := context.Background()
	tx, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		for _, r := range batch {
			r.answer <- err
		}
		return
	}
	// The savepoint statements run prepared, like the requests' own.
	ctl := txConn{tx: tx, batch: g, events: g.events}
	g.events.truncate(0) // an aborted batch may have left its events
	ok := make([]*writeReq, 0, len(batch))
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.answer <- err
			continue
		}
		mark := g.events.len()
		if _, err := ctl.ExecContext(ctx, `SAVEPOINT request`); err != nil {
			g.abort(tx, append(ok, batch[i:]...), err)
			return
		}
		err := g.call(r, ctl)
		if err == nil {
			err = r.ctx.Err() // not committed, so the caller's "canceled" stays true
		}
		if err != nil {
			if _, rerr := ctl.ExecContext(ctx, `ROLLBACK TO request`); rerr != nil {
				r.answer <- err
				g.abort(tx, append(ok, batch[i+1:]...), rerr)
				return
			}
		}
		if _, rerr := ctl.ExecContext(ctx, `RELEASE request`); rerr != nil {
			if err != nil {
				r.answer <- err
			} else {
				ok = append(ok, r)
			}
			g.abort(tx, append(ok, batch[i+1:]...), rerr)
			return
		}
		if err != nil {
			g.events.truncate(mark) // rolled back with the request's savepoint
			r.answer <- err
			continue
		}
		ok = append(ok, r)
	}
	if len(ok) > 0 {
		if err := flushEvents(ctx, ctl); err != nil {
			g.abort(tx, ok, err)
			return
		}
		if err := beforeCommit(ctx, ctl, g.dialect); err != nil {
			g.abort(tx, ok, err)
			return
		}
	}
	err = tx.Commit()
	for _, r := range ok {
		r.answer <- err
	}
}

// abort ends a batch whose transaction broke: the requests not yet answered all fail.
func (g *groupCommit) abort(tx *sql.Tx, rest []*writeReq, cause error) {
	tx.Rollback()
	err := fmt.Errorf("write batch rolled back: %w", cause)
	for _, r := range rest {
		r.answer <- err
	}
}

// call runs a request's work; a panic is handed back to the request's own goroutine.
func (g *groupCommit) call(r *writeReq, tx txConn) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.panicked = p
			err = fmt.Errorf("panic in a write transaction: %v", p)
		}
	}()
	return r.fn(tx)
}

// prepared returns query's statement prepared on the write connection, bound to tx, or nil
// (then it is prepared after this batch).
func (g *groupCommit) prepared(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	if st := g.stmts.lookup(query); st != nil {
		return tx.StmtContext(ctx, st)
	}
	g.want[query] = true
	return nil
}
