package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// ImportUsers applies a batch of import lines in one write transaction, each line in full or
// not at all: a line that changes a user runs inside its own savepoint (named apart from the
// group commit's "request"), lines that create users run together on the fast path
// (bulkfast.go), so that a refused line leaves no trace and the others commit. Only application errors (*roster.Error) refuse a line; any
// other error (the database's) ends the whole batch, which runTx may then run again.
//
// Lock order (docs/storage.md): the batch share-locks its organizations in ID order and the
// attribute definitions first, outside the lines' savepoints (a lock taken in a savepoint that
// rolls back is released on PostgreSQL), then each line locks its user's row.
func (s *Store) ImportUsers(ctx context.Context, environmentID string, now time.Time, lines []store.ImportLine) ([]store.ImportOutcome, error) {
	out := make([]store.ImportOutcome, len(lines))
	err := s.inUserTx(ctx, func(tx txConn, touch func(string)) error {
		clear(out) // a transaction run again starts over
		orgs, err := s.lockImportOrganizations(ctx, tx, environmentID, lines)
		if err != nil {
			return err
		}
		defs, err := attributeDefs(ctx, tx, environmentID, s.dialect.ShareLock())
		if err != nil {
			return err
		}
		im := importer{s: s, tx: tx, env: environmentID, now: now, orgs: orgs, defs: defs, touch: touch,
			writer: apiWriter(ctx, roster.SourceImport)}
		return im.run(ctx, lines, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// run applies the lines in order: runs of lines that create users on the fast path
// (bulkfast.go), the others one at a time.
func (im *importer) run(ctx context.Context, lines []store.ImportLine, out []store.ImportOutcome) error {
	pg := im.s.pg()
	if pg {
		// The driver prepares and caches statements per connection, and after five runs
		// PostgreSQL may keep a generic plan made while the users table was small: during a
		// bulk load that plan scans the table for every key. The look-ups are planned for
		// their arguments instead.
		if _, err := im.tx.ExecContext(ctx, `SET LOCAL plan_cache_mode = force_custom_plan`); err != nil {
			return err
		}
	}
	extFound, emailFound, err := im.existingKeys(ctx, lines)
	if err != nil {
		return err
	}
	if im.loaded, err = im.loadUsers(ctx, extFound, emailFound); err != nil {
		return err
	}
	if pg {
		if _, err := im.tx.ExecContext(ctx, `SET LOCAL plan_cache_mode = auto`); err != nil {
			return err
		}
	}
	im.extIDs, im.emailIDs, im.written = extFound, emailFound, map[string]bool{}
	im.events = im.s.newEventBuffer(pg)
	seenExt, seenEmail := map[string]bool{}, map[string]bool{}
	var run []newUser
	flush := func() error {
		if len(run) == 0 {
			return nil
		}
		ok, err := im.flush(ctx, run)
		if err != nil {
			return err
		}
		for _, nu := range run {
			if ok {
				out[nu.at] = store.ImportOutcome{UserID: nu.u.ID, Result: roster.ImportCreated}
				if err := im.addEvents(ctx, im.createdEvents(nu)...); err != nil {
					return err
				}
			} else if out[nu.at], err = im.oneLine(ctx, &lines[nu.at]); err != nil {
				return err
			}
		}
		run = run[:0]
		return nil
	}
	for i := range lines {
		l := &lines[i]
		ext, email := "", roster.EmailKey(l.User.Email)
		if l.User.ExternalID != nil {
			ext = *l.User.ExternalID
		}
		clean := !seenEmail[email] && (ext == "" || !seenExt[ext])
		isNew := clean && emailFound[email] == "" && (ext == "" || extFound[ext] == "")
		seenEmail[email] = true
		if ext != "" {
			seenExt[ext] = true
		}
		if isNew {
			nu, err := im.build(l)
			if err != nil {
				var re *roster.Error
				if !errors.As(err, &re) {
					return err
				}
				out[i] = store.ImportOutcome{Result: roster.ImportFailed, Err: err}
				continue
			}
			nu.at = i
			if run = append(run, nu); len(run) == runMax {
				if err := flush(); err != nil {
					return err
				}
			}
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		im.clean = clean
		out[i], err = im.oneLine(ctx, l)
		im.clean = false
		if err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return im.events.flush(ctx, im.tx)
}

// addEvents adds events of a line that was applied to the batch's events, written at its
// end in the same transaction (on PostgreSQL one statement, on SQLite one per 64 events),
// where a statement per line cost a round trip each: a refused line, or a run rolled back,
// adds none.
func (im *importer) addEvents(ctx context.Context, events ...roster.Event) error {
	var memo roster.EventMemo
	for i := range events {
		if err := im.s.bufferEvent(ctx, im.events, &events[i], &memo); err != nil {
			return err
		}
	}
	return nil
}

// oneLine applies a line in its own savepoint, opened before its first write (a line that
// changes nothing only reads); a refused line's error is its outcome.
func (im *importer) oneLine(ctx context.Context, l *store.ImportLine) (store.ImportOutcome, error) {
	im.savepoint, im.lineEvents = false, im.lineEvents[:0]
	o, lerr := im.line(ctx, l)
	if lerr == nil {
		if err := im.addEvents(ctx, im.lineEvents...); err != nil {
			return o, err
		}
	}
	if lerr != nil {
		var re *roster.Error
		if !errors.As(lerr, &re) {
			return o, lerr
		}
		o = store.ImportOutcome{Result: roster.ImportFailed, Err: lerr}
		if im.savepoint {
			if _, err := im.tx.ExecContext(ctx, `ROLLBACK TO import_line`); err != nil {
				return o, err
			}
		}
	}
	if im.savepoint {
		if _, err := im.tx.ExecContext(ctx, `RELEASE import_line`); err != nil {
			return o, err
		}
	}
	return o, nil
}

// write opens the line's savepoint before its first write, and drops the user from the
// user cache: a line that changes nothing leaves the cached user in place.
func (im *importer) write(ctx context.Context, userID string) error {
	if im.savepoint {
		return nil
	}
	im.touch(userID) // a line changes one user
	im.written[userID] = true
	if _, err := im.tx.ExecContext(ctx, `SAVEPOINT import_line`); err != nil {
		return err
	}
	im.savepoint = true
	return nil
}

// lockImportOrganizations share-locks, in ID order, the organizations the lines name that
// exist in the environment, and returns their names by ID.
func (s *Store) lockImportOrganizations(ctx context.Context, tx txConn, environmentID string, lines []store.ImportLine) (map[string]string, error) {
	seen := map[string]bool{}
	var ids []string
	for _, l := range lines {
		for _, m := range l.User.Memberships {
			if !seen[m.OrganizationID] {
				seen[m.OrganizationID] = true
				ids = append(ids, m.OrganizationID)
			}
		}
	}
	sort.Strings(ids)
	names := make(map[string]string, len(ids))
	const chunk = 500 // bounds the placeholders of one query
	for len(ids) > 0 {
		n := min(chunk, len(ids))
		args := []any{environmentID}
		for _, id := range ids[:n] {
			args = append(args, id)
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, display_name FROM organizations WHERE environment_id = $1 AND id IN (`+
			placeholders(2, n)+`) ORDER BY id`+s.dialect.ShareLock(), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id, name string
			if err := rows.Scan(&id, &name); err != nil {
				rows.Close()
				return nil, err
			}
			names[id] = name
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		ids = ids[n:]
	}
	return names, nil
}

// importer applies the lines of one batch inside its transaction.
type importer struct {
	s     *Store
	tx    txConn
	env   string
	now   time.Time
	orgs  map[string]string // organization names by ID, of those that exist
	defs  map[string]roster.AttributeDefinition
	touch func(userID string)
	// writer is the provenance of what the batch writes (IMPORT, and the API client).
	writer roster.Writer
	// savepoint is whether the current line (oneLine) has opened its savepoint.
	savepoint bool
	// The users the batch's keys named before it ran (loadUsers), by key and by ID; clean
	// is whether the current line may use them: no earlier line of the batch named its keys.
	extIDs, emailIDs map[string]string
	loaded           map[string]roster.User
	written          map[string]bool // users a line of the batch wrote
	clean            bool
	// lineEvents are the events of the current line (oneLine), added to events when it
	// succeeds; memberChanges are its membership changes, made events once the line's user is
	// final. events are the batch's, written when its lines have run (addEvents).
	lineEvents    []roster.Event
	memberChanges []memberChange
	events        *eventBuffer
	// runRoles are the roles of the last run that exist (insertRun).
	runRoles map[string]bool
}

// memberChange is a membership that a line created or changed: the event's type and the
// fields that changed.
type memberChange struct {
	typ, orgID string
	changed    []string
}

// lockedDefs returns the definitions the batch share-locked when it began.
func (im *importer) lockedDefs() (map[string]roster.AttributeDefinition, error) { return im.defs, nil }

// line applies one line: it finds the user (by external ID, then by email), creates or
// changes it, then its memberships.
func (im *importer) line(ctx context.Context, l *store.ImportLine) (store.ImportOutcome, error) {
	in := l.User
	u, found, err := im.find(ctx, in)
	if err != nil {
		return store.ImportOutcome{}, err
	}
	im.memberChanges = im.memberChanges[:0]
	var userChanged []string
	result := roster.ImportUnchanged
	if !found {
		u = in.NewUser(l.NewID, im.env, im.now)
		if _, err := in.Apply(&u, im.now); err != nil {
			return store.ImportOutcome{}, err
		}
		u.UpdateTime = im.now
		if err := roster.CheckCustomAttributes("user_profile.custom_attributes", u.Profile.CustomAttributes, im.defs); err != nil {
			return store.ImportOutcome{}, err
		}
		if err := im.write(ctx, u.ID); err != nil {
			return store.ImportOutcome{}, err
		}
		if err := im.s.insertUserRecorded(ctx, im.tx, u, im.writer, im.now); err != nil {
			return store.ImportOutcome{}, err
		}
		if err := im.s.insertAttributes(ctx, im.tx, u, im.defs); err != nil {
			return store.ImportOutcome{}, err
		}
		result = roster.ImportCreated
	} else {
		before := u.Clone()
		changed, err := in.Apply(&u, im.now)
		if err != nil {
			return store.ImportOutcome{}, err
		}
		if changed {
			if len(in.Profile.CustomAttributes) > 0 {
				if err := roster.CheckCustomAttributes("user_profile.custom_attributes", u.Profile.CustomAttributes, im.defs); err != nil {
					return store.ImportOutcome{}, err
				}
			}
			if err := im.write(ctx, u.ID); err != nil {
				return store.ImportOutcome{}, err
			}
			if err := im.s.updateUserRowRecorded(ctx, im.tx, &before, u, im.lockedDefs, im.writer, im.now); err != nil {
				return store.ImportOutcome{}, err
			}
			if u.Email != before.Email {
				_, err := im.tx.ExecContext(ctx, `UPDATE users SET email = $1, email_key = $2 WHERE id = $3`, u.Email, roster.EmailKey(u.Email), u.ID)
				if err := im.s.conflict(err, userField(u)); err != nil {
					return store.ImportOutcome{}, err
				}
			}
			if !maps.Equal(before.Profile.CustomAttributes, u.Profile.CustomAttributes) {
				if err := im.s.writeAttributes(ctx, im.tx, u, im.defs); err != nil {
					return store.ImportOutcome{}, err
				}
			}
			userChanged = roster.UserChanges(&before, &u)
			result = roster.ImportUpdated
		}
	}
	for i := range in.Memberships {
		changed, err := im.membership(ctx, &u, i, l)
		if err != nil {
			return store.ImportOutcome{}, err
		}
		if changed && result == roster.ImportUnchanged {
			result = roster.ImportUpdated
		}
	}
	im.lineEventsOf(u, result == roster.ImportCreated, userChanged)
	return store.ImportOutcome{UserID: u.ID, Result: result}, nil
}

// lineEventsOf makes the events of a line that wrote u (as it is after the line): the new
// user's, or user.updated when its own fields changed and each membership's change.
func (im *importer) lineEventsOf(u roster.User, created bool, userChanged []string) {
	if created {
		im.lineEvents = append(im.lineEvents, userCreatedEvents(u, im.env, im.now)...)
		return
	}
	if len(userChanged) > 0 {
		im.lineEvents = append(im.lineEvents, userEvent(roster.EventUserUpdated, u, "", im.now, userChanged))
	}
	for _, c := range im.memberChanges {
		name := ""
		if i := membershipIndex(u, c.orgID); i >= 0 {
			name = u.Memberships[i].OrganizationName
		}
		im.lineEvents = append(im.lineEvents, membershipEvent(c.typ, eventOrg(im.env, c.orgID, name), u, im.now, c.changed))
	}
}

// find returns the user a line matches, locked: the holder of its external ID, else the
// user of its email. A user found by email who has another external ID is not that line's
// user: the line is refused rather than two people merged.
func (im *importer) find(ctx context.Context, in roster.ImportUser) (roster.User, bool, error) {
	ext := ""
	if in.ExternalID != nil {
		ext = *in.ExternalID
	}
	if ext != "" {
		u, found, err := im.findBy(ctx, "external_id", ext)
		if err != nil || found {
			if err == nil {
				err = im.checkID(in, u)
			}
			return u, found, err
		}
	}
	u, found, err := im.findBy(ctx, "email_key", roster.EmailKey(in.Email))
	if err != nil || !found {
		return u, false, err
	}
	if ext != "" && u.ExternalID != nil && *u.ExternalID != ext {
		return u, false, lineConflict("email", "unique",
			"the email %q belongs to another user, whose external_id is %q", u.Email, *u.ExternalID)
	}
	return u, true, im.checkID(in, u)
}

// findBy reads and locks the user whose unique column col holds key. It looks the ID up
// first: most import lines name no user yet, and that costs one indexed read.
func (im *importer) findBy(ctx context.Context, col, key string) (roster.User, bool, error) {
	if im.clean {
		ids := im.emailIDs
		if col == "external_id" {
			ids = im.extIDs
		}
		id := ids[key]
		if id == "" {
			return roster.User{}, false, nil // no user had the key, and no line has named it since
		}
		if u, ok := im.loaded[id]; ok && !im.written[id] {
			return u.Clone(), true, nil
		}
	}
	var id string
	err := im.tx.QueryRowContext(ctx, `SELECT id FROM users WHERE environment_id = $1 AND `+col+` = $2`, im.env, key).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return roster.User{}, false, nil
	}
	if err != nil {
		return roster.User{}, false, err
	}
	u, err := im.s.fullUserBy(ctx, im.tx, im.env, "id", id, im.s.dialect.RowLock())
	return u, err == nil, err
}

// checkID refuses a line whose id names another user than the one it matched.
func (im *importer) checkID(in roster.ImportUser, u roster.User) error {
	if in.ID == "" || in.ID == u.ID {
		return nil
	}
	var v roster.Violations
	v.Add("id", "matches_user", "the line's external_id or email belongs to user %s, not %s", u.ID, in.ID)
	return v.Err()
}

func lineConflict(field, constraint, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &roster.Error{Code: roster.EConflict, Message: msg,
		Violations: []roster.FieldViolation{{Field: field, Constraint: constraint, Description: msg}}}
}

// membership creates or updates the line's i-th membership of u and reports whether it
// changed anything.
func (im *importer) membership(ctx context.Context, u *roster.User, i int, l *store.ImportLine) (bool, error) {
	in, res := l.User.Memberships[i], l.Memberships[i]
	field := fmt.Sprintf("memberships[%d]", i)
	name, ok := im.orgs[in.OrganizationID]
	if !ok {
		return false, unknownOrganization(i, in.OrganizationID)
	}
	if at := membershipIndex(*u, in.OrganizationID); at >= 0 {
		return im.updateMembership(ctx, u, &u.Memberships[at], in, res, field)
	}
	m, err := im.newMembership(u.ID, name, in, res)
	if err != nil {
		return false, err
	}
	if err := im.write(ctx, u.ID); err != nil {
		return false, err
	}
	if err := im.insertMembership(ctx, &m); err != nil {
		return false, err
	}
	u.Memberships = append(u.Memberships, m)
	im.memberChanges = append(im.memberChanges, memberChange{typ: membershipCreated(m), orgID: m.OrganizationID})
	return true, nil
}

func unknownOrganization(i int, id string) error {
	return &roster.Error{Code: roster.ENotFound, Message: fmt.Sprintf("organization %q not found", id),
		Violations: []roster.FieldViolation{{Field: fmt.Sprintf("memberships[%d].organization_id", i), Constraint: "exists",
			Description: "no such organization in this environment"}}}
}

// newMembership is the membership a line gives a user who is not yet a member: the line's
// roles or the default member role, ACTIVE and provisioned directly unless the line gives a
// status; never an invitation email.
func (im *importer) newMembership(userID, orgName string, in roster.ImportMembership, res store.ImportMembership) (roster.Membership, error) {
	roles := res.Roles
	if len(roles) == 0 {
		if res.DefaultErr != nil {
			return roster.Membership{}, res.DefaultErr
		}
		roles = res.DefaultRoles
	}
	now := im.now
	m := roster.Membership{OrganizationID: in.OrganizationID, UserID: userID, OrganizationName: orgName, Roles: slices.Clone(roles),
		Metadata: roster.MergeMetadata(nil, in.Metadata), CreateTime: now, UpdateTime: now}
	switch in.Status {
	case roster.MembershipPendingInvite:
		expires := now.Add(roster.InvitationLifetime)
		m.Status, m.ExpireTime, m.ProvisioningMethod = roster.MembershipPendingInvite, &expires, roster.ProvisionedInvitation
	case roster.MembershipInactive:
		m.Status, m.ProvisioningMethod = roster.MembershipInactive, roster.ProvisionedDirect
	default:
		m.Status, m.AcceptTime, m.ProvisioningMethod = roster.MembershipActive, &now, roster.ProvisionedDirect
	}
	return m, nil
}

// insertMembership is Store.insertMembership for an organization the batch has locked
// already.
func (im *importer) insertMembership(ctx context.Context, m *roster.Membership) error {
	seq, ok := roster.IDNumber(m.UserID, roster.PrefixUser)
	if !ok {
		return fmt.Errorf("malformed user id %q", m.UserID)
	}
	meta, err := json.Marshal(nonNil(m.Metadata))
	if err != nil {
		return err
	}
	_, err = im.tx.ExecContext(ctx, `INSERT INTO memberships (environment_id, organization_id, user_id, user_seq, status, metadata,
		inviter_email, provisioning_method, create_time, update_time, accept_time, expire_time, invite_resent_count, invite_resent_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		im.env, m.OrganizationID, m.UserID, seq, string(m.Status), string(meta), nullString(m.InviterEmail),
		m.ProvisioningMethod, micros(m.CreateTime), micros(m.UpdateTime), nullMicros(m.AcceptTime), nullMicros(m.ExpireTime),
		m.InviteResentCount, nullMicros(m.InviteResentTime))
	if err != nil {
		return im.s.conflict(err, func(string) string { return m.OrganizationID })
	}
	return im.s.insertMembershipRoles(ctx, im.tx, m)
}

// updateMembership changes an existing membership as the line says: roles replaced when
// given, metadata merged, status set when given.
func (im *importer) updateMembership(ctx context.Context, u *roster.User, m *roster.Membership, in roster.ImportMembership, res store.ImportMembership, field string) (bool, error) {
	rolesChanged := res.Roles != nil && !roster.SameRoles(m.Roles, res.Roles)
	meta := m.Metadata
	if len(in.Metadata) > 0 {
		meta = roster.MergeMetadata(m.Metadata, in.Metadata)
		if err := roster.CheckMergedPairs(field+".metadata", "the membership", meta, roster.UserMetadataMaxPairs); err != nil {
			return false, err
		}
	}
	statusChanged := in.Status != "" && in.Status != m.Status
	if !rolesChanged && !statusChanged && maps.Equal(meta, m.Metadata) {
		return false, nil
	}
	before := *m
	before.Metadata, before.Roles = maps.Clone(m.Metadata), slices.Clone(m.Roles)
	m.Metadata, m.UpdateTime = meta, im.now
	if statusChanged {
		m.Status = in.Status
		switch in.Status {
		case roster.MembershipActive:
			m.ExpireTime = nil
			if m.AcceptTime == nil {
				now := im.now
				m.AcceptTime = &now
			}
		case roster.MembershipPendingInvite:
			expires := im.now.Add(roster.InvitationLifetime)
			m.ExpireTime = &expires
		case roster.MembershipInactive:
			m.ExpireTime = nil
		}
	}
	b, err := json.Marshal(nonNil(m.Metadata))
	if err != nil {
		return false, err
	}
	if err := im.write(ctx, u.ID); err != nil {
		return false, err
	}
	if _, err := im.tx.ExecContext(ctx, `UPDATE memberships SET status = $1, metadata = $2, update_time = $3, accept_time = $4,
		expire_time = $5 WHERE organization_id = $6 AND user_id = $7`,
		string(m.Status), string(b), micros(m.UpdateTime), nullMicros(m.AcceptTime), nullMicros(m.ExpireTime), m.OrganizationID, u.ID); err != nil {
		return false, err
	}
	if rolesChanged {
		m.Roles = slices.Clone(res.Roles)
		if err := im.s.writeMembershipRoles(ctx, im.tx, m); err != nil {
			return false, err
		}
	}
	if changed := roster.MembershipChanges(&before, m); len(changed) > 0 {
		im.memberChanges = append(im.memberChanges, memberChange{typ: roster.EventMembershipUpdated, orgID: m.OrganizationID, changed: changed})
	}
	return true, nil
}

// ExportUsers reads the users in ID order, batchSize at a time, in one read transaction: on
// PostgreSQL REPEATABLE READ, on SQLite one read transaction of the read pool (WAL keeps its
// snapshot), so that every batch sees the directory as of the same moment. The user cache is
// not used: it may hold users newer than that moment.
func (s *Store) ExportUsers(ctx context.Context, environmentID, organizationID string, batchSize int, fn func([]roster.User) error) error {
	if batchSize <= 0 {
		batchSize = 1000
	}
	var opts *sql.TxOptions
	if s.pg() {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	tx, err := s.readDB.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	q := txConn{tx: tx}
	var query string
	if organizationID == "" {
		query = `SELECT ` + s.fullUserColumns + ` FROM users u WHERE u.environment_id = $1 AND u.seq > $2 ORDER BY u.seq LIMIT $3`
	} else {
		if err := lockOrganizationRow(ctx, q, environmentID, organizationID, ""); err != nil {
			return err
		}
		query = `SELECT ` + s.fullUserColumns + ` FROM memberships m JOIN users u ON u.id = m.user_id
			WHERE m.environment_id = $1 AND m.organization_id = $4 AND m.user_seq > $2 ORDER BY m.user_seq LIMIT $3`
	}
	var after int64
	for {
		args := []any{environmentID, after, batchSize}
		if organizationID != "" {
			args = append(args, organizationID)
		}
		users, err := s.queryFullUsers(ctx, q, batchSize, query, args...)
		if err != nil {
			return err
		}
		if len(users) == 0 {
			return nil
		}
		last, ok := roster.IDNumber(users[len(users)-1].ID, roster.PrefixUser)
		if !ok {
			return fmt.Errorf("malformed user id %q", users[len(users)-1].ID)
		}
		after = last
		if err := fn(users); err != nil {
			return err
		}
		if len(users) < batchSize {
			return nil
		}
	}
}
