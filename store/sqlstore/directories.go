package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

const directoryColumns = directoryAuthColumns + `,
	EXISTS (SELECT 1 FROM directory_secrets s WHERE s.directory_id = directories.id)`

type mappingJSON struct {
	Key   string `json:"key"`
	MapTo string `json:"map_to"`
}

func mappingsText(m []roster.DirectoryMapping) string {
	out := make([]mappingJSON, len(m))
	for i, e := range m {
		out[i] = mappingJSON{e.Key, e.MapTo}
	}
	return jsonText(out)
}

// CreateDirectory stores a directory of an existing organization.
func (s *Store) CreateDirectory(ctx context.Context, d roster.Directory) error {
	seq, ok := roster.IDNumber(d.ID, roster.PrefixDirectory)
	if !ok {
		return fmt.Errorf("malformed directory id %q", d.ID)
	}
	err := s.inOtherTx(ctx, func(tx txConn) error {
		// The organization's row lock makes concurrent creates count one after another.
		if _, err := getOrganization(ctx, tx, d.EnvironmentID, roster.OrganizationRef{ID: d.OrganizationID}, s.dialect.RowLock()); err != nil {
			return err
		}
		if err := underCap(ctx, tx, `directories`, d.OrganizationID, roster.MaxDirectoriesPerOrganization, "directories"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO directories (id, environment_id, organization_id, seq, name, directory_type, provider,
			enabled, mappings, create_time, update_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			d.ID, d.EnvironmentID, d.OrganizationID, seq, d.Name, string(d.Type), d.Provider, d.Enabled, mappingsText(d.Mappings),
			micros(d.CreateTime), micros(d.UpdateTime))
		if err != nil {
			return err
		}
		return s.recordEvents(ctx, tx, directoryEvent(roster.EventDirectoryCreated, d, d.CreateTime, nil))
	})
	return s.directoryConflict(err, d.Provider)
}

// directoryConflict names the provider in the error of a second directory of one provider.
func (s *Store) directoryConflict(err error, provider string) error {
	if index, ok := s.dialect.UniqueViolation(err); ok && index == "directories_provider_key" {
		name := provider
		if name == "" {
			name = "generic (no provider)"
		}
		return &roster.Error{Code: roster.EConflict,
			Message: fmt.Sprintf("the organization already has a %s SCIM directory; an organization has one directory per provider", name),
			Violations: []roster.FieldViolation{{Field: "directory.directory_provider", Constraint: "unique",
				Description: "one directory per organization and provider"}}}
	}
	return err
}

// GetDirectory returns a directory of the environment (and of the organization, when given).
func (s *Store) GetDirectory(ctx context.Context, environmentID, organizationID, id string) (roster.Directory, error) {
	return getDirectory(ctx, s.read, environmentID, organizationID, id, "")
}

func getDirectory(ctx context.Context, q querier, environmentID, organizationID, id, suffix string) (roster.Directory, error) {
	query := `SELECT ` + directoryColumns + ` FROM directories WHERE environment_id = $1 AND id = $2`
	args := []any{environmentID, id}
	if organizationID != "" {
		query += ` AND organization_id = $3`
		args = append(args, organizationID)
	}
	d, err := scanDirectory(q.QueryRowContext(ctx, query+suffix, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return d, notFound("directory")
	}
	if err != nil {
		return d, err
	}
	d.RoleAssignments, err = loadRoleAssignments(ctx, q, d.ID)
	return d, err
}

func loadRoleAssignments(ctx context.Context, q querier, directoryID string) ([]roster.DirectoryRoleAssignment, error) {
	rows, err := q.QueryContext(ctx, `SELECT a.group_id, a.role_id, r.name FROM directory_role_assignments a
		JOIN roles r ON r.id = a.role_id WHERE a.directory_id = $1 ORDER BY a.group_id`, directoryID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []roster.DirectoryRoleAssignment{}
	for rows.Next() {
		var a roster.DirectoryRoleAssignment
		if err := rows.Scan(&a.GroupID, &a.RoleID, &a.RoleName); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// ListDirectories returns an organization's directories, oldest first.
func (s *Store) ListDirectories(ctx context.Context, environmentID, organizationID string) ([]roster.Directory, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+directoryColumns+` FROM directories WHERE environment_id = $1 AND organization_id = $2
		ORDER BY seq LIMIT $3`, environmentID, organizationID, roster.MaxDirectoriesPerOrganization)
	if err != nil {
		return nil, err
	}
	out := []roster.Directory{}
	for rows.Next() {
		d, err := scanDirectory(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].RoleAssignments, err = loadRoleAssignments(ctx, s.read, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// UpdateDirectory applies update to a directory in one transaction.
func (s *Store) UpdateDirectory(ctx context.Context, environmentID, organizationID, id string, update func(*roster.Directory) error) (roster.Directory, error) {
	var out roster.Directory
	err := s.inOtherTx(ctx, func(tx txConn) error {
		if err := s.closeDirectoryGates(ctx, tx, id); err != nil {
			return err
		}
		if err := s.lockDirectoryOrganization(ctx, tx, environmentID, organizationID); err != nil {
			return err
		}
		d, err := getDirectory(ctx, tx, environmentID, organizationID, id, s.dialect.RowLock())
		if err != nil {
			return err
		}
		before := d
		before.Mappings = slices.Clone(d.Mappings)
		if err := update(&d); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE directories SET name = $1, provider = $2, enabled = $3, mappings = $4, update_time = $5
			WHERE id = $6`, d.Name, d.Provider, d.Enabled, mappingsText(d.Mappings), micros(d.UpdateTime), d.ID)
		out = d
		if err != nil {
			return err
		}
		changed := roster.DirectoryChanges(before, d)
		if len(changed) == 0 {
			return nil
		}
		typ := toggledType(before.Enabled, d.Enabled, roster.EventDirectoryUpdated, roster.EventDirectoryEnabled, roster.EventDirectoryDisabled)
		return s.recordEvents(ctx, tx, directoryEvent(typ, d, d.UpdateTime, changed))
	})
	return out, s.directoryConflict(err, out.Provider)
}

// DeleteDirectory removes a directory; its secrets, users, groups, members and role
// assignments go with it (ON DELETE CASCADE).
func (s *Store) DeleteDirectory(ctx context.Context, environmentID, organizationID, id string) error {
	return s.inOtherTx(ctx, func(tx txConn) error {
		if err := s.closeDirectoryGates(ctx, tx, id); err != nil {
			return err
		}
		d, err := getDirectory(ctx, tx, environmentID, organizationID, id, s.dialect.RowLock())
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM directories WHERE environment_id = $1 AND organization_id = $2 AND id = $3`,
			environmentID, organizationID, id); err != nil {
			return err
		}
		return s.recordEvents(ctx, tx, directoryEvent(roster.EventDirectoryDeleted, d, time.Now().UTC(), nil))
	})
}

// DirectoryStats counts a directory's users and groups (directory_counts, dirpages.go), with
// the latest user update kept there too; the latest group update is read from the groups
// (a directory has far fewer of them).
func (s *Store) DirectoryStats(ctx context.Context, environmentID, directoryID string) (store.DirectoryStats, error) {
	var st store.DirectoryStats
	var uu, gu sql.NullInt64
	err := s.read.QueryRowContext(ctx, `SELECT
		(SELECT COALESCE(SUM(total), 0) FROM directory_counts WHERE directory_id = $1 AND resource = 'directory_users'),
		(SELECT NULLIF(MAX(last_update), 0) FROM directory_counts WHERE directory_id = $1 AND resource = 'directory_users'),
		(SELECT COALESCE(SUM(total), 0) FROM directory_counts WHERE directory_id = $1 AND resource = 'directory_groups'),
		(SELECT MAX(update_time) FROM directory_groups WHERE directory_id = $1)
		FROM directories WHERE id = $1 AND environment_id = $2`,
		directoryID, environmentID).Scan(&st.Users, &uu, &st.Groups, &gu)
	if errors.Is(err, sql.ErrNoRows) { // not the environment's: nothing of it is counted
		return store.DirectoryStats{}, nil
	}
	st.UserUpdateTime, st.GroupUpdateTime = timePtr(uu), timePtr(gu)
	return st, err
}

// SetDirectoryRoleAssignments replaces a directory's group-to-role assignments.
func (s *Store) SetDirectoryRoleAssignments(ctx context.Context, environmentID, organizationID, directoryID string, a []roster.DirectoryRoleAssignment) ([]roster.DirectoryRoleAssignment, error) {
	return s.writeRoleAssignments(ctx, environmentID, organizationID, directoryID, func(tx txConn) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM directory_role_assignments WHERE directory_id = $1`, directoryID); err != nil {
			return err
		}
		for i, e := range a {
			if err := insertRoleAssignment(ctx, tx, directoryID, e.GroupID, e.RoleID, fmt.Sprintf("role_assignments.assignments[%d].group_id", i)); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeRoleAssignments runs a change of a directory's group-to-role assignments under the
// directory's row lock (the organization's first, in the lock order) and returns them after.
func (s *Store) writeRoleAssignments(ctx context.Context, environmentID, organizationID, directoryID string, change func(tx txConn) error) ([]roster.DirectoryRoleAssignment, error) {
	var out []roster.DirectoryRoleAssignment
	err := s.inOtherTx(ctx, func(tx txConn) error {
		if err := s.closeDirectoryGates(ctx, tx, directoryID); err != nil {
			return err
		}
		if err := s.lockDirectoryOrganization(ctx, tx, environmentID, organizationID); err != nil {
			return err
		}
		d, err := getDirectory(ctx, tx, environmentID, organizationID, directoryID, s.dialect.RowLock())
		if err != nil {
			return err
		}
		if err := change(tx); err != nil {
			return err
		}
		if out, err = loadRoleAssignments(ctx, tx, directoryID); err != nil {
			return err
		}
		after := d
		after.RoleAssignments = out
		changed := roster.DirectoryChanges(d, after)
		if len(changed) == 0 {
			return nil
		}
		// The directory's update time is not moved by an assignment: the event's is now.
		return s.recordEvents(ctx, tx, directoryEvent(roster.EventDirectoryUpdated, after, time.Now().UTC(), changed))
	})
	return out, err
}

// insertRoleAssignment assigns a role to a group of the directory; a group that is not the
// directory's is NOT_FOUND, its violation on field.
func insertRoleAssignment(ctx context.Context, tx txConn, directoryID, groupID, roleID, field string) error {
	if err := checkDirectoryGroup(ctx, tx, directoryID, groupID, field); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO directory_role_assignments (directory_id, group_id, role_id) VALUES ($1, $2, $3)`,
		directoryID, groupID, roleID)
	return err
}

// checkDirectoryGroup says NOT_FOUND, its violation on field, when groupID is not a group of
// the directory.
func checkDirectoryGroup(ctx context.Context, tx txConn, directoryID, groupID, field string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM directory_groups WHERE id = $1 AND directory_id = $2`, groupID, directoryID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		var v roster.Violations
		v.Add(field, "exists", "%s is not a group of this directory", groupID)
		return &roster.Error{Code: roster.ENotFound, Message: fmt.Sprintf("directory group %s not found", groupID), Violations: v}
	}
	return err
}

// SetDirectoryGroupRole changes one group's assignment under the directory's row lock, the
// lock SetDirectoryRoleAssignments takes: the others' are read and kept in the same
// transaction, so concurrent changes of different groups do not overwrite each other (a
// client that read the list, changed one and wrote the whole list back did).
func (s *Store) SetDirectoryGroupRole(ctx context.Context, environmentID, organizationID, directoryID, groupID, roleID string) ([]roster.DirectoryRoleAssignment, error) {
	return s.writeRoleAssignments(ctx, environmentID, organizationID, directoryID, func(tx txConn) error {
		if err := checkDirectoryGroup(ctx, tx, directoryID, groupID, "group_id"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM directory_role_assignments WHERE directory_id = $1 AND group_id = $2`, directoryID, groupID); err != nil {
			return err
		}
		if roleID == "" {
			return nil
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM directory_role_assignments WHERE directory_id = $1`, directoryID).Scan(&n); err != nil {
			return err
		}
		if n >= roster.MaxRoleAssignments {
			var v roster.Violations
			v.Add("role_name", "repeated.max_items=100", "a directory maps at most %d groups to roles; it maps %d", roster.MaxRoleAssignments, n)
			return v.Err()
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO directory_role_assignments (directory_id, group_id, role_id) VALUES ($1, $2, $3)`,
			directoryID, groupID, roleID)
		return err
	})
}

// RecordDirectorySync sets a directory's last SCIM write time, rarely: only when the stored
// one is older than the granularity, so most SCIM writes do not touch the directory's row.
func (s *Store) RecordDirectorySync(ctx context.Context, directoryID string, at time.Time) error {
	var last sql.NullInt64
	if err := s.read.QueryRowContext(ctx, `SELECT last_sync_time FROM directories WHERE id = $1`, directoryID).Scan(&last); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("directory")
		}
		return err
	}
	cut := micros(at.Add(-roster.DirectorySecretUseGranularity))
	if last.Valid && last.Int64 > cut {
		return nil
	}
	return s.inOtherTx(ctx, func(tx txConn) error {
		_, err := tx.ExecContext(ctx, `UPDATE directories SET last_sync_time = $1 WHERE id = $2
			AND (last_sync_time IS NULL OR last_sync_time <= $3)`, micros(at), directoryID, cut)
		return err
	})
}

func scanDirectory(row interface{ Scan(...any) error }) (roster.Directory, error) {
	var d roster.Directory
	var typ, mappings string
	var created, updated int64
	var synced sql.NullInt64
	if err := row.Scan(&d.ID, &d.EnvironmentID, &d.OrganizationID, &d.Name, &typ, &d.Provider, &d.Enabled, &mappings,
		&created, &updated, &synced, &d.HasSecret); err != nil {
		return d, err
	}
	var ms []mappingJSON
	if err := json.Unmarshal([]byte(mappings), &ms); err != nil {
		return d, fmt.Errorf("directory %s: mappings: %w", d.ID, err)
	}
	d.Mappings = make([]roster.DirectoryMapping, len(ms))
	for i, m := range ms {
		d.Mappings[i] = roster.DirectoryMapping{Key: m.Key, MapTo: m.MapTo}
	}
	d.Type = roster.DirectoryType(typ)
	d.CreateTime, d.UpdateTime, d.LastSyncTime = fromMicros(created), fromMicros(updated), timePtr(synced)
	d.RoleAssignments = []roster.DirectoryRoleAssignment{}
	return d, nil
}

const secretColumns = `id, directory_id, hash, suffix, create_time, expire_time, last_used_time`

// CreateDirectorySecret stores a secret of a directory; replace deletes the others in the
// same transaction.
func (s *Store) CreateDirectorySecret(ctx context.Context, environmentID, organizationID string, sec roster.DirectorySecret, replace bool) error {
	return s.inOtherTx(ctx, func(tx txConn) error {
		// The directory's row lock orders concurrent creates and regenerations.
		if err := s.closeDirectoryGates(ctx, tx, sec.DirectoryID); err != nil {
			return err
		}
		if err := s.lockDirectoryOrganization(ctx, tx, environmentID, organizationID); err != nil {
			return err
		}
		d, err := getDirectory(ctx, tx, environmentID, organizationID, sec.DirectoryID, s.dialect.RowLock())
		if err != nil {
			return err
		}
		typ := roster.EventDirectorySecretCreated
		if replace {
			typ = roster.EventDirectorySecretRegenerated
			if _, err := tx.ExecContext(ctx, `DELETE FROM directory_secrets WHERE directory_id = $1`, sec.DirectoryID); err != nil {
				return err
			}
		} else {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM directory_secrets WHERE directory_id = $1`, sec.DirectoryID).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return &roster.Error{Code: roster.EConflict,
					Message: "the directory already has a secret; regenerate it (RegenerateDirectorySecret) to replace it"}
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO directory_secrets (`+secretColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			sec.ID, sec.DirectoryID, sec.Hash, sec.Suffix, micros(sec.CreateTime), nullMicros(sec.ExpireTime), nullMicros(sec.LastUsedTime)); err != nil {
			return err
		}
		sec.Active = true
		return s.recordEvents(ctx, tx, directorySecretEvent(typ, d.EnvironmentID, d.OrganizationID, sec))
	})
}

// ListDirectorySecrets returns a directory's secrets, oldest first.
func (s *Store) ListDirectorySecrets(ctx context.Context, directoryID string) ([]roster.DirectorySecret, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+secretColumns+` FROM directory_secrets WHERE directory_id = $1 ORDER BY create_time, id`, directoryID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []roster.DirectorySecret{}
	for rows.Next() {
		sec, err := scanSecret(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sec)
	}
	return out, rows.Err()
}

func scanSecret(row interface{ Scan(...any) error }) (roster.DirectorySecret, error) {
	var sec roster.DirectorySecret
	var created int64
	var expire, used sql.NullInt64
	err := row.Scan(&sec.ID, &sec.DirectoryID, &sec.Hash, &sec.Suffix, &created, &expire, &used)
	sec.CreateTime, sec.ExpireTime, sec.LastUsedTime, sec.Active = fromMicros(created), timePtr(expire), timePtr(used), true
	return sec, err
}

// findDirectoryBySecretQuery is FindDirectoryBySecret's query, built once (building it was 7%
// of the call's CPU).
var findDirectoryBySecretQuery = `SELECT ` + prefixed("s.", secretColumns) + `, ` + prefixed("directories.", directoryAuthColumns) + `, TRUE,
	` + prefixed("o.", orgColumns) + `, EXISTS (SELECT 1 FROM directory_role_assignments r WHERE r.directory_id = directories.id)
	FROM directory_secrets s
	JOIN directories ON directories.id = s.directory_id AND directories.enabled
	JOIN organizations o ON o.id = directories.organization_id AND o.environment_id = directories.environment_id
	WHERE s.hash = $1 AND (s.expire_time IS NULL OR s.expire_time > $2)`

// FindDirectoryBySecret finds the enabled directory of a secret's hash, with its organization,
// in one query (every SCIM request makes it); the directory's role assignments take a second
// one only when it has any.
func (s *Store) FindDirectoryBySecret(ctx context.Context, hash string, now time.Time) (store.DirectoryAuth, error) {
	var a store.DirectoryAuth
	row := s.read.QueryRowContext(ctx, findDirectoryBySecretQuery, hash, micros(now))
	// One row, three scan functions: each one's Scan is the next one's scan, the last one
	// scans the row, so each one converts its columns once all are read.
	var errDir, errOrg error
	var assigned bool
	sec, err := scanSecret(scanFunc(func(secDest ...any) error {
		a.Directory, errDir = scanDirectory(scanFunc(func(dirDest ...any) error {
			a.Organization, errOrg = scanOrganization(scanFunc(func(orgDest ...any) error {
				return row.Scan(slices.Concat(secDest, dirDest, orgDest, []any{&assigned})...)
			}))
			return errOrg
		}))
		return errDir
	}))
	if errors.Is(err, sql.ErrNoRows) {
		return store.DirectoryAuth{}, notFound("directory secret")
	}
	if err != nil {
		return store.DirectoryAuth{}, err
	}
	a.Secret = sec
	if assigned {
		if a.Directory.RoleAssignments, err = loadRoleAssignments(ctx, s.read, a.Directory.ID); err != nil {
			return store.DirectoryAuth{}, err
		}
	}
	return a, nil
}

// directoryAuthColumns are directoryColumns but the last (whether it has a secret).
const directoryAuthColumns = `id, environment_id, organization_id, name, directory_type, provider, enabled, mappings,
	create_time, update_time, last_sync_time`

// scanFunc is a Scan method of a function.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// RecordDirectorySecretUse sets a secret's last-used time when the stored one is older than
// the granularity.
func (s *Store) RecordDirectorySecretUse(ctx context.Context, secretID string, at time.Time) error {
	var last sql.NullInt64
	if err := s.read.QueryRowContext(ctx, `SELECT last_used_time FROM directory_secrets WHERE id = $1`, secretID).Scan(&last); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("directory secret")
		}
		return err
	}
	cut := micros(at.Add(-roster.DirectorySecretUseGranularity))
	if last.Valid && last.Int64 > cut {
		return nil
	}
	return s.inOtherTx(ctx, func(tx txConn) error {
		_, err := tx.ExecContext(ctx, `UPDATE directory_secrets SET last_used_time = $1 WHERE id = $2
			AND (last_used_time IS NULL OR last_used_time <= $3)`, micros(at), secretID, cut)
		return err
	})
}

