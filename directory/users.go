package directory

import (
	"context"
	"errors"
	"sort"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// NewMembership says how a user joins an organization.
type NewMembership struct {
	roster.MembershipInput
	// SendInvitation makes the membership PENDING_INVITE and emails an invitation; nil means
	// true, Scalekit's documented default.
	SendInvitation *bool
}

// CreateUserAndMembership creates a user in an organization.
func (s *Service) CreateUserAndMembership(ctx context.Context, env roster.Environment, organizationID string, in roster.NewUser, nm NewMembership) (roster.User, error) {
	var v roster.Violations
	if organizationID == "" {
		v.Add("organization_id", "required", "is required")
	}
	if err := v.Err(); err != nil {
		return roster.User{}, err
	}
	if err := in.Validate(); err != nil {
		return roster.User{}, err
	}
	if err := nm.Validate("user.membership", false); err != nil {
		return roster.User{}, err
	}
	// The default member role, when no roles are given, is read by the store's write
	// (store.DefaultMemberRole): a round trip fewer than newMembership's read before it.
	m, err := s.buildMembership(ctx, env, organizationID, nm, true)
	if err != nil {
		return roster.User{}, err
	}
	u := in.Build(s.ids.New(roster.PrefixUser), env.ID, s.now())
	created, err := s.store.CreateUser(ctx, u, &m, checkAttributes)
	if e := (*store.NoDefaultRoleError)(nil); errors.As(err, &e) {
		return roster.User{}, missingRoles("membership.roles", []string{e.Name})
	}
	if err != nil {
		return roster.User{}, err
	}
	s.invite(ctx, created, organizationID, false)
	return created, nil
}

// newMembership builds a membership: its roles (the default member role when none are
// given) and its status.
func (s *Service) newMembership(ctx context.Context, env roster.Environment, organizationID string, nm NewMembership) (roster.Membership, error) {
	return s.buildMembership(ctx, env, organizationID, nm, false)
}

// buildMembership is newMembership; with storeDefault, the default member role is left to the
// store (store.DefaultMemberRole).
func (s *Service) buildMembership(ctx context.Context, env roster.Environment, organizationID string, nm NewMembership, storeDefault bool) (roster.Membership, error) {
	var roles []roster.RoleRef
	if len(nm.Roles) == 0 && storeDefault {
		roles = []roster.RoleRef{store.DefaultMemberRole}
	} else if len(nm.Roles) == 0 {
		role, name, ok, err := s.store.ResolveDefaultMemberRole(ctx, env.ID, organizationID)
		if err != nil {
			return roster.Membership{}, err
		}
		if !ok {
			return roster.Membership{}, missingRoles("membership.roles", []string{name})
		}
		roles = []roster.RoleRef{role}
	} else {
		var err error
		if roles, err = s.resolveRoles(ctx, env, organizationID, nm.Roles, "membership.roles"); err != nil {
			return roster.Membership{}, err
		}
	}
	now := s.now()
	m := roster.Membership{
		OrganizationID: organizationID, Roles: roles, Metadata: roster.MergeMetadata(nil, nm.Metadata),
		CreateTime: now, UpdateTime: now,
	}
	if nm.InviterEmail != "" {
		m.InviterEmail = &nm.InviterEmail
	}
	if nm.SendInvitation == nil || *nm.SendInvitation {
		expires := now.Add(roster.InvitationLifetime)
		m.Status, m.ExpireTime, m.ProvisioningMethod = roster.MembershipPendingInvite, &expires, roster.ProvisionedInvitation
	} else {
		m.Status, m.AcceptTime, m.ProvisioningMethod = roster.MembershipActive, &now, roster.ProvisionedDirect
	}
	return m, nil
}

// checkAttributes checks a profile's custom attributes against their definitions (an empty
// map still has to hold the required attributes).
func checkAttributes(u *roster.User, defs store.AttributeDefs) error {
	d, err := defs()
	if err != nil {
		return err
	}
	return roster.CheckCustomAttributes("user.user_profile.custom_attributes", u.Profile.CustomAttributes, d)
}

// resolveRoles finds roles by name: an organization's own role first, then the environment's.
func (s *Service) resolveRoles(ctx context.Context, env roster.Environment, organizationID string, names []string, field string) ([]roster.RoleRef, error) {
	roles, missing, err := s.store.ResolveRoles(ctx, env.ID, organizationID, names)
	if err != nil {
		return nil, err
	}
	return roles, missingRoles(field, missing)
}

// missingRoles is the error for role names that match no role, or nil.
func missingRoles(field string, names []string) error {
	var v roster.Violations
	for _, name := range names {
		v.Add(field, "defined_role", "role %q does not exist in this environment or organization", name)
	}
	return v.Err()
}

// invite emails an invitation for a pending membership; a delivery failure is logged, the
// membership stays.
func (s *Service) invite(ctx context.Context, u roster.User, organizationID string, resent bool) {
	for _, m := range u.Memberships {
		if m.OrganizationID != organizationID || m.Status != roster.MembershipPendingInvite || m.ExpireTime == nil {
			continue
		}
		inv := Invitation{Email: u.Email, UserID: u.ID, OrganizationID: organizationID, OrganizationName: m.OrganizationName,
			ExpireTime: *m.ExpireTime, Resent: resent}
		if m.InviterEmail != nil {
			inv.InviterEmail = *m.InviterEmail
		}
		if s.mailer == nil {
			s.log.InfoContext(ctx, "invitation recorded; no email sent because no SMTP server is configured (--smtp-url)",
				"user_id", u.ID, "organization_id", organizationID)
			return
		}
		if err := s.mailer.SendInvitation(ctx, inv); err != nil {
			s.log.ErrorContext(ctx, "invitation email failed", "user_id", u.ID, "organization_id", organizationID, "err", err)
		}
	}
}

// GetUser finds a user by ID or external ID.
func (s *Service) GetUser(ctx context.Context, env roster.Environment, ref roster.UserRef) (roster.User, error) {
	if err := checkUserRef(ref); err != nil {
		return roster.User{}, err
	}
	return s.store.GetUser(ctx, env.ID, ref)
}

// UpdateUser patches a user and their profile.
func (s *Service) UpdateUser(ctx context.Context, env roster.Environment, ref roster.UserRef, p roster.UserPatch) (roster.User, error) {
	if err := checkUserRef(ref); err != nil {
		return roster.User{}, err
	}
	if err := p.Validate(); err != nil {
		return roster.User{}, err
	}
	now := s.now()
	return s.store.UpdateUser(ctx, env.ID, ref, func(u *roster.User, defs store.AttributeDefs) error {
		if err := p.Apply(u, now); err != nil {
			return err
		}
		if len(p.Profile.CustomAttributes) == 0 {
			return nil // stored values were valid when written; a definition change checks them itself
		}
		return checkAttributes(u, defs)
	})
}

// DeleteUser removes a user and their memberships.
func (s *Service) DeleteUser(ctx context.Context, env roster.Environment, ref roster.UserRef) error {
	if err := checkUserRef(ref); err != nil {
		return err
	}
	return s.store.DeleteUser(ctx, env.ID, ref)
}

// ListUsersInput is a list or search of users, in the environment or one organization.
type ListUsersInput struct {
	PageInput
	OrganizationID string
	Query          *string
	// CountUpTo, when above 0, stops the total at that many (List.TotalAtLeast): the
	// dashboard's "1,000+". The API counts every match (0).
	CountUpTo int
}

// ListUsers lists or searches users page by page.
func (s *Service) ListUsers(ctx context.Context, env roster.Environment, in ListUsersInput) (List[roster.User], error) {
	var v roster.Violations
	strict := 0
	fingerprint := "users"
	if in.OrganizationID != "" {
		strict = MaxPageSize // ListOrganizationUsers: page_size <= 100 on the wire
		fingerprint += "\x00org=" + in.OrganizationID
	}
	p := newPager(env, in.PageInput, fingerprint, in.Query, strict, &v)
	if err := v.Err(); err != nil {
		return List[roster.User]{}, err
	}
	q := store.UserQuery{OrganizationID: in.OrganizationID, Page: p.query, CountUpTo: in.CountUpTo}
	switch {
	case in.Query == nil:
	case roster.IsEmailAddress(*in.Query):
		// A complete address finds that user through the unique email index: looking a user
		// up by email costs what a lookup by ID does (docs/pagination.md).
		q.EmailKey = roster.EmailKey(*in.Query)
	default:
		// Emails are keyed in NFC (docs/users.md): part of an address typed in another form
		// finds them too.
		q.Search = roster.NormalizeEmail(*in.Query)
	}
	page, err := s.store.ListUsers(ctx, env.ID, q)
	if err != nil {
		return List[roster.User]{}, err
	}
	if in.OrganizationID != "" && len(page.Items) == 0 {
		// An unknown organization is an error, not an empty page. A page with members needs
		// no look-up: a membership (in this environment) means the organization exists, so
		// only an empty page reads it (a read less per page of members, issue 12).
		if _, err := s.store.GetOrganization(ctx, env.ID, roster.OrganizationRef{ID: in.OrganizationID}); err != nil {
			return List[roster.User]{}, err
		}
	}
	return list(p, page, func(u roster.User) string { return u.ID }, roster.PrefixUser), nil
}

// CreateMembership adds an existing user to an organization.
func (s *Service) CreateMembership(ctx context.Context, env roster.Environment, organizationID string, ref roster.UserRef, nm NewMembership) (roster.User, error) {
	if err := checkMembershipTarget(organizationID, ref); err != nil {
		return roster.User{}, err
	}
	if err := nm.Validate("membership", false); err != nil {
		return roster.User{}, err
	}
	m, err := s.newMembership(ctx, env, organizationID, nm)
	if err != nil {
		return roster.User{}, err
	}
	u, err := s.store.CreateMembership(ctx, env.ID, ref, m)
	if err != nil {
		return roster.User{}, err
	}
	s.invite(ctx, u, organizationID, false)
	return u, nil
}

// UpdateMembership changes a membership's roles (replacing them, when any are given) and
// merges its metadata.
func (s *Service) UpdateMembership(ctx context.Context, env roster.Environment, organizationID string, ref roster.UserRef, in roster.MembershipInput) (roster.User, error) {
	if err := checkMembershipTarget(organizationID, ref); err != nil {
		return roster.User{}, err
	}
	if err := in.Validate("membership", true); err != nil {
		return roster.User{}, err
	}
	var roles []roster.RoleRef
	if len(in.Roles) > 0 {
		var err error
		if roles, err = s.resolveRoles(ctx, env, organizationID, in.Roles, "membership.roles"); err != nil {
			return roster.User{}, err
		}
	}
	now := s.now()
	return s.store.UpdateMembership(ctx, env.ID, organizationID, ref, func(m *roster.Membership) error {
		if roles != nil {
			m.Roles = roles
		}
		if len(in.Metadata) > 0 {
			m.Metadata = roster.MergeMetadata(m.Metadata, in.Metadata)
		}
		m.UpdateTime = now
		return roster.CheckMergedPairs("membership.metadata", "the membership", m.Metadata, roster.UserMetadataMaxPairs)
	})
}

// DeleteMembership removes a user from an organization. With cascade (nil means true, the
// documented default) a user left without memberships is deleted.
func (s *Service) DeleteMembership(ctx context.Context, env roster.Environment, organizationID string, ref roster.UserRef, cascade *bool) error {
	if err := checkMembershipTarget(organizationID, ref); err != nil {
		return err
	}
	_, err := s.store.DeleteMembership(ctx, env.ID, organizationID, ref, cascade == nil || *cascade)
	return err
}

// ResendInvite renews a pending or expired invitation and emails it again.
func (s *Service) ResendInvite(ctx context.Context, env roster.Environment, organizationID, userID string) (roster.Membership, roster.User, error) {
	if err := checkMembershipTarget(organizationID, roster.UserRef{ID: userID}); err != nil {
		return roster.Membership{}, roster.User{}, err
	}
	now := s.now()
	u, err := s.store.UpdateMembership(ctx, env.ID, organizationID, roster.UserRef{ID: userID}, func(m *roster.Membership) error {
		if st := m.EffectiveStatus(now); st != roster.MembershipPendingInvite && st != roster.MembershipInviteExpired {
			return roster.Errorf(roster.EFailedPrecondition, "the membership is %s; only a pending or expired invitation can be resent", st)
		}
		expires := now.Add(roster.InvitationLifetime)
		m.Status, m.ExpireTime, m.InviteResentTime = roster.MembershipPendingInvite, &expires, &now
		m.InviteResentCount++
		m.UpdateTime = now
		return nil
	})
	if err != nil {
		return roster.Membership{}, roster.User{}, err
	}
	s.invite(ctx, u, organizationID, true)
	for _, m := range u.Memberships {
		if m.OrganizationID == organizationID {
			return m, u, nil
		}
	}
	return roster.Membership{}, u, roster.Errorf(roster.EInternal, "membership vanished")
}

// membership returns a user's membership in an organization.
func (s *Service) membership(ctx context.Context, env roster.Environment, organizationID, userID string) (roster.Membership, error) {
	if err := checkMembershipTarget(organizationID, roster.UserRef{ID: userID}); err != nil {
		return roster.Membership{}, err
	}
	u, err := s.store.GetUser(ctx, env.ID, roster.UserRef{ID: userID})
	if err != nil {
		return roster.Membership{}, err
	}
	for _, m := range u.Memberships {
		if m.OrganizationID == organizationID {
			return m, nil
		}
	}
	return roster.Membership{}, roster.Errorf(roster.ENotFound, "membership not found")
}

// UserRoles returns the roles of a user in an organization.
func (s *Service) UserRoles(ctx context.Context, env roster.Environment, organizationID, userID string) ([]roster.RoleRef, error) {
	m, err := s.membership(ctx, env, organizationID, userID)
	return m.Roles, err
}

// AssignUserRoles adds roles to a user's membership and returns all their roles there.
func (s *Service) AssignUserRoles(ctx context.Context, env roster.Environment, organizationID, userID string, names []string) ([]roster.RoleRef, error) {
	if err := checkMembershipTarget(organizationID, roster.UserRef{ID: userID}); err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, roster.Errorf(roster.EInvalid, "roles: at least one role name is required")
	}
	roles, err := s.resolveRoles(ctx, env, organizationID, names, "roles")
	if err != nil {
		return nil, err
	}
	now := s.now()
	u, err := s.store.UpdateMembership(ctx, env.ID, organizationID, roster.UserRef{ID: userID}, func(m *roster.Membership) error {
		held := map[string]bool{}
		for _, r := range m.Roles {
			held[r.ID] = true
		}
		for _, r := range roles {
			if !held[r.ID] {
				m.Roles, held[r.ID] = append(m.Roles, r), true
			}
		}
		m.UpdateTime = now
		return nil
	})
	if err != nil {
		return nil, err
	}
	return (&u).MembershipRoles(organizationID), nil
}

