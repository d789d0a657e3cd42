package sqlstore

import (
	"context"

	"github.com/rosterhq/roster/store"
)

// RecordSCIMRequests inserts the requests and deletes each directory's rows older than its
// latest keep (the index on (directory_id, at) serves both), in one transaction.
func (s *Store) RecordSCIMRequests(ctx context.Context, rs []store.SCIMRequest, keep int) error {
	return s.inOtherTx(ctx, func(tx txConn) error {
		dirs := map[string]bool{}
		for _, r := range rs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO scim_requests (directory_id, at, method, path, status)
				SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM directories WHERE id = $1)`,
				r.DirectoryID, micros(r.Time), r.Method, r.Path, r.Status); err != nil {
				return err
			}
			dirs[r.DirectoryID] = true
		}
		for d := range dirs {
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
