// Package sqlstore implements store.Store on database/sql with SQL that SQLite and PostgreSQL
// both accept. store/sqlite and store/postgres adapt their drivers to it through a Dialect.
package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rosterhq/roster"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dialect is what differs between the databases.
type Dialect interface {
	// Name is "sqlite" or "postgres": migrations named NNNN_x.<name>.sql run only there.
	Name() string
	// UserSearch returns the SQL condition that matches users (table alias u) whose email or
	// external ID contains the search text, or whose ID equals it; arg adds a query argument and
	// returns its placeholder.
	UserSearch(text string, arg func(any) string) string
	// UserSearchPage returns a query of the IDs of one page of a user search, in the page's
	// order (seq ascending, or descending for a page before Before), at most Limit of them,
	// whose first argument ($1) is the environment; or "" when ListUsers's own query, the
	// UserSearch condition ordered by seq, serves the page as well.
	UserSearchPage(p SearchPage, arg func(any) string) string
	// UserSearchCount returns a query of the number of the environment's ($1) users that a
	// search matches, or "" for the count of the UserSearch condition.
	UserSearchCount(text string, arg func(any) string) string
	// UniqueViolation reports whether err broke a unique index, and which one
	// (an index name of the migrations, e.g. "organizations_external_id_key").
	UniqueViolation(err error) (index string, ok bool)
	// LockMigrations serialises migrations between processes that start together.
	LockMigrations(ctx context.Context, tx Tx) error
	// UserAttributes is the SQL expression, for a row of users u, of that user's custom
	// attributes as the text of one JSON object ('{}' when there are none).
	UserAttributes() string
	// RowLock is the clause that locks the rows a read-modify-write transaction selects
	// (" FOR UPDATE"), or "" where one writer at a time is the rule already (SQLite).
	RowLock() string
	// ShareLock is the clause that keeps the rows a write transaction relies on from changing
	// until it ends (" FOR SHARE"), or "" where one writer at a time is the rule (SQLite).
	ShareLock() string
	// Transient classifies a database error: retry when running the whole transaction again
	// may succeed (a serialization failure or a deadlock the database broke), busy when the
	// database did not give a lock in time (lock_timeout, SQLITE_BUSY).
	Transient(err error) (retry, busy bool)
	// UserIdentities is the SQL expression, for a row of users u, of that user's provider
	// identities as the text of one JSON array, oldest first ('[]' when there are none).
	UserIdentities() string
	// BeforeCommit is the statements that every write transaction runs last, before its
	// commit (SQLite: index the users queued for search).
	BeforeCommit() []string
	// EventHorizon is the SQL condition on events' tx column that keeps a feed read to the
	// events no running transaction can still come before (docs/events.md, "The feed's
	// order"): on PostgreSQL, tx below the oldest running transaction's; "" on SQLite, where
	// writes commit one at a time in seq order.
	EventHorizon() string
	// EventsAfter is the SQL condition that keeps the events after the feed position (tx,
	// seq) given as the placeholders tx and seq, in a form that seeks events_environment to
	// that position rather than reading the environment's events from their start.
	EventsAfter(tx, seq string) string
	// EventsThrough is the condition that keeps the events at or before (tx, seq).
	EventsThrough(tx, seq string) string
}

// SearchPage is one page of a user search (store.UserQuery with Search set).
type SearchPage struct {
	Text, OrganizationID, EmailKey string
	After, Before                  int64
	Limit                          int
}

