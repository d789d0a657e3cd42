package api

import (
	"context"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	rolesv1 "github.com/rosterhq/roster/gen/scalekit/v1/roles"
	"github.com/rosterhq/roster/gen/scalekit/v1/roles/rolesconnect"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// roles implements the parts of scalekit.v1.roles.RolesService that memberships need:
// environment and organization roles, the default member role, permissions on roles.
// Role inheritance (extends), dependent roles and the default creator role answer
// UNIMPLEMENTED.
type roles struct {
	rolesconnect.UnimplementedRolesServiceHandler
	dir *directory.Service
}

func (h *roles) createRole(ctx context.Context, orgID, name, display string, desc *string, extends *string, perms []string) (*rolesv1.Role, error) {
	if extends != nil && *extends != "" {
		return nil, notYet("roles that extend other roles")
	}
	r := roster.Role{Name: name, DisplayName: display, Permissions: perms}
	if desc != nil {
		r.Description = *desc
	}
	created, err := h.dir.CreateRole(ctx, environment(ctx), orgID, r)
	if err != nil {
		return nil, err
	}
	return h.roleToProto(ctx, created)
}

func (h *roles) CreateRole(ctx context.Context, req *connect.Request[rolesv1.CreateRoleRequest]) (*connect.Response[rolesv1.CreateRoleResponse], error) {
	in := req.Msg.GetRole()
	if in == nil {
		return nil, required("role")
	}
	r, err := h.createRole(ctx, "", in.GetName(), in.GetDisplayName(), in.Description, in.Extends, in.GetPermissions())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rolesv1.CreateRoleResponse{Role: r}), nil
}

func (h *roles) CreateOrganizationRole(ctx context.Context, req *connect.Request[rolesv1.CreateOrganizationRoleRequest]) (*connect.Response[rolesv1.CreateOrganizationRoleResponse], error) {
	in := req.Msg.GetRole()
	if in == nil {
		return nil, required("role")
	}
	if req.Msg.GetOrgId() == "" {
		return nil, required("org_id")
	}
	r, err := h.createRole(ctx, req.Msg.GetOrgId(), in.GetName(), in.GetDisplayName(), in.Description, in.Extends, in.GetPermissions())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rolesv1.CreateOrganizationRoleResponse{Role: r}), nil
}

func (h *roles) getRole(ctx context.Context, orgID, name string) (*rolesv1.Role, error) {
	r, err := h.dir.GetRole(ctx, environment(ctx), orgID, name)
	if err != nil {
		return nil, err
	}
	return h.roleToProto(ctx, r)
}

func (h *roles) GetRole(ctx context.Context, req *connect.Request[rolesv1.GetRoleRequest]) (*connect.Response[rolesv1.GetRoleResponse], error) {
	r, err := h.getRole(ctx, "", req.Msg.GetRoleName())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rolesv1.GetRoleResponse{Role: r}), nil
}

func (h *roles) GetOrganizationRole(ctx context.Context, req *connect.Request[rolesv1.GetOrganizationRoleRequest]) (*connect.Response[rolesv1.GetOrganizationRoleResponse], error) {
	r, err := h.getRole(ctx, req.Msg.GetOrgId(), req.Msg.GetRoleName())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rolesv1.GetOrganizationRoleResponse{Role: r}), nil
}

