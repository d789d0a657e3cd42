package api

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	dirv1 "github.com/rosterhq/roster/gen/scalekit/v1/directories"
	"github.com/rosterhq/roster/gen/scalekit/v1/directories/directoriesconnect"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// directories implements scalekit.v1.directories.DirectoryService: an organization's SCIM
// directories, their secrets, mappings and what their identity providers provisioned
// (docs/directories.md). Directory contexts, sync triggers, tracked-group selection and the
// groups summary answer UNIMPLEMENTED.
type directories struct {
	directoriesconnect.UnimplementedDirectoryServiceHandler
	dir *directory.Service
	// issuer is Roster's public URL: the base of each directory's SCIM endpoint.
	issuer string
}

func (h *directories) CreateDirectory(ctx context.Context, req *connect.Request[dirv1.CreateDirectoryRequest]) (*connect.Response[dirv1.CreateDirectoryResponse], error) {
	in := req.Msg.GetDirectory()
	if in == nil {
		return nil, required("directory")
	}
	var typ roster.DirectoryType
	if t := in.GetDirectoryType(); t != dirv1.DirectoryType_DIRECTORY_TYPE_UNSPECIFIED {
		typ = roster.DirectoryType(t.String())
	}
	provider := ""
	if p := in.GetDirectoryProvider(); p != dirv1.DirectoryProvider_DIRECTORY_PROVIDER_UNSPECIFIED {
		provider = p.String()
	}
	d, err := h.dir.CreateDirectory(ctx, environment(ctx), req.Msg.GetOrganizationId(), typ, provider)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&dirv1.CreateDirectoryResponse{Directory: h.toProto(d)}), nil
}

func (h *directories) GetDirectory(ctx context.Context, req *connect.Request[dirv1.GetDirectoryRequest]) (*connect.Response[dirv1.GetDirectoryResponse], error) {
	d, err := h.dir.GetDirectory(ctx, environment(ctx), req.Msg.GetOrganizationId(), req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&dirv1.GetDirectoryResponse{Directory: h.toProto(d)}), nil
}

func (h *directories) ListDirectories(ctx context.Context, req *connect.Request[dirv1.ListDirectoriesRequest]) (*connect.Response[dirv1.ListDirectoriesResponse], error) {
	list, err := h.dir.ListDirectories(ctx, environment(ctx), req.Msg.GetOrganizationId())
	if err != nil {
		return nil, err
	}
	out := &dirv1.ListDirectoriesResponse{Directories: make([]*dirv1.Directory, 0, len(list))}
	for _, d := range list {
		out.Directories = append(out.Directories, h.toProto(d))
	}
	return connect.NewResponse(out), nil
}

// UpdateDirectory changes the name, provider and the (older) mappings list. `enabled` is a
// plain bool on the wire, so an update cannot tell "false" from "not sent": it is ignored here,
// and EnableDirectory / DisableDirectory change it. `status` is derived and ignored too.
func (h *directories) UpdateDirectory(ctx context.Context, req *connect.Request[dirv1.UpdateDirectoryRequest]) (*connect.Response[dirv1.UpdateDirectoryResponse], error) {
	in := req.Msg.GetDirectory()
	if in == nil {
		return nil, required("directory")
	}
	if len(in.GetGroups()) > 0 {
		return nil, roster.Errorf(roster.EUnimplemented, "Roster keeps every group the identity provider pushes; choosing tracked groups (directory.groups) is not supported")
	}
	var p roster.DirectoryPatch
	if in.GetName() != "" {
		p.Name = ptr(in.GetName())
	}
	if t := in.GetDirectoryType(); t != dirv1.DirectoryType_DIRECTORY_TYPE_UNSPECIFIED {
		p.Type = ptr(roster.DirectoryType(t.String()))
	}
	if pr := in.GetDirectoryProvider(); pr != dirv1.DirectoryProvider_DIRECTORY_PROVIDER_UNSPECIFIED {
		p.Provider = ptr(pr.String())
	}
	if len(in.GetMappings()) > 0 {
		for _, m := range in.GetMappings() {
			p.Mappings = append(p.Mappings, roster.DirectoryMapping{Key: m.GetKey(), MapTo: m.GetMapTo()})
		}
	}
	d, err := h.dir.UpdateDirectory(ctx, environment(ctx), req.Msg.GetOrganizationId(), req.Msg.GetId(), p)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&dirv1.UpdateDirectoryResponse{Directory: h.toProto(d)}), nil
}

