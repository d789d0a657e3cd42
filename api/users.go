package api

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/gen/scalekit/v1/commons"
	usersv1 "github.com/rosterhq/roster/gen/scalekit/v1/users"
	"github.com/rosterhq/roster/gen/scalekit/v1/users/usersconnect"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// users implements scalekit.v1.users.UserService.
type users struct {
	usersconnect.UnimplementedUserServiceHandler
	dir *directory.Service
}

func (h *users) CreateUserAndMembership(ctx context.Context, req *connect.Request[usersv1.CreateUserAndMembershipRequest]) (*connect.Response[usersv1.CreateUserAndMembershipResponse], error) {
	in := req.Msg.GetUser()
	if in == nil {
		return nil, required("user")
	}
	nm := directory.NewMembership{MembershipInput: membershipInput(in.GetMembership().GetRoles(), in.GetMembership().GetMetadata(), in.GetMembership().GetInviterEmail()),
		SendInvitation: req.Msg.SendInvitationEmail}
	u, err := h.dir.CreateUserAndMembership(ctx, environment(ctx), req.Msg.GetOrganizationId(), roster.NewUser{
		Email: in.GetEmail(), ExternalID: in.GetExternalId(), Metadata: in.GetMetadata(), Profile: createProfilePatch(in.GetUserProfile()),
	}, nm)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&usersv1.CreateUserAndMembershipResponse{User: userToProto(u)}), nil
}

func (h *users) GetUser(ctx context.Context, req *connect.Request[usersv1.GetUserRequest]) (*connect.Response[usersv1.GetUserResponse], error) {
	u, err := h.dir.GetUser(ctx, environment(ctx), roster.UserRef{ID: req.Msg.GetId(), ExternalID: req.Msg.GetExternalId()})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&usersv1.GetUserResponse{User: userToProto(u)}), nil
}

func (h *users) UpdateUser(ctx context.Context, req *connect.Request[usersv1.UpdateUserRequest]) (*connect.Response[usersv1.UpdateUserResponse], error) {
	in := req.Msg.GetUser()
	if in == nil {
		return nil, required("user")
	}
	u, err := h.dir.UpdateUser(ctx, environment(ctx), roster.UserRef{ID: req.Msg.GetId(), ExternalID: req.Msg.GetExternalId()}, roster.UserPatch{
		ExternalID: in.ExternalId, Metadata: in.GetMetadata(), Profile: updateProfilePatch(in.GetUserProfile()),
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&usersv1.UpdateUserResponse{User: userToProto(u)}), nil
}

func (h *users) DeleteUser(ctx context.Context, req *connect.Request[usersv1.DeleteUserRequest]) (*connect.Response[emptypb.Empty], error) {
	if err := h.dir.DeleteUser(ctx, environment(ctx), roster.UserRef{ID: req.Msg.GetId(), ExternalID: req.Msg.GetExternalId()}); err != nil {
		return nil, err
	}
	return connect.NewResponse(&emptypb.Empty{}), nil
}

func (h *users) ListUsers(ctx context.Context, req *connect.Request[usersv1.ListUsersRequest]) (*connect.Response[usersv1.ListUsersResponse], error) {
	l, err := h.dir.ListUsers(ctx, environment(ctx), directory.ListUsersInput{PageInput: pageInput(req.Msg.GetPageSize(), req.Msg.GetPageToken())})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&usersv1.ListUsersResponse{Users: usersToProto(l.Items), NextPageToken: l.NextToken, PrevPageToken: l.PrevToken, TotalSize: uint32(l.Total)}), nil
}

