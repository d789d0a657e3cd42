package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// SignInInput is a verified answer of an identity provider for a sign-in in progress.
type SignInInput struct {
	Request    roster.LoginRequest
	Connection roster.Connection
	Subject    string         // the provider's ID for the user
	Claims     map[string]any // everything the provider said about the user
}

// SignInResult is what the application's redirect carries and what Roster stored.
type SignInResult struct {
	User    roster.User
	Code    string // the one-time authorization code, in plain (only its hash is stored)
	Skipped []string
}

// SignInProfile is the sign-in's snapshot kept with its code, for the /sso profile.
type SignInProfile struct {
	IdpID         string          `json:"idp_id"`
	RawAttributes json.RawMessage `json:"raw_attributes"`
	Groups        []string        `json:"groups"`
}

// SignIn turns a provider's verified answer into a user of the connection's organization:
// the claims are mapped onto the profile (docs/attribute-mapping.md), the user is found by
// identity or email or created under the linking rule (roster.CheckLink, applied by the
// store in its transaction; a refusal is PERMISSION_DENIED), the membership is created or its
// roles synced from groups, and a one-time code is stored for the application. newCode makes
// the code.
func (s *Service) SignIn(ctx context.Context, env roster.Environment, in SignInInput, newCode func() (plain, hash string)) (SignInResult, error) {
	c := in.Connection
	defs, err := s.attributeDefs(ctx, env)
	if err != nil {
		return SignInResult{}, err
	}
	pp, err := mapClaims(c, defs, in.Subject, in.Claims)
	if err != nil {
		return SignInResult{}, err
	}

	// Roles: a group-to-role mapping that matched decides the membership's role at every
	// sign-in; otherwise a new member gets the default member role and an existing member keeps
	// theirs.
	var mapped []roster.RoleRef
	if pp.Role != "" {
		if mapped, err = s.resolveRoles(ctx, env, c.OrganizationID, []string{pp.Role}, "connection.attribute_mapping"); err != nil {
			return SignInResult{}, err
		}
	}
	now := s.now()
	var member *roster.Membership
	if c.JITProvisioning {
		roles := mapped
		if roles == nil {
			def, err := s.store.DefaultMemberRole(ctx, env.ID)
			if err != nil {
				return SignInResult{}, err
			}
			if roles, err = s.resolveRoles(ctx, env, c.OrganizationID, []string{def}, "default_member_role"); err != nil {
				return SignInResult{}, err
			}
		}
		member = &roster.Membership{OrganizationID: c.OrganizationID, Status: roster.MembershipActive, Roles: roles,
			Metadata: map[string]string{}, CreateTime: now, UpdateTime: now, AcceptTime: &now, ProvisioningMethod: roster.ProvisionedJITSSO}
	}

	snapshot, err := json.Marshal(SignInProfile{IdpID: in.Subject, RawAttributes: json.RawMessage(roster.CapRawClaims(in.Claims)), Groups: pp.Groups})
	if err != nil {
		return SignInResult{}, err
	}
	var skipped []string
	var res SignInResult
	for attempt := 0; ; attempt++ {
		plain, hash := newCode()
		r := in.Request
		u, err := s.store.SignIn(ctx, store.SignIn{
			Connection: c, Email: pp.Email, EmailVerified: pp.EmailVerified, NewUserID: s.ids.New(roster.PrefixUser), Membership: member,
			Roles:    mapped,
			Identity: roster.Identity{Subject: in.Subject, RawClaims: roster.CapRawClaims(in.Claims), CreateTime: now, LastLoginTime: now},
			Update: func(u *roster.User, st store.SignInState, _ store.AttributeDefs) error {
				// The profile follows the provider when the sign-in creates the user, or when the
				// connection syncs profiles and its organization owns this one.
				skipped = nil
				if st.IsNew || c.SyncProfile && st.MayChangeProfile {
					skipped = roster.ApplyLogin(&u.Profile, pp, defs)
				}
				u.LastLoginTime, u.UpdateTime = &now, now
				return nil
			},
			Code: roster.AuthCode{Hash: hash, EnvironmentID: env.ID, ClientID: r.ClientID, RedirectURI: r.RedirectURI,
				OrganizationID: c.OrganizationID, ConnectionID: c.ID, Flavor: r.Flavor, Nonce: r.Nonce, Scope: r.Scope,
				CodeChallenge: r.CodeChallenge, Profile: snapshot, CreateTime: now, ExpireTime: now.Add(roster.AuthCodeLifetime)},
		})
		// Two first sign-ins of one person at once: the loser finds the winner's user.
		if roster.ErrorCode(err) == roster.EConflict && attempt == 0 {
			continue
		}
		if err != nil {
			return SignInResult{}, err
		}
		res = SignInResult{User: u, Code: plain, Skipped: skipped}
		break
	}
	if len(skipped) > 0 {
		s.log.WarnContext(ctx, "sign-in: provider values that break profile rules were not stored", "connection_id", c.ID,
			"user_id", res.User.ID, "fields", fmt.Sprint(skipped))
	}
	return res, nil
}

// mapClaims is the mapping step of every sign-in (docs/attribute-mapping.md): the
// connection's attribute mapping (an entry whose attribute was deleted since it was saved is
// skipped, not fatal) applied to the provider's claims by roster.Normalize, and the refusal
// of a sign-in that yields no email address. SignIn, the dashboard's mapping preview and its
// test sign-in (MapSignIn) all go through here, so a preview is what a sign-in does.
func mapClaims(c roster.Connection, defs map[string]roster.AttributeDefinition, subject string, claims map[string]any) (roster.ProviderProfile, error) {
	mapping, _ := roster.ParseAttributeMapping(c.AttributeMapping, defs, nil)
	pp := roster.Normalize(claims, subject, mapping)
	if !roster.IsEmailAddress(pp.Email) {
		return pp, roster.WithReason(roster.Errorf(roster.EFailedPrecondition, "the identity provider sent no email address for this user (claims tried: %s)",
			strings.Join(emailClaims(mapping), ", ")), roster.LoginFailedNoEmail)
	}
	return pp, nil
}

// newUserProfile is the profile a sign-in's new user starts from, as the store makes it.
func newUserProfile() roster.Profile {
	return roster.Profile{Metadata: map[string]string{}, CustomAttributes: map[string]string{}, Groups: []string{}}
}

func emailClaims(m roster.AttributeMapping) []string {
	if c, ok := m.Standard[roster.FieldEmail]; ok {
		return []string{c}
	}
	return roster.DefaultClaims(roster.FieldEmail)
}