func (h *directories) DeleteDirectory(ctx context.Context, req *connect.Request[dirv1.DeleteDirectoryRequest]) (*connect.Response[emptypb.Empty], error) {
	if err := h.dir.DeleteDirectory(ctx, environment(ctx), req.Msg.GetOrganizationId(), req.Msg.GetId()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&emptypb.Empty{}), nil
}

func (h *directories) EnableDirectory(ctx context.Context, req *connect.Request[dirv1.ToggleDirectoryRequest]) (*connect.Response[dirv1.ToggleDirectoryResponse], error) {
	return h.toggle(ctx, req.Msg, true)
}

func (h *directories) DisableDirectory(ctx context.Context, req *connect.Request[dirv1.ToggleDirectoryRequest]) (*connect.Response[dirv1.ToggleDirectoryResponse], error) {
	return h.toggle(ctx, req.Msg, false)
}

func (h *directories) toggle(ctx context.Context, m *dirv1.ToggleDirectoryRequest, on bool) (*connect.Response[dirv1.ToggleDirectoryResponse], error) {
	d, err := h.dir.SetDirectoryEnabled(ctx, environment(ctx), m.GetOrganizationId(), m.GetId(), on)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&dirv1.ToggleDirectoryResponse{Enabled: d.Enabled}), nil
}

func (h *directories) CreateDirectorySecret(ctx context.Context, req *connect.Request[dirv1.CreateDirectorySecretRequest]) (*connect.Response[dirv1.CreateDirectorySecretResponse], error) {
	sec, token, err := h.dir.CreateDirectorySecret(ctx, environment(ctx), req.Msg.GetOrganizationId(), req.Msg.GetDirectoryId(), false)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&dirv1.CreateDirectorySecretResponse{PlainSecret: token, Secret: secretToProto(sec)}), nil
}

func (h *directories) RegenerateDirectorySecret(ctx context.Context, req *connect.Request[dirv1.RegenerateDirectorySecretRequest]) (*connect.Response[dirv1.RegenerateDirectorySecretResponse], error) {
	sec, token, err := h.dir.CreateDirectorySecret(ctx, environment(ctx), req.Msg.GetOrganizationId(), req.Msg.GetDirectoryId(), true)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&dirv1.RegenerateDirectorySecretResponse{PlainSecret: token, Secret: secretToProto(sec)}), nil
}

func (h *directories) UpdateAttributes(ctx context.Context, req *connect.Request[dirv1.UpdateAttributesRequest]) (*connect.Response[dirv1.UpdateAttributesResponse], error) {
	m := []roster.DirectoryMapping{}
	for _, a := range req.Msg.GetAttributeMapping().GetAttributes() {
		m = append(m, roster.DirectoryMapping{Key: a.GetKey(), MapTo: a.GetMapTo()})
	}
	out, err := h.dir.UpdateDirectoryAttributes(ctx, environment(ctx), req.Msg.GetOrganizationId(), req.Msg.GetId(), m)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&dirv1.UpdateAttributesResponse{AttributeMappings: mappingsToProto(out)}), nil
}

func (h *directories) AssignRoles(ctx context.Context, req *connect.Request[dirv1.AssignRolesRequest]) (*connect.Response[dirv1.AssignRolesResponse], error) {
	a := []roster.DirectoryRoleAssignment{}
	for _, r := range req.Msg.GetRoleAssignments().GetAssignments() {
		a = append(a, roster.DirectoryRoleAssignment{GroupID: r.GetGroupId(), RoleName: r.GetRoleName(), RoleID: r.GetRoleId()})
	}
	out, err := h.dir.AssignDirectoryRoles(ctx, environment(ctx), req.Msg.GetOrganizationId(), req.Msg.GetId(), a)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&dirv1.AssignRolesResponse{RoleAssignments: assignmentsToProto(out)}), nil
}

