package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

const roleColumns = `id, environment_id, organization_id, name, display_name, description, create_time, update_time`

// CreateRole stores a role and its permissions (by name; each must exist).
func (s *Store) CreateRole(ctx context.Context, r roster.Role) error {
	return s.inTx(ctx, func(tx txConn) error {
		// At most MaxRolesPerScope roles per environment and per organization, counted under
		// the row lock of the environment or the organization (first in the lock order), so
		// that concurrent creates count one after another.
		if r.OrganizationID != "" {
			if err := lockOrganizationRow(ctx, tx, r.EnvironmentID, r.OrganizationID, s.dialect.RowLock()); err != nil {
				return err
			}
		} else {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM environments WHERE id = $1`+s.dialect.RowLock(), r.EnvironmentID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("environment")
			} else if err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM roles WHERE environment_id = $1 AND organization_id = $2`, r.EnvironmentID, r.OrganizationID).Scan(&n); err != nil {
			return err
		}
		if n >= roster.MaxRolesPerScope {
			scope, field := "environment", "role"
			if r.OrganizationID != "" {
				scope, field = "organization", "org_id"
			}
			return roster.CapReached(scope, field, "roles", n, roster.MaxRolesPerScope)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO roles (`+roleColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			r.ID, r.EnvironmentID, r.OrganizationID, r.Name, r.DisplayName, r.Description, micros(r.CreateTime), micros(r.UpdateTime))
		if err != nil {
			return s.conflict(err, func(string) string { return r.Name })
		}
		if err := s.writeRolePermissions(ctx, tx, &r, nil); err != nil {
			return err
		}
		return s.recordEvents(ctx, tx, roleEvent(roster.EventRoleCreated, r, r.CreateTime, nil))
	})
}

// roleEvent is a role's event: an organization's role has its organization_id, an
// environment role none.
func roleEvent(typ string, r roster.Role, at time.Time, changed []string) roster.Event {
	if r.Permissions == nil {
		r.Permissions = []string{}
	}
	return roster.Event{Type: typ, OccurredAt: at, EnvironmentID: r.EnvironmentID, OrganizationID: r.OrganizationID,
		ChangedFields: changed, Data: r}
}

// permissionEvent is a permission's event (no organization).
func permissionEvent(typ string, p roster.Permission, at time.Time, changed []string) roster.Event {
	return roster.Event{Type: typ, OccurredAt: at, EnvironmentID: p.EnvironmentID, ChangedFields: changed, Data: p}
}

// writeRolePermissions replaces a role's permissions with r.Permissions. A name of had (the
// permissions the role had when it was read) whose permission was deleted since is dropped,
// as that delete's cascade would have done; any other unknown name is refused.
func (s *Store) writeRolePermissions(ctx context.Context, tx txConn, r *roster.Role, had []string) error {
	// Lock order: the role, then the permissions it has and is given, in ID order, so that
	// deleting a permission and changing a role's permissions cannot wait for each other.
	if lock := s.dialect.ShareLock(); lock != "" {
		args := []any{r.ID}
		cond := `id IN (SELECT permission_id FROM role_permissions WHERE role_id = $1)`
		if len(r.Permissions) > 0 {
			cond += ` OR (environment_id = $2 AND name IN (` + placeholders(3, len(r.Permissions)) + `))`
			args = append(args, r.EnvironmentID)
			for _, n := range r.Permissions {
				args = append(args, n)
			}
		}
		if err := lockRows(ctx, tx, `SELECT id FROM permissions WHERE `+cond+` ORDER BY id`+lock, args...); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM role_permissions WHERE role_id = $1`, r.ID); err != nil {
		return err
	}
	seen := map[string]bool{}
	kept := r.Permissions[:0:0]
	for _, name := range r.Permissions {
		if seen[name] {
			continue
		}
		seen[name] = true
		var pid string
		err := tx.QueryRowContext(ctx, `SELECT id FROM permissions WHERE environment_id = $1 AND name = $2`+s.dialect.ShareLock(), r.EnvironmentID, name).Scan(&pid)
		if errors.Is(err, sql.ErrNoRows) && slices.Contains(had, name) {
			continue
		}
		kept = append(kept, name)
		if errors.Is(err, sql.ErrNoRows) {
			var v roster.Violations
			v.Add("role.permissions", "defined_permission", "permission %q does not exist; create it first", name)
			return v.Err()
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO role_permissions (role_id, permission_id) VALUES ($1, $2)`, r.ID, pid); err != nil {
			return err
		}
	}
	r.Permissions = kept
	return nil
}

// GetRole returns a role with its permission names.
func (s *Store) GetRole(ctx context.Context, environmentID, organizationID, name string) (roster.Role, error) {
	return getRole(ctx, s.read, environmentID, organizationID, name, "")
}

func getRole(ctx context.Context, q querier, environmentID, organizationID, name, suffix string) (roster.Role, error) {
	r, err := scanRole(q.QueryRowContext(ctx, `SELECT `+roleColumns+` FROM roles WHERE environment_id = $1 AND organization_id = $2 AND name = $3`+suffix,
		environmentID, organizationID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return r, notFound("role")
	}
	if err != nil {
		return r, err
	}
	roles := []roster.Role{r}
	if err := loadRolePermissions(ctx, q, roles); err != nil {
		return r, err
	}
	return roles[0], nil
}

// ListRoles returns the environment's roles or one organization's own roles, by name.
func (s *Store) ListRoles(ctx context.Context, environmentID, organizationID string) ([]roster.Role, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+roleColumns+` FROM roles WHERE environment_id = $1 AND organization_id = $2 ORDER BY name`,
		environmentID, organizationID)
	if err != nil {
		return nil, err
	}
	var out []roster.Role
	for rows.Next() {
		r, err := scanRole(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, loadRolePermissions(ctx, s.read, out)
}

func loadRolePermissions(ctx context.Context, q querier, roles []roster.Role) error {
	for i := range roles {
		rows, err := q.QueryContext(ctx, `SELECT p.name FROM role_permissions rp JOIN permissions p ON p.id = rp.permission_id
			WHERE rp.role_id = $1 ORDER BY p.name`, roles[i].ID)
		if err != nil {
			return err
		}
		roles[i].Permissions = []string{}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				rows.Close()
				return err
			}
			roles[i].Permissions = append(roles[i].Permissions, name)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// UpdateRole applies update to a role in one transaction.
func (s *Store) UpdateRole(ctx context.Context, environmentID, organizationID, name string, update func(*roster.Role) error) (roster.Role, error) {
	var out roster.Role
	err := s.inTx(ctx, func(tx txConn) error {
		r, err := getRole(ctx, tx, environmentID, organizationID, name, s.dialect.RowLock())
		if err != nil {
			return err
		}
		had := slices.Clone(r.Permissions)
		before := r
		before.Permissions = had
		if err := update(&r); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE roles SET display_name = $1, description = $2, update_time = $3 WHERE id = $4`,
			r.DisplayName, r.Description, micros(r.UpdateTime), r.ID); err != nil {
			return err
		}
		if err := s.writeRolePermissions(ctx, tx, &r, had); err != nil {
			return err
		}
		out = r
		if changed := roster.RoleChanges(before, r); len(changed) > 0 {
			return s.recordEvents(ctx, tx, roleEvent(roster.EventRoleUpdated, r, r.UpdateTime, changed))
		}
		return nil
	})
	return out, err
}

// DeleteRole removes a role, moving its memberships to reassignTo when given.
func (s *Store) DeleteRole(ctx context.Context, environmentID, organizationID, name, reassignTo string) error {
	return s.inTx(ctx, func(tx txConn) error {
		r, err := getRole(ctx, tx, environmentID, organizationID, name, "")
		if err != nil {
			return err
		}
		// Lock order: this role and the one its holders move to, in ID order.
		if lock := s.dialect.RowLock(); lock != "" {
			if err := lockRows(ctx, tx, `SELECT id FROM roles WHERE id = $1 OR id = $2 ORDER BY id`+lock, r.ID, reassignTo); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM roles WHERE id = $1`, r.ID).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return notFound("role") // deleted meanwhile
			}
		}
		var def string
		if err := tx.QueryRowContext(ctx, `SELECT default_member_role FROM environments WHERE id = $1`, environmentID).Scan(&def); err != nil {
			return err
		}
		if organizationID == "" && def == name {
			return roster.Errorf(roster.EFailedPrecondition, "role %q is the default member role; choose another default first", name)
		}
		var moved []memberRef
		if reassignTo != "" {
			// The memberships that move, for their events.
			if moved, err = roleHolders(ctx, tx, r.ID); err != nil {
				return err
			}
			// Move holders that do not already hold the new role, then drop the rest.
			if _, err := tx.ExecContext(ctx, `INSERT INTO membership_roles (organization_id, user_id, role_id)
				SELECT organization_id, user_id, $1 FROM membership_roles mr WHERE role_id = $2
				AND NOT EXISTS (SELECT 1 FROM membership_roles x WHERE x.organization_id = mr.organization_id AND x.user_id = mr.user_id AND x.role_id = $1)`,
				reassignTo, r.ID); err != nil {
				return err
			}
		} else {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM membership_roles WHERE role_id = $1`, r.ID).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return roster.Errorf(roster.EFailedPrecondition, "role %q is held by %d memberships; give reassign_role_name to move them to another role", name, n)
			}
		}
		if _, err = tx.ExecContext(ctx, `DELETE FROM roles WHERE id = $1`, r.ID); err != nil {
			return err
		}
		at := time.Now().UTC()
		if err := s.recordEvents(ctx, tx, roleEvent(roster.EventRoleDeleted, r, at, nil)); err != nil {
			return err
		}
		return s.recordMovedMemberships(ctx, tx, environmentID, moved, at)
	})
}

