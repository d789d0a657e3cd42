package roster

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// ImportUser is one line of a bulk import (docs/import-export.md): a user in the shape the
// REST API answers with, of which the writable fields are used. Read-only fields of an export
// (times, the profile's ID, organization names) are ignored, so that an export re-imports
// unchanged. An import changes a user the way PATCH does: fields that are absent are left as
// they are, maps merge (an empty value removes a key), listed memberships are created or
// updated and memberships that are not listed are kept.
type ImportUser struct {
	// ID, when set, must name the user that the line matches (by external ID, then email); a
	// line whose user does not exist yet is created with a new ID.
	ID         string
	Email      string
	ExternalID *string // nil: not given
	Metadata   map[string]string
	Profile    ProfilePatch
	// EmailVerified and PhoneNumberVerified, when set, are stored as given.
	EmailVerified       *bool
	PhoneNumberVerified *bool
	Memberships         []ImportMembership
}

// ImportMembership is a membership of an import line.
type ImportMembership struct {
	OrganizationID string
	// Roles are role names: nil gives a new membership the default member role and leaves an
	// existing one's roles as they are; a list replaces them.
	Roles    []string
	Metadata map[string]string
	// Status "" makes a new membership ACTIVE and leaves an existing one's status as it is.
	// An import never sends invitation emails.
	Status MembershipStatus
}

// ImportResult is what an import line did.
type ImportResult string

const (
	ImportCreated   ImportResult = "created"
	ImportUpdated   ImportResult = "updated"
	ImportUnchanged ImportResult = "unchanged"
	ImportFailed    ImportResult = "failed"
)

// Import limits: one line names at most ImportMembershipsMax organizations and gives each
// membership at most ImportRolesMax role names, so that a line's work is bounded.
const (
	ImportMembershipsMax = 100
	ImportRolesMax       = 50
)

// Validate checks a line with the rules of the API's create and update (NewUser, UserPatch,
// MembershipInput), naming fields as the line's JSON does ("email", "user_profile.given_name",
// "memberships[0].roles"). Custom attributes are checked against their definitions by the
// store (CheckCustomAttributes), inside its transaction.
func (in ImportUser) Validate() error {
	var v Violations
	if in.ID != "" && (!strings.HasPrefix(in.ID, PrefixUser) || len(in.ID) > 32) {
		v.Add("id", "string.prefix=usr_", "must be a user id (usr_...)")
	}
	checkEmail(&v, "email", in.Email)
	if in.ExternalID != nil {
		if c := utf8.RuneCountInString(*in.ExternalID); c > UserExternalIDMax {
			v.Add("external_id", "string.max_len=510", "must be at most %d characters, got %d", UserExternalIDMax, c)
		} else if !utf8.ValidString(*in.ExternalID) {
			v.Add("external_id", "string.utf8", "must be valid UTF-8")
		}
	}
	checkMetadata(&v, "metadata", in.Metadata, UserMetadataMaxPairs, true)
	in.Profile.check(&v, "user_profile", true)
	if len(in.Memberships) > ImportMembershipsMax {
		v.Add("memberships", fmt.Sprintf("repeated.max_items=%d", ImportMembershipsMax),
			"a line may list at most %d memberships, got %d", ImportMembershipsMax, len(in.Memberships))
		return v.Err() // do not check (and report) thousands of entries
	}
	seen := make(map[string]bool, len(in.Memberships))
	for i, m := range in.Memberships {
		field := fmt.Sprintf("memberships[%d]", i)
		switch {
		case m.OrganizationID == "":
			v.Add(field+".organization_id", "required", "is required")
		case seen[m.OrganizationID]:
			v.Add(field+".organization_id", "repeated.unique", "organization %q is listed twice in this line", m.OrganizationID)
		case len(m.OrganizationID) > 64 || !utf8.ValidString(m.OrganizationID):
			v.Add(field+".organization_id", "string.max_len=64", "must be an organization id")
		}
		seen[m.OrganizationID] = true
		if len(m.Roles) > ImportRolesMax {
			v.Add(field+".roles", fmt.Sprintf("repeated.max_items=%d", ImportRolesMax), "at most %d roles are allowed", ImportRolesMax)
		} else {
			for _, r := range m.Roles {
				if !validRoleName(r) {
					v.Add(field+".roles", "pattern=^[a-zA-Z0-9_]{1,64}$", "role name %q must be 1 to 64 letters, digits or '_'", r)
				}
			}
		}
		checkMetadata(&v, field+".metadata", m.Metadata, UserMetadataMaxPairs, true)
		switch m.Status {
		case "", MembershipActive, MembershipInactive, MembershipPendingInvite:
		default:
			v.Add(field+".status", "enum=ACTIVE,INACTIVE,PENDING_INVITE", "must be ACTIVE, INACTIVE or PENDING_INVITE")
		}
	}
	return v.Err()
}

