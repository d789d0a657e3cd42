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
// has (found by one query per keyGroup keys, before the lines run) and that no earlier line of
// the batch names are checked in Go and inserted together, rowGroup rows per statement, in one
// savepoint per run of such lines. Should a run fail in the database (a unique attribute value
// taken, a concurrent writer's user), it is rolled back and its lines run again one at a time,
// each in its own savepoint: the outcome is the same as one line after another, at a fraction
// of the statements (PostgreSQL: the round trips).
const (
	keyGroup = 64  // keys per look-up statement (padded with NULLs: one statement text)
	rowGroup = 32  // rows per multi-row INSERT (PostgreSQL); the rest go one row at a time
	runMax   = 256 // lines per run
	// sqliteRowGroup is rowGroup on SQLite, which has no round trips to save.
	sqliteRowGroup = 16
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
		// One probe of the unique index per key (a subquery per row), not "IN (...)" or a
		// join, which PostgreSQL's planner may answer from the trigram search index or a scan.
		keyRows := make([]string, keyGroup)
		for i := range keyRows {
			keyRows[i] = fmt.Sprintf("SELECT CAST($%d AS TEXT) AS k", i+2)
		}
		query := `SELECT keys.k, (SELECT u.id FROM users u WHERE u.environment_id = $1 AND u.` + col + ` = keys.k) FROM (` +
			strings.Join(keyRows, " UNION ALL ") + `) AS keys`
		for len(keys) > 0 {
			n := min(keyGroup, len(keys))
			args := make([]any, 1, keyGroup+1)
			args[0] = im.env
			for _, k := range keys[:n] {
				args = append(args, k)
			}
			for len(args) < keyGroup+1 {
				args = append(args, nil)
			}
			rows, err := im.tx.QueryContext(ctx, query, args...)
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
		rows, err := im.tx.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		users := make([]roster.User, 0, n)
		for rows.Next() {
			u, err := scanFullUser(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			users = append(users, u)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if err := loadMemberships(ctx, im.tx, users); err != nil {
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
	users := rowInserter{im: im, insert: `INSERT INTO users (id, environment_id, seq, email, email_key, external_id, metadata, given_name,
		family_name, name, locale, phone_number, preferred_username, picture, gender, email_verified, phone_number_verified,
		groups_json, profile_metadata, create_time, update_time, last_login_time) VALUES `, columns: 22}
	attrs := rowInserter{im: im, insert: `INSERT INTO user_attributes (environment_id, user_id, attr_key, value, unique_value) VALUES `, columns: 5}
	members := rowInserter{im: im, insert: `INSERT INTO memberships (environment_id, organization_id, user_id, user_seq, status, metadata,
		inviter_email, provisioning_method, create_time, update_time, accept_time, expire_time, invite_resent_count, invite_resent_time) VALUES `, columns: 14}
	roles := rowInserter{im: im, insert: `INSERT INTO membership_roles (organization_id, user_id, role_id) VALUES `, columns: 3}
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
	for _, nu := range run {
		u := nu.u
		im.touch(u.ID)
		seq, ok := roster.IDNumber(u.ID, roster.PrefixUser)
		if !ok {
			return fmt.Errorf("malformed user id %q", u.ID)
		}
		meta, pmeta, groups, err := userJSON(u)
		if err != nil {
			return err
		}
		p := u.Profile
		if err := users.add(ctx, u.ID, u.EnvironmentID, seq, u.Email, roster.EmailKey(u.Email), nullString(u.ExternalID), meta, p.GivenName,
			p.FamilyName, p.Name, p.Locale, p.PhoneNumber, p.PreferredUsername, p.Picture, p.Gender, p.EmailVerified,
			p.PhoneNumberVerified, groups, pmeta, micros(u.CreateTime), micros(u.UpdateTime), nullMicros(u.LastLoginTime)); err != nil {
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
	for _, ins := range []*rowInserter{&attrs, &members, &roles} {
		if err := ins.done(ctx); err != nil {
			return err
		}
	}
	return nil
}

// rowInserter collects rows and inserts them rowGroup at a time with one multi-row INSERT
// (one statement text, so it is prepared once); done inserts the rest one row at a time.
// Rows of a table are held until done, so that inserts of several tables keep their order
// (a membership after its user).
type rowInserter struct {
	im      *importer
	insert  string
	columns int
	args    []any
	group   string // the multi-row statement, built once
	one     string
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
		if r.im.s.dialect.Name() == "sqlite" {
			// Anonymous parameters: the SQLite driver looks each named one ($n) up by name
			// among all of the statement's, which grows with the square of their number.
			b.WriteString("(" + strings.TrimSuffix(strings.Repeat("?, ", r.columns), ", ") + ")")
		} else {
			b.WriteString("(" + placeholders(i*r.columns+1, r.columns) + ")")
		}
	}
	return b.String()
}

func (r *rowInserter) done(ctx context.Context) error {
	group := rowGroup
	if r.im.s.dialect.Name() == "sqlite" {
		group = sqliteRowGroup
	}
	width := r.columns * group
	for len(r.args) >= width {
		if r.group == "" {
			r.group = r.values(group)
		}
		if _, err := r.im.tx.ExecContext(ctx, r.group, r.args[:width]...); err != nil {
			return err
		}
		r.args = r.args[width:]
	}
	for len(r.args) > 0 {
		if r.one == "" {
			r.one = r.values(1)
		}
		if _, err := r.im.tx.ExecContext(ctx, r.one, r.args[:r.columns]...); err != nil {
			return err
		}
		r.args = r.args[r.columns:]
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
