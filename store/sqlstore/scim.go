package sqlstore

// The SCIM endpoint's writes and queries (docs/scim.md "The store-backed directory"): a
// directory user is linked to a Roster user with a membership of the directory's
// organization, and a user's roles there follow its groups.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

func insertDirectoryUser(ctx context.Context, tx txConn, u roster.DirectoryUser, seq int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO directory_users (`+directoryUserColumns+`, user_name_key, seq, display_name_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
		u.ID, u.EnvironmentID, u.DirectoryID, nullID(u.UserID), u.UserName, u.ExternalID, u.Active, u.Email, u.PreferredUsername,
		u.GivenName, u.FamilyName, jsonText(nonNilSlice(u.Emails)), rawText(u.Raw), micros(u.CreateTime), micros(u.UpdateTime),
		u.DisplayName, roster.UserNameKey(u.UserName), seq, strings.ToLower(u.DisplayName))
	if err != nil {
		return err
	}
	if err := noteDirectoryChange(ctx, tx, u.DirectoryID, countUsers, 1, micros(u.UpdateTime)); err != nil {
		return err
	}
	return writeDirectoryUserEmails(ctx, tx, u, false)
}

func updateDirectoryUserRow(ctx context.Context, tx txConn, u roster.DirectoryUser) error {
	return rewriteDirectoryUser(ctx, tx, nil, u, true)
}

