// Package sqlite adapts the embedded SQLite database (modernc.org/sqlite, pure Go) to
// store.Store: Roster's default storage, one file under the data directory, in WAL mode.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/rosterhq/roster/store/sqlstore"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// FileName is the database file inside the data directory.
const FileName = "roster.db"

// DefaultUserCacheBytes is the memory that a store's user cache may take unless WithUserCache
// says otherwise: about 11,000 users of the benchmark's shape, 1.4 KB each (docs/memory.md).
const DefaultUserCacheBytes = 16 << 20

// writerBusy is how long every connection waits for a lock held by another (busy_timeout).
const writerBusy = 10 * time.Second

// Option configures Open.
type Option func(*options)

// DefaultWALLimit is the size past which the checkpointer empties the WAL even if it must
// briefly hold writes back (docs/storage.md), unless WithWALLimit says otherwise.
const DefaultWALLimit = 32 << 20

// DefaultPageCacheBytes is the memory of SQLite's page caches, all connections together,
// unless WithPageCache says otherwise (docs/memory.md).
const DefaultPageCacheBytes = 16 << 20

// DefaultMmapBytes is how much of the database file each connection maps into memory, unless
// WithMmap says otherwise: none. Every connection maps the file on its own, and the kernel
// counts the pages each touches in the process's resident memory once per connection: at 100k
// users (a 108 MB file) five connections' maps made up 214 MB of roster's RSS (docs/memory.md).
const DefaultMmapBytes = 0

type options struct {
	userCacheBytes  int
	pageCacheBytes  int
	mmapBytes       int
	walLimit        int64
	checkpointEvery time.Duration // tests shorten it
}

// WithUserCache keeps users in memory between reads, up to maxBytes of them as the cache
// estimates each one's size; 0 keeps none.
func WithUserCache(maxBytes int) Option { return func(o *options) { o.userCacheBytes = maxBytes } }

// WithPageCache bounds the page caches of all the store's connections together, in bytes;
// each connection gets an equal share (at least 64 KiB).
func WithPageCache(bytes int) Option { return func(o *options) { o.pageCacheBytes = bytes } }

// WithMmap lets each connection map up to bytes of the database file (PRAGMA mmap_size); 0
// reads through the page cache only.
func WithMmap(bytes int) Option { return func(o *options) { o.mmapBytes = bytes } }

// WithWALLimit sets the WAL size, in bytes, past which the checkpointer restarts the WAL
// (waiting briefly for readers) instead of only copying what it can.
func WithWALLimit(bytes int64) Option { return func(o *options) { o.walLimit = bytes } }

// Open opens (creating if needed) the database in dir and applies migrations. A missing dir
// is created with mode 0700; the command line checks an existing one first (PrepareDataDir).
func Open(ctx context.Context, dir string, opts ...Option) (*sqlstore.Store, error) {
	if err := createDataDir(dir); err != nil {
		return nil, err
	}
	return OpenFile(ctx, filepath.Join(dir, FileName), opts...)
}

