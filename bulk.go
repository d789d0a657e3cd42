package roster

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
