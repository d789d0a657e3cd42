package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

const userColumns = `id, environment_id, email, external_id, metadata, given_name, family_name, name, locale, phone_number,
	preferred_username, picture, gender, email_verified, phone_number_verified, groups_json, profile_metadata,
	create_time, update_time, last_login_time`

// CreateUser stores a user, its custom attributes and, optionally, its first membership, in
// one transaction. Unique email, external ID and unique attribute values are decided by
// unique indexes.
func (s *Store) CreateUser(ctx context.Context, in roster.User, m *roster.Membership, check store.UserCheck) (roster.User, error) {
	if m != nil && isDefaultRole(m.Roles) && !s.pg() {
		// SQLite: the catalog cache answers, outside the writer (no statement).
		role, name, ok, err := s.ResolveDefaultMemberRole(ctx, in.EnvironmentID, m.OrganizationID)
		if err != nil {
			return roster.User{}, err
		}
		if !ok {
			return roster.User{}, &store.NoDefaultRoleError{Name: name}
		}
		m.Roles = []roster.RoleRef{role}
	}
	var u roster.User
	err := s.inUserTx(ctx, func(tx txConn, touch func(string)) error {
		u = in.Clone() // check changes it; a transaction run again starts from the input
		touch(u.ID)
		var org lockedOrg
		if m != nil {
			// PostgreSQL: the default member role is read with the organization's lock.
			var err error
			if org, err = s.lockOrganizationFor(ctx, tx, u.EnvironmentID, m.OrganizationID, isDefaultRole(m.Roles)); err != nil {
				return err
			}
			if isDefaultRole(m.Roles) {
				if !org.defaultRole.ok {
					return &store.NoDefaultRoleError{Name: org.defaultRole.name}
				}
				m.Roles = []roster.RoleRef{org.defaultRole.role}
			}
		}
		defs := s.lazyDefs(ctx, tx, u.EnvironmentID)
		if m != nil && !org.attributes {
			defs = noDefs // none when the organization was locked, a statement earlier
		}
		if check != nil {
			if err := check(&u, defs); err != nil {
				return err
			}
		}
		if m != nil {
			m.UserID = u.ID
		}
		if m != nil && s.pg() {
			// One statement writes the user, its provenance, the membership and its roles.
			if err := s.insertUserWithMembership(ctx, tx, u, apiWriter(ctx, roster.SourceAPI), u.CreateTime, org, m); err != nil {
				return err
			}
		} else if err := s.insertUserRecorded(ctx, tx, u, apiWriter(ctx, roster.SourceAPI), u.CreateTime); err != nil {
			return err
		}
		if len(u.Profile.CustomAttributes) > 0 {
			d, err := defs()
			if err != nil {
				return err
			}
			if err := s.insertAttributes(ctx, tx, u, d); err != nil {
				return err
			}
		}
		u.Memberships = []roster.Membership{}
		if m != nil {
			if !s.pg() {
				if err := s.insertMembership(ctx, tx, u.EnvironmentID, org, m); err != nil {
					return err
				}
			}
			u.Memberships = append(u.Memberships, *m)
		}
		return s.recordEvents(ctx, tx, userCreatedEvents(u, u.EnvironmentID, u.CreateTime)...)
	})
	return u, err
}

// isDefaultRole says whether roles stand for the default member role (store.DefaultMemberRole).
func isDefaultRole(roles []roster.RoleRef) bool {
	return len(roles) == 1 && roles[0] == store.DefaultMemberRole
}

// insertUserWithMembershipQuery is insertUserRecordedQuery ($1–$26) and, in the same
// statement, the user's first membership ($27–$40, membershipRow) and its roles ($41,
// share-locked in ID order as insertMembershipRoles locks them, answering the ones
// inserted): PostgreSQL only. Each insert reads the row the one before it returned, so the
// foreign keys hold.
var insertUserWithMembershipQuery = `WITH u AS (` + insertUserQuery + ` RETURNING id),
	fs AS (INSERT INTO user_field_sources (user_id, field, source, source_id, update_time) SELECT id, $23, $24, $25, $26 FROM u),
	m AS (INSERT INTO memberships (` + membershipInsertColumns + `)
		SELECT ` + placeholders(27, 14) + ` FROM u RETURNING organization_id, user_id)
	INSERT INTO membership_roles (organization_id, user_id, role_id)
	SELECT m.organization_id, m.user_id, r.id FROM m JOIN roles r ON r.id = ANY(CAST($41 AS TEXT[])) ORDER BY r.id FOR SHARE OF r
	RETURNING role_id`