func (h *roles) listRoles(ctx context.Context, orgID string) ([]*rolesv1.Role, error) {
	list, err := h.dir.ListRoles(ctx, environment(ctx), orgID)
	if err != nil {
		return nil, err
	}
	out := make([]*rolesv1.Role, 0, len(list))
	for _, r := range list {
		p, err := h.roleToProto(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (h *roles) ListRoles(ctx context.Context, req *connect.Request[rolesv1.ListRolesRequest]) (*connect.Response[rolesv1.ListRolesResponse], error) {
	out, err := h.listRoles(ctx, "")
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rolesv1.ListRolesResponse{Roles: out}), nil
}

func (h *roles) ListOrganizationRoles(ctx context.Context, req *connect.Request[rolesv1.ListOrganizationRolesRequest]) (*connect.Response[rolesv1.ListOrganizationRolesResponse], error) {
	if _, err := h.dir.GetOrganization(ctx, environment(ctx), roster.OrganizationRef{ID: req.Msg.GetOrgId()}); err != nil {
		return nil, err
	}
	out, err := h.listRoles(ctx, req.Msg.GetOrgId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rolesv1.ListOrganizationRolesResponse{Roles: out}), nil
}

func (h *roles) updateRole(ctx context.Context, orgID, name string, in *rolesv1.UpdateRole) (*rolesv1.Role, error) {
	if in == nil {
		return nil, required("role")
	}
	if in.Extends != nil && *in.Extends != "" {
		return nil, notYet("roles that extend other roles")
	}
	p := directory.RolePatch{DisplayName: in.DisplayName, Description: in.Description}
	if len(in.GetPermissions()) > 0 { // an empty list cannot be told from "not sent"
		p.Permissions = in.GetPermissions()
	}
	r, err := h.dir.UpdateRole(ctx, environment(ctx), orgID, name, p)
	if err != nil {
		return nil, err
	}
	return h.roleToProto(ctx, r)
}

func (h *roles) UpdateRole(ctx context.Context, req *connect.Request[rolesv1.UpdateRoleRequest]) (*connect.Response[rolesv1.UpdateRoleResponse], error) {
	r, err := h.updateRole(ctx, "", req.Msg.GetRoleName(), req.Msg.GetRole())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rolesv1.UpdateRoleResponse{Role: r}), nil
}

func (h *roles) UpdateOrganizationRole(ctx context.Context, req *connect.Request[rolesv1.UpdateOrganizationRoleRequest]) (*connect.Response[rolesv1.UpdateOrganizationRoleResponse], error) {
	r, err := h.updateRole(ctx, req.Msg.GetOrgId(), req.Msg.GetRoleName(), req.Msg.GetRole())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rolesv1.UpdateOrganizationRoleResponse{Role: r}), nil
}

func (h *roles) DeleteRole(ctx context.Context, req *connect.Request[rolesv1.DeleteRoleRequest]) (*connect.Response[emptypb.Empty], error) {
	if err := h.dir.DeleteRole(ctx, environment(ctx), "", req.Msg.GetRoleName(), req.Msg.GetReassignRoleName()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&emptypb.Empty{}), nil
}

func (h *roles) DeleteOrganizationRole(ctx context.Context, req *connect.Request[rolesv1.DeleteOrganizationRoleRequest]) (*connect.Response[emptypb.Empty], error) {
	if err := h.dir.DeleteRole(ctx, environment(ctx), req.Msg.GetOrgId(), req.Msg.GetRoleName(), req.Msg.GetReassignRoleName()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&emptypb.Empty{}), nil
}

func (h *roles) GetRoleUsersCount(ctx context.Context, req *connect.Request[rolesv1.GetRoleUsersCountRequest]) (*connect.Response[rolesv1.GetRoleUsersCountResponse], error) {
	n, err := h.dir.CountRoleMembers(ctx, environment(ctx), "", req.Msg.GetRoleName())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rolesv1.GetRoleUsersCountResponse{Count: int64(n)}), nil
}

func (h *roles) GetOrganizationRoleUsersCount(ctx context.Context, req *connect.Request[rolesv1.GetOrganizationRoleUsersCountRequest]) (*connect.Response[rolesv1.GetOrganizationRoleUsersCountResponse], error) {
	n, err := h.dir.CountRoleMembers(ctx, environment(ctx), req.Msg.GetOrgId(), req.Msg.GetRoleName())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rolesv1.GetOrganizationRoleUsersCountResponse{Count: int64(n)}), nil
}

