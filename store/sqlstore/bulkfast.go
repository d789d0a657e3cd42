package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

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

// rowGroups are the rows per multi-row INSERT on SQLite, largest first; the rest of a run's
// rows go in smaller groups, the last one row at a time.
var rowGroups = []int{64, 8, 1}

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
	users := rowInserter{im: im, insert: insertUserPrefix, columns: userRowColumns, types: "TTITTTTTTTTTTTTBBTTIII"}
	attrs := rowInserter{im: im, insert: `INSERT INTO user_attributes (environment_id, user_id, attr_key, value, unique_value) VALUES `, columns: 5, types: "TTTTT"}
	members := rowInserter{im: im, insert: `INSERT INTO memberships (environment_id, organization_id, user_id, user_seq, status, metadata,
		inviter_email, provisioning_method, create_time, update_time, accept_time, expire_time, invite_resent_count, invite_resent_time) VALUES `, columns: 14,
		types: "TTTITTTTIIIIII"}
	roles := rowInserter{im: im, insert: `INSERT INTO membership_roles (organization_id, user_id, role_id) VALUES `, columns: 3, types: "TTT"}
	// each new user's provenance: one row for its creation (docs/provenance.md)
	sources := rowInserter{im: im, insert: `INSERT INTO user_field_sources (user_id, field, source, source_id, update_time) VALUES `, columns: 5,
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
		if err := users.add(ctx, row...); err != nil {
			return err
		}
		if err := sources.add(ctx, u.ID, roster.FieldCreated, string(im.writer.Source), im.writer.ID, micros(im.now)); err != nil {
			return err
		}
		for _, k := range sortedKeys(u.Profile.CustomAttributes) {
			v := u.Profile.CustomAttributes[k]
			var unique any
			if im.defs[k].Unique {
				unique = v
			}
			if err := attrs.add(ctx, u.EnvironmentID, u.ID, k, v, unique); err != nil {
				return err
			}
		}
		for _, m := range nu.memberships {
			meta, err := json.Marshal(nonNil(m.Metadata))
			if err != nil {
				return err
			}
			if err := members.add(ctx, im.env, m.OrganizationID, u.ID, seq, string(m.Status), string(meta), nullString(m.InviterEmail),
				m.ProvisioningMethod, micros(m.CreateTime), micros(m.UpdateTime), nullMicros(m.AcceptTime), nullMicros(m.ExpireTime),
				m.InviteResentCount, nullMicros(m.InviteResentTime)); err != nil {
				return err
			}
		}
	}
	// Rows that refer to others go after them: users, then what hangs off users.
	if err := users.done(ctx); err != nil {
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
				if err := roles.add(ctx, m.OrganizationID, nu.u.ID, r.ID); err != nil {
					return err
				}
			}
		}
	}
	for _, ins := range []*rowInserter{&attrs, &members, &roles, &sources} {
		if err := ins.done(ctx); err != nil {
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

// rowInserter collects rows and inserts them: on PostgreSQL all in one statement (unnest), on
// SQLite in groups of rowGroups rows with multi-row INSERTs (a few statement texts, each
// prepared once).
// Rows of a table are held until done, so that inserts of several tables keep their order
// (a membership after its user).
type rowInserter struct {
	im      *importer
	insert  string
	columns int
	args    []any
	// types is each column's kind, for the arrays of PostgreSQL's unnest: T text, I bigint,
	// B boolean, Y bytes.
	types string
	group string // the statement: PostgreSQL's unnest, built once
	// sized is SQLite's multi-row statements by their rows, each built once.
	sized map[int]string
}

func (r *rowInserter) add(ctx context.Context, values ...any) error {
	r.args = append(r.args, values...)
	return nil
}

func (r *rowInserter) values(rows int) string {
	var b strings.Builder
	b.WriteString(r.insert)
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		// Anonymous parameters (SQLite only comes here): the SQLite driver looks each named
		// one ($n) up by name among all of the statement's, which grows with the square of
		// their number.
		b.WriteString("(" + strings.TrimSuffix(strings.Repeat("?, ", r.columns), ", ") + ")")
	}
	return b.String()
}

func (r *rowInserter) done(ctx context.Context) error {
	if r.im.s.dialect.Name() == "postgres" {
		return r.unnest(ctx)
	}
	// Groups of 64 rows, then smaller groups for the rest: each statement opens a
	// statement journal (a multi-row insert into a table with foreign keys may abort halfway)
	// that copies every page the statement touches, so fewer statements copy fewer pages.
	for _, rows := range rowGroups {
		width := r.columns * rows
		for len(r.args) >= width {
			q, ok := r.sized[rows]
			if !ok {
				if r.sized == nil {
					r.sized = map[int]string{}
				}
				q = r.values(rows)
				r.sized[rows] = q
			}
			if _, err := r.im.tx.ExecContext(ctx, q, r.args[:width]...); err != nil {
				return err
			}
			r.args = r.args[width:]
		}
	}
	return nil
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

// unnest inserts all of the rows on PostgreSQL in one statement whose arguments are one array
// per column ("INSERT ... SELECT * FROM unnest($1, $2, ...)"): one statement text whatever
// the rows' number, a generic plan after a few runs, and a few arguments to bind instead of
// one per value (a 32-row VALUES statement cost about twice as much server time per row).
func (r *rowInserter) unnest(ctx context.Context) error {
	rows := len(r.args) / r.columns
	if rows == 0 {
		return nil
	}
	if r.group == "" {
		casts := make([]string, r.columns)
		for c := range casts {
			casts[c] = fmt.Sprintf("CAST($%d AS %s[])", c+1, map[byte]string{'T': "TEXT", 'I': "BIGINT", 'B': "BOOLEAN", 'Y': "BYTEA"}[r.types[c]])
		}
		r.group = strings.TrimSuffix(r.insert, "VALUES ") + "SELECT * FROM unnest(" + strings.Join(casts, ", ") + ")"
	}
	cols := make([]any, r.columns)
	for c := range cols {
		switch r.types[c] {
		case 'T':
			col := make([]*string, rows)
			for i := range col {
				switch v := r.args[i*r.columns+c].(type) {
				case string:
					col[i] = &v
				case sql.NullString:
					if v.Valid {
						col[i] = &v.String
					}
				case nil:
				default:
					return fmt.Errorf("column %d: %T is not text", c, v)
				}
			}
			cols[c] = col
		case 'I':
			col := make([]*int64, rows)
			for i := range col {
				switch v := r.args[i*r.columns+c].(type) {
				case int64:
					col[i] = &v
				case int:
					n := int64(v)
					col[i] = &n
				case sql.NullInt64:
					if v.Valid {
						col[i] = &v.Int64
					}
				case nil:
				default:
					return fmt.Errorf("column %d: %T is not an integer", c, v)
				}
			}
			cols[c] = col
		case 'B':
			col := make([]bool, rows)
			for i := range col {
				v, ok := r.args[i*r.columns+c].(bool)
				if !ok {
					return fmt.Errorf("column %d: %T is not a boolean", c, r.args[i*r.columns+c])
				}
				col[i] = v
			}
			cols[c] = col
		case 'Y':
			col := make([][]byte, rows)
			for i := range col {
				v, ok := r.args[i*r.columns+c].([]byte)
				if !ok {
					return fmt.Errorf("column %d: %T is not bytes", c, r.args[i*r.columns+c])
				}
				col[i] = v
			}
			cols[c] = col
		}
	}
	r.args = r.args[:0]
	_, err := r.im.tx.ExecContext(ctx, r.group, cols...)
	return err
}
