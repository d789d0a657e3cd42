package roster

import (
	"fmt"
	"maps"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"
)

// ID prefixes of users and their profiles.
const (
	PrefixUser    = "usr_"
	PrefixProfile = "usp_"
)

// User limits (../shared/api section 3.1).
const (
	EmailMax             = 254
	UserExternalIDMax    = 510
	NameMax              = 255
	DeprecatedNameMax    = 200
	PreferredUsernameMax = 512
	PictureMax           = 2048
	GroupsMax            = 50
	GroupMax             = 250
)

// User is a person in the directory. A user may belong to any number of organizations.
type User struct {
	ID            string
	EnvironmentID string
	Email         string // unique per environment, compared case-insensitively
	ExternalID    *string
	Metadata      map[string]string
	Profile       Profile
	CreateTime    time.Time
	UpdateTime    time.Time
	LastLoginTime *time.Time
	Memberships   []Membership // filled by reads
	Identities    []Identity   // accounts at identity providers (SSO), filled by reads
}

// ProfileID is the ID of a user's profile: the user's number with the profile prefix.
func (u User) ProfileID() string { return PrefixProfile + strings.TrimPrefix(u.ID, PrefixUser) }

// Profile is a user's normalized profile: the same shape whichever identity provider or API
// call filled it.
type Profile struct {
	GivenName           string
	FamilyName          string
	Name                string // defaults to given + family name
	Locale              string // BCP 47
	PhoneNumber         string // E.164
	PreferredUsername   string
	Picture             string
	Gender              string
	EmailVerified       bool
	PhoneNumberVerified bool
	Groups              []string
	Metadata            map[string]string
	CustomAttributes    map[string]string // keys are defined attributes (AttributeDefinition)
}

// UserRef names a user by exactly one of ID or external ID.
type UserRef struct {
	ID         string
	ExternalID string
}

// Check records a missing or doubly given reference.
func (r UserRef) Check(v *Violations) {
	switch {
	case r.ID == "" && r.ExternalID == "":
		v.Add("id", "required", "a user id or external_id is required")
	case r.ID != "" && r.ExternalID != "":
		v.Add("id", "oneof", "give either id or external_id, not both")
	case r.ID != "" && (!strings.HasPrefix(r.ID, PrefixUser) || len(r.ID) > 32):
		v.Add("id", "string.prefix=usr_", "must be a user id (usr_...)")
	case r.ExternalID != "" && utf8.RuneCountInString(r.ExternalID) > UserExternalIDMax:
		v.Add("external_id", "string.max_len=510", "must be at most %d characters", UserExternalIDMax)
	}
}

// NewUser is the input of user creation.
type NewUser struct {
	Email      string
	ExternalID string
	Metadata   map[string]string
	Profile    ProfilePatch // only the set fields are used
}

// Validate checks a new user (custom attributes are checked against their definitions by
// CheckCustomAttributes).
func (n NewUser) Validate() error {
	var v Violations
	checkEmail(&v, "user.email", n.Email)
	if c := utf8.RuneCountInString(n.ExternalID); c > UserExternalIDMax {
		v.Add("user.external_id", "string.max_len=510", "must be at most %d characters, got %d", UserExternalIDMax, c)
	}
	checkMetadata(&v, "user.metadata", n.Metadata, UserMetadataMaxPairs, false)
	n.Profile.check(&v, "user.user_profile", false)
	return v.Err()
}

// Build returns the user that creation stores.
func (n NewUser) Build(id, environmentID string, now time.Time) User {
	u := User{
		ID: id, EnvironmentID: environmentID, Email: NormalizeEmail(n.Email), ExternalID: optional(n.ExternalID),
		Metadata: MergeMetadata(nil, n.Metadata), CreateTime: now, UpdateTime: now,
		Profile: Profile{Metadata: map[string]string{}, CustomAttributes: map[string]string{}, Groups: []string{}},
	}
	n.Profile.apply(&u.Profile)
	return u
}