// rewriteDirectoryUser rewrites a directory user's row, and its email rows when emails says
// they changed. Given the row as it was (prev), a write that keeps every indexed column
// (the linked user, userName's key, externalId, displayName's key) sets only the others:
// SQLite rewrites the entry of every index whose column a SET names, equal value or not, so
// naming the four would cost five index entries (six pages of WAL instead of one) per write.
func rewriteDirectoryUser(ctx context.Context, tx txConn, prev *roster.DirectoryUser, u roster.DirectoryUser, emails bool) error {
	var err error
	if prev != nil && prev.UserID == u.UserID && roster.UserNameKey(prev.UserName) == roster.UserNameKey(u.UserName) &&
		prev.ExternalID == u.ExternalID && strings.ToLower(prev.DisplayName) == strings.ToLower(u.DisplayName) {
		_, err = tx.ExecContext(ctx, `UPDATE directory_users SET user_name = $1, active = $2, email = $3, preferred_username = $4,
			given_name = $5, family_name = $6, emails = $7, raw = $8, update_time = $9, display_name = $10
			WHERE id = $11`, u.UserName, u.Active, u.Email, u.PreferredUsername, u.GivenName, u.FamilyName,
			jsonText(nonNilSlice(u.Emails)), rawText(u.Raw), micros(u.UpdateTime), u.DisplayName, u.ID)
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE directory_users SET user_id = $1, user_name = $2, user_name_key = $3, external_id = $4,
			active = $5, email = $6, preferred_username = $7, given_name = $8, family_name = $9, emails = $10, raw = $11, update_time = $12,
			display_name = $13, display_name_key = $14
			WHERE id = $15`, nullID(u.UserID), u.UserName, roster.UserNameKey(u.UserName), u.ExternalID, u.Active, u.Email,
			u.PreferredUsername, u.GivenName, u.FamilyName, jsonText(nonNilSlice(u.Emails)), rawText(u.Raw), micros(u.UpdateTime),
			u.DisplayName, strings.ToLower(u.DisplayName), u.ID)
	}
	if err != nil {
		return err
	}
	if err := noteDirectoryChange(ctx, tx, u.DirectoryID, countUsers, 0, micros(u.UpdateTime)); err != nil {
		return err
	}
	if !emails {
		return nil
	}
	return writeDirectoryUserEmails(ctx, tx, u, true)
}

// writeDirectoryUserEmails keeps one row per case-folded email of a directory user, which
// the filters on emails.value query.
func writeDirectoryUserEmails(ctx context.Context, tx txConn, u roster.DirectoryUser, replace bool) error {
	if replace {
		if _, err := tx.ExecContext(ctx, `DELETE FROM directory_user_emails WHERE directory_user_id = $1`, u.ID); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, e := range u.Emails {
		k := strings.ToLower(e)
		if k == "" || seen[k] {
			continue
		}
		seen[k] = true
		if _, err := tx.ExecContext(ctx, `INSERT INTO directory_user_emails (directory_user_id, value_key) VALUES ($1, $2)`, u.ID, k); err != nil {
			return err
		}
	}
	return nil
}

// directoryOrganization returns the organization of a directory of the environment.
func directoryOrganization(ctx context.Context, q querier, environmentID, directoryID string) (string, error) {
	var org string
	err := q.QueryRowContext(ctx, `SELECT organization_id FROM directories WHERE id = $1 AND environment_id = $2`, directoryID, environmentID).Scan(&org)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound("directory")
	}
	return org, err
}

// WriteDirectoryUser creates or updates a directory user and its Roster user, membership and
// identity in one transaction.
func (s *Store) WriteDirectoryUser(ctx context.Context, w store.DirectoryUserWrite) (roster.DirectoryUser, error) {
	var out roster.DirectoryUser
	env, dirID, orgID := w.Directory.EnvironmentID, w.Directory.ID, w.Directory.OrganizationID
	err := s.inUserTx(ctx, func(tx txConn, touch func(string)) error {
		// Lock order: the directory's gate, the organization, the directory, the directory
		// user, then the user.
		if err := s.gateDirectory(ctx, tx, dirID); err != nil {
			return err
		}
		locked, err := s.lockDirectoryWithOrganization(ctx, tx, env, dirID)
		if err != nil {
			return err
		}
		org := locked.org
		orgID = org.id
		profile := w.Profile
		if w.ProfileOf != nil { // the mapping as of this transaction (UpdateDirectory waits for it)
			cur, err := withMappings(w.Directory, locked.mappings)
			if err != nil {
				return err
			}
			profile = w.ProfileOf(cur)
		}
		var row roster.DirectoryUser
		var prev roster.DirectoryUser // the row before the update
		if w.Create != nil {
			row = *w.Create
		} else {
			if row, err = getDirectoryUser(ctx, tx, env, dirID, w.ID, s.dialect.RowLock()); err != nil {
				return err
			}
			prev = row
			prev.Emails = slices.Clone(row.Emails)
			if err := w.Update(&row); err != nil {
				return err
			}
			row.ID, row.EnvironmentID, row.DirectoryID = w.ID, env, dirID
		}
		email := roster.NormalizeEmail(w.Email(row))
		if email == "" {
			return roster.Errorf(roster.EInvalid, "a SCIM user needs an email address (emails or an email userName) to be a Roster user")
		}
		userID := ""
		var u roster.User
		if row.UserID != "" { // the user already holds this directory identity: read it at once
			u, err = s.fullUser(ctx, tx, env, roster.UserRef{ID: row.UserID}, s.dialect.RowLock())
			switch {
			case err == nil:
				userID = u.ID
			case roster.ErrorCode(err) != roster.ENotFound:
				return err
			}
		}
		if userID == "" {
			facts := roster.LinkFacts{SourceOrganizationID: orgID, Email: email}
			if facts.DomainOrganizationID, err = domainOrganization(ctx, tx, env, roster.EmailDomain(email)); err != nil {
				return err
			}
			if err := roster.CheckLink(facts); err != nil {
				return err
			}
			err = tx.QueryRowContext(ctx, `SELECT id FROM users WHERE environment_id = $1 AND email_key = $2`, env, roster.EmailKey(email)).Scan(&userID)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		defs := s.lazyDefs(ctx, tx, env)
		isNew := userID == ""
		if isNew {
			u = roster.User{ID: w.NewUserID, EnvironmentID: env, Email: email, Metadata: map[string]string{}, CreateTime: w.Now, UpdateTime: w.Now,
				Profile: roster.Profile{Metadata: map[string]string{}, CustomAttributes: map[string]string{}, Groups: []string{}}}
		} else if u.ID != userID { // linked by email
			if u, err = s.fullUser(ctx, tx, env, roster.UserRef{ID: userID}, s.dialect.RowLock()); err != nil {
				return err
			}
		}
		touch(u.ID)
		before, may, err := applyDirectoryProfile(ctx, tx, orgID, &u, isNew, row, profile, defs)
		if err != nil {
			return err
		}
		if may && !strings.EqualFold(u.Email, email) {
			u.Email = email
		}
		if !may {
			u.Email = before.Email // another organization's source owns it
		}
		scimWriter := roster.Writer{Source: roster.SourceSCIM, ID: dirID}
		userChanged := false // the Roster user's row changed (user.updated)
		if isNew {
			if err := s.insertUserRecorded(ctx, tx, u, scimWriter, w.Now); err != nil {
				return err
			}
			u.Memberships = []roster.Membership{}
		} else {
			if u.Email != before.Email {
				if _, err := tx.ExecContext(ctx, `UPDATE users SET email = $1, email_key = $2 WHERE id = $3`, u.Email, roster.EmailKey(u.Email), u.ID); err != nil {
					return s.conflict(err, userField(u))
				}
			}
			// A write that changes neither the profile nor the email (an attribute nothing
			// maps, a PUT that sends what is there) leaves the user's row as it is, and records
			// no provenance (nothing changed).
			if u.Email != before.Email || !profileEqual(before.Profile, u.Profile) {
				u.UpdateTime = w.Now
				if err := s.updateUserRowRecorded(ctx, tx, &before, u, defs, scimWriter, w.Now); err != nil {
					return err
				}
				userChanged = true
			}
		}
		if isNew || !maps.Equal(before.Profile.CustomAttributes, u.Profile.CustomAttributes) {
			d, err := defs()
			if err != nil {
				return err
			}
			if err := s.writeAttributes(ctx, tx, u, d); err != nil {
				return err
			}
		}
		status := roster.MembershipInactive
		if row.Active {
			status = roster.MembershipActive
		}
		memberEvent := "" // the membership's event type, if the write changes it
		var memberChanged []string
		if i := membershipIndex(u, orgID); i < 0 {
			m := roster.Membership{OrganizationID: orgID, UserID: u.ID, Status: status, Roles: slices.Clone(locked.defaults),
				Metadata: map[string]string{}, CreateTime: w.Now, UpdateTime: w.Now, ProvisioningMethod: roster.ProvisionedDirect}
			if status == roster.MembershipActive {
				m.AcceptTime = &w.Now
			}
			if err := s.insertMembership(ctx, tx, env, org, &m); err != nil {
				return err
			}
			u.Memberships = append(u.Memberships, m)
			memberEvent = roster.EventMembershipCreated
		} else if m := u.Memberships[i]; m.Status != status && (status == roster.MembershipActive || m.Status == roster.MembershipActive) {
			if _, err := tx.ExecContext(ctx, `UPDATE memberships SET status = $1, update_time = $2, expire_time = NULL
				WHERE organization_id = $3 AND user_id = $4`, string(status), micros(w.Now), orgID, u.ID); err != nil {
				return err
			}
			u.Memberships[i].Status, u.Memberships[i].UpdateTime, u.Memberships[i].ExpireTime = status, w.Now, nil
			memberEvent, memberChanged = roster.EventMembershipUpdated, []string{"status"}
		}
		row.UserID = u.ID
		if w.Create != nil {
			seq, ok := roster.IDNumber(row.ID, roster.PrefixDirectoryUser)
			if !ok {
				return fmt.Errorf("malformed directory user id %q", row.ID)
			}
			err = insertDirectoryUser(ctx, tx, row, seq)
		} else {
			err = rewriteDirectoryUser(ctx, tx, &prev, row, !slices.Equal(prev.Emails, row.Emails))
		}
		if err != nil {
			return s.directoryUserConflict(err, row)
		}
		if w.Create == nil && prev.UserID != u.ID {
			// roles follow the groups (a relinked user gets its groups' roles)
			recomputed, err := s.recomputeUserRoles(ctx, tx, dirID, orgID, row.ID, u.ID, locked.defaults)
			if err != nil {
				return err
			}
			if recomputed { // the user as the write left it, with its new roles
				if u, err = s.fullUser(ctx, tx, env, roster.UserRef{ID: u.ID}, ""); err != nil {
					return err
				}
				if memberEvent == "" {
					memberEvent = roster.EventMembershipUpdated
				}
				if memberEvent == roster.EventMembershipUpdated {
					memberChanged = slices.Concat([]string{"roles"}, memberChanged)
				}
			}
		}
		out = row
		return s.recordEvents(ctx, tx, withActor(directoryUserEvents(orgID, org.name, w.Create != nil, prev, row, isNew, userChanged,
			before, u, memberEvent, memberChanged, w.Now), scimActor(dirID))...)
	})
	return out, err
}

// directoryUserEvents are the events of one WriteDirectoryUser: the directory user's, then
// the Roster user's and its membership's, as far as the write changed them. A write that
// changes nothing has none.
func directoryUserEvents(orgID, orgName string, created bool, prev, row roster.DirectoryUser, isNew, userChanged bool,
	before, u roster.User, memberEvent string, memberChanged []string, at time.Time) []roster.Event {
	var events []roster.Event
	if created {
		events = append(events, directoryUserEvent(roster.EventDirectoryUserCreated, orgID, row, at, nil))
	} else if changed := roster.DirectoryUserChanges(prev, row); len(changed) > 0 {
		typ := roster.EventDirectoryUserUpdated
		if prev.Active != row.Active {
			typ = roster.EventDirectoryUserReactivated
			if !row.Active {
				typ = roster.EventDirectoryUserDeactivated
			}
		}
		events = append(events, directoryUserEvent(typ, orgID, row, at, changed))
	}
	switch {
	case isNew:
		events = append(events, userEvent(roster.EventUserCreated, u, orgID, at, nil))
	case userChanged:
		if changed := roster.UserChanges(&before, &u); len(changed) > 0 {
			events = append(events, userEvent(roster.EventUserUpdated, u, orgID, at, changed))
		}
	}
	if memberEvent != "" {
		org := eventOrg(u.EnvironmentID, orgID, orgName)
		events = append(events, membershipEvent(memberEvent, org, u, at, memberChanged))
	}
	return events
}

// withMappings returns d with the mapping text its row holds (mappingsText's form): d itself
// when unchanged (the common case: a string compare).
func withMappings(d roster.Directory, text string) (roster.Directory, error) {
	if text == mappingsText(d.Mappings) {
		return d, nil
	}
	var ms []mappingJSON
	if err := json.Unmarshal([]byte(text), &ms); err != nil {
		return d, fmt.Errorf("directory %s: mappings: %w", d.ID, err)
	}
	d.Mappings = make([]roster.DirectoryMapping, len(ms))
	for i, m := range ms {
		d.Mappings[i] = roster.DirectoryMapping{Key: m.Key, MapTo: m.MapTo}
	}
	return d, nil
}

// applyDirectoryProfile runs a SCIM write's profile function on u (fresh when isNew) under the
// linking rule: when another organization's source owns the profile, it is left as it was. It
// returns u as it was before and whether its profile may change. WriteDirectoryUser and
// ReapplyDirectoryUsers both write a directory user's profile through it.
func applyDirectoryProfile(ctx context.Context, tx txConn, orgID string, u *roster.User, isNew bool, row roster.DirectoryUser,
	profile func(*roster.User, roster.DirectoryUser, store.SignInState, store.AttributeDefs) error, defs store.AttributeDefs) (roster.User, bool, error) {
	st := store.SignInState{IsNew: isNew, MayChangeProfile: true}
	if !isNew {
		owner, err := profileOwner(ctx, tx, u.ID)
		if err != nil {
			return roster.User{}, false, err
		}
		st.MayChangeProfile = roster.MayChangeProfile(orgID, owner)
	}
	before := u.Clone()
	if err := profile(u, row, st, defs); err != nil {
		return before, false, err
	}
	if !st.MayChangeProfile {
		u.Profile = before.Profile
	}
	return before, st.MayChangeProfile, nil
}

// ReapplyDirectoryUsers re-applies a directory's mapping to one batch of its users in one
// transaction (docs/directories.md "Re-applying a changed mapping").
func (s *Store) ReapplyDirectoryUsers(ctx context.Context, r store.DirectoryReapply) (store.DirectoryReapplyBatch, error) {
	var out store.DirectoryReapplyBatch
	env := r.EnvironmentID
	err := s.inUserTx(ctx, func(tx txConn, touch func(string)) error {
		out = store.DirectoryReapplyBatch{LastSeq: r.AfterSeq}
		if err := s.gateDirectory(ctx, tx, r.DirectoryID); err != nil {
			return err
		}
		// Lock order as WriteDirectoryUser's: the organization, the directory, the directory
		// users, then the users.
		locked, err := s.lockDirectoryWithOrganization(ctx, tx, env, r.DirectoryID)
		if err != nil {
			return err
		}
		orgID := locked.org.id
		d, err := getDirectory(ctx, tx, env, orgID, r.DirectoryID, "")
		if err != nil {
			return err
		}
		profile := r.Profile(d)
		rows, err := tx.QueryContext(ctx, `SELECT `+directoryUserColumns+`, seq FROM directory_users
			WHERE directory_id = $1 AND environment_id = $2 AND seq > $3 ORDER BY seq LIMIT $4`+s.dialect.RowLock(),
			r.DirectoryID, env, r.AfterSeq, r.Limit)
		if err != nil {
			return err
		}
		type item struct {
			row roster.DirectoryUser
			seq int64
		}
		var batch []item
		for rows.Next() {
			var it item
			if it.row, err = scanDirectoryUser(seqScanner{rows, &it.seq}); err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, it)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		defs := s.lazyDefs(ctx, tx, env)
		var events []roster.Event
		for _, it := range batch {
			out.Examined++
			out.LastSeq, out.LastID = it.seq, it.row.ID
			if it.row.UserID == "" {
				out.Skipped++
				continue
			}
			u, err := s.fullUser(ctx, tx, env, roster.UserRef{ID: it.row.UserID}, s.dialect.RowLock())
			if roster.ErrorCode(err) == roster.ENotFound {
				out.Skipped++
				continue
			}
			if err != nil {
				return err
			}
			before, may, err := applyDirectoryProfile(ctx, tx, orgID, &u, false, it.row, profile, defs)
			if err != nil {
				return err
			}
			if !may {
				out.Skipped++
				continue
			}
			if profileEqual(before.Profile, u.Profile) {
				continue
			}
			touch(u.ID)
			u.UpdateTime = r.Now
			if err := s.updateUserRowRecorded(ctx, tx, &before, u, defs, roster.Writer{Source: roster.SourceSCIM, ID: r.DirectoryID}, r.Now); err != nil {
				return err
			}
			if !maps.Equal(before.Profile.CustomAttributes, u.Profile.CustomAttributes) {
				dm, err := defs()
				if err != nil {
					return err
				}
				if err := s.writeAttributes(ctx, tx, u, dm); err != nil {
					return err
				}
			}
			out.Changed++
			if changed := roster.UserChanges(&before, &u); len(changed) > 0 {
				events = append(events, userEvent(roster.EventUserUpdated, u, orgID, r.Now, changed))
			}
		}
		// Not a SCIM write: the mapping's author (the actor of ctx) caused the changes.
		return s.recordEvents(ctx, tx, events...)
	})
	return out, err
}

// seqScanner scans a row of directoryUserColumns followed by seq.
type seqScanner struct {
	rows *sql.Rows
	seq  *int64
}

func (s seqScanner) Scan(dest ...any) error { return s.rows.Scan(append(dest, s.seq)...) }

// profileEqual reports whether two profiles hold the same values (a nil map or list equals an
// empty one).
func profileEqual(a, b roster.Profile) bool {
	if !maps.Equal(a.CustomAttributes, b.CustomAttributes) || !maps.Equal(a.Metadata, b.Metadata) || !slices.Equal(a.Groups, b.Groups) {
		return false
	}
	a.CustomAttributes, a.Metadata, a.Groups = nil, nil, nil
	b.CustomAttributes, b.Metadata, b.Groups = nil, nil, nil
	return reflect.DeepEqual(a, b)
}

// DeprovisionDirectoryUser deletes a directory user, ends the membership and deletes the
// Roster user when nothing else holds it.
func (s *Store) DeprovisionDirectoryUser(ctx context.Context, environmentID, directoryID, id string) error {
	return s.inUserTx(ctx, func(tx txConn, touch func(string)) error {
		if err := s.gateDirectory(ctx, tx, directoryID); err != nil {
			return err
		}
		orgID, err := directoryOrganization(ctx, tx, environmentID, directoryID)
		if err != nil {
			return notFound("directory user")
		}
		org, err := s.lockOrganization(ctx, tx, environmentID, orgID)
		if err != nil {
			return notFound("directory user")
		}
		if err := s.lockDirectory(ctx, tx, environmentID, directoryID); err != nil {
			return notFound("directory user")
		}
		row, err := getDirectoryUser(ctx, tx, environmentID, directoryID, id, s.dialect.RowLock())
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM directory_users WHERE id = $1`, id); err != nil {
			return err
		}
		if err := countDirectoryChange(ctx, tx, directoryID, countUsers, -1); err != nil {
			return err
		}
		at := time.Now().UTC()
		events := []roster.Event{directoryUserEvent(roster.EventDirectoryUserDeleted, orgID, row, at, nil)}
		if row.UserID == "" {
			return s.recordEvents(ctx, tx, events...)
		}
		touch(row.UserID)
		// The user as it was (its memberships, for the event), its row locked.
		u, err := s.fullUser(ctx, tx, environmentID, roster.UserRef{ID: row.UserID}, s.dialect.RowLock())
		if err != nil && roster.ErrorCode(err) != roster.ENotFound {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2`, orgID, row.UserID)
		if err != nil {
			return err
		}
		ended, _ := res.RowsAffected()
		res, err = tx.ExecContext(ctx, `DELETE FROM users WHERE id = $1
			AND NOT EXISTS (SELECT 1 FROM memberships WHERE user_id = $1)
			AND NOT EXISTS (SELECT 1 FROM identities WHERE user_id = $1)
			AND NOT EXISTS (SELECT 1 FROM directory_users WHERE user_id = $1)`, row.UserID)
		if err != nil {
			return err
		}
		switch gone, _ := res.RowsAffected(); {
		case gone > 0: // one event: the user, with the memberships that ended
			events = append(events, userEvent(roster.EventUserDeleted, u, orgID, at, nil))
		case ended > 0 && u.ID != "":
			if i := membershipIndex(u, orgID); i >= 0 {
				u.Memberships = slices.Delete(u.Memberships, i, i+1)
			}
			o := eventOrg(environmentID, orgID, org.name)
			events = append(events, membershipEvent(roster.EventMembershipDeleted, o, u, at, nil))
		}
		return s.recordEvents(ctx, tx, withActor(events, scimActor(directoryID))...)
	})
}

// recomputeUserRoles sets a directory user's Roster user's roles in the organization from the
// role assignments of the groups it is a direct member of (defaults when none gives one).
func (s *Store) recomputeUserRoles(ctx context.Context, tx txConn, directoryID, orgID, dirUserID, userID string, defaults []roster.RoleRef) (bool, error) {
	if userID == "" {
		return false, nil
	}
	if err := s.lockRecomputedMemberships(ctx, tx, `SELECT m.user_id FROM memberships m WHERE m.organization_id = $1 AND m.user_id = $2`, orgID, userID); err != nil {
		return false, err
	}
	// The membership's roles now (no row: the membership was removed through the API, and
	// there is nothing to give roles to). When the groups give the same roles, as for most
	// member changes, nothing is written.
	held, err := queryNullIDs(ctx, tx, `SELECT mr.role_id FROM memberships m LEFT JOIN membership_roles mr
		ON mr.organization_id = m.organization_id AND mr.user_id = m.user_id
		WHERE m.organization_id = $1 AND m.user_id = $2`, orgID, userID)
	if err != nil || held == nil {
		return false, err
	}
	given, err := queryIDs(ctx, tx, `SELECT DISTINCT a.role_id FROM directory_group_members m
		JOIN directory_role_assignments a ON a.group_id = m.group_id AND a.directory_id = $1
		WHERE m.user_id = $2`, directoryID, dirUserID)
	if err != nil {
		return false, err
	}
	// applyMemberRoles compares in Go's order (a database's collation may order IDs
	// otherwise); the caller holds the user already (touch).
	return s.applyMemberRoles(ctx, tx, orgID, userID, given, held, defaults, func(string) {})
}

// lockRecomputedMemberships locks, on PostgreSQL, the membership rows whose roles a directory
// is about to recompute (query selects them in user ID order), before the statement that
// reads the groups they are in. Without it, two writes that move one user between two groups
// at once (remove from one, add to the other, each its own transaction) each read the other's
// change as not yet made: the last to write could give the user the roles of neither group
// (TestConformance/DirectoryConcurrentGroupsOfOneUser). With it the second waits for the
// first's commit, and its read (READ COMMITTED: a snapshot per statement) sees it. SQLite has
// one writer at a time: nothing to lock. Lock order: with the user's rows (docs/storage.md).
func (s *Store) lockRecomputedMemberships(ctx context.Context, tx txConn, query string, args ...any) error {
	if s.dialect.RowLock() == "" {
		return nil
	}
	_, err := queryIDs(ctx, tx, query+` FOR NO KEY UPDATE OF m`, args...)
	return err
}

// queryNullIDs reads a column of IDs that may be NULL: nil when there is no row, else the
// non-NULL IDs (an empty, non-nil slice when all are NULL).
func queryNullIDs(ctx context.Context, tx txConn, query string, args ...any) ([]string, error) {
	ids, err := queryColumn[sql.NullString](ctx, tx, query, args...)
	if err != nil || ids == nil {
		return nil, err
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id.Valid {
			out = append(out, id.String)
		}
	}
	return out, nil
}

// recomputeRoles recomputes the roles of the given directory users, as recomputeUserRoles
// does for one, reading what it needs for up to 500 users with one statement (a member
// PATCH's one user took three, each a round trip on PostgreSQL): each linked user's held
// roles, and the roles its groups are assigned. A user whose roles change is touched and its
// roles written, in ID order. (A Roster user has at most one user in a directory,
// directory_users_user_key, so no write of the batch changes what another compares with.)
// It returns the Roster users whose roles changed, for their events (roleEvents).
func (s *Store) recomputeRoles(ctx context.Context, tx txConn, environmentID, directoryID, orgID string, dirUserIDs []string,
	defaults []roster.RoleRef, mayAssign bool, touch func(string)) ([]string, error) {
	var changed []string
	ids := slices.Compact(slices.Sorted(slices.Values(dirUserIDs)))
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		args := []any{directoryID, orgID}
		for _, id := range chunk {
			args = append(args, id)
		}
		in := placeholders(3, len(chunk))
		// Where the directory assigns no role to any group (mayAssign false: the caller holds
		// the directory's key-share lock, which an assignment's write waits for), every user's
		// roles are the defaults whatever groups it is in, and concurrent writes cannot
		// disagree: no lock, one round trip less per member write.
		if mayAssign {
			if err := s.lockRecomputedMemberships(ctx, tx, `SELECT m.user_id FROM memberships m JOIN directory_users du ON du.user_id = m.user_id
				WHERE du.directory_id = $1 AND m.organization_id = $2 AND du.id IN (`+in+`) ORDER BY m.user_id`, args...); err != nil {
				return nil, err
			}
		}
		// Kind 0: a linked user with a membership of the organization, and each role it holds
		// (NULL: none). Kind 1: a role a group of the user is assigned.
		rows, err := tx.QueryContext(ctx, `SELECT du.id, du.user_id, 0, mr.role_id FROM directory_users du
			JOIN memberships m ON m.organization_id = $2 AND m.user_id = du.user_id
			LEFT JOIN membership_roles mr ON mr.organization_id = m.organization_id AND mr.user_id = m.user_id
			WHERE du.directory_id = $1 AND du.id IN (`+in+`)
			UNION ALL
			SELECT gm.user_id, NULL, 1, a.role_id FROM directory_group_members gm
			JOIN directory_role_assignments a ON a.group_id = gm.group_id AND a.directory_id = $1
			WHERE gm.user_id IN (`+in+`)`, args...)
		if err != nil {
			return nil, err
		}
		links := map[string]string{}
		held, given := map[string][]string{}, map[string][]string{}
		for rows.Next() {
			var id string
			var uid, role sql.NullString
			var kind int
			if err := rows.Scan(&id, &uid, &kind, &role); err != nil {
				rows.Close()
				return nil, err
			}
			switch {
			case kind == 0:
				links[id] = uid.String
				if role.Valid {
					held[id] = append(held[id], role.String)
				}
			case role.Valid:
				given[id] = append(given[id], role.String)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		for _, id := range chunk {
			uid, ok := links[id]
			if !ok {
				continue // not linked, or no membership: nothing to give roles to
			}
			wrote, err := s.applyMemberRoles(ctx, tx, orgID, uid, given[id], held[id], defaults, touch)
			if err != nil {
				return nil, err
			}
			if wrote {
				changed = append(changed, uid)
			}
		}
	}
	return changed, nil
}

// applyMemberRoles gives a linked member (its Roster user uid) the roles its groups give, or
// defaults when none does, unless it holds them already (held); it reports whether it wrote
// them.
func (s *Store) applyMemberRoles(ctx context.Context, tx txConn, orgID, uid string, given, held []string, defaults []roster.RoleRef, touch func(string)) (bool, error) {
	want := slices.Compact(slices.Sorted(slices.Values(given)))
	roles := make([]roster.RoleRef, len(want))
	for i, r := range want {
		roles[i] = roster.RoleRef{ID: r}
	}
	if len(roles) == 0 {
		roles = slices.Clone(defaults)
		want = make([]string, len(roles))
		for i, r := range roles {
			want[i] = r.ID
		}
		want = slices.Compact(slices.Sorted(slices.Values(want)))
	}
	if slices.Equal(want, slices.Sorted(slices.Values(held))) {
		return false, nil
	}
	touch(uid)
	return true, s.writeMembershipRoles(ctx, tx, &roster.Membership{OrganizationID: orgID, UserID: uid, Roles: roles})
}

// changeOneMember is changeMembers and recomputeRoles for the member write IdPs send most
// (Okta's: one user added or removed) in a directory that gives no group a role, on
// PostgreSQL: one statement writes the member row and reads the member's link, membership and
// held roles (which the row does not change: no group gives roles), where two did, each a
// round trip. ok is false for any other change, which the caller makes the general way.
func (s *Store) changeOneMember(ctx context.Context, tx txConn, dirID, orgID, groupID string, c store.DirectoryMemberChange,
	defaults []roster.RoleRef, touch func(string)) (d memberDelta, changed []string, ok bool, err error) {
	var id, write string
	switch {
	case c.Replace || len(c.Add)+len(c.Remove) != 1:
		return d, nil, false, nil
	case len(c.Add) == 1:
		id, write = c.Add[0], `INSERT INTO directory_group_members (group_id, user_id) SELECT $1, id FROM directory_users WHERE id = $2 AND directory_id = $3
			ON CONFLICT DO NOTHING RETURNING user_id`
	default:
		id, write = c.Remove[0], `DELETE FROM directory_group_members WHERE group_id = $1 AND user_id = $2 RETURNING user_id`
	}
	if !strings.HasPrefix(id, roster.PrefixDirectoryUser) {
		return d, nil, false, nil
	}
	rows, err := tx.QueryContext(ctx, `WITH w AS (`+write+`)
		SELECT (SELECT count(*) FROM w), du.user_id, m.user_id IS NOT NULL, mr.role_id FROM directory_users du
		LEFT JOIN memberships m ON m.organization_id = $4 AND m.user_id = du.user_id
		LEFT JOIN membership_roles mr ON mr.organization_id = m.organization_id AND mr.user_id = m.user_id
		WHERE du.id = $2 AND du.directory_id = $3`, groupID, id, dirID, orgID)
	if err != nil {
		return d, nil, true, err
	}
	var n int
	var uid sql.NullString
	var member, found bool
	var held []string
	for rows.Next() {
		var role sql.NullString
		if err := rows.Scan(&n, &uid, &member, &role); err != nil {
			rows.Close()
			return d, nil, true, err
		}
		found = true
		if role.Valid {
			held = append(held, role.String)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return d, nil, true, err
	}
	switch {
	case !found && len(c.Add) == 1: // not a user of the directory: as changeMembers says it
		return d, nil, true, notDirectoryMembers([]string{id})
	case n == 0: // already a member, or not one
		return d, nil, true, nil
	case len(c.Add) == 1:
		d.added = []string{id}
	default:
		d.removed = []string{id}
	}
	d.users = []string{id}
	if !uid.Valid || !member {
		return d, nil, true, nil // not linked, or no membership: nothing to give roles to
	}
	wrote, err := s.applyMemberRoles(ctx, tx, orgID, uid.String, nil, held, defaults, touch)
	if wrote {
		changed = []string{uid.String}
	}
	return d, changed, true, err
}

// RecomputeDirectoryRoles recomputes the roles of every linked user of a directory.
func (s *Store) RecomputeDirectoryRoles(ctx context.Context, environmentID, directoryID string, defaults []roster.RoleRef) error {
	return s.inUserTx(ctx, func(tx txConn, touch func(string)) error {
		if err := s.gateDirectory(ctx, tx, directoryID); err != nil {
			return err
		}
		orgID, err := directoryOrganization(ctx, tx, environmentID, directoryID)
		if err != nil {
			return err
		}
		if _, err := s.lockOrganization(ctx, tx, environmentID, orgID); err != nil {
			return err
		}
		if err := s.lockDirectory(ctx, tx, environmentID, directoryID); err != nil {
			return err
		}
		ids, err := queryIDs(ctx, tx, `SELECT id FROM directory_users WHERE directory_id = $1 AND user_id IS NOT NULL ORDER BY id`, directoryID)
		if err != nil {
			return err
		}
		changed, err := s.recomputeRoles(ctx, tx, environmentID, directoryID, orgID, ids, defaults, true, touch)
		if err != nil {
			return err
		}
		// Not a SCIM write: the assignment's author (the actor of ctx) caused the changes.
		events, err := s.roleEvents(ctx, tx, environmentID, orgID, changed, time.Now().UTC(), roster.Actor{})
		if err != nil {
			return err
		}
		return s.recordEvents(ctx, tx, events...)
	})
}

// WriteDirectoryGroup creates or updates a group and its member rows in one transaction.
func (s *Store) WriteDirectoryGroup(ctx context.Context, w store.DirectoryGroupWrite) (roster.DirectoryGroup, error) {
	var out roster.DirectoryGroup
	env, dirID := w.EnvironmentID, w.DirectoryID
	err := s.inUserTx(ctx, func(tx txConn, touch func(string)) error {
		var orgID string
		var before roster.DirectoryGroup
		var err error
		assigned := true // whether the directory may assign roles to groups (recomputeRoles)
		var defaults []roster.RoleRef
		if w.Secret != nil && w.Create != nil {
			return errors.New("sqlstore: a group create does not check a secret")
		}
		if err := s.gateDirectory(ctx, tx, dirID); err != nil {
			return err
		}
		if w.Create != nil {
			locked, err := s.lockDirectoryWithOrganization(ctx, tx, env, dirID)
			if err != nil {
				return err
			}
			orgID, defaults = locked.org.id, locked.defaults
		} else {
			l, err := s.lockDirectoryGroup(ctx, tx, w.EnvironmentID, dirID, w.ID, w.Secret, w.Now)
			if err != nil {
				return err
			}
			env, orgID, before, assigned, defaults = l.env, l.orgID, l.row, l.assigned, l.defaults
		}
		var g roster.DirectoryGroup
		change := w.Members
		if w.Create != nil {
			g = *w.Create
			seq, ok := roster.IDNumber(g.ID, roster.PrefixDirectoryGroup)
			if !ok {
				return fmt.Errorf("malformed directory group id %q", g.ID)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO directory_groups (id, environment_id, directory_id, display_name, external_id, raw,
				create_time, update_time, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				g.ID, env, dirID, g.DisplayName, g.ExternalID, rawText(g.Raw), micros(g.CreateTime), micros(g.UpdateTime), seq); err != nil {
				return s.conflict(err, groupName(g))
			}
			if err := countDirectoryChange(ctx, tx, dirID, countGroups, 1); err != nil {
				return err
			}
		} else {
			// before is the group's row without its member count (COUNT over 20,000 member
			// rows was most of a member PATCH), on PostgreSQL key-share locked only
			// (lockDirectoryGroup): writers that change only members (each writes only the
			// member rows it names) do not wait for each other. When the group's own
			// attributes change, its row is read again under a no-key-update lock and the
			// update applied to that, so that concurrent attribute writes do not lose one.
			g = before
			if change, err = w.Update(&g); err != nil {
				return err
			}
			if groupAttributesChanged(before, g) {
				if before, err = getDirectoryGroupRow(ctx, tx, env, dirID, w.ID, s.noKeyUpdateLock()); err != nil {
					return err
				}
				g = before
				if change, err = w.Update(&g); err != nil {
					return err
				}
			}
			g.ID, g.EnvironmentID, g.DirectoryID = w.ID, env, dirID
			switch {
			case groupAttributesChanged(before, g):
				if _, err := tx.ExecContext(ctx, `UPDATE directory_groups SET display_name = $1, external_id = $2, raw = $3, update_time = $4 WHERE id = $5`,
					g.DisplayName, g.ExternalID, rawText(g.Raw), micros(g.UpdateTime), g.ID); err != nil {
					return s.conflict(err, groupName(g))
				}
			case !change.Replace && len(change.Add) == 0 && len(change.Remove) == 0:
				g.UpdateTime = before.UpdateTime // nothing changes
			default:
				// Only members change: the group's update time moves at most once per
				// roster.DirectoryGroupMemberTimeGranularity (docs/scim.md "Write path"), so
				// that the group's row is not a hot row every member write of it updates.
				moved, err := s.moveGroupTime(ctx, tx, before, g.UpdateTime)
				if err != nil {
					return err
				}
				if !moved {
					g.UpdateTime = before.UpdateTime
				}
			}
		}
		var delta memberDelta
		var changedRoles []string
		done := false
		if s.pg() && !assigned {
			if delta, changedRoles, done, err = s.changeOneMember(ctx, tx, dirID, orgID, g.ID, change, defaults, touch); err != nil {
				return err
			}
		}
		if !done {
			if delta, err = s.changeMembers(ctx, tx, dirID, g.ID, change); err != nil {
				return err
			}
			if changedRoles, err = s.recomputeRoles(ctx, tx, env, dirID, orgID, delta.users, defaults, assigned, touch); err != nil {
				return err
			}
		}
		out = g
		var events []roster.Event
		switch {
		case w.Create != nil:
			events = append(events, directoryGroupEvent(roster.EventDirectoryGroupCreated, orgID, g, w.Now, nil, nil))
		case groupAttributesChanged(before, g):
			events = append(events, directoryGroupEvent(roster.EventDirectoryGroupUpdated, orgID, g, w.Now, roster.DirectoryGroupChanges(before, g), nil))
		}
		if len(delta.added) > 0 || len(delta.removed) > 0 {
			data := roster.DirectoryGroupMembersData{Group: g, Added: nonNilSlice(delta.added), Removed: nonNilSlice(delta.removed)}
			events = append(events, directoryGroupEvent(roster.EventDirectoryGroupMembers, orgID, g, w.Now, []string{"members"}, data))
		}
		roleEvents, err := s.roleEvents(ctx, tx, env, orgID, changedRoles, w.Now, scimActor(dirID))
		if err != nil {
			return err
		}
		return s.recordEvents(ctx, tx, append(events, roleEvents...)...)
	})
	return out, err
}

// lockedGroup is what lockDirectoryGroup read: the directory's environment and organization,
// the group's row (without its member count), whether the directory assigns roles to any
// group, and the organization's default member role.
type lockedGroup struct {
	env, orgID string
	row        roster.DirectoryGroup
	assigned   bool
	defaults   []roster.RoleRef
}

// errSecretRefused is a write's refusal of a SCIM bearer token (DirectoryGroupWrite.Secret):
// the same for every reason, as the directory service's own check says it.
var errSecretRefused = roster.Errorf(roster.EUnauthenticated, "the bearer token is not valid for this directory")

// foundSecret is the secret a write's token check matched (what recording its use needs).
func foundSecret(id, dirID, hash string, used sql.NullInt64) roster.DirectorySecret {
	return roster.DirectorySecret{ID: id, DirectoryID: dirID, Hash: hash, LastUsedTime: timePtr(used), Active: true}
}

// lockDirectoryGroup starts a write of an existing group: it reads a lockedGroup (the
// default role by defaultRoleJoin: none when it cannot be resolved), and on PostgreSQL locks,
// in the lock order (docs/storage.md), the organization shared and the directory's and the
// group's rows key-shared (keyShareLock). One statement does it all (it was six, each a
// round trip on PostgreSQL, and every member PATCH pays them). PostgreSQL takes a
// statement's row locks one table after the other, here in the order of both the FROM list
// and the FOR ... OF clauses (TestMemberWriteLockOrder holds it). NOT_FOUND names the
// directory or the group.
//
// With check, the same statement also checks a SCIM bearer token's hash as
// FindDirectoryBySecret does (a current secret of this enabled directory of a live
// organization) in place of the environment, which it reads: a refused token matches no
// row, so nothing is locked, and the error is UNAUTHENTICATED whether or not the group exists.
func (s *Store) lockDirectoryGroup(ctx context.Context, tx txConn, env, dirID, id string, check *store.SecretCheck, now time.Time) (lockedGroup, error) {
	locks := ""
	if s.dialect.ShareLock() != "" {
		locks = " FOR SHARE OF o FOR KEY SHARE OF d, g"
	}
	var l lockedGroup
	var role defaultRoleRow
	var secretID string
	var used sql.NullInt64
	secretJoin, where, args, extra := "", `WHERE d.id = $1 AND d.environment_id = $2 AND g.id = $3`, []any{dirID, env, id}, []any(nil)
	secretCols := ""
	if check != nil {
		secretJoin = `
			JOIN directory_secrets s ON s.directory_id = d.id AND s.hash = $2 AND (s.expire_time IS NULL OR s.expire_time > $4)`
		where, args = `WHERE d.id = $1 AND d.enabled AND g.id = $3`, []any{dirID, check.Hash, id, micros(now)}
		secretCols, extra = `, s.id, s.last_used_time`, []any{&secretID, &used}
	}
	g, err := scanDirectoryGroup(scanFunc(func(dest ...any) error {
		return tx.queryRowScan(ctx, `SELECT o.id, g.id, g.environment_id, g.directory_id, g.display_name, g.external_id, g.raw, g.create_time, g.update_time, 0,
			EXISTS (SELECT 1 FROM directory_role_assignments a WHERE a.directory_id = d.id), `+defaultRoleColumns+secretCols+`
			FROM organizations o JOIN directories d ON d.organization_id = o.id AND d.environment_id = o.environment_id
			JOIN directory_groups g ON g.directory_id = d.id AND g.environment_id = d.environment_id`+secretJoin+`
			`+defaultRoleJoin+`
			`+where+locks, args, slices.Concat([]any{&l.orgID}, dest, []any{&l.assigned}, role.dest(), extra)...)
	}))
	switch {
	case errors.Is(err, sql.ErrNoRows) && check != nil:
		// Refused, or the group is missing: the token decides first.
		err := tx.QueryRowContext(ctx, `SELECT s.id, s.last_used_time FROM directory_secrets s
			JOIN directories d ON d.id = s.directory_id AND d.enabled
			JOIN organizations o ON o.id = d.organization_id AND o.environment_id = d.environment_id
			WHERE s.hash = $1 AND s.directory_id = $2 AND (s.expire_time IS NULL OR s.expire_time > $3)`, check.Hash, dirID, micros(now)).Scan(&secretID, &used)
		if errors.Is(err, sql.ErrNoRows) {
			return l, errSecretRefused
		} else if err != nil {
			return l, err
		}
		check.Found = foundSecret(secretID, dirID, check.Hash, used)
		return l, notFound("directory group")
	case errors.Is(err, sql.ErrNoRows):
		// Which is missing: the directory (or its organization), or only the group.
		if _, err := directoryOrganization(ctx, tx, env, dirID); err != nil {
			return l, err
		}
		return l, notFound("directory group")
	case err != nil:
		return l, err
	}
	if check != nil {
		check.Found = foundSecret(secretID, dirID, check.Hash, used)
	}
	l.env, l.row, l.defaults = g.EnvironmentID, g, role.roles()
	return l, nil
}

// defaultRoleJoin joins, as dr, the default member role of the organization o: the role
// named by its environment's default_member_role, the organization's own over the
// environment's (as ResolveDefaultMemberRole), NULL when there is none. A write that reads
// it in its own statement spares the round trip of reading it before (a member PATCH's).
const defaultRoleJoin = `LEFT JOIN roles dr ON dr.id = (SELECT r.id FROM roles r JOIN environments e ON e.id = r.environment_id
	WHERE e.id = o.environment_id AND r.organization_id IN ('', o.id) AND r.name = e.default_member_role
	ORDER BY r.organization_id DESC LIMIT 1)`

// defaultRoleColumns are the columns of defaultRoleJoin's role that defaultRoleRow scans.
const defaultRoleColumns = `dr.id, dr.name, dr.display_name`

// defaultRoleRow scans defaultRoleColumns.
type defaultRoleRow struct{ id, name, display sql.NullString }

func (r *defaultRoleRow) dest() []any { return []any{&r.id, &r.name, &r.display} }

// roles is the default role as a membership's roles: none when there is no such role.
func (r *defaultRoleRow) roles() []roster.RoleRef {
	if !r.id.Valid {
		return nil
	}
	return []roster.RoleRef{{ID: r.id.String, Name: r.name.String, DisplayName: r.display.String}}
}

// lockDirectoryWithOrganization starts a SCIM write: in one statement (sent with the BEGIN on
// PostgreSQL) it share-locks the directory's organization and key-shares the directory, in
// the lock order (docs/storage.md; the FROM list's order, as lockDirectoryGroup), and reads
// what lockOrganization reads. It was three to four statements (the directory's
// organization, the organization's lock, lockDirectory's own read and locks, the mapping's
// read, the default role's read before the transaction), each a round trip on PostgreSQL.
// It returns the directory's stored attribute mapping too (mappingsText's form), which cannot
// change before the write commits (UpdateDirectory locks the row FOR UPDATE), and the
// organization's default member role (defaultRoleJoin). NOT_FOUND names the directory when it
// or its organization is missing.
func (s *Store) lockDirectoryWithOrganization(ctx context.Context, tx txConn, env, dirID string) (lockedDirectory, error) {
	locks := ""
	if s.dialect.ShareLock() != "" {
		locks = " FOR SHARE OF o FOR KEY SHARE OF d"
	}
	var d lockedDirectory
	var role defaultRoleRow
	err := tx.queryRowScan(ctx, `SELECT o.id, o.display_name, EXISTS (SELECT 1 FROM attribute_definitions a WHERE a.environment_id = o.environment_id),
		d.mappings, `+defaultRoleColumns+`
		FROM organizations o JOIN directories d ON d.organization_id = o.id AND d.environment_id = o.environment_id
		`+defaultRoleJoin+`
		WHERE d.id = $1 AND d.environment_id = $2`+locks, []any{dirID, env},
		append([]any{&d.org.id, &d.org.name, &d.org.attributes, &d.mappings}, role.dest()...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return lockedDirectory{}, notFound("directory")
	}
	d.defaults = role.roles()
	return d, err
}

// lockedDirectory is what lockDirectoryWithOrganization reads.
type lockedDirectory struct {
	org      lockedOrg
	mappings string           // the stored attribute mapping (mappingsText's form)
	defaults []roster.RoleRef // the organization's default member role, if it has one
}

// moveGroupTime sets a group's update time to at when its stored one (before's) is at least
// roster.DirectoryGroupMemberTimeGranularity older, and reports whether it did. Most member
// writes find it recent and send nothing. On PostgreSQL a write that finds the row being
// updated by another (which moves the time for both) skips it instead of waiting for that
// transaction's commit, which member writes arriving in the same moment used to queue
// behind once a second.
func (s *Store) moveGroupTime(ctx context.Context, tx txConn, before roster.DirectoryGroup, at time.Time) (bool, error) {
	cut := at.Add(-roster.DirectoryGroupMemberTimeGranularity)
	if before.UpdateTime.After(cut) {
		return false, nil
	}
	query := `UPDATE directory_groups SET update_time = $1 WHERE id = $2 AND update_time <= $3`
	if s.dialect.RowLock() != "" {
		query = `UPDATE directory_groups SET update_time = $1 WHERE id = (SELECT id FROM directory_groups
			WHERE id = $2 AND update_time <= $3 FOR NO KEY UPDATE SKIP LOCKED)`
	}
	res, err := tx.ExecContext(ctx, query, micros(at), before.ID, micros(cut))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// groupName names a group's displayName in a conflict's message (directory_groups_name_key).
func groupName(g roster.DirectoryGroup) func(string) string {
	return func(string) string { return g.DisplayName }
}

// directoryGroupRowColumns are directoryGroupColumns with a member count of 0: a write reads
// the group's row, never counts its members.
const directoryGroupRowColumns = `id, environment_id, directory_id, display_name, external_id, raw, create_time, update_time, 0`

func getDirectoryGroupRow(ctx context.Context, q querier, environmentID, directoryID, id, suffix string) (roster.DirectoryGroup, error) {
	g, err := scanDirectoryGroup(q.QueryRowContext(ctx, `SELECT `+directoryGroupRowColumns+` FROM directory_groups
		WHERE id = $1 AND directory_id = $2 AND environment_id = $3`+suffix, id, directoryID, environmentID))
	if errors.Is(err, sql.ErrNoRows) {
		return g, notFound("directory group")
	}
	return g, err
}

// groupAttributesChanged reports whether an update changed a group's own attributes (not
// its members or update time).
func groupAttributesChanged(a, b roster.DirectoryGroup) bool {
	return a.DisplayName != b.DisplayName || a.ExternalID != b.ExternalID || !bytes.Equal(a.Raw, b.Raw)
}

// noKeyUpdateLock is PostgreSQL's lock of an update that changes no key, where the dialect
// locks rows at all: it waits for no key-share lock (lockDirectoryGroup's, which keeps the
// row from being deleted), only for other such updates.
func (s *Store) noKeyUpdateLock() string {
	if s.dialect.RowLock() == "" {
		return ""
	}
	return " FOR NO KEY UPDATE"
}

// memberDelta is what a member change did: the member IDs (users and groups) it added and
// removed, and the directory users among them (whose roles may follow).
type memberDelta struct {
	added, removed, users []string
}

// changeMembers writes the member rows a change names and returns what it added and
// removed. An unknown member ID refuses the change. Only a replace reads the group's members
// (it rewrites them all); an add or remove reads nothing but the IDs it names.
func (s *Store) changeMembers(ctx context.Context, tx txConn, dirID, groupID string, c store.DirectoryMemberChange) (memberDelta, error) {
	var d memberDelta
	var old map[string]bool // a replace's members before it
	if c.Replace {
		users, groups, err := groupMembers(ctx, tx, groupID)
		if err != nil {
			return d, err
		}
		old = map[string]bool{}
		for _, id := range slices.Concat(users, groups) {
			old[id] = true
		}
		d.users = users
		if _, err := tx.ExecContext(ctx, `DELETE FROM directory_group_members WHERE group_id = $1`, groupID); err != nil {
			return d, err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM directory_group_groups WHERE group_id = $1`, groupID); err != nil {
			return d, err
		}
	}
	for _, id := range slices.Compact(slices.Sorted(slices.Values(c.Remove))) {
		table, col := "directory_group_members", "user_id"
		if strings.HasPrefix(id, roster.PrefixDirectoryGroup) {
			table, col = "directory_group_groups", "member_id"
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE group_id = $1 AND `+col+` = $2`, groupID, id)
		if err != nil {
			return d, err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			d.removed = append(d.removed, id)
			if table == "directory_group_members" {
				d.users = append(d.users, id)
			}
		}
	}
	var missing []string
	for _, id := range slices.Compact(slices.Sorted(slices.Values(c.Add))) {
		var query string
		switch {
		case strings.HasPrefix(id, roster.PrefixDirectoryUser):
			query = `INSERT INTO directory_group_members (group_id, user_id) SELECT $1, id FROM directory_users WHERE id = $2 AND directory_id = $3
				ON CONFLICT DO NOTHING`
		case strings.HasPrefix(id, roster.PrefixDirectoryGroup) && id != groupID:
			query = `INSERT INTO directory_group_groups (group_id, member_id) SELECT $1, id FROM directory_groups WHERE id = $2 AND directory_id = $3
				ON CONFLICT DO NOTHING`
		default:
			missing = append(missing, id)
			continue
		}
		res, err := tx.ExecContext(ctx, query, groupID, id, dirID)
		if err != nil {
			return d, err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			if old[id] {
				delete(old, id) // a replace kept it
				continue
			}
			d.added = append(d.added, id)
			if strings.HasPrefix(id, roster.PrefixDirectoryUser) {
				d.users = append(d.users, id)
			}
			continue
		}
		// nothing inserted: already a member, or not of the directory
		var one int
		table := "directory_users"
		if strings.HasPrefix(id, roster.PrefixDirectoryGroup) {
			table = "directory_groups"
		}
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM `+table+` WHERE id = $1 AND directory_id = $2`, id, dirID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			missing = append(missing, id)
		} else if err != nil {
			return d, err
		}
	}
	if len(missing) > 0 {
		return d, notDirectoryMembers(missing)
	}
	if c.Replace { // the members it had and has no more
		for id := range old {
			d.removed = append(d.removed, id)
		}
		slices.Sort(d.removed)
	}
	return d, nil
}

