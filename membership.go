package roster

import (
	"maps"
	"slices"
	"time"
	"unicode/utf8"
)

// MembershipStatus is the state of a user's membership in an organization.
type MembershipStatus string

const (
	MembershipActive        MembershipStatus = "ACTIVE"
	MembershipInactive      MembershipStatus = "INACTIVE"
	MembershipPendingInvite MembershipStatus = "PENDING_INVITE"
	MembershipInviteExpired MembershipStatus = "INVITE_EXPIRED"
)

// Provisioning methods, as Scalekit documents them.
const (
	ProvisionedDirect     = "direct_provision"
	ProvisionedInvitation = "invitation"
	ProvisionedJITSSO     = "jit_using_sso"
)

// InvitationLifetime is how long an invitation stays valid (docs/invitations.md).
const InvitationLifetime = 7 * 24 * time.Hour

// Membership is a user's place in an organization: status, roles and metadata.
type Membership struct {
	OrganizationID     string
	UserID             string
	OrganizationName   string // the organization's display name, filled by reads
	Status             MembershipStatus
	Roles              []RoleRef
	Metadata           map[string]string
	InviterEmail       *string
	CreateTime         time.Time // join time
	AcceptTime         *time.Time
	ExpireTime         *time.Time // of a pending invitation
	ProvisioningMethod string
	InviteResentCount  int
	InviteResentTime   *time.Time
	UpdateTime         time.Time
}

// EffectiveStatus reports an invitation that has run out as INVITE_EXPIRED.
func (m Membership) EffectiveStatus(now time.Time) MembershipStatus {
	if m.Status == MembershipPendingInvite && m.ExpireTime != nil && now.After(*m.ExpireTime) {
		return MembershipInviteExpired
	}
	return m.Status
}

// RoleRef is a role as a membership shows it.
type RoleRef struct {
	ID          string
	Name        string
	DisplayName string
}

// MembershipInput is what creating or updating a membership may set. Roles are role names;
// nil means "not given" (on create: the default member role; on update: unchanged).
type MembershipInput struct {
	Roles        []string
	Metadata     map[string]string
	InviterEmail string
}

// Validate checks the membership input; field prefixes the field names.
func (in MembershipInput) Validate(field string, update bool) error {
	var v Violations
	checkMetadata(&v, field+".metadata", in.Metadata, UserMetadataMaxPairs, update)
	for _, r := range in.Roles {
		if !validRoleName(r) {
			v.Add(field+".roles", "pattern=^[a-zA-Z0-9_]{1,64}$", "role name %q must be 1 to 64 letters, digits or '_'", r)
		}
	}
	if in.InviterEmail != "" {
		checkEmail(&v, field+".inviter_email", in.InviterEmail)
	}
	return v.Err()
}

func validRoleName(s string) bool {
	if s == "" || utf8.RuneCountInString(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Clone returns a deep copy of m.
func (m Membership) Clone() Membership {
	m.Roles = slices.Clone(m.Roles)
	m.Metadata = maps.Clone(m.Metadata)
	m.InviterEmail = clonePtr(m.InviterEmail)
	m.AcceptTime = clonePtr(m.AcceptTime)
	m.ExpireTime = clonePtr(m.ExpireTime)
	m.InviteResentTime = clonePtr(m.InviteResentTime)
	return m
}