func (h *roles) UpdateDefaultRoles(ctx context.Context, req *connect.Request[rolesv1.UpdateDefaultRolesRequest]) (*connect.Response[rolesv1.UpdateDefaultRolesResponse], error) {
	if req.Msg.DefaultCreatorRole != nil {
		return nil, notYet("default creator roles")
	}
	if req.Msg.GetDefaultMemberRole() == "" {
		return nil, required("default_member_role")
	}
	r, err := h.dir.SetDefaultMemberRole(ctx, environment(ctx), req.Msg.GetDefaultMemberRole())
	if err != nil {
		return nil, err
	}
	p, err := h.roleToProto(ctx, r)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rolesv1.UpdateDefaultRolesResponse{DefaultMember: p}), nil
}

func (h *roles) CreatePermission(ctx context.Context, req *connect.Request[rolesv1.CreatePermissionRequest]) (*connect.Response[rolesv1.CreatePermissionResponse], error) {
	in := req.Msg.GetPermission()
	if in == nil {
		return nil, required("permission")
	}
	p, err := h.dir.CreatePermission(ctx, environment(ctx), roster.Permission{Name: in.GetName(), Description: in.GetDescription()})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rolesv1.CreatePermissionResponse{Permission: permissionToProto(p)}), nil
}

func (h *roles) GetPermission(ctx context.Context, req *connect.Request[rolesv1.GetPermissionRequest]) (*connect.Response[rolesv1.GetPermissionResponse], error) {
	p, err := h.dir.GetPermission(ctx, environment(ctx), req.Msg.GetPermissionName())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rolesv1.GetPermissionResponse{Permission: permissionToProto(p)}), nil
}

func (h *roles) UpdatePermission(ctx context.Context, req *connect.Request[rolesv1.UpdatePermissionRequest]) (*connect.Response[rolesv1.UpdatePermissionResponse], error) {
	in := req.Msg.GetPermission()
	if in == nil {
		return nil, required("permission")
	}
	if in.GetName() != "" && in.GetName() != req.Msg.GetPermissionName() {
		return nil, roster.Errorf(roster.EInvalid, "permission.name: a permission cannot be renamed")
	}
	p, err := h.dir.UpdatePermission(ctx, environment(ctx), req.Msg.GetPermissionName(), in.GetDescription())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rolesv1.UpdatePermissionResponse{Permission: permissionToProto(p)}), nil
}

// ListPermissions returns one page of permissions, in creation order (docs/pagination.md).
func (h *roles) ListPermissions(ctx context.Context, req *connect.Request[rolesv1.ListPermissionsRequest]) (*connect.Response[rolesv1.ListPermissionsResponse], error) {
	if req.Msg.PageSize != nil && req.Msg.GetPageSize() == 0 { // the wire rule: 1 to 100 when given
		var v roster.Violations
		v.Add("page_size", "uint32.gte", "must be at least 1")
		return nil, v.Err()
	}
	list, err := h.dir.ListPermissions(ctx, environment(ctx), directory.PageInput{PageSize: int(req.Msg.GetPageSize()), PageToken: req.Msg.GetPageToken()})
	if err != nil {
		return nil, err
	}
	out := make([]*rolesv1.Permission, len(list.Items))
	for i, p := range list.Items {
		out[i] = permissionToProto(p)
	}
	return connect.NewResponse(&rolesv1.ListPermissionsResponse{Permissions: out, NextPageToken: list.NextToken,
		PrevPageToken: list.PrevToken, TotalSize: uint32(list.Total)}), nil
}

func (h *roles) DeletePermission(ctx context.Context, req *connect.Request[rolesv1.DeletePermissionRequest]) (*connect.Response[emptypb.Empty], error) {
	if err := h.dir.DeletePermission(ctx, environment(ctx), req.Msg.GetPermissionName()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&emptypb.Empty{}), nil
}

