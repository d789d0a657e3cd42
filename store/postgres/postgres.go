// Package postgres adapts PostgreSQL (through pgx) to store.Store, for deployments that
// outgrow one machine: several Roster nodes share one database.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/rosterhq/roster/store/sqlstore"
)

// Open connects to the database at url (a postgres:// URL or key=value DSN) and applies
// migrations.
func Open(ctx context.Context, url string) (*sqlstore.Store, error) {
	return open(ctx, url, nil)
}

// open is Open with a last change to the connections' configuration (tests trace queries).
func open(ctx context.Context, url string, configure func(*pgx.ConnConfig)) (*sqlstore.Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	if configure != nil {
		configure(cfg)
	}
	pool, err := poolSettings(cfg.RuntimeParams)
	if err != nil {
		return nil, err
	}
	// No request waits for a row lock longer than this: a lock not given in time fails the
	// request with UNAVAILABLE instead of holding it (and its connection) until the request
	// timeout. The database URL may set another value (?lock_timeout=2s).
	if _, set := cfg.RuntimeParams["lock_timeout"]; !set {
		cfg.RuntimeParams["lock_timeout"] = DefaultLockTimeout
	}
	db := stdlib.OpenDB(*cfg)
	// Every open connection may stay idle: a connection closed for being one too many is
	// opened again at the next burst (a backend started, every statement prepared again:
	// milliseconds that land in the slowest requests; 16 idle of 32 opened ~1.5 a second
	// under a 16-client member PATCH load). Idle ones close after maxConnIdle.
	db.SetMaxOpenConns(pool.maxConns)
	db.SetMaxIdleConns(pool.maxConns)
	db.SetConnMaxIdleTime(pool.maxConnIdle)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	s := sqlstore.New(db, db, dialect{})
	if _, err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// DefaultMaxConns bounds a node's connections to PostgreSQL unless the database URL sets
// pool_max_conns; DefaultMaxConnIdle is how long one may stay unused before it is closed
// (pool_max_conn_idle_time).
const (
	DefaultMaxConns    = 32
	DefaultMaxConnIdle = 5 * time.Minute
)

// maxPoolConns is the most pool_max_conns may ask for: more than any PostgreSQL server
// accepts by default (max_connections is 100), so a typo is refused rather than obeyed.
const maxPoolConns = 10000

type poolConfig struct {
	maxConns    int
	maxConnIdle time.Duration
}

// poolSettings takes the pool's settings out of the URL's parameters, under pgxpool's names
// (pool_max_conns, pool_max_conn_idle_time), which operators know from other pgx programs:
// several nodes on one PostgreSQL must share its max_connections. pgx leaves parameters it does
// not know among the run-time parameters it sends, and PostgreSQL would refuse these, so they
// are removed. A value that is not a whole number or a duration, or out of range, is an error
// that names it.
func poolSettings(params map[string]string) (poolConfig, error) {
	p := poolConfig{maxConns: DefaultMaxConns, maxConnIdle: DefaultMaxConnIdle}
	if v, ok := params["pool_max_conns"]; ok {
		delete(params, "pool_max_conns")
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPoolConns {
			return p, fmt.Errorf("database URL: pool_max_conns=%q: want a whole number of connections from 1 to %d", v, maxPoolConns)
		}
		p.maxConns = n
	}
	if v, ok := params["pool_max_conn_idle_time"]; ok {
		delete(params, "pool_max_conn_idle_time")
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return p, fmt.Errorf("database URL: pool_max_conn_idle_time=%q: want a positive duration such as 30s or 5m", v)
		}
		p.maxConnIdle = d
	}
	return p, nil
}

// DefaultLockTimeout is the lock_timeout of every connection unless the database URL sets
// one: well below the request timeout (30 s), well above any lock a write holds normally.
const DefaultLockTimeout = "5s"

type dialect struct{}

func (dialect) UniqueViolation(err error) (string, bool) {
	var e *pgconn.PgError
	if errors.As(err, &e) && e.Code == "23505" {
		return e.ConstraintName, true
	}
	return "", false
}