func (h *users) ListOrganizationUsers(ctx context.Context, req *connect.Request[usersv1.ListOrganizationUsersRequest]) (*connect.Response[usersv1.ListOrganizationUsersResponse], error) {
	if req.Msg.GetOrganizationId() == "" {
		return nil, required("organization_id")
	}
	l, err := h.dir.ListUsers(ctx, environment(ctx), directory.ListUsersInput{
		PageInput: pageInput(req.Msg.GetPageSize(), req.Msg.GetPageToken()), OrganizationID: req.Msg.GetOrganizationId(),
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&usersv1.ListOrganizationUsersResponse{Users: usersToProto(l.Items), NextPageToken: l.NextToken, PrevPageToken: l.PrevToken, TotalSize: uint32(l.Total)}), nil
}

func (h *users) SearchUsers(ctx context.Context, req *connect.Request[usersv1.SearchUsersRequest]) (*connect.Response[usersv1.SearchUsersResponse], error) {
	q := req.Msg.GetQuery()
	l, err := h.dir.ListUsers(ctx, environment(ctx), directory.ListUsersInput{PageInput: pageInput(req.Msg.GetPageSize(), req.Msg.GetPageToken()), Query: &q})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&usersv1.SearchUsersResponse{Users: usersToProto(l.Items), NextPageToken: l.NextToken, PrevPageToken: l.PrevToken, TotalSize: uint32(l.Total)}), nil
}

func (h *users) SearchOrganizationUsers(ctx context.Context, req *connect.Request[usersv1.SearchOrganizationUsersRequest]) (*connect.Response[usersv1.SearchOrganizationUsersResponse], error) {
	if req.Msg.GetOrganizationId() == "" {
		return nil, required("organization_id")
	}
	q := req.Msg.GetQuery()
	l, err := h.dir.ListUsers(ctx, environment(ctx), directory.ListUsersInput{
		PageInput: pageInput(req.Msg.GetPageSize(), req.Msg.GetPageToken()), OrganizationID: req.Msg.GetOrganizationId(), Query: &q,
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&usersv1.SearchOrganizationUsersResponse{Users: usersToProto(l.Items), NextPageToken: l.NextToken, PrevPageToken: l.PrevToken, TotalSize: uint32(l.Total)}), nil
}

func (h *users) CreateMembership(ctx context.Context, req *connect.Request[usersv1.CreateMembershipRequest]) (*connect.Response[usersv1.CreateMembershipResponse], error) {
	m := req.Msg.GetMembership()
	if m == nil {
		return nil, required("membership")
	}
	u, err := h.dir.CreateMembership(ctx, environment(ctx), req.Msg.GetOrganizationId(), roster.UserRef{ID: req.Msg.GetId(), ExternalID: req.Msg.GetExternalId()},
		directory.NewMembership{MembershipInput: membershipInput(m.GetRoles(), m.GetMetadata(), m.GetInviterEmail()), SendInvitation: req.Msg.SendInvitationEmail})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&usersv1.CreateMembershipResponse{User: userToProto(u)}), nil
}

func (h *users) UpdateMembership(ctx context.Context, req *connect.Request[usersv1.UpdateMembershipRequest]) (*connect.Response[usersv1.UpdateMembershipResponse], error) {
	m := req.Msg.GetMembership()
	if m == nil {
		return nil, required("membership")
	}
	u, err := h.dir.UpdateMembership(ctx, environment(ctx), req.Msg.GetOrganizationId(), roster.UserRef{ID: req.Msg.GetId(), ExternalID: req.Msg.GetExternalId()},
		membershipInput(m.GetRoles(), m.GetMetadata(), ""))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&usersv1.UpdateMembershipResponse{User: userToProto(u)}), nil
}

func (h *users) DeleteMembership(ctx context.Context, req *connect.Request[usersv1.DeleteMembershipRequest]) (*connect.Response[emptypb.Empty], error) {
	if err := h.dir.DeleteMembership(ctx, environment(ctx), req.Msg.GetOrganizationId(), roster.UserRef{ID: req.Msg.GetId(), ExternalID: req.Msg.GetExternalId()}, req.Msg.Cascade); err != nil {
		return nil, err
	}
	return connect.NewResponse(&emptypb.Empty{}), nil
}