// NewUser returns the user that a line creates (before Apply; attributes are checked by the
// caller against their definitions).
func (in ImportUser) NewUser(id, environmentID string, now time.Time) User {
	return User{ID: id, EnvironmentID: environmentID, Email: NormalizeEmail(in.Email), CreateTime: now, UpdateTime: now,
		Metadata: map[string]string{}, Profile: Profile{Metadata: map[string]string{}, CustomAttributes: map[string]string{}, Groups: []string{}}}
}

// Apply changes u's own fields (not its memberships) as the line says, the way PATCH does,
// checks the merged maps' limits and reports whether anything changed; it sets UpdateTime to
// now only then. The email changes when its EmailKey differs (a line matched by external ID),
// not when only its case or Unicode form does, so that an export re-imports unchanged.
func (in ImportUser) Apply(u *User, now time.Time) (changed bool, err error) {
	before := u.Clone()
	if EmailKey(in.Email) != EmailKey(u.Email) {
		u.Email = NormalizeEmail(in.Email)
	}
	if in.ExternalID != nil {
		u.ExternalID = optional(*in.ExternalID)
	}
	if len(in.Metadata) > 0 {
		u.Metadata = MergeMetadata(u.Metadata, in.Metadata)
	}
	in.Profile.apply(&u.Profile)
	if in.EmailVerified != nil {
		u.Profile.EmailVerified = *in.EmailVerified
	}
	if in.PhoneNumberVerified != nil {
		u.Profile.PhoneNumberVerified = *in.PhoneNumberVerified
	}
	var v Violations
	checkMergedPairs(&v, "metadata", "the user", u.Metadata, UserMetadataMaxPairs)
	checkMergedPairs(&v, "user_profile.metadata", "the profile", u.Profile.Metadata, UserMetadataMaxPairs)
	checkMergedPairs(&v, "user_profile.custom_attributes", "the profile", u.Profile.CustomAttributes, UserMetadataMaxPairs)
	if err := v.Err(); err != nil {
		return false, err
	}
	if sameUser(before, *u) {
		return false, nil
	}
	u.UpdateTime = now
	return true, nil
}

// sameUser compares what an import may change of a user.
func sameUser(a, b User) bool {
	pa, pb := a.Profile, b.Profile
	return a.Email == b.Email && equalPtr(a.ExternalID, b.ExternalID) && maps.Equal(a.Metadata, b.Metadata) &&
		pa.GivenName == pb.GivenName && pa.FamilyName == pb.FamilyName && pa.Name == pb.Name && pa.Locale == pb.Locale &&
		pa.PhoneNumber == pb.PhoneNumber && pa.PreferredUsername == pb.PreferredUsername && pa.Picture == pb.Picture &&
		pa.Gender == pb.Gender && pa.EmailVerified == pb.EmailVerified && pa.PhoneNumberVerified == pb.PhoneNumberVerified &&
		slices.Equal(pa.Groups, pb.Groups) && maps.Equal(pa.Metadata, pb.Metadata) && maps.Equal(pa.CustomAttributes, pb.CustomAttributes)
}

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// ImportUserOf is the import line of an exported user: importing it into the directory it
// came from changes nothing (ImportUnchanged).
func ImportUserOf(u User) ImportUser {
	p := u.Profile
	str := func(s string) *string { return &s }
	in := ImportUser{ID: u.ID, Email: u.Email, ExternalID: clonePtr(u.ExternalID), Metadata: maps.Clone(u.Metadata),
		EmailVerified: &p.EmailVerified, PhoneNumberVerified: &p.PhoneNumberVerified,
		Profile: ProfilePatch{GivenName: str(p.GivenName), FamilyName: str(p.FamilyName), Name: str(p.Name), Locale: str(p.Locale),
			PhoneNumber: str(p.PhoneNumber), PreferredUsername: str(p.PreferredUsername), Picture: str(p.Picture), Gender: str(p.Gender),
			Groups: append([]string{}, p.Groups...), Metadata: maps.Clone(p.Metadata), CustomAttributes: maps.Clone(p.CustomAttributes)}}
	for _, m := range u.Memberships {
		roles := make([]string, 0, len(m.Roles))
		for _, r := range m.Roles {
			roles = append(roles, r.Name)
		}
		in.Memberships = append(in.Memberships, ImportMembership{OrganizationID: m.OrganizationID, Roles: roles,
			Metadata: maps.Clone(m.Metadata), Status: m.Status})
	}
	return in
}
