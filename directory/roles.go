package directory

import (
	"context"

	"github.com/rosterhq/roster"
)

// seedRoles gives an environment without roles Scalekit's default roles: admin and member,
// member being the default member role. An environment that has roles is left alone, so a
// role the operator deleted does not come back.
func (s *Service) seedRoles(ctx context.Context, env roster.Environment) error {
	existing, err := s.store.ListRoles(ctx, env.ID, "")
	if err != nil || len(existing) > 0 {
		return err
	}
	for _, r := range []roster.Role{
		{Name: roster.RoleAdmin, DisplayName: "Admin", Description: "Administers the organization"},
		{Name: roster.RoleMember, DisplayName: "Member", Description: "A member of the organization"},
	} {
		_, err := s.store.GetRole(ctx, env.ID, "", r.Name)
		if err == nil {
			continue
		}
		if roster.ErrorCode(err) != roster.ENotFound {
			return err
		}
		if _, err := s.CreateRole(ctx, env, "", r); err != nil && roster.ErrorCode(err) != roster.EConflict {
			return err
		}
	}
	return nil
}

// CreateRole creates an environment role (organizationID "") or an organization's role.
func (s *Service) CreateRole(ctx context.Context, env roster.Environment, organizationID string, r roster.Role) (roster.Role, error) {
	if err := r.Validate(); err != nil {
		return roster.Role{}, err
	}
	if organizationID != "" {
		if _, err := s.store.GetOrganization(ctx, env.ID, roster.OrganizationRef{ID: organizationID}); err != nil {
			return roster.Role{}, err
		}
	}
	now := s.now()
	r.ID, r.EnvironmentID, r.OrganizationID, r.CreateTime, r.UpdateTime = s.ids.New(roster.PrefixRole), env.ID, organizationID, now, now
	if r.DisplayName == "" {
		r.DisplayName = r.Name
	}
	if err := s.store.CreateRole(ctx, r); err != nil {
		return roster.Role{}, err
	}
	return s.store.GetRole(ctx, env.ID, organizationID, r.Name)
}

// GetRole returns a role by name.
func (s *Service) GetRole(ctx context.Context, env roster.Environment, organizationID, name string) (roster.Role, error) {
	return s.store.GetRole(ctx, env.ID, organizationID, name)
}

// ListRoles lists environment roles or an organization's own roles.
func (s *Service) ListRoles(ctx context.Context, env roster.Environment, organizationID string) ([]roster.Role, error) {
	return s.store.ListRoles(ctx, env.ID, organizationID)
}

// RolePatch changes a role; Permissions, when not nil, replace the role's permissions.
type RolePatch struct {
	DisplayName *string
	Description *string
	Permissions []string
}

// UpdateRole patches a role.
func (s *Service) UpdateRole(ctx context.Context, env roster.Environment, organizationID, name string, p RolePatch) (roster.Role, error) {
	now := s.now()
	return s.store.UpdateRole(ctx, env.ID, organizationID, name, func(r *roster.Role) error {
		if p.DisplayName != nil {
			r.DisplayName = *p.DisplayName
		}
		if p.Description != nil {
			r.Description = *p.Description
		}
		if p.Permissions != nil {
			r.Permissions = p.Permissions
		}
		r.UpdateTime = now
		return r.Validate()
	})
}

// DeleteRole deletes a role; its holders move to reassignTo when given.
func (s *Service) DeleteRole(ctx context.Context, env roster.Environment, organizationID, name, reassignTo string) error {
	target := ""
	if reassignTo != "" {
		refs, err := s.resolveRoles(ctx, env, organizationID, []string{reassignTo}, "reassign_role_name")
		if err != nil {
			return err
		}
		if refs[0].Name == name {
			return roster.Errorf(roster.EInvalid, "reassign_role_name: cannot reassign a role to itself")
		}
		target = refs[0].ID
	}
	return s.store.DeleteRole(ctx, env.ID, organizationID, name, target)
}

