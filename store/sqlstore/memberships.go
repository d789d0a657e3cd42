package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

const membershipColumns = `m.organization_id, m.status, m.metadata, m.inviter_email, m.provisioning_method, m.create_time,
	m.update_time, m.accept_time, m.expire_time, m.invite_resent_count, m.invite_resent_time`

// scanMembership reads membershipColumns preceded by the user ID and followed by the
// organization's name and any extra columns.
func scanMembership(row interface{ Scan(...any) error }, userID *string, extra ...any) (roster.Membership, error) {
	var ms membershipScan
	if err := row.Scan(append(ms.dest(userID), extra...)...); err != nil {
		return roster.Membership{}, err
	}
	return ms.membership()
}

// membershipScan holds the destinations of a row of scanMembership's columns, so that a query
// can read them after other columns (fullUser); one membershipScan serves row after row.
type membershipScan struct {
	m                         roster.Membership
	userID                    *string
	meta, status              string
	inviter                   sql.NullString
	created, updated          int64
	accepted, expires, resent sql.NullInt64
}

func (s *membershipScan) dest(userID *string) []any {
	s.userID = userID
	return []any{userID, &s.m.OrganizationID, &s.status, &s.meta, &s.inviter, &s.m.ProvisioningMethod, &s.created, &s.updated,
		&s.accepted, &s.expires, &s.m.InviteResentCount, &s.resent, &s.m.OrganizationName}
}

// membership converts the last row scanned.
func (s *membershipScan) membership() (roster.Membership, error) {
	m := s.m
	if err := decodeMap(s.meta, &m.Metadata); err != nil {
		return m, fmt.Errorf("membership %s/%s: %w", m.OrganizationID, *s.userID, err)
	}
	m.UserID, m.Status, m.InviterEmail = *s.userID, roster.MembershipStatus(s.status), stringPtr(s.inviter)
	m.CreateTime, m.UpdateTime = fromMicros(s.created), fromMicros(s.updated)
	m.AcceptTime, m.ExpireTime, m.InviteResentTime = timePtr(s.accepted), timePtr(s.expires), timePtr(s.resent)
	m.Roles = []roster.RoleRef{}
	return m, nil
}

// addMembershipRow adds a row of a memberships-with-roles query to u: a membership appears
// once per role (once with NULL role columns when it has none), its rows one after another.
func addMembershipRow(u *roster.User, m roster.Membership, roleID, roleName, roleDisplay sql.NullString) {
	if n := len(u.Memberships); n == 0 || u.Memberships[n-1].OrganizationID != m.OrganizationID {
		u.Memberships = append(u.Memberships, m)
	}
	if roleID.Valid {
		last := &u.Memberships[len(u.Memberships)-1]
		last.Roles = append(last.Roles, roster.RoleRef{ID: roleID.String, Name: roleName.String, DisplayName: roleDisplay.String})
	}
}

// insertMembership stores m and fills in its organization's name. org is the organization the
// caller has locked (lockOrganization); another one is locked here. The organization must
// exist in this environment (the foreign key alone would accept one of another environment).
func (s *Store) insertMembership(ctx context.Context, tx txConn, environmentID string, org lockedOrg, m *roster.Membership) error {
	row, err := membershipRow(environmentID, m)
	if err != nil {
		return err
	}
	if org.id != m.OrganizationID {
		if org, err = s.lockOrganization(ctx, tx, environmentID, m.OrganizationID); err != nil {
			return err
		}
	}
	m.OrganizationName = org.name
	_, err = tx.ExecContext(ctx, `INSERT INTO memberships (`+membershipInsertColumns+`) VALUES (`+placeholders(1, len(row))+`)`, row...)
	if err != nil {
		return s.conflict(err, func(string) string { return m.OrganizationID })
	}
	return s.insertMembershipRoles(ctx, tx, m)
}