const directoryUserColumns = `id, environment_id, directory_id, user_id, user_name, external_id, active, email, preferred_username,
	given_name, family_name, emails, raw, create_time, update_time, display_name`

func rawText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "{}"
	}
	return string(raw)
}

func nullID(id string) sql.NullString { return sql.NullString{String: id, Valid: id != ""} }

// CreateDirectoryUser stores a directory user of an existing directory.
func (s *Store) CreateDirectoryUser(ctx context.Context, u roster.DirectoryUser) error {
	seq, ok := roster.IDNumber(u.ID, roster.PrefixDirectoryUser)
	if !ok {
		return fmt.Errorf("malformed directory user id %q", u.ID)
	}
	err := s.inOtherTx(ctx, func(tx txConn) error {
		if err := s.lockDirectory(ctx, tx, u.EnvironmentID, u.DirectoryID); err != nil {
			return err
		}
		return insertDirectoryUser(ctx, tx, u, seq)
	})
	return s.directoryUserConflict(err, u)
}

func (s *Store) directoryUserConflict(err error, u roster.DirectoryUser) error {
	index, ok := s.dialect.UniqueViolation(err)
	switch {
	case ok && index == "directory_users_user_name_key":
		return &roster.Error{Code: roster.EConflict, Message: fmt.Sprintf("a user with userName %q already exists in the directory", u.UserName),
			Violations: []roster.FieldViolation{{Field: "userName", Constraint: "unique", Description: "must be unique in the directory"}}}
	case ok && index == "directory_users_user_key":
		return &roster.Error{Code: roster.EConflict, Message: "another user of the directory is already linked to this Roster user",
			Violations: []roster.FieldViolation{{Field: "userName", Constraint: "unique", Description: "one directory user per Roster user"}}}
	}
	return err
}