// OpenFile opens the database at path and applies migrations. The store caches users in
// memory: one process must own the file (see sqlstore.Store.EnableUserCache).
func OpenFile(ctx context.Context, path string, opts ...Option) (*sqlstore.Store, error) {
	o := options{userCacheBytes: DefaultUserCacheBytes, pageCacheBytes: DefaultPageCacheBytes, mmapBytes: DefaultMmapBytes,
		walLimit: DefaultWALLimit, checkpointEvery: checkpointEvery}
	for _, opt := range opts {
		opt(&o)
	}
	if o.walLimit <= 0 {
		return nil, fmt.Errorf("WAL limit %d: must be positive", o.walLimit)
	}
	if o.pageCacheBytes < 0 || o.mmapBytes < 0 {
		return nil, fmt.Errorf("page cache %d, mmap %d: must not be negative", o.pageCacheBytes, o.mmapBytes)
	}
	readers := max(4, runtime.GOMAXPROCS(0)*2)
	// The budget is shared by the readers and the writer; the checkpointer's connection reads
	// little through its cache (checkpointerCacheKiB).
	perConnKiB := max(64, o.pageCacheBytes/(readers+1)>>10)
	q := url.Values{}
	// A page cache keeps reads out of pread system calls (bench/README.md); mmap would too, at
	// the cost of resident memory counted once per connection (DefaultMmapBytes).
	// temp_store(MEMORY) keeps the savepoints' sub-journals of a group commit in memory.
	// journal_size_limit cuts the WAL file back to the limit when a commit restarts the WAL
	// from its beginning (a checkpoint that empties it leaves it empty anyway).
	for _, p := range []string{"journal_mode(WAL)", "foreign_keys(1)", fmt.Sprintf("busy_timeout(%d)", writerBusy.Milliseconds()),
		"synchronous(NORMAL)", fmt.Sprintf("mmap_size(%d)", o.mmapBytes), fmt.Sprintf("cache_size(-%d)", perConnKiB), "temp_store(MEMORY)",
		fmt.Sprintf("journal_size_limit(%d)", o.walLimit)} {
		q.Add("_pragma", p)
	}
	// The files are their owner's alone, whatever the umask: the database file is made (or
	// set) 0600 before SQLite opens it, and SQLite gives its -wal and -shm files that mode.
	if err := private(path); err != nil {
		return nil, fmt.Errorf("database file: %w", err)
	}
	dsn := "file:" + path + "?" + q.Encode()
	read, err := sql.Open("sqlite", dsn+"&mode=ro")
	if err != nil {
		return nil, err
	}
	// One writer connection: SQLite allows one writer at a time, and queueing in the pool is
	// cheaper and fairer than SQLITE_BUSY retries. _txlock=immediate takes the write lock at
	// BEGIN, so a transaction never fails to upgrade a read lock. The writer does not
	// checkpoint the WAL itself: a checkpointer does, beside it (see checkpointer).
	write, err := sql.Open("sqlite", dsn+"&_txlock=immediate&_pragma=wal_autocheckpoint(0)")
	if err != nil {
		read.Close()
		return nil, err
	}
	write.SetMaxOpenConns(1)
	read.SetMaxOpenConns(readers)
	// All of them stay open when idle (database/sql keeps 2 otherwise): a connection closed and
	// reopened under load costs its pragmas, its prepared statements and a cold page cache
	// (TestReadConnectionsStayOpen).
	read.SetMaxIdleConns(readers)
	s := sqlstore.New(read, write, dialect{})
	// Migrate first through the writer: the read-only pool cannot create the file.
	if _, err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	for _, suffix := range []string{"-wal", "-shm"} { // made by an older Roster
		if err := privateIfExists(path + suffix); err != nil {
			s.Close()
			return nil, err
		}
	}
	s.StartGroupCommit()
	s.EnableUserCache(o.userCacheBytes)
	s.UnwatchPointReads()
	ckpt, err := startCheckpointer(dsn+fmt.Sprintf("&_pragma=cache_size(-%d)", checkpointerCacheKiB), write, path+"-wal", o.walLimit, o.checkpointEvery)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.AfterWriteBatch(ckpt.afterBatch)
	s.OnClose(ckpt.close)
	return s, nil
}

type dialect struct{}

// indexByColumns maps SQLite's "UNIQUE constraint failed: <columns>" text to the index names
// that PostgreSQL reports, so both backends name conflicts alike.
var indexByColumns = map[string]string{
	"organizations.environment_id, organizations.external_id": "organizations_external_id_key",
	"organizations.environment_id, organizations.slug":        "organizations_slug_key",
	"environments.name":                                                                      "environments_name_key",
	"api_clients.id":                                                                         "api_clients_pkey",
	"users.environment_id, users.email_key":                                                  "users_email_key",
	"users.environment_id, users.external_id":                                                "users_external_id_key",
	"memberships.organization_id, memberships.user_id":                                       "memberships_pkey",
	"roles.environment_id, roles.organization_id, roles.name":                                "roles_name_key",
	"permissions.environment_id, permissions.name":                                           "permissions_name_key",
	"attribute_definitions.environment_id, attribute_definitions.attr_key":                   "attribute_definitions_pkey",
	"user_attributes.environment_id, user_attributes.attr_key, user_attributes.unique_value": "user_attributes_unique_key",
	"domains.environment_id, domains.name":                                                   "domains_name_key",
	"identities.connection_id, identities.subject":                                           "identities_pkey",
	"saml_sp_keys.environment_id":                                                            "saml_sp_keys_pkey",
	"saml_assertions.connection_id, saml_assertions.assertion_id":                            "saml_assertions_pkey",
	"directories.organization_id, directories.provider":                                      "directories_provider_key",
	"directory_secrets.hash":                                                                 "directory_secrets_hash_key",
	"directory_users.directory_id, directory_users.user_name_key":                            "directory_users_user_name_key",
	"directory_users.directory_id, directory_users.user_id":                                  "directory_users_user_key",
	"operators.email_key":                                                                    "operators_email_key",
}