// Store is the shared SQL implementation. Reads go to read, writes and transactions to write:
// for SQLite these are a many-connection pool and a single-connection pool (one writer at a
// time, no SQLITE_BUSY); for PostgreSQL they are the same pool.
type Store struct {
	readDB  *sql.DB
	writeDB *sql.DB
	read    conn // readDB through its statement cache
	write   conn // writeDB through its statement cache; each statement drops the user cache
	// writeOther is write for statements that change nothing any user shows.
	writeOther conn
	dialect    Dialect
	batch      *groupCommit // nil: one database transaction per write (PostgreSQL)
	// fullUserColumns selects userColumns of users u and their custom attributes, so that a
	// user's own data takes one query.
	fullUserColumns string
	users           *userCache // nil unless EnableUserCache
	// pointReadsUnwatched: reads of one row by key run without their caller's cancellation
	// (UnwatchPointReads).
	pointReadsUnwatched bool
	marks               pageMarks // SCIM list pages' seek marks per directory (dirpages.go)
	notices             []string  // the last Migrate's (MigrationNotices)
	closers             []func() error
	// eventIDs numbers the events this store records; eventData renders their data
	// (SetEventDataCodec).
	eventIDs  *roster.IDGenerator
	eventData roster.EventDataCodec
}

// pg reports whether the database is PostgreSQL, for the few statements whose best form
// differs by dialect beyond what Dialect abstracts.
func (s *Store) pg() bool { return s.dialect.Name() == "postgres" }

// OnClose runs f when the store closes, after the last write and before the databases close.
func (s *Store) OnClose(f func() error) { s.closers = append(s.closers, f) }

// New wraps open databases. It does not migrate; call Migrate.
func New(read, write *sql.DB, d Dialect) *Store {
	s := &Store{readDB: read, writeDB: write, read: conn{c: newStmtCache(read)}, dialect: d,
		fullUserColumns: prefixed("u.", userColumns) + ", " + d.UserAttributes() + ", " + d.UserIdentities(),
		eventIDs:        roster.NewIDGenerator(), eventData: plainEventData{}}
	s.writeOther = s.read
	if write != read {
		s.writeOther = conn{c: newStmtCache(write)}
	}
	// A statement outside a transaction may change what users show (a cascade), unless it is
	// run on writeOther.
	s.write = s.writeOther
	s.write.around = func() func() {
		s.users.holdAll()
		return s.users.releaseAll
	}
	return s
}

// Ping checks both pools.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.readDB.PingContext(ctx); err != nil {
		return err
	}
	return s.writeDB.PingContext(ctx)
}

// Stats reports the read pool's use (the only pool on PostgreSQL).
func (s *Store) Stats() sql.DBStats { return s.readDB.Stats() }

// StartGroupCommit makes write transactions share database transactions (groupcommit.go). It
// is for a database with one writer connection (SQLite), after Migrate.
func (s *Store) StartGroupCommit() {
	if s.batch == nil {
		s.batch = startGroupCommit(s.writeDB, s.write.c, s.dialect, s.newEventBuffer(false))
	}
}

// WriteBatches reports how many group-commit batches have run and how many write transactions
// they held (both 0 without StartGroupCommit).
func (s *Store) WriteBatches() (batches, writes uint64) {
	if s.batch == nil {
		return 0, 0
	}
	return s.batch.batches.Load(), s.batch.writes.Load()
}

// AfterWriteBatch runs f on the group-commit writer after each batch has committed (or rolled
// back) and its callers have their answers, before the next batch begins: the write
// connection is free then, and writes wait for f. It needs StartGroupCommit first.
func (s *Store) AfterWriteBatch(f func()) {
	if s.batch != nil {
		s.batch.after.Store(&f)
	}
}

// Close stops the group commit and closes the prepared statements and both pools.
func (s *Store) Close() error {
	if s.batch != nil {
		s.batch.close()
	}
	var err error
	for _, f := range s.closers {
		err = errors.Join(err, f())
	}
	s.read.c.close()
	s.write.c.close()
	err = errors.Join(err, s.readDB.Close())
	if s.writeDB != s.readDB {
		err = errors.Join(err, s.writeDB.Close())
	}
	return err
}