// lockDirectoryOrganization share-locks the organization before a directory's own row is
// locked for its update (lock order: the organization first). organizationID "" locks nothing.
func (s *Store) lockDirectoryOrganization(ctx context.Context, tx txConn, environmentID, organizationID string) error {
	lock := s.dialect.ShareLock()
	if lock == "" || organizationID == "" {
		return nil
	}
	err := lockOrganizationRow(ctx, tx, environmentID, organizationID, lock)
	if roster.ErrorCode(err) == roster.ENotFound {
		return notFound("directory") // the organization is gone, or not the environment's: so is its directory
	}
	return err
}

// lockDirectory share-locks a directory's organization, then key-shares the directory, before
// a write adds or changes rows under it (directory users, groups, members). The organization
// first, as every write does (the lock order of sqlstore.go): deleting the organization, which
// takes its row lock first and then cascades down to these rows, waits for such a write
// instead of crossing it into a deadlock. The directory's own update and delete lock its row
// FOR UPDATE, which waits for a key share; recording its last sync (a no-key UPDATE) does not,
// which a share lock would make it do: see keyShareLock. NOT_FOUND when the directory is not
// the environment's.
func (s *Store) lockDirectory(ctx context.Context, tx txConn, environmentID, directoryID string) error {
	var orgID string
	err := tx.QueryRowContext(ctx, `SELECT organization_id FROM directories WHERE id = $1 AND environment_id = $2`, directoryID, environmentID).Scan(&orgID)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("directory")
	}
	if err != nil {
		return err
	}
	lock := s.dialect.ShareLock()
	if lock == "" { // SQLite: one writer at a time, nothing to order
		return nil
	}
	if err := lockOrganizationRow(ctx, tx, environmentID, orgID, lock); err != nil {
		return err
	}
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM directories WHERE id = $1 AND environment_id = $2`+s.keyShareLock(), directoryID, environmentID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("directory")
	}
	return err
}

// GetDirectoryUser returns a user of a directory.
func (s *Store) GetDirectoryUser(ctx context.Context, environmentID, directoryID, id string) (roster.DirectoryUser, error) {
	return getDirectoryUser(ctx, s.read, environmentID, directoryID, id, "")
}

func getDirectoryUser(ctx context.Context, q querier, environmentID, directoryID, id, suffix string) (roster.DirectoryUser, error) {
	u, err := scanDirectoryUser(q.QueryRowContext(ctx, `SELECT `+directoryUserColumns+` FROM directory_users
		WHERE id = $1 AND directory_id = $2 AND environment_id = $3`+suffix, id, directoryID, environmentID))
	if errors.Is(err, sql.ErrNoRows) {
		return u, notFound("directory user")
	}
	return u, err
}

// UpdateDirectoryUser applies update to a directory user in one transaction.
func (s *Store) UpdateDirectoryUser(ctx context.Context, environmentID, directoryID, id string, update func(*roster.DirectoryUser) error) (roster.DirectoryUser, error) {
	var out roster.DirectoryUser
	err := s.inOtherTx(ctx, func(tx txConn) error {
		if err := s.lockDirectory(ctx, tx, environmentID, directoryID); err != nil {
			return err
		}
		u, err := getDirectoryUser(ctx, tx, environmentID, directoryID, id, s.dialect.RowLock())
		if err != nil {
			return err
		}
		if err := update(&u); err != nil {
			return err
		}
		u.ID, u.EnvironmentID, u.DirectoryID = id, environmentID, directoryID
		out = u
		return updateDirectoryUserRow(ctx, tx, u)
	})
	return out, s.directoryUserConflict(err, out)
}

// DeleteDirectoryUser removes a directory user; its member rows go with it.
func (s *Store) DeleteDirectoryUser(ctx context.Context, environmentID, directoryID, id string) error {
	return s.deleteRow(ctx, `directory_users`, "directory user", environmentID, directoryID, id)
}

func (s *Store) deleteRow(ctx context.Context, table, what, environmentID, directoryID, id string) error {
	return s.inOtherTx(ctx, func(tx txConn) error {
		if err := s.lockDirectory(ctx, tx, environmentID, directoryID); err != nil {
			if roster.ErrorCode(err) == roster.ENotFound {
				return notFound(what)
			}
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE id = $1 AND directory_id = $2 AND environment_id = $3`, id, directoryID, environmentID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound(what)
		}
		return countDirectoryChange(ctx, tx, directoryID, table, -1)
	})
}