// memberRef names a membership.
type memberRef struct{ orgID, userID string }

// roleHolders returns the memberships that hold a role, by user.
func roleHolders(ctx context.Context, tx txConn, roleID string) ([]memberRef, error) {
	rows, err := tx.QueryContext(ctx, `SELECT organization_id, user_id FROM membership_roles WHERE role_id = $1 ORDER BY user_id, organization_id`, roleID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []memberRef
	for rows.Next() {
		var m memberRef
		if err := rows.Scan(&m.orgID, &m.userID); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// recordMovedMemberships records membership_updated (roles) for each membership that a
// deleted role's reassignment moved, its user read after the move. The work grows with the
// role's holders: keyGroup users per read and per events statement. The users are read, not
// locked: locking them after the roles would invert the lock order (docs/storage.md).
func (s *Store) recordMovedMemberships(ctx context.Context, tx txConn, environmentID string, moved []memberRef, at time.Time) error {
	for len(moved) > 0 {
		var ids []any
		n := 0
		for n < len(moved) { // up to keyGroup users, each with all of its memberships
			if n == 0 || moved[n].userID != moved[n-1].userID {
				if len(ids) == keyGroup {
					break
				}
				ids = append(ids, moved[n].userID)
			}
			n++
		}
		chunk := moved[:n]
		moved = moved[n:]
		users, err := s.queryFullUsers(ctx, tx, len(ids), `SELECT `+s.fullUserColumns+` FROM users u WHERE u.id IN (`+placeholders(1, len(ids))+`)`, ids...)
		if err != nil {
			return err
		}
		byID := make(map[string]roster.User, len(users))
		for _, u := range users {
			byID[u.ID] = u
		}
		events := make([]roster.Event, 0, len(chunk))
		for _, m := range chunk {
			u, ok := byID[m.userID]
			if !ok || u.EnvironmentID != environmentID {
				continue
			}
			i := membershipIndex(u, m.orgID)
			if i < 0 {
				continue
			}
			org := eventOrg(environmentID, m.orgID, u.Memberships[i].OrganizationName)
			events = append(events, membershipEvent(roster.EventMembershipUpdated, org, u, at, []string{"roles"}))
		}
		if err := s.recordEvents(ctx, tx, events...); err != nil {
			return err
		}
	}
	return nil
}

// ResolveRoles finds the roles of the given names that apply in an organization, in one
// query: an organization's own role wins over the environment role of the same name.
func (s *Store) ResolveRoles(ctx context.Context, environmentID, organizationID string, names []string) ([]roster.RoleRef, []string, error) {
	if len(names) == 0 {
		return nil, nil, nil
	}
	key := "roles\x00" + environmentID + "\x00" + organizationID + "\x00" + strings.Join(names, "\x00")
	r, err := catalogAnswer(s, key, func() (resolvedRoles, error) {
		found, missing, err := s.resolveRoles(ctx, environmentID, organizationID, names)
		return resolvedRoles{found, missing}, err
	})
	// Copies: the kept answer is shared.
	return slices.Clone(r.found), slices.Clone(r.missing), err
}

// catalogAnswer returns the answer kept under key in the user cache's catalog (SQLite), or
// computes it and keeps it. Answers are shared: callers copy what they may change.
func catalogAnswer[T any](s *Store, key string, compute func() (T, error)) (T, error) {
	if v, ok := s.users.catalogGet(key); ok {
		return v.(T), nil
	}
	seq := s.users.begin()
	v, err := compute()
	if err == nil {
		s.users.catalogPut(seq, key, v)
	}
	return v, err
}

type resolvedRoles struct {
	found   []roster.RoleRef
	missing []string
}

func (s *Store) resolveRoles(ctx context.Context, environmentID, organizationID string, names []string) ([]roster.RoleRef, []string, error) {
	args := []any{environmentID, organizationID}
	for _, n := range names {
		args = append(args, n)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT id, name, display_name, organization_id FROM roles
		WHERE environment_id = $1 AND organization_id IN ('', $2) AND name IN (`+placeholders(3, len(names))+`)`, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	found := map[string]roster.RoleRef{}
	for rows.Next() {
		var r roster.RoleRef
		var org string
		if err := rows.Scan(&r.ID, &r.Name, &r.DisplayName, &org); err != nil {
			return nil, nil, err
		}
		if _, have := found[r.Name]; !have || org != "" {
			found[r.Name] = r
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	var out []roster.RoleRef
	var missing []string
	for _, n := range names {
		if r, ok := found[n]; ok {
			out = append(out, r)
		} else {
			missing = append(missing, n)
		}
	}
	return out, missing, nil
}

// CountRoleMembers counts the memberships that hold a role.
func (s *Store) CountRoleMembers(ctx context.Context, roleID string) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM membership_roles WHERE role_id = $1`, roleID).Scan(&n)
	return n, err
}

// SetDefaultMemberRole names the environment role that new memberships get.
func (s *Store) SetDefaultMemberRole(ctx context.Context, environmentID, name string) error {
	return s.inTx(ctx, func(tx txConn) error {
		if _, err := getRole(ctx, tx, environmentID, "", name, ""); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE environments SET default_member_role = $1 WHERE id = $2`, name, environmentID)
		return err
	})
}

// DefaultMemberRole returns the name of the default member role.
func (s *Store) DefaultMemberRole(ctx context.Context, environmentID string) (string, error) {
	var name string
	err := s.read.QueryRowContext(ctx, `SELECT default_member_role FROM environments WHERE id = $1`, environmentID).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound("environment")
	}
	return name, err
}

// ResolveDefaultMemberRole reads the default member role's name and resolves it in one query
// (a create of a user and membership would otherwise spend two reads on it). On SQLite the
// answer is kept in memory until a write that may change roles (see userCache.catalog): one
// answer per environment (envDefaultRole), or per organization when too many organizations
// have their own role of the default's name.
func (s *Store) ResolveDefaultMemberRole(ctx context.Context, environmentID, organizationID string) (roster.RoleRef, string, bool, error) {
	if s.users != nil {
		e, err := catalogAnswer(s, "default\x00"+environmentID, func() (envDefaultRole, error) {
			return s.resolveEnvDefaultRole(ctx, environmentID)
		})
		if err != nil {
			return roster.RoleRef{}, "", false, err
		}
		if !e.perOrg {
			if r, ok := e.own[organizationID]; ok && organizationID != "" {
				return r, e.name, true, nil
			}
			return e.role, e.name, e.ok, nil
		}
	}
	d, err := catalogAnswer(s, "default\x00"+environmentID+"\x00"+organizationID, func() (defaultRole, error) {
		role, name, ok, err := s.resolveDefaultMemberRole(ctx, environmentID, organizationID)
		return defaultRole{role, name, ok}, err
	})
	return d.role, d.name, d.ok, err
}

type defaultRole struct {
	role roster.RoleRef
	name string
	ok   bool
}

// envDefaultRole is an environment's default member role as every organization resolves it:
// the environment's role of that name, and the organizations that have their own. Kept per
// organization, the answers of a create load spread over 10,000 organizations rarely stayed
// in the catalog (1,024 answers), and the query cost a tenth of each create's CPU.
type envDefaultRole struct {
	name string
	role roster.RoleRef // the environment's own role of that name, if ok
	ok   bool
	own  map[string]roster.RoleRef // organization ID → its own role of that name
	// perOrg: more organizations have roles of their own than the answer keeps (maxOwnDefaults),
	// or than the query looks through (maxOrgRolesScanned); they are resolved one by one.
	perOrg bool
}

// maxOwnDefaults bounds the organizations' own default roles that envDefaultRole keeps, and
// maxOrgRolesScanned the organizations' roles read to find them: past either, the default
// role is resolved (and kept) per organization instead.
const (
	maxOwnDefaults     = 64
	maxOrgRolesScanned = 4096
)

func (s *Store) resolveEnvDefaultRole(ctx context.Context, environmentID string) (envDefaultRole, error) {
	var e envDefaultRole
	var id, display sql.NullString
	err := s.read.QueryRowContext(ctx, `SELECT e.default_member_role, r.id, r.display_name
		FROM environments e LEFT JOIN roles r ON r.environment_id = e.id AND r.organization_id = '' AND r.name = e.default_member_role
		WHERE e.id = $1`, environmentID).Scan(&e.name, &id, &display)
	if errors.Is(err, sql.ErrNoRows) {
		return e, notFound("environment")
	} else if err != nil {
		return e, err
	}
	if id.Valid {
		e.role, e.ok = roster.RoleRef{ID: id.String, Name: e.name, DisplayName: display.String}, true
	}
	// The organizations' roles, at most maxOrgRolesScanned of them (index entries only).
	var orgRoles int
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM roles
		WHERE environment_id = $1 AND organization_id > '' LIMIT $2) AS r`, environmentID, maxOrgRolesScanned+1).Scan(&orgRoles); err != nil {
		return e, err
	}
	if orgRoles > maxOrgRolesScanned {
		e.perOrg = true
		return e, nil
	}
	if orgRoles == 0 {
		return e, nil
	}
	rows, err := s.read.QueryContext(ctx, `SELECT organization_id, id, display_name FROM roles
		WHERE environment_id = $1 AND organization_id > '' AND name = $2 LIMIT $3`, environmentID, e.name, maxOwnDefaults+1)
	if err != nil {
		return e, err
	}
	defer rows.Close()
	for rows.Next() {
		var org string
		var r roster.RoleRef
		if err := rows.Scan(&org, &r.ID, &r.DisplayName); err != nil {
			return e, err
		}
		r.Name = e.name
		if e.own == nil {
			e.own = map[string]roster.RoleRef{}
		}
		e.own[org] = r
	}
	if err := rows.Err(); err != nil {
		return e, err
	}
	if len(e.own) > maxOwnDefaults {
		e.own, e.perOrg = nil, true
	}
	return e, nil
}

func (s *Store) resolveDefaultMemberRole(ctx context.Context, environmentID, organizationID string) (roster.RoleRef, string, bool, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT e.default_member_role, r.id, r.name, r.display_name, r.organization_id
		FROM environments e LEFT JOIN roles r ON r.environment_id = e.id AND r.organization_id IN ('', $2) AND r.name = e.default_member_role
		WHERE e.id = $1`, environmentID, organizationID)
	if err != nil {
		return roster.RoleRef{}, "", false, err
	}
	defer rows.Close()
	var name string
	var found roster.RoleRef
	env, ok := false, false
	for rows.Next() {
		var id, rname, display, org sql.NullString
		if err := rows.Scan(&name, &id, &rname, &display, &org); err != nil {
			return roster.RoleRef{}, "", false, err
		}
		env = true
		if id.Valid && (!ok || org.String != "") { // the organization's own role wins
			found, ok = roster.RoleRef{ID: id.String, Name: rname.String, DisplayName: display.String}, true
		}
	}
	if err := rows.Err(); err != nil {
		return roster.RoleRef{}, "", false, err
	}
	if !env {
		return roster.RoleRef{}, "", false, notFound("environment")
	}
	return found, name, ok, nil
}

func scanRole(row interface{ Scan(...any) error }) (roster.Role, error) {
	var r roster.Role
	var created, updated int64
	err := row.Scan(&r.ID, &r.EnvironmentID, &r.OrganizationID, &r.Name, &r.DisplayName, &r.Description, &created, &updated)
	r.CreateTime, r.UpdateTime = fromMicros(created), fromMicros(updated)
	return r, err
}

const permissionColumns = `id, environment_id, name, description, create_time, update_time`

// CreatePermission stores a permission; names are unique per environment.
func (s *Store) CreatePermission(ctx context.Context, p roster.Permission) error {
	seq, ok := roster.IDNumber(p.ID, roster.PrefixPermission)
	if !ok {
		return fmt.Errorf("malformed permission id %q", p.ID)
	}
	return s.inOtherTx(ctx, func(tx txConn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO permissions (`+permissionColumns+`, seq) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			p.ID, p.EnvironmentID, p.Name, p.Description, micros(p.CreateTime), micros(p.UpdateTime), seq)
		if err != nil {
			return s.conflict(err, func(string) string { return p.Name })
		}
		return s.recordEvents(ctx, tx, permissionEvent(roster.EventPermissionCreated, p, p.CreateTime, nil))
	})
}

// GetPermission returns a permission by name.
func (s *Store) GetPermission(ctx context.Context, environmentID, name string) (roster.Permission, error) {
	return getPermission(ctx, s.read, environmentID, name, "")
}

func getPermission(ctx context.Context, q querier, environmentID, name, suffix string) (roster.Permission, error) {
	p, err := scanPermission(q.QueryRowContext(ctx, `SELECT `+permissionColumns+` FROM permissions WHERE environment_id = $1 AND name = $2`+suffix, environmentID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound("permission")
	}
	return p, err
}

// ListPermissions returns one page of an environment's permissions in ID order, and the
// number of all of them.
func (s *Store) ListPermissions(ctx context.Context, environmentID string, q store.PageQuery) (store.Page[roster.Permission], error) {
	var page store.Page[roster.Permission]
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM permissions WHERE environment_id = $1`, environmentID).Scan(&page.Total); err != nil {
		return page, err
	}
	filter, args, order := `environment_id = $1`, []any{environmentID}, "ASC"
	switch {
	case q.After > 0:
		filter, args = filter+` AND seq > $2`, append(args, q.After)
	case q.Before > 0:
		filter, args, order = filter+` AND seq < $2`, append(args, q.Before), "DESC"
	}
	args = append(args, q.Size+1)
	rows, err := s.read.QueryContext(ctx, `SELECT `+permissionColumns+` FROM permissions WHERE `+filter+` ORDER BY seq `+order+
		fmt.Sprintf(` LIMIT $%d`, len(args)), args...)
	if err != nil {
		return page, err
	}
	defer rows.Close()
	for rows.Next() {
		p, err := scanPermission(rows)
		if err != nil {
			return page, err
		}
		page.Items = append(page.Items, p)
	}
	if err := rows.Err(); err != nil {
		return page, err
	}
	page.Items, page.More = finishPage(page.Items, q, order)
	return page, nil
}

// UpdatePermission applies update in one transaction.
func (s *Store) UpdatePermission(ctx context.Context, environmentID, name string, update func(*roster.Permission) error) (roster.Permission, error) {
	var out roster.Permission
	err := s.inTx(ctx, func(tx txConn) error {
		p, err := getPermission(ctx, tx, environmentID, name, s.dialect.RowLock())
		if err != nil {
			return err
		}
		before := p
		if err := update(&p); err != nil {
			return err
		}
		if _, err = tx.ExecContext(ctx, `UPDATE permissions SET description = $1, update_time = $2 WHERE id = $3`, p.Description, micros(p.UpdateTime), p.ID); err != nil {
			return err
		}
		out = p
		if changed := roster.PermissionChanges(before, p); len(changed) > 0 {
			return s.recordEvents(ctx, tx, permissionEvent(roster.EventPermissionUpdated, p, p.UpdateTime, changed))
		}
		return nil
	})
	return out, err
}

// DeletePermission removes a permission from the environment and from every role.
func (s *Store) DeletePermission(ctx context.Context, environmentID, name string) error {
	return s.inOtherTx(ctx, func(tx txConn) error {
		// RETURNING: the permission as last shown, for the event.
		p, err := scanPermission(tx.QueryRowContext(ctx, `DELETE FROM permissions WHERE environment_id = $1 AND name = $2 RETURNING `+permissionColumns,
			environmentID, name))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("permission")
		} else if err != nil {
			return err
		}
		return s.recordEvents(ctx, tx, permissionEvent(roster.EventPermissionDeleted, p, time.Now().UTC(), nil))
	})
}

func scanPermission(row interface{ Scan(...any) error }) (roster.Permission, error) {
	var p roster.Permission
	var created, updated int64
	err := row.Scan(&p.ID, &p.EnvironmentID, &p.Name, &p.Description, &created, &updated)
	p.CreateTime, p.UpdateTime = fromMicros(created), fromMicros(updated)
	return p, err
}