func (h *users) ResendInvite(ctx context.Context, req *connect.Request[usersv1.ResendInviteRequest]) (*connect.Response[usersv1.ResendInviteResponse], error) {
	m, u, err := h.dir.ResendInvite(ctx, environment(ctx), req.Msg.GetOrganizationId(), req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	inv := &usersv1.Invite{
		OrganizationId: m.OrganizationID, UserId: u.ID, InviterEmail: m.InviterEmail,
		// The enum's name, as membership_status spells it: both official SDKs expect it.
		Status:    commons.MembershipStatus_PENDING_INVITE.String(),
		CreatedAt: timestamppb.New(m.CreateTime), ResentCount: int32(m.InviteResentCount),
	}
	if m.ExpireTime != nil {
		inv.ExpiresAt = timestamppb.New(*m.ExpireTime)
	}
	if m.InviteResentTime != nil {
		inv.ResentAt = timestamppb.New(*m.InviteResentTime)
	}
	return connect.NewResponse(&usersv1.ResendInviteResponse{Invite: inv}), nil
}

func (h *users) ListUserRoles(ctx context.Context, req *connect.Request[usersv1.ListUserRolesRequest]) (*connect.Response[usersv1.ListUserRolesResponse], error) {
	roles, err := h.dir.UserRoles(ctx, environment(ctx), req.Msg.GetOrganizationId(), req.Msg.GetUserId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&usersv1.ListUserRolesResponse{Roles: roleRefsToProto(roles)}), nil
}

func (h *users) AssignUserRoles(ctx context.Context, req *connect.Request[usersv1.AssignUserRolesRequest]) (*connect.Response[usersv1.AssignUserRolesResponse], error) {
	var names []string
	for _, r := range req.Msg.GetRoles() {
		names = append(names, r.GetRoleName())
	}
	roles, err := h.dir.AssignUserRoles(ctx, environment(ctx), req.Msg.GetOrganizationId(), req.Msg.GetUserId(), names)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&usersv1.AssignUserRolesResponse{Roles: roleRefsToProto(roles)}), nil
}

func (h *users) RemoveUserRole(ctx context.Context, req *connect.Request[usersv1.RemoveUserRoleRequest]) (*connect.Response[emptypb.Empty], error) {
	if err := h.dir.RemoveUserRole(ctx, environment(ctx), req.Msg.GetOrganizationId(), req.Msg.GetUserId(), req.Msg.GetRoleName()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&emptypb.Empty{}), nil
}

func (h *users) ListUserPermissions(ctx context.Context, req *connect.Request[usersv1.ListUserPermissionsRequest]) (*connect.Response[usersv1.ListUserPermissionsResponse], error) {
	perms, err := h.dir.UserPermissions(ctx, environment(ctx), req.Msg.GetOrganizationId(), req.Msg.GetUserId())
	if err != nil {
		return nil, err
	}
	out := make([]*usersv1.Permission, len(perms))
	for i, p := range perms {
		out[i] = &usersv1.Permission{Id: p.ID, Name: p.Name, Description: p.Description, Tags: []string{}}
	}
	return connect.NewResponse(&usersv1.ListUserPermissionsResponse{Permissions: out}), nil
}

func (h *users) GetCurrentUser(context.Context, *connect.Request[usersv1.GetCurrentUserRequest]) (*connect.Response[usersv1.GetCurrentUserResponse], error) {
	return nil, roster.Errorf(roster.EUnimplemented, "the current user needs a user session; Roster's API tokens belong to API clients, not users")
}

func (h *users) GetSupportHash(context.Context, *connect.Request[emptypb.Empty]) (*connect.Response[usersv1.GetSupportHashResponse], error) {
	return nil, notYet("support hashes")
}

func membershipInput(roles []*commons.Role, metadata map[string]string, inviter string) roster.MembershipInput {
	in := roster.MembershipInput{Metadata: metadata, InviterEmail: inviter}
	for _, r := range roles {
		in.Roles = append(in.Roles, r.GetName())
	}
	return in
}

// createProfilePatch maps a CreateUserProfile. The SDKs send names in the deprecated
// first_name/last_name fields; given_name/family_name win when both are set.
func createProfilePatch(p *usersv1.CreateUserProfile) roster.ProfilePatch {
	if p == nil {
		return roster.ProfilePatch{}
	}
	return roster.ProfilePatch{
		GivenName: nameOf(p.GetGivenName(), p.GetFirstName()), FamilyName: nameOf(p.GetFamilyName(), p.GetLastName()),
		Name: nonEmpty(p.GetName()), Locale: nonEmpty(p.GetLocale()), PhoneNumber: nonEmpty(p.GetPhoneNumber()),
		PreferredUsername: nonEmpty(p.GetPreferredUsername()), Picture: p.Picture, Gender: p.Gender, Groups: p.GetGroups(),
		Metadata: p.GetMetadata(), CustomAttributes: p.GetCustomAttributes(),
	}
}