// insertUserWithMembership inserts a new user (as insertUserRecorded) with its first membership
// m (as insertMembership: m.OrganizationName set, roles deleted since they were read dropped)
// in one statement: two round trips fewer than three. PostgreSQL only.
func (s *Store) insertUserWithMembership(ctx context.Context, tx txConn, u roster.User, w roster.Writer, at time.Time, org lockedOrg, m *roster.Membership) error {
	row, _, err := userRow(u)
	if err != nil {
		return err
	}
	mrow, err := membershipRow(u.EnvironmentID, m)
	if err != nil {
		return err
	}
	args := slices.Concat(row, []any{roster.FieldCreated, string(w.Source), w.ID, micros(at)}, mrow, []any{roleIDs(m.Roles)})
	rows, err := tx.QueryContext(ctx, insertUserWithMembershipQuery, args...)
	if err != nil {
		return s.conflict(err, userField(u))
	}
	if err := keepInsertedRoles(rows, m); err != nil {
		return s.conflict(err, userField(u))
	}
	m.OrganizationName = org.name
	return nil
}

// userCreatedEvents are the events of a new user: user.created, with the organization of
// its first membership (none without one), and each membership's created or invitation event.
func userCreatedEvents(u roster.User, environmentID string, at time.Time) []roster.Event {
	orgID := ""
	if len(u.Memberships) > 0 {
		orgID = u.Memberships[0].OrganizationID
	}
	evs := make([]roster.Event, 0, 1+len(u.Memberships))
	evs = append(evs, userEvent(roster.EventUserCreated, u, orgID, at, nil))
	for _, m := range u.Memberships {
		evs = append(evs, membershipEvent(membershipCreated(m), eventOrg(environmentID, m.OrganizationID, m.OrganizationName), u, at, nil))
	}
	return evs
}

// noDefs is the attribute definitions of an environment known to have none: there is nothing
// to read or lock (a definition created meanwhile is as if created after the write).
func noDefs() (map[string]roster.AttributeDefinition, error) {
	return map[string]roster.AttributeDefinition{}, nil
}

// lazyDefs loads the attribute definitions once, when first asked, and share-locks them
// (lock order: after the user's row, before its attribute values): a definition cannot change
// or go away between the check of a value and its insert.
func (s *Store) lazyDefs(ctx context.Context, q querier, environmentID string) store.AttributeDefs {
	var defs map[string]roster.AttributeDefinition
	return func() (map[string]roster.AttributeDefinition, error) {
		if defs != nil {
			return defs, nil
		}
		d, err := attributeDefs(ctx, q, environmentID, s.dialect.ShareLock())
		defs = d
		return d, err
	}
}

// insertUserPrefix names the columns of a users row in the order of userRow.
const insertUserPrefix = `INSERT INTO users (id, environment_id, seq, email, email_key, external_id, metadata, given_name,
	family_name, name, locale, phone_number, preferred_username, picture, gender, email_verified, phone_number_verified,
	groups_json, profile_metadata, create_time, update_time, last_login_time) VALUES `

// userRowColumns is the number of values in a users row (userRow).
const userRowColumns = 22

var insertUserQuery = insertUserPrefix + "(" + placeholders(1, userRowColumns) + ")"

// userRow is the values of u's users row, in the order of insertUserPrefix, and the user's
// ID number (seq), which its memberships carry too.
func userRow(u roster.User) (row []any, seq int64, err error) {
	seq, ok := roster.IDNumber(u.ID, roster.PrefixUser)
	if !ok {
		return nil, 0, fmt.Errorf("malformed user id %q", u.ID)
	}
	meta, pmeta, groups, err := userJSON(u)
	if err != nil {
		return nil, 0, err
	}
	p := u.Profile
	return []any{u.ID, u.EnvironmentID, seq, u.Email, roster.EmailKey(u.Email), nullString(u.ExternalID), meta, p.GivenName,
		p.FamilyName, p.Name, p.Locale, p.PhoneNumber, p.PreferredUsername, p.Picture, p.Gender, p.EmailVerified,
		p.PhoneNumberVerified, groups, pmeta, micros(u.CreateTime), micros(u.UpdateTime), nullMicros(u.LastLoginTime)}, seq, nil
}

func (s *Store) insertUser(ctx context.Context, tx txConn, u roster.User) error {
	row, _, err := userRow(u)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, insertUserQuery, row...)
	return s.conflict(err, userField(u))
}

func userJSON(u roster.User) (meta, pmeta, groups string, err error) {
	b1, err := json.Marshal(nonNil(u.Metadata))
	if err != nil {
		return
	}
	b2, err := json.Marshal(nonNil(u.Profile.Metadata))
	if err != nil {
		return
	}
	g := u.Profile.Groups
	if g == nil {
		g = []string{}
	}
	b3, err := json.Marshal(g)
	return string(b1), string(b2), string(b3), err
}