// ProfilePatch changes a profile: nil fields are left as they are. Maps merge (an empty value
// removes a key, see docs/metadata.md). GivenName and FamilyName also take the SDKs' deprecated
// first_name and last_name.
type ProfilePatch struct {
	GivenName         *string
	FamilyName        *string
	Name              *string
	Locale            *string
	PhoneNumber       *string
	PreferredUsername *string
	Picture           *string
	Gender            *string
	Groups            []string // nil: unchanged; replaces the list otherwise
	Metadata          map[string]string
	CustomAttributes  map[string]string
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func (p ProfilePatch) check(v *Violations, field string, update bool) {
	str := func(name string, s *string, max int) {
		if s != nil && utf8.RuneCountInString(*s) > max {
			v.Add(field+"."+name, fmt.Sprintf("string.max_len=%d", max), "must be at most %d characters", max)
		}
		if s != nil && !utf8.ValidString(*s) {
			v.Add(field+"."+name, "string.utf8", "must be valid UTF-8")
		}
	}
	str("given_name", p.GivenName, NameMax)
	str("family_name", p.FamilyName, NameMax)
	str("name", p.Name, NameMax*2+1)
	str("preferred_username", p.PreferredUsername, PreferredUsernameMax)
	str("picture", p.Picture, PictureMax)
	str("gender", p.Gender, 64)
	if p.PhoneNumber != nil && *p.PhoneNumber != "" && !e164.MatchString(*p.PhoneNumber) {
		v.Add(field+".phone_number", "e164", "must be an E.164 number: '+', country code and subscriber number, digits only (e.g. +14155552671)")
	}
	if p.Locale != nil && *p.Locale != "" {
		if _, err := language.Parse(*p.Locale); err != nil || len(*p.Locale) > 35 {
			v.Add(field+".locale", "bcp47", "must be a BCP 47 language tag such as en-US or fr")
		}
	}
	if len(p.Groups) > GroupsMax {
		v.Add(field+".groups", "repeated.max_items=50", "at most %d groups are allowed", GroupsMax)
	}
	seen := map[string]bool{}
	for _, g := range p.Groups {
		if n := utf8.RuneCountInString(g); n == 0 || n > GroupMax {
			v.Add(field+".groups", "repeated.items.string.len=1..250", "group names must be 1 to %d characters", GroupMax)
			break
		}
		if seen[g] {
			v.Add(field+".groups", "repeated.unique", "group %q is listed twice", g)
			break
		}
		seen[g] = true
	}
	checkMetadata(v, field+".metadata", p.Metadata, UserMetadataMaxPairs, update)
	checkMetadata(v, field+".custom_attributes", p.CustomAttributes, UserMetadataMaxPairs, update)
}

// apply changes pr; a name not set explicitly follows given and family name.
func (p ProfilePatch) apply(pr *Profile) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = strings.TrimSpace(*src)
		}
	}
	oldDefault := strings.TrimSpace(pr.GivenName + " " + pr.FamilyName)
	set(&pr.GivenName, p.GivenName)
	set(&pr.FamilyName, p.FamilyName)
	set(&pr.Locale, p.Locale)
	set(&pr.PhoneNumber, p.PhoneNumber)
	set(&pr.PreferredUsername, p.PreferredUsername)
	set(&pr.Picture, p.Picture)
	set(&pr.Gender, p.Gender)
	if p.Locale != nil && *p.Locale != "" {
		if tag, err := language.Parse(*p.Locale); err == nil {
			pr.Locale = tag.String() // canonical form: "en-us" becomes "en-US"
		}
	}
	switch {
	case p.Name != nil:
		pr.Name = strings.TrimSpace(*p.Name)
	case pr.Name == "" || pr.Name == oldDefault:
		pr.Name = strings.TrimSpace(pr.GivenName + " " + pr.FamilyName)
	}
	if p.Groups != nil {
		pr.Groups = append([]string{}, p.Groups...)
	}
	if len(p.Metadata) > 0 {
		pr.Metadata = MergeMetadata(pr.Metadata, p.Metadata)
	}
	if len(p.CustomAttributes) > 0 {
		pr.CustomAttributes = MergeMetadata(pr.CustomAttributes, p.CustomAttributes)
	}
}

// UserPatch is an update of a user: nil fields are unchanged; metadata merges.
type UserPatch struct {
	ExternalID *string
	Metadata   map[string]string
	Profile    ProfilePatch
}

// Validate checks the fields that the patch sets.
func (p UserPatch) Validate() error {
	var v Violations
	if p.ExternalID != nil && utf8.RuneCountInString(*p.ExternalID) > UserExternalIDMax {
		v.Add("user.external_id", "string.max_len=510", "must be at most %d characters", UserExternalIDMax)
	}
	checkMetadataEntries(&v, "user.metadata", p.Metadata, true)
	p.Profile.check(&v, "user.user_profile", true)
	return v.Err()
}