// Migrate applies the embedded migrations that have not run yet, in one transaction that
// holds the dialect's migration lock, and returns how many it applied. The migrations are the
// SQL files of migrations/ and the steps written in Go (goMigrations), in version order.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return 0, err
	}
	type step struct {
		version, file string // file of an SQL migration
		code          *goMigration
	}
	var steps []step
	for _, name := range names {
		version := strings.TrimSuffix(strings.TrimPrefix(name, "migrations/"), ".sql")
		if base, only, ok := strings.Cut(version, "."); ok { // a migration for one database
			if only != s.dialect.Name() {
				continue
			}
			version = base
		}
		steps = append(steps, step{version: version, file: name})
	}
	for i := range goMigrations {
		steps = append(steps, step{version: goMigrations[i].version, code: &goMigrations[i]})
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].version < steps[j].version })
	applied := 0
	var notices []string
	err = s.inTx(ctx, func(tx txConn) error {
		applied, notices = 0, nil // a transaction run again counts again
		// tx, not tx.tx: txConn sends a pending BEGIN first (the lock is the transaction's)
		if err := s.dialect.LockMigrations(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_time BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		for _, st := range steps {
			version := st.version
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				continue
			}
			if st.code != nil {
				more, err := st.code.run(ctx, tx)
				if err != nil {
					return fmt.Errorf("migration %s: %w", version, err)
				}
				notices = append(notices, more...)
			} else {
				body, err := migrations.ReadFile(st.file)
				if err != nil {
					return err
				}
				for _, stmt := range splitStatements(string(body)) {
					if _, err := tx.ExecContext(ctx, stmt); err != nil {
						return fmt.Errorf("migration %s: %w\n%s", version, err, stmt)
					}
				}
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_time) VALUES ($1, $2)`, version, micros(time.Now())); err != nil {
				return err
			}
			applied++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	s.notices = notices
	return applied, nil
}

// MigrationNotices returns what the last Migrate (Open runs one) reported for the operator:
// data a migration could not convert and left as it was, with what to do about it. The
// command line logs them (serve) or prints them (migrate).
func (s *Store) MigrationNotices() []string { return slices.Clone(s.notices) }

// splitStatements splits a migration file on semicolons at line ends (a CREATE TRIGGER runs
// to its "END;"); migrations hold no semicolons inside literals.
func splitStatements(body string) []string {
	var out []string
	var cur strings.Builder
	inTrigger := false
	for _, line := range strings.Split(body, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") || trimmed == "" {
			continue
		}
		if cur.Len() == 0 && strings.HasPrefix(strings.ToUpper(trimmed), "CREATE TRIGGER") {
			inTrigger = true
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if inTrigger && strings.EqualFold(trimmed, "END;") {
			inTrigger = false
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
			continue
		}
		if !inTrigger && strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// EnableUserCache keeps users in memory between reads, up to maxBytes of them (as userSize
// estimates each one), and beside them a small fixed number of role answers and counts. Only
// a store that is the only writer of its database may enable it (SQLite; see userCache).
func (s *Store) EnableUserCache(maxBytes int) { s.users = newUserCache(maxBytes) }

// A point read is a read of one row and its few children by a unique key on the read pool
// (a user by ID, external ID or email; an organization by ID). It ends in microseconds, or in
// milliseconds for a user of very many organizations, whatever its caller does. With a context
// that can end, database/sql starts a goroutine per query to watch it (Rows.awaitDone), and the
// SQLite driver a second one to interrupt the statement. Those goroutines, scheduled ahead of
// the requests already waiting for the core, put a tail on reads over HTTP/1.1: at 16 clients
// p99 21-23 ms against 7-8 ms without them on SQLite, 49-53 ms against 13-16 ms on PostgreSQL
// (docs/storage.md, "Point reads start no goroutine").

// PointReader is a Dialect's own way of running a point read, where it has one that still
// ends with its context but starts no goroutine (PostgreSQL: pgx directly, which watches ctx
// with context.AfterFunc).
type PointReader interface {
	// PointRead runs query on one of db's connections and calls row for each row of its
	// answer, with the function that scans it (as sql.Rows.Scan does).
	PointRead(ctx context.Context, db *sql.DB, query string, args []any, row func(scan func(dest ...any) error) error) error
}

// UnwatchPointReads makes point reads run without their caller's cancellation, for a database
// in this process (SQLite), whose reads cannot hang: nothing is lost by not watching them, and
// a context that has already ended still fails them before they start. A networked database
// must keep watching (its round trip can hang, and cancelling is what ends it): see PointReader.
func (s *Store) UnwatchPointReads() { s.pointReadsUnwatched = true }

// pointRead returns the context for a point read through database/sql: ctx, or ctx without
// its cancellation after UnwatchPointReads.
func (s *Store) pointRead(ctx context.Context) context.Context {
	if !s.pointReadsUnwatched || ctx.Err() != nil {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

// pointRunner runs queries as point reads: the dialect's PointRead where it has one, else on
// the read pool with pointRead's context.
func (s *Store) pointRunner(ctx context.Context) rowsRunner {
	if r, ok := s.dialect.(PointReader); ok {
		return func(query string, args []any, row rowFunc) error { return r.PointRead(ctx, s.readDB, query, args, row) }
	}
	return queryRunner(s.pointRead(ctx), s.read)
}

// UserCacheStats reports the users in the cache and the bytes they are counted for.
func (s *Store) UserCacheStats() (users, bytes int) { return s.users.len(), s.users.size() }

// inTx runs fn in a write transaction and commits it when fn succeeds. Such a write may change
// what any user shows (an organization's name, a role), so it holds every cached user; writes
// that know better use inUserTx or inOtherTx.
func (s *Store) inTx(ctx context.Context, fn func(tx txConn) error) error {
	s.users.holdAll()
	defer s.users.releaseAll()
	return s.runTx(ctx, fn)
}

// inUserTx is inTx for a write that changes only the users it names with touch (their rows,
// attributes, identities or memberships), before it changes them.
func (s *Store) inUserTx(ctx context.Context, fn func(tx txConn, touch func(userID string)) error) error {
	var touched []string
	defer func() { s.users.release(touched...) }()
	return s.runTx(ctx, func(tx txConn) error {
		return fn(tx, func(id string) {
			s.users.hold(id)
			touched = append(touched, id)
		})
	})
}

// inOtherTx is inTx for a write that changes nothing any user shows (login requests, codes,
// tokens, replay records).
func (s *Store) inOtherTx(ctx context.Context, fn func(tx txConn) error) error {
	return s.runTx(ctx, fn)
}

// maxTxAttempts bounds how often a write transaction runs when the database aborts it as a
// deadlock victim or for a serialization failure; txBackoff is the base of the jittered
// pause between attempts.
const (
	maxTxAttempts = 5
	txBackoff     = 2 * time.Millisecond
)

// runTx runs fn in a write transaction. A transaction the database aborted so that another
// could go on (deadlock, serialization failure) is run again from the start, up to
// maxTxAttempts times: fn must be safe to re-run, with no effect outside the transaction and
// inputs it does not consume (docs/storage.md, "Lock order and retries").
func (s *Store) runTx(ctx context.Context, fn func(tx txConn) error) error {
	if s.batch != nil {
		return s.transient(s.batch.run(ctx, fn))
	}
	for attempt := 1; ; attempt++ {
		err := s.runTxOnce(ctx, fn)
		if retry, _ := s.dialect.Transient(err); !retry || attempt == maxTxAttempts || ctx.Err() != nil {
			return s.transient(err)
		}
		pause := time.Duration(rand.Int64N(int64(txBackoff) << attempt))
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return s.transient(err)
		}
	}
}

func (s *Store) runTxOnce(ctx context.Context, fn func(tx txConn) error) error {
	if pc, ok := s.dialect.(PipelinedCommitter); ok {
		return s.runPipelinedTxOnce(ctx, pc, fn)
	}
	tx, err := s.writeDB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	q := txConn{tx: tx, events: s.newEventBuffer(s.pg())}
	if err := fn(q); err != nil {
		return err
	}
	if err := flushEvents(ctx, q); err != nil {
		return err
	}
	if err := beforeCommit(ctx, q, s.dialect); err != nil {
		return err
	}
	return tx.Commit()
}

// PipelinedCommitter is a Dialect that sends a write transaction's last statement (its events'
// INSERT) and its COMMIT together, in one round trip (PostgreSQL: a pgx batch), rather than
// one after the other. database/sql's Tx cannot do that, so such a transaction runs on a
// connection of its own with BEGIN and COMMIT sent by the store.
type PipelinedCommitter interface {
	// CommitWith runs query with args (none when query is "") and then COMMIT on conn, whose
	// transaction is open. When either fails the transaction is not committed, and may be
	// still open: the caller rolls it back.
	CommitWith(ctx context.Context, conn *sql.Conn, query string, args []any) error
	// BeginWith sends BEGIN, the statements of pre (their results unread) and query (which
	// answers at most one row) on conn in one round trip, and scans the row into dest:
	// sql.ErrNoRows when it answers none. When it fails, the transaction may be open: the
	// caller rolls it back.
	BeginWith(ctx context.Context, conn *sql.Conn, pre []Statement, query string, args []any, dest []any) error
}

// runPipelinedTxOnce is runTxOnce for a PipelinedCommitter: BEGIN, sent with fn's first
// statement where it can be (txConn.queryRowScan) and else just before it, fn's statements,
// then the events' INSERT sent with COMMIT. On any failure the transaction is rolled back
// (without the request's context, which may be what ended it); a connection that cannot be
// rolled back is closed, never pooled inside a transaction (pgx's database/sql driver also
// refuses to reuse one: TestFailedCommitRollsBack).
func (s *Store) runPipelinedTxOnce(ctx context.Context, pc PipelinedCommitter, fn func(tx txConn) error) (err error) {
	conn, err := s.writeDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	begin := &pendingBegin{pc: pc, conn: conn}
	defer func() {
		if err == nil || !begin.sent {
			return // nothing sent, nothing to roll back
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		if _, rerr := conn.ExecContext(rctx, `ROLLBACK`); rerr != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn }) // not back to the pool
		}
	}()
	buf := pgEventBuffers.Get().(*eventBuffer)
	defer func() { buf.truncate(0); pgEventBuffers.Put(buf) }()
	q := txConn{tx: conn, events: buf, begin: begin}
	if err := fn(q); err != nil {
		if berr := begin.failed(); berr != nil {
			return berr
		}
		return err
	}
	if err := beforeCommit(ctx, q, s.dialect); err != nil {
		return err
	}
	query, args, err := q.events.statement()
	if err != nil {
		return err
	}
	if !begin.sent && query == "" {
		return nil // fn wrote nothing: no transaction to commit
	}
	if err := begin.send(ctx); err != nil {
		return err
	}
	return pc.CommitWith(ctx, conn, query, args)
}

// pgEventBuffers keeps PostgreSQL's event buffers between write transactions, their arenas
// grown (up to maxKeptArena), so that a write records its events without growing a new one.
var pgEventBuffers = sync.Pool{New: func() any { return newEventBuffer(true, nil) }}

// rollbackTimeout bounds the rollback of a write transaction that failed.
const rollbackTimeout = 5 * time.Second

// transient turns a lock the database did not give in time, or a transaction still aborted
// after its last attempt, into UNAVAILABLE (the caller may try again), not an internal error.
func (s *Store) transient(err error) error {
	if err == nil {
		return nil
	}
	if retry, busy := s.dialect.Transient(err); retry || busy {
		return &roster.Error{Code: roster.EUnavailable, Message: "the database is busy with conflicting writes; try again"}
	}
	return err
}

// Lock order (docs/storage.md): every write transaction takes its row locks in this order, so
// that no two can wait for each other:
//
//  0. a SCIM directory's gate (gate.go: shared by its SCIM writes, exclusive by changes of the
//     directory and its organization's delete),
//  1. the organization (share: a membership or sign-in in it; exclusive: its update/delete),
//  2. the connection (share: a sign-in through it), or the SCIM directory (key share: a write
//     of its users, groups or members; exclusive: its update and its secrets), then the directory
//     group (key share: a SCIM write of its members only; no-key update: one of its
//     attributes; exclusive: its delete, and a member write through the API, which sets its
//     update time),
//  3. user rows, several in ID order,
//  4. catalog rows the users' data refers to: attribute definitions in key order, roles and
//     permissions in ID order (share from user writes; exclusive from their own writers,
//     which then touch only rows of step 5),
//  5. the rows that hang off users and catalog rows (attribute values, memberships, their
//     roles, identities, codes).

// keyShareLock is the lock a SCIM write takes on its directory's row (and a member write on
// its group's), where the dialect locks rows: it keeps the row from being deleted or locked
// FOR UPDATE (the directory's own update) until the write commits, and unlike a share lock it
// does not hold up an UPDATE that changes no key column (the directory's last sync time).
// That matters beyond the wait itself: PostgreSQL lets a share lock join those already held
// while an UPDATE waits for them, so under a stream of overlapping writes the UPDATE starved
// until lock_timeout, and the writes queued behind it failed with it
// (TestDirectorySyncDoesNotWaitForWrites).
func (s *Store) keyShareLock() string {
	if s.dialect.ShareLock() == "" {
		return ""
	}
	return " FOR KEY SHARE"
}

// lockedOrg is an organization that a write transaction has share-locked, its name (a
// membership the write adds shows it), and whether its environment defines custom attributes.
type lockedOrg struct {
	id, name   string
	attributes bool
	// defaultRole is the organization's default member role, when lockOrganizationFor was
	// asked for it.
	defaultRole struct {
		role roster.RoleRef
		name string // the environment's default_member_role
		ok   bool   // a role has that name
	}
}

// lockOrganization share-locks an organization of the environment before a write adds rows
// under it (memberships), so that deleting the organization cannot cross the write. The same
// statement reads what the write's next statements would otherwise each read (one round trip
// apiece on PostgreSQL): the organization's name, for a membership added under the lock, and
// whether the environment has any attribute definitions, which a user's write reads only when
// there are some (lazyDefs).
func (s *Store) lockOrganization(ctx context.Context, tx txConn, environmentID, id string) (lockedOrg, error) {
	return s.lockOrganizationFor(ctx, tx, environmentID, id, false)
}

// lockOrganizationFor is lockOrganization; with defaultRole, the same statement also reads the
// organization's default member role (defaultRoleJoin, as ResolveDefaultMemberRole resolves
// it) into org.defaultRole: a create with the default role needs no round trip to read it.
func (s *Store) lockOrganizationFor(ctx context.Context, tx txConn, environmentID, id string, defaultRole bool) (lockedOrg, error) {
	org := lockedOrg{id: id}
	gate, dest := s.organizationGate(tx), []any{&org.name, &org.attributes}
	if gate != "" {
		dest = append([]any{nil}, dest...) // pgx skips a nil destination (BeginWith scans with pgx)
	}
	lock := ""
	if s.dialect.ShareLock() != "" {
		lock = " FOR SHARE OF o" // not the role's nullable side
	}
	cols, join := "", ""
	var role defaultRoleRow
	var name sql.NullString
	if defaultRole {
		cols, join = `, (SELECT e.default_member_role FROM environments e WHERE e.id = o.environment_id), `+defaultRoleColumns, defaultRoleJoin
		dest = append(append(dest, &name), role.dest()...)
	}
	err := tx.queryRowScan(ctx, `SELECT `+gate+`o.display_name, EXISTS (SELECT 1 FROM attribute_definitions d WHERE d.environment_id = o.environment_id)`+cols+`
		FROM organizations o `+join+`
		WHERE o.id = $1 AND o.environment_id = $2`+lock, []any{id, environmentID}, dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return lockedOrg{}, notFound("organization")
	}
	if roles := role.roles(); len(roles) == 1 {
		org.defaultRole.role, org.defaultRole.ok = roles[0], true
	}
	org.defaultRole.name = name.String
	return org, err
}

// lockOrganizationRow locks an organization's row with lock (ShareLock or RowLock), or says
// it is not found.
func lockOrganizationRow(ctx context.Context, tx txConn, environmentID, id, lock string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM organizations WHERE id = $1 AND environment_id = $2`+lock, id, environmentID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("organization")
	}
	return err
}

// lockRows runs a query that selects and locks rows (in the order of its ORDER BY) and
// discards what it reads.
func lockRows(ctx context.Context, tx txConn, query string, args ...any) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
	}
	rows.Close()
	return rows.Err()
}