// lockRoles share-locks, in ID order, the roles a membership is given and the roles it holds
// now (lock order: after the user, before membership_roles), so that deleting a role and
// changing a membership's roles cannot wait for each other. A role deleted since it was read
// is dropped from m.Roles: the outcome is that of this write committing just before the
// delete, whose cascade would have removed it.
func (s *Store) lockRoles(ctx context.Context, tx txConn, m *roster.Membership) error {
	lock := s.dialect.ShareLock()
	if lock == "" {
		return nil
	}
	args := []any{m.OrganizationID, m.UserID}
	cond := []string{`id IN (SELECT role_id FROM membership_roles WHERE organization_id = $1 AND user_id = $2)`}
	if len(m.Roles) > 0 {
		cond = append(cond, `id IN (`+placeholders(len(args)+1, len(m.Roles))+`)`)
		for _, r := range m.Roles {
			args = append(args, r.ID)
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM roles WHERE `+strings.Join(cond, " OR ")+` ORDER BY id`+lock, args...)
	if err != nil {
		return err
	}
	exists := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		exists[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	m.Roles = slices.DeleteFunc(m.Roles, func(r roster.RoleRef) bool { return !exists[r.ID] })
	return nil
}

func (s *Store) writeMembershipRoles(ctx context.Context, tx txConn, m *roster.Membership) error {
	if err := s.lockRoles(ctx, tx, m); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM membership_roles WHERE organization_id = $1 AND user_id = $2`, m.OrganizationID, m.UserID); err != nil {
		return err
	}
	return s.insertMembershipRoles(ctx, tx, m)
}

// membershipInsertColumns are the columns of a new memberships row, in membershipRow's order.
const membershipInsertColumns = `environment_id, organization_id, user_id, user_seq, status, metadata,
	inviter_email, provisioning_method, create_time, update_time, accept_time, expire_time, invite_resent_count, invite_resent_time`

// membershipRow is the values of m's new memberships row, in membershipInsertColumns' order.
func membershipRow(environmentID string, m *roster.Membership) ([]any, error) {
	seq, ok := roster.IDNumber(m.UserID, roster.PrefixUser)
	if !ok {
		return nil, fmt.Errorf("malformed user id %q", m.UserID)
	}
	meta, err := json.Marshal(nonNil(m.Metadata))
	if err != nil {
		return nil, err
	}
	return []any{environmentID, m.OrganizationID, m.UserID, seq, string(m.Status), string(meta), nullString(m.InviterEmail),
		m.ProvisioningMethod, micros(m.CreateTime), micros(m.UpdateTime), nullMicros(m.AcceptTime), nullMicros(m.ExpireTime),
		m.InviteResentCount, nullMicros(m.InviteResentTime)}, nil
}

// roleIDs is the IDs of roles, each once, in their order.
func roleIDs(roles []roster.RoleRef) []string {
	ids := make([]string, 0, len(roles))
	for _, r := range roles {
		if !slices.Contains(ids, r.ID) {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// insertMembershipRoles gives a new (or emptied) membership its roles with one statement,
// which share-locks the roles in ID order as it reads them (lock order: after the user,
// before membership_roles; the statement is one round trip on PostgreSQL, where a lock and
// an insert per role took one each). A role deleted since it was read is dropped from
// m.Roles, as lockRoles does.
func (s *Store) insertMembershipRoles(ctx context.Context, tx txConn, m *roster.Membership) error {
	if len(m.Roles) == 0 {
		return nil
	}
	args := []any{m.OrganizationID, m.UserID}
	for _, id := range roleIDs(m.Roles) {
		args = append(args, id)
	}
	rows, err := tx.QueryContext(ctx, `INSERT INTO membership_roles (organization_id, user_id, role_id)
		SELECT $1, $2, id FROM roles WHERE id IN (`+placeholders(3, len(args)-2)+`) ORDER BY id`+s.dialect.ShareLock()+` RETURNING role_id`, args...)
	if err != nil {
		return err
	}
	return keepInsertedRoles(rows, m)
}

// keepInsertedRoles reads the role IDs an insert of membership_roles returned and drops from
// m.Roles the roles it did not insert (deleted since they were read), then closes rows.
func keepInsertedRoles(rows *sql.Rows, m *roster.Membership) error {
	inserted := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		inserted[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	m.Roles = slices.DeleteFunc(m.Roles, func(r roster.RoleRef) bool { return !inserted[r.ID] })
	return nil
}

// CreateMembership adds an existing user to an organization.
func (s *Store) CreateMembership(ctx context.Context, environmentID string, ref roster.UserRef, m roster.Membership) (roster.User, error) {
	var out roster.User
	err := s.inUserTx(ctx, func(tx txConn, touch func(string)) error {
		// Lock order: the organization before the user.
		org, err := s.lockOrganization(ctx, tx, environmentID, m.OrganizationID)
		if err != nil {
			return err
		}
		u, err := getUser(ctx, tx, environmentID, ref, s.dialect.RowLock())
		if err != nil {
			return err
		}
		touch(u.ID)
		m.UserID = u.ID
		if err := s.insertMembership(ctx, tx, environmentID, org, &m); err != nil {
			return err
		}
		if out, err = s.fullUser(ctx, tx, environmentID, roster.UserRef{ID: u.ID}, ""); err != nil {
			return err
		}
		return s.recordEvents(ctx, tx, membershipEvent(membershipCreated(m), eventOrg(environmentID, org.id, org.name), out, m.CreateTime, nil))
	})
	return out, err
}

// UpdateMembership applies update to one membership in one transaction.
func (s *Store) UpdateMembership(ctx context.Context, environmentID, organizationID string, ref roster.UserRef, update func(*roster.Membership) error) (roster.User, error) {
	var out roster.User
	err := s.inUserTx(ctx, func(tx txConn, touch func(string)) error {
		u, err := s.fullUser(ctx, tx, environmentID, ref, s.dialect.RowLock())
		if err != nil {
			return err
		}
		touch(u.ID)
		i := membershipIndex(u, organizationID)
		if i < 0 {
			return notFound("membership")
		}
		m := &u.Memberships[i]
		before := *m
		before.Metadata, before.Roles = maps.Clone(m.Metadata), slices.Clone(m.Roles)
		if err := update(m); err != nil {
			return err
		}
		meta, err := json.Marshal(nonNil(m.Metadata))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE memberships SET status = $1, metadata = $2, inviter_email = $3, update_time = $4,
			accept_time = $5, expire_time = $6, invite_resent_count = $7, invite_resent_time = $8
			WHERE organization_id = $9 AND user_id = $10`,
			string(m.Status), string(meta), nullString(m.InviterEmail), micros(m.UpdateTime), nullMicros(m.AcceptTime),
			nullMicros(m.ExpireTime), m.InviteResentCount, nullMicros(m.InviteResentTime), organizationID, u.ID); err != nil {
			return err
		}
		if err := s.writeMembershipRoles(ctx, tx, m); err != nil {
			return err
		}
		out = u
		if e, ok := membershipUpdated(environmentID, before, *m, u); ok {
			return s.recordEvents(ctx, tx, e)
		}
		return nil
	})
	return out, err
}

// membershipUpdated is the event of a membership's update, if it changed anything: the
// invitation again when it was resent (ResendInvite), else membership_updated with the
// fields that changed. u is the user after the write.
func membershipUpdated(environmentID string, before, after roster.Membership, u roster.User) (roster.Event, bool) {
	changed := roster.MembershipChanges(&before, &after)
	org := eventOrg(environmentID, after.OrganizationID, after.OrganizationName)
	switch {
	case after.InviteResentCount > before.InviteResentCount:
		return membershipEvent(roster.EventInvitation, org, u, after.UpdateTime, changed), true
	case len(changed) > 0:
		return membershipEvent(roster.EventMembershipUpdated, org, u, after.UpdateTime, changed), true
	}
	return roster.Event{}, false
}

// DeleteMembership removes a membership and, with cascade, the user when it was their last.
func (s *Store) DeleteMembership(ctx context.Context, environmentID, organizationID string, ref roster.UserRef, cascade bool) (bool, error) {
	deleted := false
	err := s.inUserTx(ctx, func(tx txConn, touch func(string)) error {
		// The user with its memberships (one query, as the user's row alone was): the events'
		// data, and the organization's name.
		u, err := s.fullUser(ctx, tx, environmentID, ref, s.dialect.RowLock())
		if err != nil {
			return err
		}
		touch(u.ID)
		i := membershipIndex(u, organizationID)
		if i < 0 {
			return notFound("membership")
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2`, organizationID, u.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("membership")
		}
		at := time.Now().UTC()
		if cascade {
			res, err = tx.ExecContext(ctx, `DELETE FROM users WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1)`, u.ID)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			if deleted = n > 0; deleted {
				// One event: the user as last shown, with the membership that ended.
				return s.recordEvents(ctx, tx, userEvent(roster.EventUserDeleted, u, organizationID, at, nil))
			}
		}
		org := eventOrg(environmentID, organizationID, u.Memberships[i].OrganizationName)
		u.Memberships = slices.Delete(u.Memberships, i, i+1)
		return s.recordEvents(ctx, tx, membershipEvent(roster.EventMembershipDeleted, org, u, at, nil))
	})
	return deleted, err
}

func membershipIndex(u roster.User, organizationID string) int {
	for i, m := range u.Memberships {
		if m.OrganizationID == organizationID {
			return i
		}
	}
	return -1
}