// nonEmpty is s as a set field, or nil (not given) when it is empty.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// nameOf is a name given in its current field, else in its deprecated twin (first_name,
// last_name), else nil.
func nameOf(current, deprecated string) *string {
	if current != "" {
		return &current
	}
	return nonEmpty(deprecated)
}

// updateProfilePatch maps an UpdateUserProfile: unset optional fields stay unchanged.
func updateProfilePatch(p *usersv1.UpdateUserProfile) roster.ProfilePatch {
	if p == nil {
		return roster.ProfilePatch{}
	}
	given, family := p.GivenName, p.FamilyName
	if given == nil {
		given = p.FirstName
	}
	if family == nil {
		family = p.LastName
	}
	return roster.ProfilePatch{
		GivenName: given, FamilyName: family, Name: p.Name, Locale: p.Locale, PhoneNumber: p.PhoneNumber,
		PreferredUsername: p.PreferredUsername, Picture: p.Picture, Gender: p.Gender, Groups: p.GetGroups(),
		Metadata: p.GetMetadata(), CustomAttributes: p.GetCustomAttributes(),
	}
}

var membershipStatuses = map[roster.MembershipStatus]commons.MembershipStatus{
	roster.MembershipActive:        commons.MembershipStatus_ACTIVE,
	roster.MembershipInactive:      commons.MembershipStatus_INACTIVE,
	roster.MembershipPendingInvite: commons.MembershipStatus_PENDING_INVITE,
	roster.MembershipInviteExpired: commons.MembershipStatus_INVITE_EXPIRED,
}

func userToProto(u roster.User) *usersv1.User {
	return newUserArena([]roster.User{u}).user(u)
}

// usersToProto converts a page of users with a handful of allocations in all: every message
// of the page comes out of one userArena.
func usersToProto(in []roster.User) []*usersv1.User {
	out := make([]*usersv1.User, len(in))
	a := newUserArena(in)
	for i, u := range in {
		out[i] = a.user(u)
	}
	return out
}

// userArena holds the backing arrays of the messages that a set of users converts to, sized
// up front, so that a page of 100 users costs about ten allocations instead of some twenty per
// user (each message, timestamp and optional string on its own). The page's messages live and
// die together, so one array per kind keeps nothing alive for longer than the answer.
type userArena struct {
	users    []usersv1.User
	profiles []commons.UserProfile
	ms       []commons.OrganizationMembership
	msPtrs   []*commons.OrganizationMembership
	roles    []commons.Role
	rolePtrs []*commons.Role
	times    []timestamppb.Timestamp
	strs     []string // a membership's name and provisioning method, for their pointers
}

func newUserArena(in []roster.User) *userArena {
	var nm, nr, nt int
	for _, u := range in {
		nt += 2
		if u.LastLoginTime != nil {
			nt++
		}
		nt += 3 * len(u.Identities)
		nm += len(u.Memberships)
		for _, m := range u.Memberships {
			nr += len(m.Roles)
			nt += 2
			if m.AcceptTime != nil {
				nt++
			}
			if m.ExpireTime != nil {
				nt++
			}
		}
	}
	return &userArena{
		users: make([]usersv1.User, 0, len(in)), profiles: make([]commons.UserProfile, 0, len(in)),
		ms: make([]commons.OrganizationMembership, 0, nm), msPtrs: make([]*commons.OrganizationMembership, 0, nm),
		roles: make([]commons.Role, 0, nr), rolePtrs: make([]*commons.Role, 0, nr),
		times: make([]timestamppb.Timestamp, 0, nt), strs: make([]string, 0, 2*nm),
	}
}

// time is timestamppb.New out of the arena.
func (a *userArena) time(t time.Time) *timestamppb.Timestamp {
	a.times = append(a.times, timestamppb.Timestamp{Seconds: t.Unix(), Nanos: int32(t.Nanosecond())})
	return &a.times[len(a.times)-1]
}

// str returns a pointer to a copy of s out of the arena.
func (a *userArena) str(s string) *string {
	a.strs = append(a.strs, s)
	return &a.strs[len(a.strs)-1]
}