func (h *directories) ListDirectoryUsers(ctx context.Context, req *connect.Request[dirv1.ListDirectoryUsersRequest]) (*connect.Response[dirv1.ListDirectoryUsersResponse], error) {
	m := req.Msg
	in := directory.DirectoryListInput{PageInput: pageInput(m.GetPageSize(), m.GetPageToken()), GroupID: m.GetDirectoryGroupId()}
	if m.UpdatedAfter != nil {
		in.UpdatedAfter = ptr(m.GetUpdatedAfter().AsTime())
	}
	page, err := h.dir.ListDirectoryUsers(ctx, environment(ctx), m.GetOrganizationId(), m.GetDirectoryId(), in)
	if err != nil {
		return nil, err
	}
	groups, err := h.dir.DirectoryUserGroups(ctx, environment(ctx), m.GetDirectoryId(), page.Items)
	if err != nil {
		return nil, err
	}
	out := &dirv1.ListDirectoryUsersResponse{Users: make([]*dirv1.DirectoryUser, 0, len(page.Items)), TotalSize: uint32(page.Total),
		NextPageToken: page.NextToken, PrevPageToken: page.PrevToken}
	for _, u := range page.Items {
		pu, err := directoryUserToProto(u, groups[u.ID], m.GetIncludeDetail())
		if err != nil {
			return nil, err
		}
		out.Users = append(out.Users, pu)
	}
	return connect.NewResponse(out), nil
}

func (h *directories) ListDirectoryGroups(ctx context.Context, req *connect.Request[dirv1.ListDirectoryGroupsRequest]) (*connect.Response[dirv1.ListDirectoryGroupsResponse], error) {
	m := req.Msg
	in := directory.DirectoryListInput{PageInput: pageInput(m.GetPageSize(), m.GetPageToken())}
	if m.UpdatedAfter != nil {
		in.UpdatedAfter = ptr(m.GetUpdatedAfter().AsTime())
	}
	page, err := h.dir.ListDirectoryGroups(ctx, environment(ctx), m.GetOrganizationId(), m.GetDirectoryId(), in)
	if err != nil {
		return nil, err
	}
	out := &dirv1.ListDirectoryGroupsResponse{Groups: make([]*dirv1.DirectoryGroup, 0, len(page.Items)), TotalSize: uint32(page.Total),
		NextPageToken: page.NextToken, PrevPageToken: page.PrevToken}
	for _, g := range page.Items {
		pg, err := directoryGroupToProto(g, m.GetIncludeDetail())
		if err != nil {
			return nil, err
		}
		out.Groups = append(out.Groups, pg)
	}
	return connect.NewResponse(out), nil
}

func (h *directories) AssignGroupsForDirectory(context.Context, *connect.Request[dirv1.AssignGroupsForDirectoryRequest]) (*connect.Response[emptypb.Empty], error) {
	return nil, roster.Errorf(roster.EUnimplemented, "Roster keeps every group the identity provider pushes; choosing tracked groups is not supported")
}

func (h *directories) ListDirectoryGroupsSummary(context.Context, *connect.Request[dirv1.ListDirectoryGroupsSummaryRequest]) (*connect.Response[dirv1.ListDirectoryGroupsResponse], error) {
	return nil, roster.Errorf(roster.EUnimplemented, "ListDirectoryGroupsSummary is not served by Roster; use ListDirectoryGroups")
}

func (h *directories) TriggerDirectorySync(context.Context, *connect.Request[dirv1.TriggerDirectorySyncRequest]) (*connect.Response[emptypb.Empty], error) {
	return nil, roster.Errorf(roster.EUnimplemented, "Roster's SCIM directories are pushed to by the identity provider; there is no sync to trigger")
}

func (h *directories) GetDirectoryContext(context.Context, *connect.Request[dirv1.GetDirectoryContextRequest]) (*connect.Response[dirv1.GetDirectoryContextResponse], error) {
	return nil, roster.Errorf(roster.EUnimplemented, "directory contexts are not served by Roster")
}

func (h *directories) UpdateDirectoryContext(context.Context, *connect.Request[dirv1.UpdateDirectoryContextRequest]) (*connect.Response[emptypb.Empty], error) {
	return nil, roster.Errorf(roster.EUnimplemented, "directory contexts are not served by Roster")
}

func (h *directories) toProto(d directory.DirectoryDetail) *dirv1.Directory {
	return directoryToProto(d, h.issuer)
}

