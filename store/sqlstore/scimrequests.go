package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/rosterhq/roster/store"
)

// scimRequestRows is how many requests one INSERT carries (5 parameters each).
const scimRequestRows = 200

// RecordSCIMRequests inserts the requests and deletes each directory's rows older than its
// latest keep. A directory's requests go in one multi-row INSERT (a statement each was a round
// trip each on PostgreSQL, as many as the SCIM requests themselves); those of a directory
// deleted meanwhile are dropped. On PostgreSQL the directory's row is key-share locked first,
// as the foreign key's check would, so that a concurrent delete waits for this transaction
// rather than failing it.
func (s *Store) RecordSCIMRequests(ctx context.Context, rs []store.SCIMRequest, keep int) error {
	var order []string
	byDir := map[string][]store.SCIMRequest{}
	for _, r := range rs {
		if _, ok := byDir[r.DirectoryID]; !ok {
			order = append(order, r.DirectoryID)
		}
		byDir[r.DirectoryID] = append(byDir[r.DirectoryID], r)
	}
	lock := s.keyShareLock()
	return s.inOtherTx(ctx, func(tx txConn) error {
		for _, d := range order {
			var one int
			if err := tx.QueryRowContext(ctx, `SELECT 1 FROM directories WHERE id = $1`+lock, d).Scan(&one); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					continue // deleted meanwhile: its record went with it
				}
				return err
			}
			reqs := byDir[d]
			if len(reqs) > keep {
				reqs = reqs[len(reqs)-keep:] // the older ones would be deleted below
			}
			for start := 0; start < len(reqs); start += scimRequestRows {
				chunk := reqs[start:min(start+scimRequestRows, len(reqs))]
				rows := make([]string, len(chunk))
				args := make([]any, 0, 5*len(chunk))
				for i, r := range chunk {
					rows[i] = "(" + placeholders(5*i+1, 5) + ")"
					args = append(args, d, micros(r.Time), r.Method, r.Path, r.Status)
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO scim_requests (directory_id, at, method, path, status) VALUES `+
					strings.Join(rows, ", "), args...); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM scim_requests WHERE directory_id = $1 AND at < (
				SELECT at FROM scim_requests WHERE directory_id = $1 ORDER BY at DESC LIMIT 1 OFFSET $2)`, d, keep-1); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) ListSCIMRequests(ctx context.Context, directoryID string, limit int) ([]store.SCIMRequest, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT method, path, status, at FROM scim_requests WHERE directory_id = $1
		ORDER BY at DESC LIMIT $2`, directoryID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.SCIMRequest{}
	for rows.Next() {
		r := store.SCIMRequest{DirectoryID: directoryID}
		var at int64
		if err := rows.Scan(&r.Method, &r.Path, &r.Status, &at); err != nil {
			return nil, err
		}
		r.Time = fromMicros(at)
		out = append(out, r)
	}
	return out, rows.Err()
}
