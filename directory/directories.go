package directory

import (
	"context"
	"crypto/subtle"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// SCIMPathPrefix is where the SCIM 2.0 endpoint of each directory is mounted: a directory's
// SCIM base URL is the server's public URL + SCIMPathPrefix + its ID (docs/directories.md).
const SCIMPathPrefix = "/scim/v2/"

// SCIMEndpoint is the absolute SCIM base URL of a directory, given Roster's public URL.
func SCIMEndpoint(issuer, directoryID string) string {
	return strings.TrimRight(issuer, "/") + SCIMPathPrefix + directoryID
}

// DirectoryDetail is a directory as GetDirectory shows it: with its counts and its secrets
// (never their plain value, which is not stored).
type DirectoryDetail struct {
	roster.Directory
	Stats   store.DirectoryStats
	Secrets []roster.DirectorySecret
}

// CreateDirectory starts a SCIM directory of an organization (docs/directories.md): one per
// organization and provider.
func (s *Service) CreateDirectory(ctx context.Context, env roster.Environment, organizationID string, typ roster.DirectoryType, provider string) (DirectoryDetail, error) {
	if err := checkPrefixedID("organization_id", organizationID, roster.PrefixOrganization, 32); err != nil {
		return DirectoryDetail{}, err
	}
	d, err := roster.NewDirectory(s.ids.New(roster.PrefixDirectory), env.ID, organizationID, typ, provider, s.now())
	if err != nil {
		return DirectoryDetail{}, err
	}
	if err := s.store.CreateDirectory(ctx, d); err != nil {
		return DirectoryDetail{}, err
	}
	return DirectoryDetail{Directory: d, Secrets: []roster.DirectorySecret{}}, nil
}

// GetDirectory returns a directory of an organization with its counts and secrets.
func (s *Service) GetDirectory(ctx context.Context, env roster.Environment, organizationID, id string) (DirectoryDetail, error) {
	d, err := s.directory(ctx, env, organizationID, id, "id")
	if err != nil {
		return DirectoryDetail{}, err
	}
	return s.detail(ctx, env, d)
}

func (s *Service) detail(ctx context.Context, env roster.Environment, d roster.Directory) (DirectoryDetail, error) {
	st, err := s.store.DirectoryStats(ctx, env.ID, d.ID)
	if err != nil {
		return DirectoryDetail{}, err
	}
	secrets, err := s.store.ListDirectorySecrets(ctx, d.ID)
	if err != nil {
		return DirectoryDetail{}, err
	}
	return DirectoryDetail{Directory: d, Stats: st, Secrets: secrets}, nil
}

// directory checks the IDs of a request (idField names the directory's field) and finds the
// directory in the organization: another organization's or environment's is NOT_FOUND.
func (s *Service) directory(ctx context.Context, env roster.Environment, organizationID, id, idField string) (roster.Directory, error) {
	var v roster.Violations
	addIDViolation(&v, "organization_id", organizationID, roster.PrefixOrganization, 32)
	addIDViolation(&v, idField, id, roster.PrefixDirectory, 32)
	if err := v.Err(); err != nil {
		return roster.Directory{}, err
	}
	return s.store.GetDirectory(ctx, env.ID, organizationID, id)
}

// ListDirectories returns an organization's directories (at most
// roster.MaxDirectoriesPerOrganization), oldest first: the first is the "primary" one of the
// SDKs' getPrimaryDirectoryByOrganizationId.
func (s *Service) ListDirectories(ctx context.Context, env roster.Environment, organizationID string) ([]DirectoryDetail, error) {
	if err := checkPrefixedID("organization_id", organizationID, roster.PrefixOrganization, 32); err != nil {
		return nil, err
	}
	if _, err := s.store.GetOrganization(ctx, env.ID, roster.OrganizationRef{ID: organizationID}); err != nil {
		return nil, err
	}
	list, err := s.store.ListDirectories(ctx, env.ID, organizationID)
	if err != nil {
		return nil, err
	}
	out := make([]DirectoryDetail, 0, len(list))
	for _, d := range list {
		dd, err := s.detail(ctx, env, d)
		if err != nil {
			return nil, err
		}
		out = append(out, dd)
	}
	return out, nil
}

// UpdateDirectory applies a patch; mapped custom attributes must be defined.
func (s *Service) UpdateDirectory(ctx context.Context, env roster.Environment, organizationID, id string, p roster.DirectoryPatch) (DirectoryDetail, error) {
	if _, err := s.directory(ctx, env, organizationID, id, "id"); err != nil {
		return DirectoryDetail{}, err
	}
	var defs map[string]roster.AttributeDefinition
	if p.Mappings != nil {
		var err error
		if defs, err = s.attributeDefs(ctx, env); err != nil {
			return DirectoryDetail{}, err
		}
	}
	now := s.now()
	d, err := s.store.UpdateDirectory(ctx, env.ID, organizationID, id, func(d *roster.Directory) error { return p.Apply(d, defs, now) })
	if err != nil {
		return DirectoryDetail{}, err
	}
	return s.detail(ctx, env, d)
}

func (s *Service) attributeDefs(ctx context.Context, env roster.Environment) (map[string]roster.AttributeDefinition, error) {
	list, err := s.store.ListAttributes(ctx, env.ID)
	if err != nil {
		return nil, err
	}
	defs := make(map[string]roster.AttributeDefinition, len(list))
	for _, d := range list {
		defs[d.Key] = d
	}
	return defs, nil
}

// SetDirectoryEnabled enables or disables a directory: a disabled directory's SCIM endpoint
// answers 401 and writes nothing; its data stays, and enabling it again resumes provisioning.
func (s *Service) SetDirectoryEnabled(ctx context.Context, env roster.Environment, organizationID, id string, on bool) (roster.Directory, error) {
	if _, err := s.directory(ctx, env, organizationID, id, "id"); err != nil {
		return roster.Directory{}, err
	}
	now := s.now()
	return s.store.UpdateDirectory(ctx, env.ID, organizationID, id, func(d *roster.Directory) error {
		return roster.DirectoryPatch{Enabled: &on}.Apply(d, nil, now)
	})
}

// DeleteDirectory removes a directory, its secrets, users, groups and role assignments; the
// SCIM endpoint stops answering at once. Roster users and memberships stay.
func (s *Service) DeleteDirectory(ctx context.Context, env roster.Environment, organizationID, id string) error {
	if _, err := s.directory(ctx, env, organizationID, id, "id"); err != nil {
		return err
	}
	return s.store.DeleteDirectory(ctx, env.ID, organizationID, id)
}

// CreateDirectorySecret makes the directory's SCIM bearer token and returns it with its
// stored form; the token is shown only now. With regenerate, it replaces the directory's
// secret at once; without, a directory that has one refuses (ALREADY_EXISTS).
func (s *Service) CreateDirectorySecret(ctx context.Context, env roster.Environment, organizationID, directoryID string, regenerate bool) (roster.DirectorySecret, string, error) {
	if _, err := s.directory(ctx, env, organizationID, directoryID, "directory_id"); err != nil {
		return roster.DirectorySecret{}, "", err
	}
	sec, token, err := roster.NewDirectorySecret(s.ids.New(roster.PrefixDirectorySecret), directoryID, s.now())
	if err != nil {
		return roster.DirectorySecret{}, "", err
	}
	if err := s.store.CreateDirectorySecret(ctx, env.ID, organizationID, sec, regenerate); err != nil {
		return roster.DirectorySecret{}, "", err
	}
	return sec, token, nil
}

// UpdateDirectoryAttributes replaces a directory's attribute mapping.
func (s *Service) UpdateDirectoryAttributes(ctx context.Context, env roster.Environment, organizationID, id string, m []roster.DirectoryMapping) ([]roster.DirectoryMapping, error) {
	if _, err := s.directory(ctx, env, organizationID, id, "id"); err != nil {
		return nil, err
	}
	defs, err := s.attributeDefs(ctx, env)
	if err != nil {
		return nil, err
	}
	if m == nil {
		m = []roster.DirectoryMapping{}
	}
	if err := roster.CheckDirectoryMappings("attribute_mapping.attributes", m, defs); err != nil {
		return nil, err
	}
	now := s.now()
	d, err := s.store.UpdateDirectory(ctx, env.ID, organizationID, id, func(d *roster.Directory) error {
		d.Mappings, d.UpdateTime = m, now
		return nil
	})
	return d.Mappings, err
}

// AssignDirectoryRoles replaces a directory's group-to-role mapping: each directory group's
// members get the role in the organization. Roles are found by name (the organization's own
// role wins over the environment's, as for memberships) or, when only role_id is given, by ID.
func (s *Service) AssignDirectoryRoles(ctx context.Context, env roster.Environment, organizationID, id string, a []roster.DirectoryRoleAssignment) ([]roster.DirectoryRoleAssignment, error) {
	if _, err := s.directory(ctx, env, organizationID, id, "id"); err != nil {
		return nil, err
	}
	const field = "role_assignments.assignments"
	if err := roster.CheckRoleAssignments(field, a); err != nil {
		return nil, err
	}
	var byID map[string]roster.Role
	out := make([]roster.DirectoryRoleAssignment, len(a))
	var v roster.Violations
	for i, e := range a {
		out[i] = roster.DirectoryRoleAssignment{GroupID: e.GroupID}
		f := field + "[" + strconv.Itoa(i) + "]"
		if e.RoleName == "" {
			if byID == nil {
				var err error
				if byID, err = s.rolesByID(ctx, env, organizationID); err != nil {
					return nil, err
				}
			}
			r, ok := byID[e.RoleID]
			if !ok {
				v.Add(f+".role_id", "exists", "no role with ID %q in the organization or the environment", e.RoleID)
				continue
			}
			out[i].RoleID, out[i].RoleName = r.ID, r.Name
			continue
		}
		r, ok, err := s.roleNamed(ctx, env, organizationID, e.RoleName)
		if err != nil {
			return nil, err
		}
		if !ok {
			v.Add(f+".role_name", "exists", "no role named %q in the organization or the environment", e.RoleName)
			continue
		}
		out[i].RoleID, out[i].RoleName = r.ID, r.Name
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	set, err := s.store.SetDirectoryRoleAssignments(ctx, env.ID, organizationID, id, out)
	if err != nil {
		return nil, err
	}
	if err := s.recomputeDirectoryRoles(ctx, env, organizationID, id); err != nil {
		return nil, err
	}
	return set, nil
}

// roleNamed finds the role of a name that applies in an organization (its own wins over the
// environment's); ok is false when there is none.
func (s *Service) roleNamed(ctx context.Context, env roster.Environment, organizationID, name string) (roster.RoleRef, bool, error) {
	found, missing, err := s.store.ResolveRoles(ctx, env.ID, organizationID, []string{name})
	if err != nil || len(missing) > 0 || len(found) != 1 {
		return roster.RoleRef{}, false, err
	}
	return found[0], true, nil
}

// recomputeDirectoryRoles gives every linked user of a directory the roles of its groups,
// after the assignments changed (docs/scim.md "Roles from groups").
func (s *Service) recomputeDirectoryRoles(ctx context.Context, env roster.Environment, organizationID, id string) error {
	def, err := s.defaultRoles(ctx, env.ID, organizationID)
	if err != nil {
		return err
	}
	return s.store.RecomputeDirectoryRoles(ctx, env.ID, id, def)
}

// AssignDirectoryGroupRole gives one group of a directory a role by name (roleName "" takes
// its assignment away) and leaves the other groups' as they are when it is written (store:
// SetDirectoryGroupRole), so two operators changing two groups at once keep both changes;
// the rules and messages are AssignDirectoryRoles'. The members' roles follow.
func (s *Service) AssignDirectoryGroupRole(ctx context.Context, env roster.Environment, organizationID, id, groupID, roleName string) ([]roster.DirectoryRoleAssignment, error) {
	if _, err := s.directory(ctx, env, organizationID, id, "id"); err != nil {
		return nil, err
	}
	roleID := ""
	if roleName != "" {
		if err := roster.CheckRoleAssignments("role_assignment", []roster.DirectoryRoleAssignment{{GroupID: groupID, RoleName: roleName}}); err != nil {
			return nil, err
		}
		r, ok, err := s.roleNamed(ctx, env, organizationID, roleName)
		if err != nil {
			return nil, err
		}
		if !ok {
			var v roster.Violations
			v.Add("role_assignment.role_name", "exists", "no role named %q in the organization or the environment", roleName)
			return nil, v.Err()
		}
		roleID = r.ID
	} else if _, ok := roster.IDNumber(groupID, roster.PrefixDirectoryGroup); !ok {
		var v roster.Violations
		v.Add("role_assignment.group_id", "string.prefix=dirgroup_", "must be a directory group ID (dirgroup_...)")
		return nil, v.Err()
	}
	set, err := s.store.SetDirectoryGroupRole(ctx, env.ID, organizationID, id, groupID, roleID)
	if err != nil {
		return nil, err
	}
	if err := s.recomputeDirectoryRoles(ctx, env, organizationID, id); err != nil {
		return nil, err
	}
	return set, nil
}

func (s *Service) rolesByID(ctx context.Context, env roster.Environment, organizationID string) (map[string]roster.Role, error) {
	out := map[string]roster.Role{}
	for _, scope := range []string{"", organizationID} {
		list, err := s.store.ListRoles(ctx, env.ID, scope)
		if err != nil {
			return nil, err
		}
		for _, r := range list {
			out[r.ID] = r
		}
	}
	return out, nil
}

// DirectoryListInput is what ListDirectoryUsers and ListDirectoryGroups take.
type DirectoryListInput struct {
	PageInput
	UpdatedAfter *time.Time
	GroupID      string // users only: members of this directory group
}

// ListDirectoryUsers returns one page of a directory's users in creation order.
func (s *Service) ListDirectoryUsers(ctx context.Context, env roster.Environment, organizationID, directoryID string, in DirectoryListInput) (List[roster.DirectoryUser], error) {
	var v roster.Violations
	addIDViolation(&v, "organization_id", organizationID, roster.PrefixOrganization, 32)
	addIDViolation(&v, "directory_id", directoryID, roster.PrefixDirectory, 32)
	if in.GroupID != "" {
		addIDViolation(&v, "directory_group_id", in.GroupID, roster.PrefixDirectoryGroup, 37)
	}
	p := newPager(env, in.PageInput, directoryListFingerprint("directory_users", directoryID, in), nil, roster.MaxDirectoryPageSize, &v)
	if err := v.Err(); err != nil {
		return List[roster.DirectoryUser]{}, err
	}
	if _, err := s.store.GetDirectory(ctx, env.ID, organizationID, directoryID); err != nil {
		return List[roster.DirectoryUser]{}, err
	}
	if in.GroupID != "" {
		if _, err := s.store.GetDirectoryGroup(ctx, env.ID, directoryID, in.GroupID); err != nil {
			return List[roster.DirectoryUser]{}, err
		}
	}
	page, err := s.store.ListDirectoryUsers(ctx, env.ID, directoryID, store.DirectoryUserQuery{UpdatedAfter: in.UpdatedAfter, GroupID: in.GroupID, Page: p.query})
	if err != nil {
		return List[roster.DirectoryUser]{}, err
	}
	return list(p, page, func(u roster.DirectoryUser) string { return u.ID }, roster.PrefixDirectoryUser), nil
}

// DirectoryUserGroups returns the groups of a page of a directory's users (the users come
// from ListDirectoryUsers, so the directory was already checked).
func (s *Service) DirectoryUserGroups(ctx context.Context, env roster.Environment, directoryID string, users []roster.DirectoryUser) (map[string][]roster.DirectoryGroup, error) {
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	return s.store.DirectoryUserGroups(ctx, env.ID, directoryID, ids)
}

// ListDirectoryGroups returns one page of a directory's groups in creation order.
func (s *Service) ListDirectoryGroups(ctx context.Context, env roster.Environment, organizationID, directoryID string, in DirectoryListInput) (List[roster.DirectoryGroup], error) {
	var v roster.Violations
	addIDViolation(&v, "organization_id", organizationID, roster.PrefixOrganization, 32)
	addIDViolation(&v, "directory_id", directoryID, roster.PrefixDirectory, 32)
	in.GroupID = ""
	p := newPager(env, in.PageInput, directoryListFingerprint("directory_groups", directoryID, in), nil, roster.MaxDirectoryPageSize, &v)
	if err := v.Err(); err != nil {
		return List[roster.DirectoryGroup]{}, err
	}
	if _, err := s.store.GetDirectory(ctx, env.ID, organizationID, directoryID); err != nil {
		return List[roster.DirectoryGroup]{}, err
	}
	page, err := s.store.ListDirectoryGroups(ctx, env.ID, directoryID, store.DirectoryGroupQuery{UpdatedAfter: in.UpdatedAfter, Page: p.query})
	if err != nil {
		return List[roster.DirectoryGroup]{}, err
	}
	return list(p, page, func(g roster.DirectoryGroup) string { return g.ID }, roster.PrefixDirectoryGroup), nil
}

// directoryListFingerprint names a directory list and its filters, so that a page token
// only works with the query that made it.
func directoryListFingerprint(kind, directoryID string, in DirectoryListInput) string {
	f := kind + "\x00" + directoryID + "\x00g=" + in.GroupID
	if in.UpdatedAfter != nil {
		f += "\x00u=" + strconv.FormatInt(in.UpdatedAfter.UnixMicro(), 10)
	}
	return f
}

// checkPrefixedID checks a required ID field: present, of the right prefix, not too long.
func checkPrefixedID(field, id, prefix string, max int) error {
	var v roster.Violations
	addIDViolation(&v, field, id, prefix, max)
	return v.Err()
}

func addIDViolation(v *roster.Violations, field, id, prefix string, max int) {
	switch {
	case id == "":
		v.Add(field, "required", "is required")
	case len(id) > max:
		v.Add(field, "string.max_len="+strconv.Itoa(max), "must be at most %d characters", max)
	case !strings.HasPrefix(id, prefix):
		v.Add(field, "string.prefix="+prefix, "must start with %q", prefix)
	}
}

// errSCIMUnauthorized is every refusal of a SCIM bearer token: the caller learns nothing
// about why (unknown token, another directory's token, disabled or deleted directory).
var errSCIMUnauthorized = roster.Errorf(roster.EUnauthenticated, "the bearer token is not valid for this directory")

// AuthenticateDirectory checks a SCIM request's bearer token for the directory of its URL
// (docs/directories.md): the token must be the current secret of that very directory, which
// must be enabled and its organization alive. Any other case is UNAUTHENTICATED, the same for
// all. The token is looked up by its SHA-256, and the stored hash is compared in constant time;
// neither is ever logged. The secret's last use is recorded (at most once a minute).
func (s *Service) AuthenticateDirectory(ctx context.Context, directoryID, token string) (store.DirectoryAuth, error) {
	hash, ok := tokenHash(token)
	if !ok {
		return store.DirectoryAuth{}, errSCIMUnauthorized
	}
	a, err := s.store.FindDirectoryBySecret(ctx, hash, s.now())
	switch {
	case roster.ErrorCode(err) == roster.ENotFound:
		return store.DirectoryAuth{}, errSCIMUnauthorized
	case err != nil:
		return store.DirectoryAuth{}, err
	}
	if subtle.ConstantTimeCompare([]byte(a.Secret.Hash), []byte(hash)) != 1 || a.Directory.ID != directoryID {
		return store.DirectoryAuth{}, errSCIMUnauthorized
	}
	s.recordSecretUse(ctx, a.Secret)
	return a, nil
}

// tokenHash is the hash a SCIM bearer token is looked up by, or false for a token no secret
// can be (empty, or longer than any).
func tokenHash(token string) (string, bool) {
	if token == "" || len(token) > 256 {
		return "", false
	}
	return roster.HashDirectorySecret(token), true
}

// recordSecretUse records a secret's use, at most once per granularity: its row was just
// read, so the store's own re-read is skipped when its last use is recent.
func (s *Service) recordSecretUse(ctx context.Context, sec roster.DirectorySecret) {
	now := s.now()
	if last := sec.LastUsedTime; last != nil && now.Sub(*last) < roster.DirectorySecretUseGranularity {
		return
	}
	if err := s.store.RecordDirectorySecretUse(ctx, sec.ID, now); err != nil {
		s.log.WarnContext(ctx, "directory secret: last use not recorded", "directory", sec.DirectoryID, "err", err)
	}
}