func (dialect) UniqueViolation(err error) (string, bool) {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return "", false
	}
	if e.Code() != sqlite3.SQLITE_CONSTRAINT_UNIQUE && e.Code() != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
		return "", false
	}
	// The message ends "... constraint failed: <table.col>, <table.col> (2067)".
	msg := e.Error()
	cols := msg[strings.LastIndex(msg, "constraint failed: ")+len("constraint failed: "):]
	cols, _, _ = strings.Cut(cols, " (")
	// An index on an expression is named: "... constraint failed: index 'name'".
	if name, ok := strings.CutPrefix(strings.TrimSpace(cols), "index '"); ok {
		return strings.TrimSuffix(name, "'"), true
	}
	return indexByColumns[strings.TrimSpace(cols)], true
}

func (dialect) ShareLock() string { return "" }

// EventHorizon: one writer at a time, so events commit in seq order (tx is 0).
func (dialect) EventHorizon() string { return "" }

// EventsAfter: tx is always 0, so an equality on it and a range on seq. SQLite does not seek
// an index to a row comparison's start: "(tx, seq) > (0, n)" read the environment's events
// from the first, which made a read at the end of a feed of 40,000 events take 7 ms instead
// of 16 µs (TestEventPagePlan).
func (dialect) EventsAfter(tx, seq string) string { return "tx = " + tx + " AND seq > " + seq }

// EventsThrough: the end of the range, as EventsAfter is its start.
func (dialect) EventsThrough(tx, seq string) string { return "tx = " + tx + " AND seq <= " + seq }

// Transient: writes take the write lock at BEGIN (immediate) on one connection, so SQLite
// aborts no transaction to break a deadlock and there is nothing to retry; SQLITE_BUSY and
// SQLITE_LOCKED mean another process (a management command) held the database longer than
// busy_timeout.
func (dialect) Transient(err error) (retry, busy bool) {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false, false
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return false, true
	}
	return false, false
}

// LockMigrations needs nothing: the write transaction holds SQLite's database lock.
func (dialect) LockMigrations(context.Context, sqlstore.Tx) error { return nil }

func (dialect) RowLock() string { return "" }

func (dialect) UserAttributes() string {
	return `(SELECT json_group_object(a.attr_key, a.value) FROM user_attributes a WHERE a.user_id = u.id)`
}

// UserIdentities is a user's provider identities as a JSON array, oldest first.
func (dialect) UserIdentities() string {
	return `(SELECT json_group_array(json_object('c', i.connection_id, 't', i.conn_type, 'p', i.provider, 's', i.subject,
		'cr', i.create_time, 'l', i.last_login_time)) FROM (SELECT * FROM identities WHERE user_id = u.id ORDER BY create_time, connection_id) i)`
}

func (dialect) Name() string { return "sqlite" }

// BeforeCommit indexes the users that this transaction queued for search (migration 0007).
func (dialect) BeforeCommit() []string {
	return []string{
		`INSERT INTO users_search (rowid, email_key, external_id)
			SELECT u.seq, u.email_key, u.external_id FROM users_search_queue q JOIN users u ON u.rowid = q.user_rowid`,
		`DELETE FROM users_search_queue`,
	}
}

// UserSearch uses the FTS5 trigram index; a phrase query matches a substring of at least
// three characters, case-insensitively. The index's rowid is the user's seq (migration 0020).
func (dialect) UserSearch(text string, arg func(any) string) string {
	// One seq set (a UNION, not an OR) lets SQLite start from the matches rather than scan
	// every user and test each.
	return dialect{}.userSearch(arg(ftsPhrase(text)), arg(text))
}