// Apply changes u and checks the limits of the result.
func (p UserPatch) Apply(u *User, now time.Time) error {
	if p.ExternalID != nil {
		u.ExternalID = optional(*p.ExternalID)
	}
	if len(p.Metadata) > 0 {
		u.Metadata = MergeMetadata(u.Metadata, p.Metadata)
	}
	p.Profile.apply(&u.Profile)
	u.UpdateTime = now
	var v Violations
	checkMergedPairs(&v, "user.metadata", "the user", u.Metadata, UserMetadataMaxPairs)
	checkMergedPairs(&v, "user.user_profile.metadata", "the profile", u.Profile.Metadata, UserMetadataMaxPairs)
	checkMergedPairs(&v, "user.user_profile.custom_attributes", "the profile", u.Profile.CustomAttributes, UserMetadataMaxPairs)
	return v.Err()
}

func checkEmail(v *Violations, field, email string) {
	email = strings.TrimSpace(email)
	if email == "" {
		v.Add(field, "required", "is required")
		return
	}
	if r, ok := invisibleInEmail(email); ok {
		v.Add(field, "string.email.visible",
			"must not contain invisible, formatting or bidirectional control characters, found %s", runeName(r))
		return
	}
	email = norm.NFC.String(email)
	switch {
	case len(email) > EmailMax:
		v.Add(field, "string.max_len=254", "must be at most %d characters", EmailMax)
	default:
		a, err := mail.ParseAddress(email)
		if err != nil || a.Address != email || a.Name != "" || !strings.Contains(email[strings.LastIndexByte(email, '@'):], ".") {
			v.Add(field, "string.email", "must be an email address like user@example.com")
		}
	}
}

// invisibleInEmail returns the first character of email that a reader cannot see or that
// changes how the rest is shown: control (Cc), format (Cf: zero-width characters, bidirectional
// controls, the byte order mark, the soft hyphen), private-use and surrogate code points,
// separators other than the ASCII space (which the address syntax already refuses), and the
// other default-ignorable code points and variation selectors. RFC 8265 (PRECIS) keeps these
// out of identifiers: two addresses that look the same must be the same address.
func invisibleInEmail(email string) (rune, bool) {
	for _, r := range email {
		if r < utf8.RuneSelf && r >= 0x20 && r != 0x7f {
			continue
		}
		if r != ' ' && unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs, unicode.Z,
			unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector) {
			return r, true
		}
	}
	return 0, false
}

// NormalizeEmail is the form in which an email is stored: trimmed and in Unicode NFC, so that
// spellings that differ only by normalization (an "é" as one code point or as "e" and a
// combining accent) are one address, as RFC 8265 prescribes for identifiers.
func NormalizeEmail(email string) string { return norm.NFC.String(strings.TrimSpace(email)) }

// EmailKey is the form in which emails are compared: normalized (NormalizeEmail) and
// lower-cased. Look-alike characters of other scripts are not folded (docs/users.md).
func EmailKey(email string) string {
	return norm.NFC.String(strings.ToLower(NormalizeEmail(email)))
}

// MembershipRoles returns the user's roles in an organization.
func (u *User) MembershipRoles(organizationID string) []RoleRef {
	for _, m := range u.Memberships {
		if m.OrganizationID == organizationID {
			return m.Roles
		}
	}
	return nil
}

// IsEmailAddress reports whether s is a complete email address by the rules of user emails.
func IsEmailAddress(s string) bool {
	var v Violations
	checkEmail(&v, "", s)
	return len(v) == 0
}

// CanonicalLocale returns a BCP 47 tag in canonical form ("en-us" becomes "en-US"), or "" when
// s is not one.
func CanonicalLocale(s string) string {
	if s == "" || len(s) > 35 {
		return ""
	}
	tag, err := language.Parse(s)
	if err != nil {
		return ""
	}
	return tag.String()
}

// Clone returns a deep copy of u: changing the copy's maps, slices or pointed-to values never
// changes u. Stores that keep users in memory hand out clones.
func (u User) Clone() User {
	u.ExternalID = clonePtr(u.ExternalID)
	u.Metadata = maps.Clone(u.Metadata)
	u.Profile.Groups = slices.Clone(u.Profile.Groups)
	u.Profile.Metadata = maps.Clone(u.Profile.Metadata)
	u.Profile.CustomAttributes = maps.Clone(u.Profile.CustomAttributes)
	u.LastLoginTime = clonePtr(u.LastLoginTime)
	if u.Memberships != nil {
		ms := make([]Membership, len(u.Memberships))
		for i, m := range u.Memberships {
			ms[i] = m.Clone()
		}
		u.Memberships = ms
	}
	if u.Identities != nil {
		ids := slices.Clone(u.Identities)
		for i := range ids {
			ids[i].RawClaims = slices.Clone(ids[i].RawClaims)
		}
		u.Identities = ids
	}
	return u
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
