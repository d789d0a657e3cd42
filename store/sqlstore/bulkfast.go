package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// The fast path of an import: the lines that create users whose external ID and email no user
// has (found by one query per keyChunk keys, before the lines run) and that no earlier line of
// the batch names are checked in Go and inserted together (PostgreSQL: one statement per table,
// arrays of values; SQLite: up to 64 rows per statement), in one savepoint per run of such
// lines. Should a run fail in the database (a unique attribute value taken, a concurrent
// writer's user), it is rolled back and its lines run again one at a time,
// each in its own savepoint: the outcome is the same as one line after another, at a fraction
// of the statements (PostgreSQL: the round trips).
const (
	keyGroup = 64   // keys per look-up statement (padded with NULLs: one statement text)
	keyChunk = 1000 // keys per look-up statement of existingKeys (one array argument)
	runMax   = 256  // lines per run
)

// existingKeys returns the IDs of the users that the lines' external IDs and email keys name,
// by key, read before the lines run.
func (im *importer) existingKeys(ctx context.Context, lines []store.ImportLine) (ext, email map[string]string, err error) {
	var exts, emails []string
	for _, l := range lines {
		if x := l.User.ExternalID; x != nil && *x != "" {
			exts = append(exts, *x)
		}
		emails = append(emails, roster.EmailKey(l.User.Email))
	}
	ext, email = map[string]string{}, map[string]string{}
	lookup := func(col string, keys []string, found map[string]string) error {
		// One probe of the unique index per key (a subquery per key), not "IN (...)" or a
		// join, which PostgreSQL's planner may answer from the trigram search index or a scan.
		// The keys go as one argument, an array (a JSON array on SQLite): a statement of one
		// branch per key cost PostgreSQL more to plan than to run (about 4 ms per 64 keys).
		probe := `(SELECT u.id FROM users u WHERE u.environment_id = $1 AND u.` + col + ` = keys.k)`
		query := `SELECT keys.k, ` + probe + ` FROM unnest(CAST($2 AS TEXT[])) AS keys (k)`
		if im.s.dialect.Name() == "sqlite" {
			query = `SELECT keys.k, ` + probe + ` FROM (SELECT value AS k FROM json_each($2)) AS keys`
		}
		for len(keys) > 0 {
			n := min(keyChunk, len(keys))
			var arg any = keys[:n]
			if im.s.dialect.Name() == "sqlite" {
				b, err := json.Marshal(keys[:n])
				if err != nil {
					return err
				}
				arg = string(b)
			}
			rows, err := im.tx.QueryContext(ctx, query, im.env, arg)
			if err != nil {
				return err
			}
			for rows.Next() {
				var k, id sql.NullString
				if err := rows.Scan(&k, &id); err != nil {
					rows.Close()
					return err
				}
				if k.Valid && id.Valid {
					found[k.String] = id.String
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			keys = keys[n:]
		}
		return nil
	}
	if err := lookup("external_id", exts, ext); err != nil {
		return nil, nil, err
	}
	return ext, email, lookup("email_key", emails, email)
}

// loadUsers reads and locks (in ID order, lock order step 3) the users the lines name, with
// their memberships, so that a line whose user no earlier line touched needs no query of its
// own (and one that changes nothing, none at all).
func (im *importer) loadUsers(ctx context.Context, ext, email map[string]string) (map[string]roster.User, error) {
	seen := map[string]bool{}
	var ids []string
	for _, m := range []map[string]string{ext, email} {
		for _, id := range m {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	out := make(map[string]roster.User, len(ids))
	query := `SELECT ` + im.s.fullUserColumns + ` FROM users u WHERE u.id IN (` + placeholders(1, keyGroup) + `) ORDER BY u.id` + im.s.dialect.RowLock()
	for len(ids) > 0 {
		n := min(keyGroup, len(ids))
		args := make([]any, 0, keyGroup)
		for _, id := range ids[:n] {
			args = append(args, id)
		}
		for len(args) < keyGroup {
			args = append(args, nil)
		}
		ids = ids[n:]
		users, err := im.s.queryFullUsers(ctx, im.tx, n, query, args...)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			out[u.ID] = u
		}
	}
	return out, nil
}

// newUser is a line of a run: the user it creates and its memberships.
type newUser struct {
	at          int // the line's index in the batch
	u           roster.User
	memberships []roster.Membership
}

// build checks a line that creates a user, in Go: everything that does not need the
// database (limits, attribute definitions, organizations, the default role).
func (im *importer) build(l *store.ImportLine) (newUser, error) {
	in := l.User
	u := in.NewUser(l.NewID, im.env, im.now)
	if _, err := in.Apply(&u, im.now); err != nil {
		return newUser{}, err
	}
	u.UpdateTime = im.now
	if err := roster.CheckCustomAttributes("user_profile.custom_attributes", u.Profile.CustomAttributes, im.defs); err != nil {
		return newUser{}, err
	}
	nu := newUser{u: u}
	for i, mi := range in.Memberships {
		name, ok := im.orgs[mi.OrganizationID]
		if !ok {
			return newUser{}, unknownOrganization(i, mi.OrganizationID)
		}
		m, err := im.newMembership(u.ID, name, mi, l.Memberships[i])
		if err != nil {
			return newUser{}, err
		}
		nu.memberships = append(nu.memberships, m)
	}
	return nu, nil
}

// flush inserts a run of new users in one savepoint; false means the run was rolled back.
func (im *importer) flush(ctx context.Context, run []newUser) (bool, error) {
	if _, err := im.tx.ExecContext(ctx, `SAVEPOINT import_run`); err != nil {
		return false, err
	}
	err := im.insertRun(ctx, run)
	if err != nil {
		var re *roster.Error
		if _, ok := im.s.dialect.UniqueViolation(err); !ok && !errors.As(err, &re) {
			return false, err // the database's trouble, not the lines'
		}
		if _, err := im.tx.ExecContext(ctx, `ROLLBACK TO import_run`); err != nil {
			return false, err
		}
	}
	if _, err := im.tx.ExecContext(ctx, `RELEASE import_run`); err != nil {
		return false, err
	}
	return err == nil, nil
}

func (im *importer) insertRun(ctx context.Context, run []newUser) error {
	users := rowInserter{pg: im.s.pg(), insert: insertUserPrefix, columns: userRowColumns, types: "TTITTTTTTTTTTTTBBTTIII"}
	attrs := rowInserter{pg: im.s.pg(), insert: `INSERT INTO user_attributes (environment_id, user_id, attr_key, value, unique_value) VALUES `, columns: 5, types: "TTTTT"}
	members := rowInserter{pg: im.s.pg(), insert: `INSERT INTO memberships (environment_id, organization_id, user_id, user_seq, status, metadata,
		inviter_email, provisioning_method, create_time, update_time, accept_time, expire_time, invite_resent_count, invite_resent_time) VALUES `, columns: 14,
		types: "TTTITTTTIIIIII"}
	roles := rowInserter{pg: im.s.pg(), insert: `INSERT INTO membership_roles (organization_id, user_id, role_id) VALUES `, columns: 3, types: "TTT"}
	// each new user's provenance: one row for its creation (docs/provenance.md)
	sources := rowInserter{pg: im.s.pg(), insert: `INSERT INTO user_field_sources (user_id, field, source, source_id, update_time) VALUES `, columns: 5,
		types: "TTTTI"}
	var roleIDs []string
	seenRole := map[string]bool{}
	for _, nu := range run {
		for _, m := range nu.memberships {
			for _, r := range m.Roles {
				if !seenRole[r.ID] {
					seenRole[r.ID] = true
					roleIDs = append(roleIDs, r.ID)
				}
			}
		}
	}
	// Lock order: the roles (share) before the rows that refer to them; a role deleted since
	// the directory resolved it is dropped, as lockRoles does.
	exists, err := im.s.lockRoleIDs(ctx, im.tx, roleIDs)
	if err != nil {
		return err
	}
	im.runRoles = exists
	for _, nu := range run {
		u := nu.u
		im.touch(u.ID)
		row, seq, err := userRow(u)
		if err != nil {
			return err
		}
		users.add(row...)
		sources.add(u.ID, roster.FieldCreated, string(im.writer.Source), im.writer.ID, micros(im.now))
		for _, k := range sortedKeys(u.Profile.CustomAttributes) {
			v := u.Profile.CustomAttributes[k]
			var unique any
			if im.defs[k].Unique {
				unique = v
			}
			attrs.add(u.EnvironmentID, u.ID, k, v, unique)
		}
		for _, m := range nu.memberships {
			meta, err := json.Marshal(nonNil(m.Metadata))
			if err != nil {
				return err
			}
			members.add(im.env, m.OrganizationID, u.ID, seq, string(m.Status), string(meta), nullString(m.InviterEmail),
				m.ProvisioningMethod, micros(m.CreateTime), micros(m.UpdateTime), nullMicros(m.AcceptTime), nullMicros(m.ExpireTime),
				m.InviteResentCount, nullMicros(m.InviteResentTime))
		}
	}
	// Rows that refer to others go after them: users, then what hangs off users.
	if err := users.done(ctx, im.tx); err != nil {
		return err
	}
	for _, nu := range run {
		for _, m := range nu.memberships {
			seen := map[string]bool{}
			for _, r := range m.Roles {
				if seen[r.ID] || !exists[r.ID] {
					continue
				}
				seen[r.ID] = true
				roles.add(m.OrganizationID, nu.u.ID, r.ID)
			}
		}
	}
	for _, ins := range []*rowInserter{&attrs, &members, &roles, &sources} {
		if err := ins.done(ctx, im.tx); err != nil {
			return err
		}
	}
	return nil
}

// createdEvents are the events of a new user of a run that was inserted: the user as
// stored, with its memberships and the roles of them that exist (runRoles).
func (im *importer) createdEvents(nu newUser) []roster.Event {
	u := nu.u
	u.Memberships = make([]roster.Membership, len(nu.memberships))
	for i, m := range nu.memberships {
		m.Roles = slices.DeleteFunc(slices.Clone(m.Roles), func(r roster.RoleRef) bool { return !im.runRoles[r.ID] })
		u.Memberships[i] = m
	}
	return userCreatedEvents(u, im.env, im.now)
}

// lockRoleIDs share-locks roles in ID order (where the dialect locks rows) and reports which
// exist: a role deleted since the directory resolved it is left out, as lockRoles does.
func (s *Store) lockRoleIDs(ctx context.Context, tx txConn, ids []string) (map[string]bool, error) {
	exists := map[string]bool{}
	if len(ids) == 0 {
		return exists, nil
	}
	ids = slices.Sorted(slices.Values(ids))
	for len(ids) > 0 {
		n := min(keyGroup, len(ids))
		args := make([]any, 0, keyGroup)
		for _, id := range ids[:n] {
			args = append(args, id)
		}
		for len(args) < keyGroup {
			args = append(args, nil)
		}
		ids = ids[n:]
		rows, err := tx.QueryContext(ctx, `SELECT id FROM roles WHERE id IN (`+placeholders(1, keyGroup)+`) ORDER BY id`+s.dialect.ShareLock(), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			exists[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return exists, nil
}