// ListDirectoryUsers returns one page of a directory's users in ID order, and the number of
// all that match.
func (s *Store) ListDirectoryUsers(ctx context.Context, environmentID, directoryID string, q store.DirectoryUserQuery) (store.Page[roster.DirectoryUser], error) {
	where := []string{"directory_id = $1", directoryEnvironment}
	args := []any{directoryID, environmentID}
	arg := appendArg(&args)
	if q.UpdatedAfter != nil {
		where = append(where, "update_time > "+arg(micros(*q.UpdatedAfter)))
	}
	if q.GroupID != "" {
		where = append(where, "id IN (SELECT user_id FROM directory_group_members WHERE group_id = "+arg(q.GroupID)+")")
	}
	if q.UserNameKey != "" {
		where = append(where, "user_name_key = "+arg(q.UserNameKey))
	}
	if q.ExternalID != nil {
		where = append(where, "external_id = "+arg(*q.ExternalID))
	}
	if q.UserID != "" {
		where = append(where, "user_id = "+arg(q.UserID))
	}
	return keysetPage(ctx, s.read, "directory_users", directoryUserColumns, where, args, q.Page, scanDirectoryUser)
}

// directoryEnvironment is the tenant boundary of a list of a directory's rows ($1 the
// directory, $2 the environment): checked once, so that counting and paging step the
// (directory_id, seq) index without reading each row for its environment (docs/scim.md
// "Paging").
const directoryEnvironment = "EXISTS (SELECT 1 FROM directories WHERE id = $1 AND environment_id = $2)"