// placeholders is the list "$from, $from+1, ..." of n query arguments, for an IN list.
// appendArg returns the arg function of a query built piece by piece: it appends v to *args
// and returns v's placeholder ($n).
func appendArg(args *[]any) func(any) string {
	return func(v any) string {
		*args = append(*args, v)
		return fmt.Sprintf("$%d", len(*args))
	}
}

func placeholders(from, n int) string {
	marks := make([]string, n)
	for i := range marks {
		marks[i] = fmt.Sprintf("$%d", from+i)
	}
	return strings.Join(marks, ", ")
}

// beforeCommit runs the dialect's last statements of a write transaction.
func beforeCommit(ctx context.Context, tx txConn, d Dialect) error {
	for _, q := range d.BeforeCommit() {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("before commit: %w", err)
		}
	}
	return nil
}

// conflict turns a unique-index violation into an application error naming the field; other
// errors pass through.
func (s *Store) conflict(err error, value func(field string) string) error {
	index, ok := s.dialect.UniqueViolation(err)
	if !ok {
		return err
	}
	c, known := uniqueIndexes[index]
	if !known {
		return &roster.Error{Code: roster.EConflict, Message: "the record already exists"}
	}
	return &roster.Error{
		Code:       roster.EConflict,
		Message:    fmt.Sprintf("%s with %s %q already exists", c.what, c.field, value(c.field)),
		Violations: []roster.FieldViolation{{Field: c.path, Constraint: "unique", Description: "must be unique in the environment"}},
	}
}

