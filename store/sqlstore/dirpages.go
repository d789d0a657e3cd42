package sqlstore

// SCIM list pages at any startIndex without counting or skipping the rows before it
// (docs/scim.md "Paging"). A directory's number of users and of groups is kept in
// directory_counts by the transactions that insert and delete them, with the number of such
// changes; the store remembers, per directory, the seq at every pageMarkEvery-th position in
// creation order, valid while that change number stays the same. A page then seeks to the mark
// before its position and skips fewer than pageMarkEvery index entries.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
)

// directoryWhere is the condition on a directory's rows of a SCIM list: the directory, whose
// environment is checked once (an uncorrelated subquery runs once), so that the rows are found
// through the (directory_id, seq) index without reading them. TestSCIMPagePlans holds this.
func directoryWhere(c *condSQL, directoryID, environmentID string) string {
	dir := c.arg(directoryID)
	return "directory_id = " + dir + " AND EXISTS (SELECT 1 FROM directories WHERE id = " + dir + " AND environment_id = " + c.arg(environmentID) + ")"
}

// directoryPageSQL selects one page of rows matching where (with nargs arguments; the limit
// and offset follow them) in creation order.
func directoryPageSQL(table, columns, where string, nargs int) string {
	return `SELECT ` + columns + ` FROM ` + table + ` WHERE ` + where + fmt.Sprintf(` ORDER BY seq LIMIT $%d OFFSET $%d`, nargs+1, nargs+2)
}

// The resources directory_counts counts, named by their tables.
const (
	countUsers  = "directory_users"
	countGroups = "directory_groups"
)

// countStripes is how many rows of directory_counts share one count: a write picks one at
// random, so concurrent writes to one directory rarely wait on one row (PostgreSQL); readers
// add them up.
const countStripes = 16

// countDirectoryChange adds delta (1: a row inserted, -1: deleted) to a directory's count of
// resource and counts one change, in the transaction that made it.
func countDirectoryChange(ctx context.Context, tx txConn, directoryID, resource string, delta int) error {
	return noteDirectoryChange(ctx, tx, directoryID, resource, delta, 0)
}

// noteDirectoryChange is countDirectoryChange that also records at (microseconds; 0: no time)
// as the resource's latest update when it is later than the one recorded; delta 0 (a row
// updated) counts no change, so the page marks stay valid.
func noteDirectoryChange(ctx context.Context, tx txConn, directoryID, resource string, delta int, at int64) error {
	changes := 0
	if delta != 0 {
		changes = 1
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO directory_counts (directory_id, resource, stripe, total, changes, last_update)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (directory_id, resource, stripe) DO UPDATE SET total = directory_counts.total + excluded.total,
		changes = directory_counts.changes + excluded.changes,
		last_update = CASE WHEN excluded.last_update > directory_counts.last_update THEN excluded.last_update ELSE directory_counts.last_update END`,
		directoryID, resource, rand.IntN(countStripes), delta, changes, at)
	return err
}

// directoryCount returns a directory's count of resource and its change number; 0 and 0 for
// a directory that is not the environment's (the tenant boundary: nothing of it is listed).
func directoryCount(ctx context.Context, q querier, environmentID, directoryID, resource string) (total, changes int64, err error) {
	err = q.QueryRowContext(ctx, directoryCountSQL, directoryID, resource, environmentID).Scan(&total, &changes)
	return total, changes, err
}

const directoryCountSQL = `SELECT COALESCE(SUM(total), 0), COALESCE(SUM(changes), 0) FROM directory_counts
	WHERE directory_id = $1 AND resource = $2 AND EXISTS (SELECT 1 FROM directories WHERE id = $1 AND environment_id = $3)`

// pageMarkEvery is the distance between two marks: a page skips at most pageMarkEvery-1 index
// entries after its seek, and a directory's marks take 8 bytes per pageMarkEvery rows.
const pageMarkEvery = 128

// pageMarksBudget bounds the bytes all directories' marks take (a 100k-user directory's take
// about 6 KiB, a 1M-user directory's 61 KiB); past it, marks are dropped, and a directory whose
// marks alone exceed it is served from marks built for the one request.
const pageMarksBudget = 4 << 20

// pageMarks is the store's cache of marks. Its zero value is ready to use.
type pageMarks struct {
	mu       sync.Mutex
	entries  map[string]markEntry
	bytes    int
	building map[string]chan struct{} // one build per directory at a time; others wait for it
}

type markEntry struct {
	changes int64   // the directory's change number when the marks were read
	seqs    []int64 // seqs[i]: the seq at position i*pageMarkEvery (0-based)
}

func (e markEntry) size(key string) int { return len(key) + 8*len(e.seqs) + 64 }

// get returns the marks of key valid at change number changes (or later: a reader that saw an
// older count gets the newer marks, as if the change had come between its two reads), built
// by build when missing or stale.
func (p *pageMarks) get(ctx context.Context, key string, changes int64, build func() ([]int64, error)) ([]int64, error) {
	for {
		p.mu.Lock()
		if e, ok := p.entries[key]; ok && e.changes >= changes {
			p.mu.Unlock()
			return e.seqs, nil
		}
		if wait := p.building[key]; wait != nil {
			p.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done := make(chan struct{})
		if p.building == nil {
			p.building = map[string]chan struct{}{}
		}
		p.building[key] = done
		p.mu.Unlock()

		seqs, err := build()

		p.mu.Lock()
		delete(p.building, key)
		close(done)
		if err == nil {
			p.put(key, markEntry{changes: changes, seqs: seqs})
		}
		p.mu.Unlock()
		return seqs, err
	}
}

// put stores e under key within the budget, dropping other entries when needed. p.mu is held.
func (p *pageMarks) put(key string, e markEntry) {
	if old, ok := p.entries[key]; ok {
		if old.changes > e.changes {
			return // a newer build finished first
		}
		p.bytes -= old.size(key)
		delete(p.entries, key)
	}
	n := e.size(key)
	if n > pageMarksBudget {
		return
	}
	for k, old := range p.entries { // map order: an arbitrary victim
		if p.bytes+n <= pageMarksBudget {
			break
		}
		p.bytes -= old.size(k)
		delete(p.entries, k)
	}
	if p.entries == nil {
		p.entries = map[string]markEntry{}
	}
	p.entries[key] = e
	p.bytes += n
}

// readPageMarks reads the seq at every pageMarkEvery-th position of a directory's rows of
// table, in creation order.
func readPageMarks(ctx context.Context, q querier, table, directoryID string) ([]int64, error) {
	return queryColumn[int64](ctx, q, pageMarksSQL(table), directoryID, pageMarkEvery-1)
}

// pageMarksSQL reads the marks by seeking from one to the next: each step skips
// pageMarkEvery-1 entries of the (directory_id, seq) index after the last mark, so the whole
// read steps the directory's index once, inside the database. (A window function,
// ROW_NUMBER() OVER (ORDER BY seq), reads the same marks but materializes every row first:
// 170 ms at 100k users on SQLite, against a few for this.)
func pageMarksSQL(table string) string {
	return `WITH RECURSIVE marks (seq) AS (
		SELECT MIN(seq) FROM ` + table + ` WHERE directory_id = $1
		UNION ALL
		SELECT (SELECT t.seq FROM ` + table + ` t WHERE t.directory_id = $1 AND t.seq > marks.seq ORDER BY t.seq LIMIT 1 OFFSET $2)
		FROM marks WHERE marks.seq IS NOT NULL)
	SELECT seq FROM marks WHERE seq IS NOT NULL`
}