// LockMigrations takes a transaction-scoped advisory lock so that nodes starting together
// apply each migration once. Migrations may wait for locks as long as they need: another
// node's migrations, or a table's readers.
func (dialect) LockMigrations(ctx context.Context, tx sqlstore.Tx) error {
	if _, err := tx.ExecContext(ctx, `SET LOCAL lock_timeout = 0`); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7426173)`)
	return err
}

// CommitWith sends query and COMMIT in one batch: one round trip. PostgreSQL runs the batch's
// statements in order and skips the rest after one fails, so a failed INSERT leaves the
// transaction uncommitted (aborted, for the caller's ROLLBACK). Without a query, COMMIT goes
// alone in the simple protocol, which costs less than a batch of one. A COMMIT that PostgreSQL
// answers with ROLLBACK (the transaction had failed) is an error, as it is for pgx's Tx.
func (dialect) CommitWith(ctx context.Context, conn *sql.Conn, query string, args []any) error {
	return conn.Raw(func(dc any) error {
		c := dc.(*stdlib.Conn).Conn()
		var tag pgconn.CommandTag
		if query == "" {
			var err error
			if tag, err = c.Exec(ctx, `COMMIT`); err != nil {
				return err
			}
		} else {
			var b pgx.Batch
			b.Queue(query, args...)
			b.Queue(`COMMIT`)
			r := c.SendBatch(ctx, &b)
			_, err := r.Exec()
			if err == nil {
				tag, err = r.Exec()
			}
			if cerr := r.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
		if tag.String() == "ROLLBACK" {
			return pgx.ErrTxCommitRollback
		}
		return nil
	})
}

// BeginWith sends BEGIN and query in one batch: one round trip, where BEGIN alone was one more
// for every write. The row is scanned by pgx (database/sql's Row cannot be made from a
// batch's answer); no row is sql.ErrNoRows, as database/sql's Scan says it.
func (dialect) BeginWith(ctx context.Context, conn *sql.Conn, pre []sqlstore.Statement, query string, args []any, dest []any) error {
	return conn.Raw(func(dc any) error {
		var b pgx.Batch
		b.Queue(`BEGIN`)
		for _, st := range pre {
			b.Queue(st.Query, st.Args...)
		}
		b.Queue(query, args...)
		r := dc.(*stdlib.Conn).Conn().SendBatch(ctx, &b)
		_, err := r.Exec()
		for range pre {
			if err == nil {
				_, err = r.Exec()
			}
		}
		if err == nil {
			err = r.QueryRow().Scan(dest...)
		}
		if cerr := r.Close(); err == nil {
			err = cerr
		}
		if errors.Is(err, pgx.ErrNoRows) {
			return sql.ErrNoRows
		}
		return err
	})
}

// PointRead runs a point read (sqlstore.PointReader) on pgx directly, with ctx: pgx watches
// it with context.AfterFunc, where database/sql would start a goroutine per query to do so. A
// canceled read leaves pgx's connection closed, and database/sql then drops it
// (stdlib.Conn.ResetSession).
func (dialect) PointRead(ctx context.Context, db *sql.DB, query string, args []any, row func(scan func(dest ...any) error) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		rows, err := dc.(*stdlib.Conn).Conn().Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		return sqlstore.EachRow(rows, row)
	})
}

func (dialect) RowLock() string { return " FOR UPDATE" }

func (dialect) ShareLock() string { return " FOR SHARE" }

// Transient: 40001 serialization_failure and 40P01 deadlock_detected abort a transaction so
// that others go on, and running it again may succeed; 55P03 lock_not_available is a lock
// that lock_timeout gave up on.
func (dialect) Transient(err error) (retry, busy bool) {
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return false, false
	}
	switch e.Code {
	case "40001", "40P01":
		return true, false
	case "55P03":
		return false, true
	}
	return false, false
}

func (dialect) UserAttributes() string {
	return `COALESCE((SELECT json_object_agg(a.attr_key, a.value) FROM user_attributes a WHERE a.user_id = u.id)::text, '{}')`
}

// UserIdentities is a user's provider identities as a JSON array, oldest first.
func (dialect) UserIdentities() string {
	return `COALESCE((SELECT json_agg(json_build_object('c', i.connection_id, 't', i.conn_type, 'p', i.provider, 's', i.subject,
		'cr', i.create_time, 'l', i.last_login_time) ORDER BY i.create_time, i.connection_id) FROM identities i WHERE i.user_id = u.id)::text, '[]')`
}

func (dialect) Name() string { return "postgres" }

func (dialect) BeforeCommit() []string { return nil }

// EventHorizon: an event's tx is its transaction's ID (xid8, as a bigint). Transactions
// commit out of ID and seq order, so the feed shows only events of transactions older than
// the oldest running one (all of them ended), ordered by (tx, seq): nothing can later appear
// before a position the feed has handed out.
func (dialect) EventHorizon() string {
	return "tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
}

// EventsAfter: a row comparison, which PostgreSQL's B-tree takes as the start of the range.
func (dialect) EventsAfter(tx, seq string) string { return "(tx, seq) > (" + tx + ", " + seq + ")" }

// EventsThrough: the same, as the end of the range.
func (dialect) EventsThrough(tx, seq string) string { return "(tx, seq) <= (" + tx + ", " + seq + ")" }

// UserSearchPage is ListUsers's own query: the planner walks users_environment_seq in order,
// filtering, when the statistics say that many users match (the page ends after about as many
// rows as it holds), and reads the trigram GIN indexes' matches and sorts them when few do.
func (dialect) UserSearchPage(sqlstore.SearchPage, func(any) string) string { return "" }

// UserSearchCount is the count of the UserSearch condition.
func (dialect) UserSearchCount(string, func(any) string) string { return "" }

// UserSearch matches with LIKE, which the trigram GIN indexes serve.
func (dialect) UserSearch(text string, arg func(any) string) string {
	p := arg("%" + sqlstore.EscapeLike(strings.ToLower(text)) + "%")
	return fmt.Sprintf(`(u.email_key LIKE %[1]s ESCAPE '\' OR lower(u.external_id) LIKE %[1]s ESCAPE '\' OR u.id = %[2]s)`, p, arg(text))
}