// user converts u; the arena must have been sized for it (newUserArena).
func (a *userArena) user(u roster.User) *usersv1.User {
	p := u.Profile
	groups := p.Groups
	if groups == nil {
		groups = []string{}
	}
	a.profiles = append(a.profiles, commons.UserProfile{
		Id: u.ProfileID(), GivenName: p.GivenName, FamilyName: p.FamilyName, Name: p.Name, Locale: p.Locale,
		EmailVerified: p.EmailVerified, PhoneNumber: p.PhoneNumber, Metadata: nonNilMap(p.Metadata),
		CustomAttributes: nonNilMap(p.CustomAttributes), FirstName: p.GivenName, LastName: p.FamilyName,
		PreferredUsername: p.PreferredUsername, PhoneNumberVerified: p.PhoneNumberVerified, Picture: p.Picture,
		Groups: groups, Gender: p.Gender, ExternalIdentities: a.externalIdentities(u.Identities),
	})
	a.users = append(a.users, usersv1.User{
		Id: u.ID, EnvironmentId: u.EnvironmentID, CreateTime: a.time(u.CreateTime), UpdateTime: a.time(u.UpdateTime),
		Email: u.Email, ExternalId: u.ExternalID, Metadata: nonNilMap(u.Metadata),
		UserProfile: &a.profiles[len(a.profiles)-1],
	})
	out := &a.users[len(a.users)-1]
	if u.LastLoginTime != nil {
		out.LastLoginTime = a.time(*u.LastLoginTime)
	}
	first := len(a.msPtrs)
	now := timeNow()
	for i := range u.Memberships {
		m := &u.Memberships[i] // read only: the user may be shared (store.Store)
		a.ms = append(a.ms, commons.OrganizationMembership{
			OrganizationId: m.OrganizationID, JoinTime: a.time(m.CreateTime),
			MembershipStatus: membershipStatuses[m.EffectiveStatus(now)], Roles: a.roleRefs(m.Roles),
			Metadata: nonNilMap(m.Metadata), InviterEmail: m.InviterEmail,
			CreatedAt: a.time(m.CreateTime), ProvisioningMethod: a.str(m.ProvisioningMethod), Permissions: []string{},
		})
		pm := &a.ms[len(a.ms)-1]
		pm.Name = a.str(m.OrganizationName)
		pm.DisplayName = pm.Name
		if m.AcceptTime != nil {
			pm.AcceptedAt = a.time(*m.AcceptTime)
		}
		if m.ExpireTime != nil {
			pm.ExpiresAt = a.time(*m.ExpireTime)
		}
		a.msPtrs = append(a.msPtrs, pm)
	}
	out.Memberships = a.msPtrs[first:len(a.msPtrs):len(a.msPtrs)]
	return out
}

func (a *userArena) roleRefs(in []roster.RoleRef) []*commons.Role {
	first := len(a.rolePtrs)
	for _, r := range in {
		a.roles = append(a.roles, commons.Role{Id: r.ID, Name: r.Name, DisplayName: r.DisplayName})
		a.rolePtrs = append(a.rolePtrs, &a.roles[len(a.roles)-1])
	}
	return a.rolePtrs[first:len(a.rolePtrs):len(a.rolePtrs)]
}

// externalIdentities shows a user's accounts at identity providers (one per SSO connection
// they signed in through).
func (a *userArena) externalIdentities(ids []roster.Identity) []*commons.ExternalIdentity {
	out := make([]*commons.ExternalIdentity, 0, len(ids))
	for _, i := range ids {
		out = append(out, &commons.ExternalIdentity{
			ConnectionId: i.ConnectionID, ConnectionType: string(i.ConnectionType),
			ConnectionProvider: commons.IdentityProviderType(commons.IdentityProviderType_value[i.Provider]),
			ConnectionUserId:   i.Subject, LastLoginTime: a.time(i.LastLoginTime), CreatedTime: a.time(i.CreateTime),
			LastSyncedTime: a.time(i.LastLoginTime),
		})
	}
	return out
}

func roleRefsToProto(in []roster.RoleRef) []*commons.Role {
	out := make([]*commons.Role, len(in))
	for i, r := range in {
		out[i] = &commons.Role{Id: r.ID, Name: r.Name, DisplayName: r.DisplayName}
	}
	return out
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