func scanDirectoryUser(row interface{ Scan(...any) error }) (roster.DirectoryUser, error) {
	var u roster.DirectoryUser
	var userID sql.NullString
	var emails, raw string
	var created, updated int64
	if err := row.Scan(&u.ID, &u.EnvironmentID, &u.DirectoryID, &userID, &u.UserName, &u.ExternalID, &u.Active, &u.Email,
		&u.PreferredUsername, &u.GivenName, &u.FamilyName, &emails, &raw, &created, &updated, &u.DisplayName); err != nil {
		return u, err
	}
	if err := json.Unmarshal([]byte(emails), &u.Emails); err != nil {
		return u, fmt.Errorf("directory user %s: emails: %w", u.ID, err)
	}
	u.UserID, u.Raw = userID.String, json.RawMessage(raw)
	u.CreateTime, u.UpdateTime = fromMicros(created), fromMicros(updated)
	return u, nil
}

const directoryGroupColumns = `id, environment_id, directory_id, display_name, external_id, raw, create_time, update_time,
	(SELECT COUNT(*) FROM directory_group_members m WHERE m.group_id = directory_groups.id)`

// CreateDirectoryGroup stores a group of an existing directory.
func (s *Store) CreateDirectoryGroup(ctx context.Context, g roster.DirectoryGroup) error {
	seq, ok := roster.IDNumber(g.ID, roster.PrefixDirectoryGroup)
	if !ok {
		return fmt.Errorf("malformed directory group id %q", g.ID)
	}
	return s.inOtherTx(ctx, func(tx txConn) error {
		if err := s.lockDirectory(ctx, tx, g.EnvironmentID, g.DirectoryID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO directory_groups (id, environment_id, directory_id, display_name, external_id, raw,
			create_time, update_time, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			g.ID, g.EnvironmentID, g.DirectoryID, g.DisplayName, g.ExternalID, rawText(g.Raw), micros(g.CreateTime), micros(g.UpdateTime), seq)
		if err != nil {
			return s.conflict(err, groupName(g))
		}
		return countDirectoryChange(ctx, tx, g.DirectoryID, countGroups, 1)
	})
}

// GetDirectoryGroup returns a group of a directory with its member count.
func (s *Store) GetDirectoryGroup(ctx context.Context, environmentID, directoryID, id string) (roster.DirectoryGroup, error) {
	return getDirectoryGroup(ctx, s.read, environmentID, directoryID, id, "")
}

func getDirectoryGroup(ctx context.Context, q querier, environmentID, directoryID, id, suffix string) (roster.DirectoryGroup, error) {
	g, err := scanDirectoryGroup(q.QueryRowContext(ctx, `SELECT `+directoryGroupColumns+` FROM directory_groups
		WHERE id = $1 AND directory_id = $2 AND environment_id = $3`+suffix, id, directoryID, environmentID))
	if errors.Is(err, sql.ErrNoRows) {
		return g, notFound("directory group")
	}
	return g, err
}

// UpdateDirectoryGroup applies update to a group's own fields (not its members).
func (s *Store) UpdateDirectoryGroup(ctx context.Context, environmentID, directoryID, id string, update func(*roster.DirectoryGroup) error) (roster.DirectoryGroup, error) {
	var out roster.DirectoryGroup
	err := s.inOtherTx(ctx, func(tx txConn) error {
		if err := s.lockDirectory(ctx, tx, environmentID, directoryID); err != nil {
			return err
		}
		g, err := getDirectoryGroup(ctx, tx, environmentID, directoryID, id, s.dialect.RowLock())
		if err != nil {
			return err
		}
		if err := update(&g); err != nil {
			return err
		}
		g.ID, g.EnvironmentID, g.DirectoryID = id, environmentID, directoryID
		_, err = tx.ExecContext(ctx, `UPDATE directory_groups SET display_name = $1, external_id = $2, raw = $3, update_time = $4 WHERE id = $5`,
			g.DisplayName, g.ExternalID, rawText(g.Raw), micros(g.UpdateTime), g.ID)
		out = g
		return err
	})
	return out, err
}

// DeleteDirectoryGroup removes a group; its member rows and role assignment go with it.
func (s *Store) DeleteDirectoryGroup(ctx context.Context, environmentID, directoryID, id string) error {
	return s.deleteRow(ctx, `directory_groups`, "directory group", environmentID, directoryID, id)
}

// ListDirectoryGroups returns one page of a directory's groups in ID order.
func (s *Store) ListDirectoryGroups(ctx context.Context, environmentID, directoryID string, q store.DirectoryGroupQuery) (store.Page[roster.DirectoryGroup], error) {
	where := []string{"directory_id = $1", directoryEnvironment}
	args := []any{directoryID, environmentID}
	arg := appendArg(&args)
	if q.UpdatedAfter != nil {
		where = append(where, "update_time > "+arg(micros(*q.UpdatedAfter)))
	}
	if q.DisplayName != nil {
		where = append(where, "display_name = "+arg(*q.DisplayName))
	}
	if q.ExternalID != nil {
		where = append(where, "external_id = "+arg(*q.ExternalID))
	}
	return keysetPage(ctx, s.read, "directory_groups", directoryGroupColumns, where, args, q.Page, scanDirectoryGroup)
}

func scanDirectoryGroup(row interface{ Scan(...any) error }) (roster.DirectoryGroup, error) {
	var g roster.DirectoryGroup
	var raw string
	var created, updated int64
	err := row.Scan(&g.ID, &g.EnvironmentID, &g.DirectoryID, &g.DisplayName, &g.ExternalID, &raw, &created, &updated, &g.MemberCount)
	g.Raw, g.CreateTime, g.UpdateTime = json.RawMessage(raw), fromMicros(created), fromMicros(updated)
	return g, err
}

// touchGroup sets a group's update time, which also locks its row (lock order: the group,
// then its member rows), or says it is not found.
func touchGroup(ctx context.Context, tx txConn, environmentID, directoryID, groupID string, at time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE directory_groups SET update_time = $1 WHERE id = $2 AND directory_id = $3 AND environment_id = $4`,
		micros(at), groupID, directoryID, environmentID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("directory group")
	}
	return nil
}

// AddDirectoryGroupMembers adds member rows; it never reads or rewrites the group's other
// members.
func (s *Store) AddDirectoryGroupMembers(ctx context.Context, environmentID, directoryID, groupID string, userIDs []string, at time.Time) (int, []string, error) {
	ids := slices.Compact(slices.Sorted(slices.Values(userIDs)))
	var added int
	var missing []string
	err := s.inOtherTx(ctx, func(tx txConn) error {
		added, missing = 0, nil
		if err := s.lockDirectory(ctx, tx, environmentID, directoryID); err != nil {
			return err
		}
		if err := touchGroup(ctx, tx, environmentID, directoryID, groupID, at); err != nil {
			return err
		}
		for start := 0; start < len(ids); start += 500 {
			chunk := ids[start:min(start+500, len(ids))]
			args := []any{directoryID}
			for _, id := range chunk {
				args = append(args, id)
			}
			rows, err := tx.QueryContext(ctx, `SELECT id FROM directory_users WHERE directory_id = $1 AND id IN (`+placeholders(2, len(chunk))+`)`, args...)
			if err != nil {
				return err
			}
			found := map[string]bool{}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				found[id] = true
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, id := range chunk {
				if !found[id] {
					missing = append(missing, id)
					continue
				}
				res, err := tx.ExecContext(ctx, `INSERT INTO directory_group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, groupID, id)
				if err != nil {
					return err
				}
				n, _ := res.RowsAffected()
				added += int(n)
			}
		}
		return nil
	})
	return added, missing, err
}