// directoryToProto shows a directory; issuer is the base of its SCIM endpoint.
func directoryToProto(d directory.DirectoryDetail, issuer string) *dirv1.Directory {
	out := &dirv1.Directory{
		Id: d.ID, Name: d.Name, DirectoryType: dirv1.DirectoryType(dirv1.DirectoryType_value[string(d.Type)]),
		OrganizationId: d.OrganizationID, Enabled: d.Enabled,
		DirectoryProvider: dirv1.DirectoryProvider(dirv1.DirectoryProvider_value[d.Provider]),
		DirectoryEndpoint: directory.SCIMEndpoint(issuer, d.ID),
		TotalUsers:        int32(d.Stats.Users), TotalGroups: int32(d.Stats.Groups),
		Secrets: make([]*dirv1.Secret, 0, len(d.Secrets)),
		Stats: &dirv1.Stats{TotalUsers: int32(d.Stats.Users), TotalGroups: int32(d.Stats.Groups),
			UserUpdatedAt: timeOrNil(d.Stats.UserUpdateTime), GroupUpdatedAt: timeOrNil(d.Stats.GroupUpdateTime)},
		RoleAssignments:   assignmentsToProto(d.RoleAssignments),
		AttributeMappings: mappingsToProto(d.Mappings),
		Status:            string(d.Status()),
		LastSyncedAt:      timeOrNil(d.LastSyncTime),
	}
	for _, s := range d.Secrets {
		out.Secrets = append(out.Secrets, secretToProto(s))
	}
	return out
}

func secretToProto(s roster.DirectorySecret) *dirv1.Secret {
	status := dirv1.SecretStatus_ACTIVE
	if !s.Active {
		status = dirv1.SecretStatus_INACTIVE
	}
	return &dirv1.Secret{Id: s.ID, CreateTime: timestamppb.New(s.CreateTime), SecretSuffix: s.Suffix, Status: status,
		ExpireTime: timeOrNil(s.ExpireTime), LastUsedTime: timeOrNil(s.LastUsedTime), DirectoryId: s.DirectoryID}
}

func mappingsToProto(m []roster.DirectoryMapping) *dirv1.AttributeMappings {
	out := &dirv1.AttributeMappings{Attributes: make([]*dirv1.AttributeMapping, 0, len(m))}
	for _, e := range m {
		out.Attributes = append(out.Attributes, &dirv1.AttributeMapping{Key: e.Key, MapTo: e.MapTo})
	}
	return out
}

func assignmentsToProto(a []roster.DirectoryRoleAssignment) *dirv1.RoleAssignments {
	out := &dirv1.RoleAssignments{Assignments: make([]*dirv1.RoleAssignment, 0, len(a))}
	for _, e := range a {
		out.Assignments = append(out.Assignments, &dirv1.RoleAssignment{GroupId: e.GroupID, RoleName: e.RoleName, RoleId: e.RoleID})
	}
	return out
}

func timeOrNil(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

// rawStruct is a stored raw SCIM resource as a Struct (include_detail).
func rawStruct(raw []byte) (*structpb.Struct, error) {
	s := &structpb.Struct{}
	if len(raw) == 0 {
		return s, nil
	}
	if err := s.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	return s, nil
}

// directoryUserToProto shows a directory user with its groups; detail adds the SCIM
// resource as the client wrote it (include_detail).
func directoryUserToProto(u roster.DirectoryUser, groups []roster.DirectoryGroup, detail bool) (*dirv1.DirectoryUser, error) {
	pu := &dirv1.DirectoryUser{Id: u.ID, Email: u.Email, PreferredUsername: u.PreferredUsername, GivenName: u.GivenName,
		FamilyName: u.FamilyName, UpdatedAt: timestamppb.New(u.UpdateTime), Emails: u.Emails}
	for _, g := range groups {
		pu.Groups = append(pu.Groups, &dirv1.DirectoryGroup{Id: g.ID, DisplayName: g.DisplayName, UpdatedAt: timestamppb.New(g.UpdateTime)})
	}
	if detail {
		var err error
		if pu.UserDetail, err = rawStruct(u.Raw); err != nil {
			return nil, err
		}
	}
	return pu, nil
}

// directoryGroupToProto shows a directory group; detail adds its SCIM resource.
func directoryGroupToProto(g roster.DirectoryGroup, detail bool) (*dirv1.DirectoryGroup, error) {
	pg := &dirv1.DirectoryGroup{Id: g.ID, DisplayName: g.DisplayName, TotalUsers: int32(g.MemberCount), UpdatedAt: timestamppb.New(g.UpdateTime)}
	if detail {
		var err error
		if pg.GroupDetail, err = rawStruct(g.Raw); err != nil {
			return nil, err
		}
	}
	return pg, nil
}