func (h *roles) rolePermissions(ctx context.Context, r roster.Role) ([]*rolesv1.Permission, error) {
	out := []*rolesv1.Permission{}
	for _, name := range r.Permissions {
		p, err := h.dir.GetPermission(ctx, environment(ctx), name)
		if err != nil {
			return nil, err
		}
		out = append(out, permissionToProto(p))
	}
	return out, nil
}

func (h *roles) ListRolePermissions(ctx context.Context, req *connect.Request[rolesv1.ListRolePermissionsRequest]) (*connect.Response[rolesv1.ListRolePermissionsResponse], error) {
	r, err := h.dir.GetRole(ctx, environment(ctx), "", req.Msg.GetRoleName())
	if err != nil {
		return nil, err
	}
	perms, err := h.rolePermissions(ctx, r)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rolesv1.ListRolePermissionsResponse{Permissions: perms}), nil
}

// ListEffectiveRolePermissions equals ListRolePermissions while roles cannot extend others.
func (h *roles) ListEffectiveRolePermissions(ctx context.Context, req *connect.Request[rolesv1.ListEffectiveRolePermissionsRequest]) (*connect.Response[rolesv1.ListEffectiveRolePermissionsResponse], error) {
	res, err := h.ListRolePermissions(ctx, connect.NewRequest(&rolesv1.ListRolePermissionsRequest{RoleName: req.Msg.GetRoleName()}))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rolesv1.ListEffectiveRolePermissionsResponse{Permissions: res.Msg.GetPermissions()}), nil
}

func (h *roles) AddPermissionsToRole(ctx context.Context, req *connect.Request[rolesv1.AddPermissionsToRoleRequest]) (*connect.Response[rolesv1.AddPermissionsToRoleResponse], error) {
	r, err := h.dir.AddPermissionsToRole(ctx, environment(ctx), req.Msg.GetRoleName(), req.Msg.GetPermissionNames())
	if err != nil {
		return nil, err
	}
	perms, err := h.rolePermissions(ctx, r)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rolesv1.AddPermissionsToRoleResponse{Permissions: perms}), nil
}

func (h *roles) RemovePermissionFromRole(ctx context.Context, req *connect.Request[rolesv1.RemovePermissionFromRoleRequest]) (*connect.Response[emptypb.Empty], error) {
	if err := h.dir.RemovePermissionFromRole(ctx, environment(ctx), req.Msg.GetRoleName(), req.Msg.GetPermissionName()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&emptypb.Empty{}), nil
}

func (h *roles) roleToProto(ctx context.Context, r roster.Role) (*rolesv1.Role, error) {
	def, err := h.dir.DefaultMemberRole(ctx, environment(ctx))
	if err != nil {
		return nil, err
	}
	perms := make([]*rolesv1.RolePermission, 0, len(r.Permissions))
	for _, name := range r.Permissions {
		p, err := h.dir.GetPermission(ctx, environment(ctx), name)
		if err != nil {
			return nil, err
		}
		perms = append(perms, &rolesv1.RolePermission{Id: p.ID, Name: p.Name, Description: p.Description,
			CreateTime: timestamppb.New(p.CreateTime), UpdateTime: timestamppb.New(p.UpdateTime), RoleName: r.Name})
	}
	return roleMessage(r, r.OrganizationID == "" && r.Name == def, perms), nil
}

// roleMessage shows a role with what the caller looked up beside it: whether it is the
// environment's default member role, and its permissions.
func roleMessage(r roster.Role, defaultMember bool, perms []*rolesv1.RolePermission) *rolesv1.Role {
	return &rolesv1.Role{
		Id: r.ID, Name: r.Name, DisplayName: r.DisplayName, Description: r.Description,
		DefaultMember: defaultMember, IsOrgRole: r.OrganizationID != "", Permissions: perms,
	}
}

func permissionToProto(p roster.Permission) *rolesv1.Permission {
	return &rolesv1.Permission{Id: p.ID, Name: p.Name, Description: p.Description,
		CreateTime: timestamppb.New(p.CreateTime), UpdateTime: timestamppb.New(p.UpdateTime)}
}