// SetDefaultMemberRole names the environment role new memberships get.
func (s *Service) SetDefaultMemberRole(ctx context.Context, env roster.Environment, name string) (roster.Role, error) {
	if err := s.store.SetDefaultMemberRole(ctx, env.ID, name); err != nil {
		return roster.Role{}, err
	}
	return s.store.GetRole(ctx, env.ID, "", name)
}

// DefaultMemberRole returns the default member role's name.
func (s *Service) DefaultMemberRole(ctx context.Context, env roster.Environment) (string, error) {
	return s.store.DefaultMemberRole(ctx, env.ID)
}

// CountRoleMembers counts the memberships holding a role.
func (s *Service) CountRoleMembers(ctx context.Context, env roster.Environment, organizationID, name string) (int, error) {
	r, err := s.store.GetRole(ctx, env.ID, organizationID, name)
	if err != nil {
		return 0, err
	}
	return s.store.CountRoleMembers(ctx, r.ID)
}

// CreatePermission creates a permission.
func (s *Service) CreatePermission(ctx context.Context, env roster.Environment, p roster.Permission) (roster.Permission, error) {
	if err := p.Validate(); err != nil {
		return roster.Permission{}, err
	}
	now := s.now()
	p.ID, p.EnvironmentID, p.CreateTime, p.UpdateTime = s.ids.New(roster.PrefixPermission), env.ID, now, now
	return p, s.store.CreatePermission(ctx, p)
}

// GetPermission returns a permission by name.
func (s *Service) GetPermission(ctx context.Context, env roster.Environment, name string) (roster.Permission, error) {
	return s.store.GetPermission(ctx, env.ID, name)
}

// ListPermissions lists one page of the environment's permissions, in creation order.
func (s *Service) ListPermissions(ctx context.Context, env roster.Environment, in PageInput) (List[roster.Permission], error) {
	var v roster.Violations
	p := newPager(env, in, "permissions", nil, MaxPageSize, &v)
	if err := v.Err(); err != nil {
		return List[roster.Permission]{}, err
	}
	page, err := s.store.ListPermissions(ctx, env.ID, p.query)
	if err != nil {
		return List[roster.Permission]{}, err
	}
	return list(p, page, func(p roster.Permission) string { return p.ID }, roster.PrefixPermission), nil
}

// UpdatePermission changes a permission's description.
func (s *Service) UpdatePermission(ctx context.Context, env roster.Environment, name, description string) (roster.Permission, error) {
	now := s.now()
	return s.store.UpdatePermission(ctx, env.ID, name, func(p *roster.Permission) error {
		p.Description, p.UpdateTime = description, now
		return p.Validate()
	})
}

// DeletePermission deletes a permission and takes it from every role.
func (s *Service) DeletePermission(ctx context.Context, env roster.Environment, name string) error {
	return s.store.DeletePermission(ctx, env.ID, name)
}

// AddPermissionsToRole adds permissions to an environment role.
func (s *Service) AddPermissionsToRole(ctx context.Context, env roster.Environment, roleName string, names []string) (roster.Role, error) {
	now := s.now()
	return s.store.UpdateRole(ctx, env.ID, "", roleName, func(r *roster.Role) error {
		have := map[string]bool{}
		for _, p := range r.Permissions {
			have[p] = true
		}
		for _, n := range names {
			if !have[n] {
				r.Permissions, have[n] = append(r.Permissions, n), true
			}
		}
		r.UpdateTime = now
		return r.Validate()
	})
}

// RemovePermissionFromRole takes a permission from an environment role.
func (s *Service) RemovePermissionFromRole(ctx context.Context, env roster.Environment, roleName, permission string) error {
	now := s.now()
	_, err := s.store.UpdateRole(ctx, env.ID, "", roleName, func(r *roster.Role) error {
		kept := r.Permissions[:0]
		for _, p := range r.Permissions {
			if p != permission {
				kept = append(kept, p)
			}
		}
		if len(kept) == len(r.Permissions) {
			return roster.Errorf(roster.ENotFound, "role %q does not have permission %q", roleName, permission)
		}
		r.Permissions, r.UpdateTime = kept, now
		return nil
	})
	return err
}