// userSearch is UserSearch's condition with the placeholders of the phrase and the ID.
func (dialect) userSearch(phrase, id string) string {
	return `u.seq IN (SELECT rowid FROM users_search WHERE users_search MATCH ` + phrase + ` UNION SELECT seq FROM users WHERE id = ` + id + `)`
}

// ftsPhrase is text as one FTS5 phrase.
func ftsPhrase(text string) string { return `"` + strings.ReplaceAll(text, `"`, `""`) + `"` }

// UserSearchCount counts the index's matches alone when no other environment has a user
// (a deployment's usual one environment): checking each match's environment took as long
// again as the match itself (100,000 matches: 140 ms against 69 ms, sqlite3). Otherwise, and
// for the exact user ID that the index may not hold, each is checked. One statement, so both
// branches see one snapshot; CASE runs only the branch it takes.
func (d dialect) UserSearchCount(text string, arg func(any) string) string {
	p, id := arg(ftsPhrase(text)), arg(text)
	return `SELECT CASE WHEN EXISTS (SELECT 1 FROM users WHERE environment_id < $1 OR environment_id > $1)
		THEN (SELECT COUNT(*) FROM users u WHERE u.environment_id = $1 AND ` + d.userSearch(p, id) + `)
		ELSE (SELECT COUNT(*) FROM users_search WHERE users_search MATCH ` + p + `) + (SELECT COUNT(*) FROM users u
			WHERE u.environment_id = $1 AND u.id = ` + id + ` AND NOT EXISTS (SELECT 1 FROM users_search WHERE users_search MATCH ` + p + ` AND rowid = u.seq))
		END`
}

// UserSearchPage walks the search index in ID order (its rowid is seq, migration 0020) from
// the page's position and stops at the page's end: the cost is the matches before the page's
// end, not all of them, and nothing is sorted but the page. Each match is checked against the
// environment (or the organization's membership) by index, so another environment's matches
// are skipped, never returned. The exact user ID is a second, one-row part.
func (dialect) UserSearchPage(p sqlstore.SearchPage, arg func(any) string) string {
	if p.EmailKey != "" {
		return ""
	}
	order, bound := "ASC", ""
	switch {
	case p.After > 0:
		bound = " AND s.rowid > " + arg(p.After)
	case p.Before > 0:
		order, bound = "DESC", " AND s.rowid < "+arg(p.Before)
	}
	limit := arg(p.Limit)
	// CROSS JOIN keeps the index the outer loop, so that its order is the page's order and
	// the LIMIT ends the walk. "+ 0" keeps SQLite from carrying the page's bound over to the
	// inner table (seq > after): SQLite 3.40 then scanned that range of the index for each
	// match instead of looking the match up (2.3 s instead of 18 ms for a page; 3.54 did not).
	match, byID := `users u ON u.environment_id = $1 AND u.seq = s.rowid + 0`, `SELECT seq, id FROM users WHERE environment_id = $1 AND id = `+arg(p.Text)
	col, idSeq := "u.id", "seq"
	if p.OrganizationID != "" {
		o := arg(p.OrganizationID)
		match = `memberships m ON m.environment_id = $1 AND m.organization_id = ` + o + ` AND m.user_seq = s.rowid + 0`
		byID = `SELECT user_seq AS seq, user_id AS id FROM memberships WHERE environment_id = $1 AND organization_id = ` + o + ` AND user_id = ` + arg(p.Text)
		col = "m.user_id"
		idSeq = "user_seq"
	}
	return `SELECT id FROM (SELECT * FROM (SELECT s.rowid AS seq, ` + col + ` AS id FROM users_search s CROSS JOIN ` + match +
		` WHERE users_search MATCH ` + arg(ftsPhrase(p.Text)) + bound + ` ORDER BY s.rowid ` + order + ` LIMIT ` + limit + `)
		UNION SELECT * FROM (` + byID + strings.ReplaceAll(bound, "s.rowid", idSeq) + `)) ORDER BY seq ` + order + ` LIMIT ` + limit
}