// RemoveUserRole takes one role from a user's membership.
func (s *Service) RemoveUserRole(ctx context.Context, env roster.Environment, organizationID, userID, name string) error {
	if err := checkMembershipTarget(organizationID, roster.UserRef{ID: userID}); err != nil {
		return err
	}
	now := s.now()
	_, err := s.store.UpdateMembership(ctx, env.ID, organizationID, roster.UserRef{ID: userID}, func(m *roster.Membership) error {
		kept := m.Roles[:0]
		for _, r := range m.Roles {
			if r.Name != name {
				kept = append(kept, r)
			}
		}
		if len(kept) == len(m.Roles) {
			return roster.Errorf(roster.ENotFound, "the user does not hold role %q in this organization", name)
		}
		m.Roles, m.UpdateTime = kept, now
		return nil
	})
	return err
}

// UserPermissions returns the permissions a user's roles grant in an organization, by name.
func (s *Service) UserPermissions(ctx context.Context, env roster.Environment, organizationID, userID string) ([]roster.Permission, error) {
	m, err := s.membership(ctx, env, organizationID, userID)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, ref := range m.Roles {
		r, err := s.store.GetRole(ctx, env.ID, organizationID, ref.Name)
		if roster.ErrorCode(err) == roster.ENotFound {
			r, err = s.store.GetRole(ctx, env.ID, "", ref.Name)
		}
		if err != nil {
			return nil, err
		}
		for _, p := range r.Permissions {
			names[p] = true
		}
	}
	var out []roster.Permission
	for name := range names {
		p, err := s.store.GetPermission(ctx, env.ID, name)
		if roster.ErrorCode(err) == roster.ENotFound {
			continue // deleted since the role was read
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func checkUserRef(ref roster.UserRef) error {
	var v roster.Violations
	ref.Check(&v)
	return v.Err()
}

func checkMembershipTarget(organizationID string, ref roster.UserRef) error {
	var v roster.Violations
	if organizationID == "" {
		v.Add("organization_id", "required", "is required")
	}
	ref.Check(&v)
	return v.Err()
}