// uniqueIndexes describes each unique index of the migrations for error messages.
var uniqueIndexes = map[string]struct{ what, field, path string }{
	"organizations_external_id_key": {"an organization", "external_id", "organization.external_id"},
	"organizations_slug_key":        {"an organization", "slug", "organization.slug"},
	"environments_name_key":         {"an environment", "name", "name"},
	"api_clients_pkey":              {"an API client", "id", "client_id"},
	"users_email_key":               {"a user", "email", "user.email"},
	"directory_groups_name_key":     {"a directory group", "displayName", "displayName"},
	"users_external_id_key":         {"a user", "external_id", "user.external_id"},
	"memberships_pkey":              {"a membership", "organization", "organization_id"},
	"roles_name_key":                {"a role", "name", "role.name"},
	"permissions_name_key":          {"a permission", "name", "permission.name"},
	"attribute_definitions_pkey":    {"a user attribute", "key", "key"},
	"domains_name_key":              {"a domain", "domain", "domain.domain"},
	"identities_pkey":               {"an identity", "subject", "subject"},
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(n int64) time.Time { return time.UnixMicro(n).UTC() }

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(*t), Valid: true}
}

func timePtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMicros(n.Int64)
	return &t
}

func nullString(p *string) sql.NullString {
	if p == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *p, Valid: true}
}

func stringPtr(n sql.NullString) *string {
	if !n.Valid {
		return nil
	}
	return &n.String
}

// notFound is the error for a missing record of the named kind.
func notFound(what string) error {
	return roster.Errorf(roster.ENotFound, "%s not found", what)
}
