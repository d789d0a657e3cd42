package sqlstore

// Provenance (docs/provenance.md): the rows of user_field_sources, written by each write of a
// user's profile in its own transaction, and read by UserFieldSources.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// apiWriter is the writer of an API call's write: the API client that the context names.
func apiWriter(ctx context.Context, source roster.Source) roster.Writer {
	return roster.Writer{Source: source, ID: roster.ClientIDFrom(ctx)}
}

const upsertFieldSource = ` ON CONFLICT (user_id, field) DO UPDATE SET source = excluded.source, source_id = excluded.source_id,
	update_time = excluded.update_time`

// insertUserRecorded inserts a new user's row and the record of its creation by w: on
// PostgreSQL in one statement (a round trip less per create), on SQLite in two.
func (s *Store) insertUserRecorded(ctx context.Context, tx txConn, u roster.User, w roster.Writer, at time.Time) error {
	if s.dialect.Name() != "postgres" {
		if err := s.insertUser(ctx, tx, u); err != nil {
			return err
		}
		return s.recordFields(ctx, tx, u.ID, []string{roster.FieldCreated}, w, at)
	}
	row, _, err := userRow(u)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, insertUserRecordedQuery, append(row, roster.FieldCreated, string(w.Source), w.ID, micros(at))...)
	return s.conflict(err, userField(u))
}

var insertUserRecordedQuery = `WITH u AS (` + insertUserQuery + ` RETURNING id)
	INSERT INTO user_field_sources (user_id, field, source, source_id, update_time)
	SELECT id, $23, $24, $25, $26 FROM u`

// updateUserRowRecorded writes a user's own columns (updateUserRow) and records w as the
// source of the fields whose values differ from before's: on PostgreSQL in one statement, on
// SQLite in two; a write that changed no field records nothing. When a custom attribute
// changed, defs is called first: lock order (docs/storage.md) puts the attribute definitions
// (share) before the rows that hang off users, and DeleteAttribute, which holds a definition,
// deletes that attribute's provenance rows.
func (s *Store) updateUserRowRecorded(ctx context.Context, tx txConn, before *roster.User, u roster.User, defs store.AttributeDefs,
	w roster.Writer, at time.Time) error {
	fields := roster.ChangedFields(before, &u)
	if !maps.Equal(before.Profile.CustomAttributes, u.Profile.CustomAttributes) {
		if _, err := defs(); err != nil {
			return err
		}
	}
	if s.dialect.Name() != "postgres" || len(fields) == 0 {
		if err := s.updateUserRow(ctx, tx, u, before.ExternalID != u.ExternalID); err != nil {
			return err
		}
		return s.recordFields(ctx, tx, u.ID, fields, w, at)
	}
	args, err := updateUserArgs(u)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, updateUserRecordedQuery, append(args, fields, string(w.Source), w.ID, micros(at))...)
	return s.conflict(err, userField(u))
}

const updateUserRecordedQuery = `WITH up AS (` + updateUserQuery + ` RETURNING id)
	INSERT INTO user_field_sources (user_id, field, source, source_id, update_time)
	SELECT up.id, f, $19, $20, $21 FROM up, unnest(CAST($18 AS TEXT[])) AS f` + upsertFieldSource

// profileSnapshot copies what provenance compares of a user (its email and profile), so that
// an update that changes the user's maps or lists in place leaves the copy as it was.
func profileSnapshot(u roster.User) roster.User {
	p := u.Profile
	p.Groups, p.Metadata, p.CustomAttributes = slices.Clone(p.Groups), maps.Clone(p.Metadata), maps.Clone(p.CustomAttributes)
	return roster.User{ID: u.ID, Email: u.Email, Profile: p}
}

// recordFields records w as the last writer of fields, one statement whatever their number.
func (s *Store) recordFields(ctx context.Context, tx txConn, userID string, fields []string, w roster.Writer, at time.Time) error {
	var err error
	switch {
	case len(fields) == 0:
		return nil
	case len(fields) == 1:
		_, err = tx.ExecContext(ctx, `INSERT INTO user_field_sources (user_id, field, source, source_id, update_time)
			VALUES ($1, $2, $3, $4, $5)`+upsertFieldSource, userID, fields[0], string(w.Source), w.ID, micros(at))
	case s.pg():
		_, err = tx.ExecContext(ctx, `INSERT INTO user_field_sources (user_id, field, source, source_id, update_time)
			SELECT $1, f, $3, $4, $5 FROM unnest(CAST($2 AS TEXT[])) AS f`+upsertFieldSource, userID, fields, string(w.Source), w.ID, micros(at))
	default:
		var list []byte
		if list, err = json.Marshal(fields); err != nil {
			return err
		}
		// "WHERE true": SQLite reads an ON after a SELECT's FROM as a join's unless a WHERE
		// comes between.
		_, err = tx.ExecContext(ctx, `INSERT INTO user_field_sources (user_id, field, source, source_id, update_time)
			SELECT $1, value, $3, $4, $5 FROM json_each($2) WHERE true`+upsertFieldSource, userID, string(list), string(w.Source), w.ID, micros(at))
	}
	return err
}

// forgetAttributeSources deletes the provenance of a custom attribute of an environment (its
// definition is being deleted, and its values with it).
func forgetAttributeSources(ctx context.Context, tx txConn, environmentID, key string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM user_field_sources WHERE field = $1 AND user_id IN (SELECT id FROM users WHERE environment_id = $2)`,
		roster.CustomFieldPrefix+key, environmentID)
	return err
}

// UserFieldSources reads a user (its own row and custom attributes) and its provenance rows
// in one read transaction, so that both are of one moment.
func (s *Store) UserFieldSources(ctx context.Context, environmentID string, ref roster.UserRef) (roster.User, map[string]roster.FieldSource, error) {
	var opts *sql.TxOptions
	if s.pg() {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	tx, err := s.readDB.BeginTx(ctx, opts)
	if err != nil {
		return roster.User{}, nil, err
	}
	defer tx.Rollback()
	col, key := userKey(ref)
	u, err := scanFullUser(tx.QueryRowContext(ctx, `SELECT `+s.fullUserColumns+` FROM users u WHERE u.environment_id = $1 AND u.`+col+` = $2`,
		environmentID, key))
	if errors.Is(err, sql.ErrNoRows) {
		return u, nil, notFound("user")
	}
	if err != nil {
		return u, nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT field, source, source_id, update_time FROM user_field_sources WHERE user_id = $1`, u.ID)
	if err != nil {
		return u, nil, err
	}
	defer rows.Close()
	out := map[string]roster.FieldSource{}
	for rows.Next() {
		var field, source string
		var fs roster.FieldSource
		var at int64
		if err := rows.Scan(&field, &source, &fs.SourceID, &at); err != nil {
			return u, nil, err
		}
		fs.Source, fs.UpdateTime = roster.Source(source), fromMicros(at)
		out[field] = fs
	}
	return u, out, rows.Err()
}
