package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxCachedStatements bounds the statement cache; queries beyond it run unprepared. Roster's
// queries are fixed strings, with IN lists of up to a page's size, so a few hundred suffice.
const maxCachedStatements = 1024

// stmtCache keeps prepared statements of one pool, so that SQLite parses and plans each query
// once per connection rather than on every call (about three times faster for a point read).
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db, m: map[string]*sql.Stmt{}} }

// stmt returns the prepared statement of query, or nil when the cache is full or the
// statement does not prepare (the caller then runs the query directly and sees the error).
func (c *stmtCache) stmt(ctx context.Context, query string) *sql.Stmt {
	c.mu.Lock()
	st, ok := c.m[query]
	full := len(c.m) >= maxCachedStatements
	c.mu.Unlock()
	if ok {
		return st
	}
	if full {
		return nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[query]; ok { // another caller prepared it meanwhile
		st.Close()
		return old
	}
	c.m[query] = st
	return st
}

// lookup returns the prepared statement of query, or nil; it never prepares.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[query]
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = map[string]*sql.Stmt{}
}

// conn runs queries on a pool through the statement cache. around, if set, runs before every
// ExecContext, and what it returns after it.
type conn struct {
	c      *stmtCache
	around func() (after func())
}

func (q conn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := q.c.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.c.db.QueryContext(ctx, query, args...)
}

func (q conn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.c.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.c.db.QueryRowContext(ctx, query, args...)
}

func (q conn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if q.around != nil {
		defer q.around()()
	}
	if st := q.c.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.c.db.ExecContext(ctx, query, args...)
}

// txConn runs queries in a transaction. On its own it runs them unprepared: preparing a
// statement on the pool while the transaction holds SQLite's only write connection would wait
// forever. In a group commit (batch set), it runs the writer's prepared statements, and it
// ignores the end of the request's context: SQLite interrupts a statement whose context ends,
// and an interrupted write rolls back the whole transaction, the other requests' work too. The
// writer checks the context after the request's work instead.
type txConn struct {
	// tx is what the statements run on, through txConn's methods only: they send a pending
	// BEGIN (begin) first, and a statement sent on tx directly could run outside the
	// transaction.
	tx    Tx
	batch *groupCommit
	// events holds the rows of the events a write transaction records (recordEvents),
	// inserted just before its commit (flushEvents): on SQLite, all the requests of a group
	// commit in a few statements, outside any request's savepoint. Nil in a read-only
	// transaction.
	events *eventBuffer
	// begin, in a pipelined write transaction (PipelinedCommitter), is its BEGIN until it is
	// sent: with the first statement where that is queryRowScan's, else alone before it.
	begin *pendingBegin
}

// pendingBegin is the BEGIN of a pipelined write transaction, sent with or before its first
// statement rather than in a round trip of its own when the transaction starts.
type pendingBegin struct {
	pc   PipelinedCommitter
	conn *sql.Conn
	sent bool
	pre  []Statement // to run right after BEGIN, before the first statement (txConn.first)
	err  error       // a failure of BEGIN or of what went with it: the transaction's error whatever fn made of it
}

// send sends BEGIN, and the statements queued to follow it, if not sent yet.
func (b *pendingBegin) send(ctx context.Context) error {
	if b == nil || b.sent {
		return b.failed()
	}
	b.sent = true
	if _, b.err = b.conn.ExecContext(ctx, `BEGIN`); b.err != nil {
		return b.err
	}
	for _, st := range b.pre {
		if _, b.err = b.conn.ExecContext(ctx, st.Query, st.Args...); b.err != nil {
			return b.err
		}
	}
	return nil
}

// Statement is a query and its arguments.
type Statement struct {
	Query string
	Args  []any
}

// first runs a statement whose result is not read (an advisory lock's) as the transaction's
// first: in a pipelined write transaction whose BEGIN is still pending, it is queued to go
// with the BEGIN (and the first query, queryRowScan's), no round trip of its own.
func (q txConn) first(ctx context.Context, query string, args ...any) error {
	if q.queueFirst(query, args...) {
		return nil
	}
	_, err := q.ExecContext(ctx, query, args...)
	return err
}

// queueFirst queues a statement to go with the pending BEGIN of a pipelined write transaction
// and reports whether it could (false: no BEGIN pending, nothing queued).
func (q txConn) queueFirst(query string, args ...any) bool {
	b := q.begin
	if b == nil || b.sent {
		return false
	}
	b.pre = append(b.pre, Statement{query, args})
	return true
}

func (b *pendingBegin) failed() error {
	if b == nil {
		return nil
	}
	return b.err
}

// queryRowScan runs a query that answers at most one row and scans it into dest
// (sql.ErrNoRows when it answers none). As a pipelined write transaction's first statement
// it goes with the BEGIN, in one round trip (PipelinedCommitter.BeginWith): the statements
// that start most writes (lockOrganization, lockDirectoryGroup) use it.
func (q txConn) queryRowScan(ctx context.Context, query string, args []any, dest ...any) error {
	if b := q.begin; b != nil && !b.sent {
		b.sent = true
		err := b.pc.BeginWith(ctx, b.conn, b.pre, query, args, dest)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			b.err = err // the transaction is aborted: its error, whatever the caller makes of it
		}
		return err
	}
	return q.QueryRowContext(ctx, query, args...).Scan(dest...)
}

func (q txConn) prepare(ctx context.Context, query string) (context.Context, *sql.Stmt) {
	if q.batch == nil {
		return ctx, nil
	}
	ctx = context.WithoutCancel(ctx)
	return ctx, q.batch.prepared(ctx, q.tx.(*sql.Tx), query) // a group commit's is a sql.Tx
}

func (q txConn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := q.begin.send(ctx); err != nil {
		return nil, err
	}
	ctx, st := q.prepare(ctx, query)
	if st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.tx.QueryContext(ctx, query, args...)
}

func (q txConn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if err := q.begin.send(ctx); err != nil {
		// never run outside the transaction: a canceled context makes the row's error
		// (the runner returns BEGIN's own)
		done, cancel := context.WithCancel(ctx)
		cancel()
		return q.tx.QueryRowContext(done, query, args...)
	}
	ctx, st := q.prepare(ctx, query)
	if st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.tx.QueryRowContext(ctx, query, args...)
}

func (q txConn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := q.begin.send(ctx); err != nil {
		return nil, err
	}
	ctx, st := q.prepare(ctx, query)
	if st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.tx.ExecContext(ctx, query, args...)
}

// Tx is what a write transaction's statements run on: database/sql's Tx, or the connection
// of a transaction the store began itself (PipelinedCommitter).
type Tx interface {
	execQuerier
}

// execQuerier is what the store's queries run on: a pool or a transaction.
type execQuerier interface {
	querier
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}