// notDirectoryMembers refuses a member change that names IDs of no user or group of the
// directory.
func notDirectoryMembers(ids []string) error {
	return &roster.Error{Code: roster.EInvalid, Message: fmt.Sprintf("members %s are not users or groups of this directory", strings.Join(ids, ", ")),
		Violations: []roster.FieldViolation{{Field: "members", Constraint: "exists", Description: "a member must be a user or group of the directory"}}}
}

// RemoveDirectoryGroup deletes a group and recomputes its members' roles.
func (s *Store) RemoveDirectoryGroup(ctx context.Context, environmentID, directoryID, id string, defaults []roster.RoleRef) error {
	return s.inUserTx(ctx, func(tx txConn, touch func(string)) error {
		if err := s.gateDirectory(ctx, tx, directoryID); err != nil {
			return err
		}
		orgID, err := directoryOrganization(ctx, tx, environmentID, directoryID)
		if err != nil {
			return notFound("directory group")
		}
		if _, err := s.lockOrganization(ctx, tx, environmentID, orgID); err != nil {
			return notFound("directory group")
		}
		if err := s.lockDirectory(ctx, tx, environmentID, directoryID); err != nil {
			return notFound("directory group")
		}
		g, err := getDirectoryGroup(ctx, tx, environmentID, directoryID, id, s.dialect.RowLock())
		if err != nil {
			return err
		}
		users, _, err := groupMembers(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM directory_groups WHERE id = $1`, id); err != nil {
			return err
		}
		if err := countDirectoryChange(ctx, tx, directoryID, countGroups, -1); err != nil {
			return err
		}
		changed, err := s.recomputeRoles(ctx, tx, environmentID, directoryID, orgID, users, defaults, true, touch)
		if err != nil {
			return err
		}
		at := time.Now().UTC()
		events, err := s.roleEvents(ctx, tx, environmentID, orgID, changed, at, scimActor(directoryID))
		if err != nil {
			return err
		}
		gone := directoryGroupEvent(roster.EventDirectoryGroupDeleted, orgID, g, at, nil, nil)
		return s.recordEvents(ctx, tx, append([]roster.Event{gone}, events...)...)
	})
}

func groupMembers(ctx context.Context, q querier, groupID string) (users, groups []string, err error) {
	for _, query := range []string{`SELECT user_id FROM directory_group_members WHERE group_id = $1 ORDER BY user_id`,
		`SELECT member_id FROM directory_group_groups WHERE group_id = $1 ORDER BY member_id`} {
		ids, err := queryIDs(ctx, q, query, groupID)
		if err != nil {
			return nil, nil, err
		}
		if users == nil {
			users = nonNilSlice(ids)
		} else {
			groups = nonNilSlice(ids)
		}
	}
	return users, groups, nil
}

// DirectoryGroupMemberIDs lists a group's members.
func (s *Store) DirectoryGroupMemberIDs(ctx context.Context, environmentID, directoryID, id string) ([]string, []string, error) {
	if _, err := getDirectoryGroup(ctx, s.read, environmentID, directoryID, id, ""); err != nil {
		return nil, nil, err
	}
	return groupMembers(ctx, s.read, id)
}

// condSQL compiles a DirectoryCond over table's columns into a WHERE clause.
type condSQL struct {
	args     []any
	postgres bool
	table    string // directory_users or directory_groups
}

func (c *condSQL) arg(v any) string {
	c.args = append(c.args, v)
	return fmt.Sprintf("$%d", len(c.args))
}

func (c *condSQL) compile(d store.DirectoryCond) (string, error) {
	switch d.Op {
	case "and", "or":
		parts := make([]string, len(d.Args))
		for i, a := range d.Args {
			p, err := c.compile(a)
			if err != nil {
				return "", err
			}
			parts[i] = "(" + p + ")"
		}
		if len(parts) == 0 {
			return "1 = 1", nil
		}
		return strings.Join(parts, " "+strings.ToUpper(d.Op)+" "), nil
	case "not":
		if len(d.Args) != 1 {
			return "", fmt.Errorf("not takes one condition")
		}
		p, err := c.compile(d.Args[0])
		return "NOT (" + p + ")", err
	}
	users := c.table == "directory_users"
	switch d.Attr {
	case "active":
		if !users {
			break
		}
		b, _ := d.Value.(bool)
		switch d.Op {
		case "pr":
			return "1 = 1", nil
		case "eq":
			return "active = " + c.arg(b), nil
		case "ne":
			return "active <> " + c.arg(b), nil
		}
		return "1 = 0", nil
	case "meta.lastModified":
		if d.Op == "pr" {
			return "1 = 1", nil
		}
		t, ok := d.Value.(time.Time)
		ops := map[string]string{"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
		if !ok || ops[d.Op] == "" {
			return "1 = 0", nil
		}
		return "update_time " + ops[d.Op] + " " + c.arg(micros(t)), nil
	case "emails.value":
		if !users {
			break
		}
		if d.Op == "pr" {
			return `EXISTS (SELECT 1 FROM directory_user_emails e WHERE e.directory_user_id = directory_users.id)`, nil
		}
		op := d.Op
		if op == "ne" {
			op = "eq"
		}
		p := c.compare("e.value_key", op, strings.ToLower(fmt.Sprint(d.Value)))
		q := `EXISTS (SELECT 1 FROM directory_user_emails e WHERE e.directory_user_id = directory_users.id AND ` + p + `)`
		if d.Op == "ne" {
			return "NOT " + q, nil
		}
		return q, nil
	}
	var col string
	exact := d.CaseExact
	switch {
	case d.Attr == "id":
		col, exact = "id", true
	case d.Attr == "externalId":
		col, exact = "external_id", true
	case d.Attr == "userName" && users:
		col = "user_name_key"
	case d.Attr == "displayName" && users:
		col = "display_name_key"
	case d.Attr == "displayName":
		col = "lower(display_name)"
	default:
		return "", fmt.Errorf("cannot query %s of %s", d.Attr, c.table)
	}
	if d.Op == "pr" {
		return col + " <> ''", nil
	}
	v, _ := d.Value.(string)
	if !exact {
		v = strings.ToLower(v)
	}
	if d.Op == "ne" {
		return "NOT (" + c.compare(col, "eq", v) + ")", nil
	}
	return c.compare(col, d.Op, v), nil
}

// compare is a comparison of a present (non-empty) string column.
func (c *condSQL) compare(col, op, v string) string {
	present := col + " <> '' AND "
	collate := ""
	if c.postgres {
		collate = ` COLLATE "C"`
	}
	switch op {
	case "eq":
		return present + col + " = " + c.arg(v)
	case "co":
		if v == "" {
			return col + " <> ''"
		}
		p := c.arg(v)
		return present + "replace(" + col + ", " + p + ", '') <> " + col
	case "sw":
		n := c.arg(utf8.RuneCountInString(v))
		return present + "substr(" + col + ", 1, " + n + ") = " + c.arg(v)
	case "ew":
		n := c.arg(utf8.RuneCountInString(v))
		return present + "length(" + col + ") >= " + n + " AND substr(" + col + ", length(" + col + ") - " + n + " + 1) = " + c.arg(v)
	case "gt", "ge", "lt", "le":
		ops := map[string]string{"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
		return present + col + collate + " " + ops[op] + " " + c.arg(v)
	}
	return "1 = 0"
}

// QueryDirectoryUsers runs a SCIM filter over a directory's users, in creation order.
func (s *Store) QueryDirectoryUsers(ctx context.Context, environmentID, directoryID string, cond *store.DirectoryCond, offset, limit int) ([]store.DirectoryResource, int, error) {
	return queryDirectory(ctx, s, "directory_users", environmentID, directoryID, cond, offset, limit)
}

// QueryDirectoryGroups runs a SCIM filter over a directory's groups, in creation order.
func (s *Store) QueryDirectoryGroups(ctx context.Context, environmentID, directoryID string, cond *store.DirectoryCond, offset, limit int) ([]store.DirectoryResource, int, error) {
	return queryDirectory(ctx, s, "directory_groups", environmentID, directoryID, cond, offset, limit)
}

// directoryResourceColumns are what a SCIM list page writes of a row (store.DirectoryResource),
// all it reads: the other columns of a user (its emails decoded from JSON) were most of the
// scan of a page, and a group's member count a count of its members.
const directoryResourceColumns = `id, raw, create_time, update_time`

// queryDirectory answers a SCIM list (docs/scim.md "Paging"). The tenant boundary is one
// check of the directory's environment in each statement, so the rows are found by the
// (directory_id, seq) index alone: counting and skipping step index entries, never the rows
// with their raw SCIM JSON. Without a filter, the total is directory_counts' and the page
// seeks to the mark before startIndex (dirpages.go); with one, the matches are counted and
// skipped.
func queryDirectory(ctx context.Context, s *Store, table, environmentID, directoryID string, cond *store.DirectoryCond,
	offset, limit int) ([]store.DirectoryResource, int, error) {
	c := &condSQL{postgres: s.pg(), table: table}
	where := directoryWhere(c, directoryID, environmentID)
	var total int
	if cond == nil {
		n, changes, err := directoryCount(ctx, s.read, environmentID, directoryID, table)
		if err != nil {
			return nil, 0, err
		}
		total = int(n)
		if limit <= 0 || offset >= total {
			return []store.DirectoryResource{}, total, nil
		}
		marks, err := s.marks.get(ctx, table+" "+directoryID, changes, func() ([]int64, error) {
			return readPageMarks(ctx, s.read, table, directoryID)
		})
		if err != nil {
			return nil, 0, err
		}
		if len(marks) == 0 { // emptied since the count was read
			return []store.DirectoryResource{}, total, nil
		}
		i := min(offset/pageMarkEvery, len(marks)-1)
		where += " AND seq >= " + c.arg(marks[i])
		offset -= i * pageMarkEvery
	} else {
		p, err := c.compile(*cond)
		if err != nil {
			return nil, 0, err
		}
		where += " AND (" + p + ")"
		if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+` WHERE `+where, c.args...).Scan(&total); err != nil {
			return nil, 0, err
		}
		if limit <= 0 || offset >= total {
			return []store.DirectoryResource{}, total, nil
		}
	}
	args := append(c.args, limit, offset)
	rows, err := s.read.QueryContext(ctx, directoryPageSQL(table, directoryResourceColumns, where, len(c.args)), args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := make([]store.DirectoryResource, 0, min(limit, total-offset))
	var created, updated int64 // one pair for all rows (a variable per row would be a heap allocation)
	for rows.Next() {
		out = append(out, store.DirectoryResource{})
		r := &out[len(out)-1]
		if err := rows.Scan(&r.ID, &r.Raw, &created, &updated); err != nil {
			return nil, 0, err
		}
		r.CreateTime, r.UpdateTime = fromMicros(created), fromMicros(updated)
	}
	return out, total, rows.Err()
}