// writeAttributes replaces a user's custom attribute rows.
func (s *Store) writeAttributes(ctx context.Context, tx txConn, u roster.User, defs map[string]roster.AttributeDefinition) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM user_attributes WHERE user_id = $1`, u.ID); err != nil {
		return err
	}
	return s.insertAttributes(ctx, tx, u, defs)
}

// insertAttributes stores a user's custom attributes, one insert at a time so that a
// unique-value conflict names its key.
func (s *Store) insertAttributes(ctx context.Context, tx txConn, u roster.User, defs map[string]roster.AttributeDefinition) error {
	for _, k := range sortedKeys(u.Profile.CustomAttributes) {
		v := u.Profile.CustomAttributes[k]
		if _, ok := defs[k]; !ok {
			// Deleted after the caller checked the values against the definitions it read.
			var vs roster.Violations
			vs.Add("user.user_profile.custom_attributes", "defined_attribute", "custom attribute %q is not defined", k)
			return vs.Err()
		}
		var unique sql.NullString
		if defs[k].Unique {
			unique = sql.NullString{String: v, Valid: true}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO user_attributes (environment_id, user_id, attr_key, value, unique_value) VALUES ($1, $2, $3, $4, $5)`,
			u.EnvironmentID, u.ID, k, v, unique)
		if index, ok := s.dialect.UniqueViolation(err); ok && index == "user_attributes_unique_key" {
			return &roster.Error{
				Code:    roster.EConflict,
				Message: fmt.Sprintf("another user already has %q = %q, and %q is a unique attribute", k, v, k),
				Violations: []roster.FieldViolation{{Field: "user.user_profile.custom_attributes", Constraint: "unique",
					Description: fmt.Sprintf("the value of %q must be unique in the environment", k)}},
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// GetUser returns one user with everything that belongs to it.
func (s *Store) GetUser(ctx context.Context, environmentID string, ref roster.UserRef) (roster.User, error) {
	col, key := userKey(ref)
	return s.cachedUserBy(ctx, environmentID, col, key)
}

// cachedUserBy is fullUserBy on the read pool, through the user cache.
func (s *Store) cachedUserBy(ctx context.Context, environmentID, col, key string) (roster.User, error) {
	var u roster.User
	var ok bool
	switch col {
	case "id":
		u, ok = s.users.getID(environmentID, key)
	case "external_id":
		u, ok = s.users.get(externalKey(environmentID, key))
	default:
		u, ok = s.users.get(emailKey(environmentID, key))
	}
	if ok {
		return u, nil
	}
	seq := s.users.begin()
	u, err := s.pointUserBy(ctx, environmentID, col, key)
	if err != nil || s.users == nil {
		return u, err
	}
	s.users.put(seq, u) // u is read-only from here on, like every user a read returns
	return u, nil
}

// usersByID reads the users with these IDs, through the user cache, in the order of ids; IDs
// of users that no longer exist are left out.
func (s *Store) usersByID(ctx context.Context, environmentID string, ids []string) ([]roster.User, error) {
	out := make([]roster.User, len(ids)) // a user never found keeps an empty ID
	var missing []any
	var at map[string]int
	if s.users.getIDs(environmentID, ids, out) < len(ids) {
		at = map[string]int{}
		for i, id := range ids {
			if out[i].ID == "" {
				at[id] = i
				missing = append(missing, id)
			}
		}
	}
	if len(missing) > 0 {
		seq := s.users.begin()
		// By ID alone: with "environment_id = ?" as well, SQLite's planner walks the
		// environment's index, every user of it, instead of the IDs' primary key.
		rows, err := s.read.QueryContext(ctx, `SELECT `+s.fullUserColumns+` FROM users u WHERE u.id IN (`+placeholders(1, len(missing))+`)`, missing...)
		if err != nil {
			return nil, err
		}
		read := make([]roster.User, 0, len(missing))
		for rows.Next() {
			u, err := scanFullUser(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			if u.EnvironmentID == environmentID {
				read = append(read, u)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if err := loadMemberships(ctx, s.read, s.dialect, read); err != nil {
			return nil, err
		}
		for _, u := range read {
			out[at[u.ID]] = u
			s.users.put(seq, u) // u is read-only from here on, like every user a read returns
		}
	}
	return slices.DeleteFunc(out, func(u roster.User) bool { return u.ID == "" }), nil
}

// fullUser reads a user with attributes and memberships; suffix may lock the user's row. A
// user with memberships takes one query (the user's columns repeat on each membership's row).
func (s *Store) fullUser(ctx context.Context, q querier, environmentID string, ref roster.UserRef, suffix string) (roster.User, error) {
	col, key := userKey(ref)
	return s.fullUserBy(ctx, q, environmentID, col, key, suffix)
}

// fullUserBy is fullUser by the value of a unique column of users: id, external_id or
// email_key.
func (s *Store) fullUserBy(ctx context.Context, q querier, environmentID, col, key, suffix string) (roster.User, error) {
	return s.fullUserFrom(queryRunner(ctx, q), environmentID, col, key, suffix)
}

// pointUserBy is fullUserBy on the read pool, run as a point read (pointRunner).
func (s *Store) pointUserBy(ctx context.Context, environmentID, col, key string) (roster.User, error) {
	return s.fullUserFrom(s.pointRunner(ctx), environmentID, col, key, "")
}

// fullUserFrom is fullUserBy with the queries run by run.
func (s *Store) fullUserFrom(run rowsRunner, environmentID, col, key, suffix string) (roster.User, error) {
	lock := suffix
	if lock != "" {
		lock += " OF u" // the user's row only; PostgreSQL refuses to lock the outer join's
	}
	var us userScan
	var ms membershipScan
	var attrs, idents, uid string
	var roleID, roleName, roleDisplay sql.NullString
	dest := append(append(append(us.dest(), &attrs, &idents), ms.dest(&uid)...), &roleID, &roleName, &roleDisplay)
	var u roster.User
	found := false
	err := run(`SELECT `+s.fullUserColumns+`, m.user_id, `+membershipColumns+`, o.display_name, r.id, r.name, r.display_name
		FROM users u JOIN memberships m ON m.user_id = u.id JOIN organizations o ON o.id = m.organization_id
		LEFT JOIN membership_roles mr ON mr.organization_id = m.organization_id AND mr.user_id = m.user_id
		LEFT JOIN roles r ON r.id = mr.role_id
		WHERE u.environment_id = $1 AND u.`+col+` = $2 ORDER BY m.create_time, m.organization_id, r.name`+lock, []any{environmentID, key},
		func(scan func(dest ...any) error) error {
			if err := scan(dest...); err != nil {
				return err
			}
			if !found {
				found = true
				var err error
				if u, err = us.user(); err != nil {
					return err
				}
				if err := decodeDetails(&u, attrs, idents); err != nil {
					return err
				}
			}
			m, err := ms.membership()
			if err != nil {
				return err
			}
			addMembershipRow(&u, m, roleID, roleName, roleDisplay)
			return nil
		})
	if err != nil || found {
		return u, err
	}
	// No membership: the user alone, or no such user.
	found, err = firstRow(run, `SELECT `+s.fullUserColumns+` FROM users u WHERE u.environment_id = $1 AND u.`+col+` = $2`+suffix, []any{environmentID, key},
		func(row rowScanner) (err error) {
			u, err = scanFullUser(row)
			return err
		})
	if err == nil && !found {
		return u, notFound("user")
	}
	return u, err
}

// rowFunc is called for each row of an answer with the function that scans it (as
// sql.Rows.Scan does).
type rowFunc = func(scan func(dest ...any) error) error

// rowsRunner runs a query and calls row for each row of its answer: on a querier
// (queryRunner), or as a point read (Store.pointRunner).
type rowsRunner func(query string, args []any, row rowFunc) error

// queryRunner runs queries on q.
func queryRunner(ctx context.Context, q querier) rowsRunner {
	return func(query string, args []any, row rowFunc) error { return eachRow(ctx, q, query, args, row) }
}

// firstRow runs a query of at most one row with run and scans that row with scan; found says
// whether there was one.
func firstRow(run rowsRunner, query string, args []any, scan func(rowScanner) error) (found bool, err error) {
	err = run(query, args, func(s func(dest ...any) error) error {
		found = true
		return scan(scanFunc(s))
	})
	return found, err
}

// eachRow runs query on q and calls row for each row of its answer.
func eachRow(ctx context.Context, q querier, query string, args []any, row rowFunc) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return EachRow(rows, row)
}

// Rows is a query's answer as EachRow reads it: *sql.Rows, or a driver's own (pgx.Rows).
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// EachRow calls row for each row of rows, with the function that scans it, and returns the
// first error (row's or the answer's). It does not close rows.
func EachRow(rows Rows, row func(scan func(dest ...any) error) error) error {
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// UpdateUser applies update to a user in one transaction.
func (s *Store) UpdateUser(ctx context.Context, environmentID string, ref roster.UserRef, update store.UserCheck) (roster.User, error) {
	var out roster.User
	err := s.inUserTx(ctx, func(tx txConn, touch func(string)) error {
		u, err := s.fullUser(ctx, tx, environmentID, ref, s.dialect.RowLock())
		if err != nil {
			return err
		}
		touch(u.ID)
		before := profileSnapshot(u)
		// what the event compares besides the profile (update may change the maps in place)
		prev := before
		prev.ExternalID, prev.Metadata = clonePtr(u.ExternalID), maps.Clone(u.Metadata)
		defs := s.lazyDefs(ctx, tx, environmentID)
		if err := update(&u, defs); err != nil {
			return err
		}
		if err := s.updateUserRowRecorded(ctx, tx, &before, u, defs, apiWriter(ctx, roster.SourceAPI), u.UpdateTime); err != nil {
			return err
		}
		if !maps.Equal(before.Profile.CustomAttributes, u.Profile.CustomAttributes) {
			d, err := defs()
			if err != nil {
				return err
			}
			if err := s.writeAttributes(ctx, tx, u, d); err != nil {
				return err
			}
		}
		out = u
		if changed := roster.UserChanges(&prev, &u); len(changed) > 0 {
			return s.recordEvents(ctx, tx, userEvent(roster.EventUserUpdated, u, "", u.UpdateTime, changed))
		}
		return nil
	})
	return out, err
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// updateUserRow writes a user's own columns (not attributes or memberships).
func (s *Store) updateUserRow(ctx context.Context, tx txConn, u roster.User, externalIDChanged bool) error {
	args, err := updateUserArgs(u)
	if err != nil {
		return err
	}
	query := updateUserQuery
	if !externalIDChanged && s.dialect.Name() != "postgres" {
		// SQLite rewrites the entry of every index whose column a SET names, equal value or
		// not (PostgreSQL compares the values): leaving external_id out saves the unique
		// index's entry and the search trigger's check on most profile writes.
		query, args = updateUserProfileQuery, args[1:]
	}
	_, err = tx.ExecContext(ctx, query, args...)
	return s.conflict(err, userField(u))
}

// updateUserQuery writes a user's own columns; its 17 arguments are those of updateUserArgs.
const updateUserQuery = `UPDATE users SET external_id = $1, metadata = $2, given_name = $3, family_name = $4, name = $5,
	locale = $6, phone_number = $7, preferred_username = $8, picture = $9, gender = $10, email_verified = $11,
	phone_number_verified = $12, groups_json = $13, profile_metadata = $14, update_time = $15, last_login_time = $16
	WHERE id = $17`

// updateUserProfileQuery is updateUserQuery without external_id; its 16 arguments are those
// of updateUserArgs after the first.
const updateUserProfileQuery = `UPDATE users SET metadata = $1, given_name = $2, family_name = $3, name = $4,
	locale = $5, phone_number = $6, preferred_username = $7, picture = $8, gender = $9, email_verified = $10,
	phone_number_verified = $11, groups_json = $12, profile_metadata = $13, update_time = $14, last_login_time = $15
	WHERE id = $16`

// updateUserArgs are the arguments of updateUserQuery for u.
func updateUserArgs(u roster.User) ([]any, error) {
	meta, pmeta, groups, err := userJSON(u)
	if err != nil {
		return nil, err
	}
	p := u.Profile
	return []any{nullString(u.ExternalID), meta, p.GivenName, p.FamilyName, p.Name, p.Locale, p.PhoneNumber, p.PreferredUsername,
		p.Picture, p.Gender, p.EmailVerified, p.PhoneNumberVerified, groups, pmeta, micros(u.UpdateTime),
		nullMicros(u.LastLoginTime), u.ID}, nil
}

// DeleteUser removes a user; memberships and attributes go with it (foreign keys).
func (s *Store) DeleteUser(ctx context.Context, environmentID string, ref roster.UserRef) error {
	return s.inUserTx(ctx, func(tx txConn, touch func(string)) error {
		// The user as last shown, with its memberships: the event's data.
		u, err := s.fullUser(ctx, tx, environmentID, ref, s.dialect.RowLock())
		if err != nil {
			return err
		}
		touch(u.ID)
		if _, err = tx.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, u.ID); err != nil {
			return err
		}
		return s.recordEvents(ctx, tx, userEvent(roster.EventUserDeleted, u, "", time.Now().UTC(), nil))
	})
}

// ListUsers returns one page of users in ID order with their details, and the number of all
// matches.
func (s *Store) ListUsers(ctx context.Context, environmentID string, q store.UserQuery) (store.Page[roster.User], error) {
	var page store.Page[roster.User]
	if q.EmailKey != "" && q.OrganizationID == "" && q.Search == "" && q.Page.After == 0 && q.Page.Before == 0 && q.Page.Size > 0 {
		// Emails are unique: the first page is that user or nobody, read as GetUser reads, so
		// that a lookup by email costs what a lookup by ID does.
		u, err := s.cachedUserBy(ctx, environmentID, "email_key", q.EmailKey)
		if roster.ErrorCode(err) == roster.ENotFound {
			return page, nil
		}
		if err != nil {
			return page, err
		}
		page.Items, page.Total = []roster.User{u}, 1
		return page, nil
	}
	from := `users u`
	where := []string{"u.environment_id = $1"}
	args := []any{environmentID}
	arg := appendArg(&args)
	seqCol := "u.seq"
	countFrom := from
	if q.OrganizationID != "" {
		// Page and count over the membership index (organization_id, user_seq), filtering on
		// the membership's own columns so that the planner starts there, not at all users.
		from = `memberships m JOIN users u ON u.id = m.user_id`
		countFrom = `memberships m`
		where = []string{"m.environment_id = $1", "m.organization_id = " + arg(q.OrganizationID)}
		seqCol = "m.user_seq"
	}
	if q.Search != "" {
		where = append(where, s.dialect.UserSearch(q.Search, arg))
		countFrom = from
	}
	if q.EmailKey != "" {
		where = append(where, "u.email_key = "+arg(q.EmailKey))
		countFrom = from
	}
	filter := strings.Join(where, " AND ")
	// searchPage is the dialect's query of a search page (after/before a position, at most
	// limit), with its arguments; "" where the dialect has none.
	searchPage := func(after, before int64, limit int) (string, []any) {
		pa := []any{environmentID}
		return s.dialect.UserSearchPage(SearchPage{Text: q.Search, OrganizationID: q.OrganizationID, EmailKey: q.EmailKey,
			After: after, Before: before, Limit: limit}, appendArg(&pa)), pa
	}
	countQuery, countArgs := `SELECT COUNT(*) FROM `+countFrom+` WHERE `+filter, args[:len(args):len(args)]
	switch {
	case q.CountUpTo > 0:
		// A count that stops: the first CountUpTo+1 matches, walked in page order by the
		// dialect's search page where it has one (its cost is the matches walked, not all).
		countQuery = `SELECT COUNT(*) FROM (SELECT 1 FROM ` + countFrom + ` WHERE ` + filter + ` LIMIT ` + strconv.Itoa(q.CountUpTo+1) + `) c`
		if q.Search != "" {
			if sq, ca := searchPage(0, 0, q.CountUpTo+1); sq != "" {
				countQuery, countArgs = `SELECT COUNT(*) FROM (`+sq+`) c`, ca
			}
		}
	case q.Search != "" && q.OrganizationID == "" && q.EmailKey == "":
		ca := []any{environmentID}
		if cq := s.dialect.UserSearchCount(q.Search, appendArg(&ca)); cq != "" {
			countQuery, countArgs = cq, ca
		}
	}
	order := "ASC"
	switch {
	case q.Page.After > 0:
		filter += " AND " + seqCol + " > " + arg(q.Page.After)
	case q.Page.Before > 0:
		filter += " AND " + seqCol + " < " + arg(q.Page.Before)
		order = "DESC"
	}
	// The page's IDs first (an organization's from its membership index alone), then the users,
	// most of them from the cache on SQLite.
	idCol := "u.id"
	if q.OrganizationID != "" {
		idCol = "m.user_id"
		if q.Search == "" && q.EmailKey == "" {
			// Nothing to filter on the user's row: the membership index alone, without a
			// look-up of each member's row in users (a membership's user always exists).
			from = countFrom
		}
	}
	query, queryArgs := `SELECT `+idCol+` FROM `+from+` WHERE `+filter+` ORDER BY `+seqCol+` `+order+` LIMIT `+arg(q.Page.Size+1), args
	if q.Search != "" {
		// A search page from the dialect's index in page order, when it has one: its cost is
		// the page, not the number of matches (docs/storage.md).
		if sq, pageArgs := searchPage(q.Page.After, q.Page.Before, q.Page.Size+1); sq != "" {
			query, queryArgs = sq, pageArgs
		}
	}
	ids, err := queryIDs(ctx, s.read, query, queryArgs...)
	if err != nil {
		return page, err
	}
	ids, page.More = finishPage(ids, q.Page, order)
	if q.Page.After == 0 && q.Page.Before == 0 && !page.More {
		// A first page that holds every match is its own count (a lookup by email, a small
		// organization): one query less.
		page.Total = len(ids)
	} else if page.Total, err = s.countUsers(ctx, countQuery, countArgs); err != nil {
		return page, err
	}
	if q.CountUpTo > 0 && page.Total > q.CountUpTo {
		page.Total, page.TotalAtLeast = q.CountUpTo, true
	}
	page.Items, err = s.usersByID(ctx, environmentID, ids)
	return page, err
}

// countUsers runs a count query of users, through the cache: counting a big organization's
// members walks every entry of its index, which costs more than the page itself.
func (s *Store) countUsers(ctx context.Context, query string, args []any) (int, error) {
	var key strings.Builder
	key.WriteString(query)
	for _, a := range args {
		fmt.Fprintf(&key, "\x00%v", a)
	}
	if n, ok := s.users.count(key.String()); ok {
		return n, nil
	}
	seq := s.users.begin()
	var n int
	if err := s.read.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		return 0, err
	}
	s.users.putCount(seq, key.String(), n)
	return n, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queryIDs runs a query of one text column and returns its values in the order read (nil for
// no rows).
func queryIDs(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	return queryColumn[string](ctx, q, query, args...)
}

// queryColumn runs a query of one column and returns its values in the order read (nil for no
// rows).
func queryColumn[T any](ctx context.Context, q querier, query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// userKey is the column and value that find the user of ref.
func userKey(ref roster.UserRef) (col, key string) {
	if ref.ID == "" {
		return "external_id", ref.ExternalID
	}
	return "id", ref.ID
}

// getUser reads a user's own row, without attributes and memberships.
func getUser(ctx context.Context, q querier, environmentID string, ref roster.UserRef, suffix string) (roster.User, error) {
	col, key := userKey(ref)
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE environment_id = $1 AND `+col+` = $2`+suffix, environmentID, key))
	if errors.Is(err, sql.ErrNoRows) {
		return u, notFound("user")
	}
	return u, err
}

// scanFullUser reads fullUserColumns.
// queryFullUsers runs a query of s.fullUserColumns and returns its users complete, with their
// memberships (loadMemberships), in the query's order.
func (s *Store) queryFullUsers(ctx context.Context, q querier, sizeHint int, query string, args ...any) ([]roster.User, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	users := make([]roster.User, 0, sizeHint)
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
	if err := loadMemberships(ctx, q, s.dialect, users); err != nil {
		return nil, err
	}
	return users, nil
}

func scanFullUser(row interface{ Scan(...any) error }) (roster.User, error) {
	var attrs, idents string
	u, err := scanUser(row, &attrs, &idents)
	if err != nil {
		return u, err
	}
	return u, decodeDetails(&u, attrs, idents)
}

// decodeDetails reads the JSON of a user's custom attributes and identities.
func decodeDetails(u *roster.User, attrs, idents string) error {
	if err := decodeMap(attrs, &u.Profile.CustomAttributes); err != nil {
		return fmt.Errorf("user %s: %w", u.ID, err)
	}
	u.Identities = []roster.Identity{}
	if idents == "[]" || idents == "" {
		return nil
	}
	var list []struct {
		C, T, P, S string
		Cr, L      int64
	}
	if err := json.Unmarshal([]byte(idents), &list); err != nil {
		return fmt.Errorf("user %s identities: %w", u.ID, err)
	}
	for _, i := range list {
		u.Identities = append(u.Identities, roster.Identity{ConnectionID: i.C, ConnectionType: roster.ConnectionType(i.T), Provider: i.P,
			Subject: i.S, UserID: u.ID, EnvironmentID: u.EnvironmentID, CreateTime: fromMicros(i.Cr), LastLoginTime: fromMicros(i.L)})
	}
	return nil
}

// scanUser reads userColumns followed by any extra columns.
func scanUser(row interface{ Scan(...any) error }, extra ...any) (roster.User, error) {
	var us userScan
	if err := row.Scan(append(us.dest(), extra...)...); err != nil {
		return roster.User{}, err
	}
	return us.user()
}

// userScan holds the destinations of a row of userColumns, so that a query can read more
// columns after them (fullUser).
type userScan struct {
	u                   roster.User
	ext                 sql.NullString
	meta, pmeta, groups string
	created, updated    int64
	login               sql.NullInt64
}

func (s *userScan) dest() []any {
	p := &s.u.Profile
	return []any{&s.u.ID, &s.u.EnvironmentID, &s.u.Email, &s.ext, &s.meta, &p.GivenName, &p.FamilyName, &p.Name, &p.Locale,
		&p.PhoneNumber, &p.PreferredUsername, &p.Picture, &p.Gender, &p.EmailVerified, &p.PhoneNumberVerified, &s.groups,
		&s.pmeta, &s.created, &s.updated, &s.login}
}

// user converts the last row scanned.
func (s *userScan) user() (roster.User, error) {
	u := s.u
	p := &u.Profile
	if err := decodeMap(s.meta, &u.Metadata); err != nil {
		return u, fmt.Errorf("user %s: %w", u.ID, err)
	}
	if err := decodeMap(s.pmeta, &p.Metadata); err != nil {
		return u, fmt.Errorf("user %s: %w", u.ID, err)
	}
	if err := decodeList(s.groups, &p.Groups); err != nil {
		return u, fmt.Errorf("user %s: %w", u.ID, err)
	}
	u.ExternalID = stringPtr(s.ext)
	u.CreateTime, u.UpdateTime, u.LastLoginTime = fromMicros(s.created), fromMicros(s.updated), timePtr(s.login)
	p.CustomAttributes = map[string]string{}
	u.Memberships = []roster.Membership{}
	return u, nil
}

// loadMemberships fills the memberships (with organization names and roles) of users, with
// one query for the whole slice.
func loadMemberships(ctx context.Context, q querier, d Dialect, users []roster.User) error {
	if len(users) == 0 {
		return nil
	}
	byID := make(map[string]*roster.User, len(users))
	ids := make([]string, len(users))
	for i := range users {
		byID[users[i].ID] = &users[i]
		ids[i] = users[i].ID
	}

	// Memberships with their organization's name and their roles, in one query: a membership
	// appears once per role (once with NULL role columns when it has none).
	const from = ` FROM memberships m JOIN organizations o ON o.id = m.organization_id
		LEFT JOIN membership_roles mr ON mr.organization_id = m.organization_id AND mr.user_id = m.user_id
		LEFT JOIN roles r ON r.id = mr.role_id`
	const order = ` ORDER BY m.create_time, m.organization_id, m.user_id, r.name`
	var rows *sql.Rows
	var err error
	if d.Name() == "postgres" {
		// One index probe per user (a subquery per ID that the planner may not flatten: OFFSET
		// 0). As "user_id IN (...)", PostgreSQL planned from the tables' statistics, which lag
		// a bulk load: with none yet it scanned every membership and membership role for each
		// call (9 ms for 64 users among 20,000, against 0.9 ms), so a re-import or export
		// slowed down with the table's size.
		// The roles are a probe of their own per membership too: joined as a table, stale
		// statistics had membership_roles scanned whole for every user (10 s for 1,000 users
		// after a 100k import, against 23 ms).
		rows, err = q.QueryContext(ctx, `SELECT m.* FROM unnest(CAST($1 AS TEXT[])) AS k (id) CROSS JOIN LATERAL (
			SELECT m.user_id, `+membershipColumns+`, o.display_name, r.id AS role_id, r.name AS role_name, r.display_name AS role_display
			FROM memberships m JOIN organizations o ON o.id = m.organization_id
			LEFT JOIN LATERAL (SELECT mr.role_id FROM membership_roles mr
				WHERE mr.organization_id = m.organization_id AND mr.user_id = m.user_id OFFSET 0) AS mr ON true
			LEFT JOIN roles r ON r.id = mr.role_id
			WHERE m.user_id = k.id OFFSET 0) AS m ORDER BY m.create_time, m.organization_id, m.user_id, m.role_name`, ids)
	} else {
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		rows, err = q.QueryContext(ctx, `SELECT m.user_id, `+membershipColumns+`, o.display_name, r.id, r.name, r.display_name`+
			from+` WHERE m.user_id IN (`+placeholders(1, len(ids))+`)`+order, args...)
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var uid string
		var roleID, roleName, roleDisplay sql.NullString
		m, err := scanMembership(rows, &uid, &roleID, &roleName, &roleDisplay)
		if err != nil {
			return err
		}
		addMembershipRow(byID[uid], m, roleID, roleName, roleDisplay)
	}
	return rows.Err()
}

func userField(u roster.User) func(string) string {
	return func(field string) string {
		switch field {
		case "email":
			return u.Email
		case "external_id":
			return deref(u.ExternalID)
		}
		return u.ID
	}
}

// prefixed qualifies every column of a column list with a table alias.
func prefixed(alias, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = alias + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// decodeMap and decodeList decode JSON columns. Most stored maps and lists are empty; those
// skip encoding/json, which a page of 100 users would otherwise call 400 times.
func decodeMap(src string, dst *map[string]string) error {
	if src == "{}" {
		*dst = map[string]string{}
		return nil
	}
	return json.Unmarshal([]byte(src), dst)
}

func decodeList(src string, dst *[]string) error {
	if src == "[]" {
		*dst = []string{}
		return nil
	}
	return json.Unmarshal([]byte(src), dst)
}