// RemoveDirectoryGroupMembers deletes member rows by user ID.
func (s *Store) RemoveDirectoryGroupMembers(ctx context.Context, environmentID, directoryID, groupID string, userIDs []string, at time.Time) (int, error) {
	ids := slices.Compact(slices.Sorted(slices.Values(userIDs)))
	var removed int
	err := s.inOtherTx(ctx, func(tx txConn) error {
		removed = 0
		if err := s.lockDirectory(ctx, tx, environmentID, directoryID); err != nil {
			return err
		}
		if err := touchGroup(ctx, tx, environmentID, directoryID, groupID, at); err != nil {
			return err
		}
		for start := 0; start < len(ids); start += 500 {
			chunk := ids[start:min(start+500, len(ids))]
			args := []any{groupID}
			for _, id := range chunk {
				args = append(args, id)
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM directory_group_members WHERE group_id = $1 AND user_id IN (`+placeholders(2, len(chunk))+`)`, args...)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			removed += int(n)
		}
		return nil
	})
	return removed, err
}

// ListDirectoryGroupMembers returns a page of a group's member user IDs in ID order.
func (s *Store) ListDirectoryGroupMembers(ctx context.Context, environmentID, directoryID, groupID, after string, limit int) ([]string, error) {
	ids, err := queryIDs(ctx, s.read, `SELECT m.user_id FROM directory_group_members m
		JOIN directory_groups g ON g.id = m.group_id AND g.directory_id = $2 AND g.environment_id = $3
		WHERE m.group_id = $1 AND m.user_id > $4 ORDER BY m.user_id LIMIT $5`, groupID, directoryID, environmentID, after, limit)
	if err != nil {
		return nil, err
	}
	return nonNilSlice(ids), nil
}

// DirectoryUserGroups returns the groups of each given user, one query per 500 users.
func (s *Store) DirectoryUserGroups(ctx context.Context, environmentID, directoryID string, userIDs []string) (map[string][]roster.DirectoryGroup, error) {
	out := map[string][]roster.DirectoryGroup{}
	for start := 0; start < len(userIDs); start += 500 {
		chunk := userIDs[start:min(start+500, len(userIDs))]
		args := []any{directoryID, environmentID}
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := s.read.QueryContext(ctx, `SELECT m.user_id, g.id, g.display_name, g.update_time FROM directory_group_members m
			JOIN directory_groups g ON g.id = m.group_id AND g.directory_id = $1 AND g.environment_id = $2
			WHERE m.user_id IN (`+placeholders(3, len(chunk))+`) ORDER BY m.user_id, g.id`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var userID string
			var updated int64
			g := roster.DirectoryGroup{EnvironmentID: environmentID, DirectoryID: directoryID}
			if err := rows.Scan(&userID, &g.ID, &g.DisplayName, &updated); err != nil {
				rows.Close()
				return nil, err
			}
			g.UpdateTime = fromMicros(updated)
			out[userID] = append(out[userID], g)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
