package roster

import (
	"maps"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Organization limits (../shared/api section 3.3 and the seed documents).
const (
	OrganizationDisplayNameMax = 200
	ExternalIDMax              = 255
	SlugMax                    = 253
	LogoURLMax                 = 1024
)

var slugPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$`)

// Region codes an organization may carry.
var regionCodes = map[string]bool{"": true, "US": true, "EU": true}

// Organization is a customer account of the application: the tenant that users, connections and
// directories belong to.
type Organization struct {
	ID            string
	EnvironmentID string
	DisplayName   string
	ExternalID    *string // unique per environment when set
	Metadata      map[string]string
	Slug          *string // unique per environment when set
	LogoURL       *string
	RegionCode    string // "", "US" or "EU"
	CreateTime    time.Time
	UpdateTime    time.Time
}

// OrganizationRef names an organization by exactly one of its ID or its external ID.
type OrganizationRef struct {
	ID         string
	ExternalID string
}

// Check reports a missing or doubly given reference; field prefixes the field names.
func (r OrganizationRef) Check(v *Violations) {
	switch {
	case r.ID == "" && r.ExternalID == "":
		v.Add("id", "required", "an organization id or external_id is required")
	case r.ID != "" && r.ExternalID != "":
		v.Add("id", "oneof", "give either id or external_id, not both")
	case r.ID != "" && utf8.RuneCountInString(r.ID) > 32:
		v.Add("id", "string.max_len=32", "must be at most 32 characters")
	case r.ExternalID != "" && utf8.RuneCountInString(r.ExternalID) > ExternalIDMax:
		v.Add("external_id", "string.max_len=255", "must be at most %d characters", ExternalIDMax)
	}
}

// NewOrganization is the input of organization creation.
type NewOrganization struct {
	DisplayName string
	ExternalID  string // empty: none
	Metadata    map[string]string
	Slug        string // empty: none
	LogoURL     string // empty: none
	RegionCode  string
}

// Validate checks every rule of a new organization and names each bad field.
func (n NewOrganization) Validate() error {
	var v Violations
	checkDisplayName(&v, "organization.display_name", n.DisplayName)
	checkExternalID(&v, "organization.external_id", n.ExternalID)
	checkMetadata(&v, "organization.metadata", n.Metadata, OrganizationMetadataMaxPairs, false)
	checkSlug(&v, "organization.slug", n.Slug)
	checkLogoURL(&v, "organization.logo_url", n.LogoURL)
	if !regionCodes[n.RegionCode] {
		v.Add("organization.region_code", "enum.defined_only", "unknown region code %q", n.RegionCode)
	}
	return v.Err()
}

// Build returns the organization that creation stores.
func (n NewOrganization) Build(id, environmentID string, now time.Time) Organization {
	return Organization{
		ID:            id,
		EnvironmentID: environmentID,
		DisplayName:   n.DisplayName,
		ExternalID:    optional(n.ExternalID),
		Metadata:      MergeMetadata(nil, n.Metadata),
		Slug:          optional(n.Slug),
		LogoURL:       optional(n.LogoURL),
		RegionCode:    n.RegionCode,
		CreateTime:    now,
		UpdateTime:    now,
	}
}

// OrganizationPatch is an update: a nil field is left as it is (PATCH semantics). An empty
// string clears an optional field. Metadata merges unless ReplaceMetadata is set; see
// docs/metadata.md.
type OrganizationPatch struct {
	DisplayName     *string
	ExternalID      *string
	Metadata        map[string]string
	ReplaceMetadata bool
	Slug            *string
	LogoURL         *string
}

// Validate checks the fields that the patch sets.
func (p OrganizationPatch) Validate() error {
	var v Violations
	if p.DisplayName != nil {
		checkDisplayName(&v, "organization.display_name", *p.DisplayName)
	}
	if p.ExternalID != nil {
		checkExternalID(&v, "organization.external_id", *p.ExternalID)
	}
	checkMetadataEntries(&v, "organization.metadata", p.Metadata, !p.ReplaceMetadata)
	if p.Slug != nil {
		checkSlug(&v, "organization.slug", *p.Slug)
	}
	if p.LogoURL != nil {
		checkLogoURL(&v, "organization.logo_url", *p.LogoURL)
	}
	return v.Err()
}

// Apply changes o as the patch says and checks the rules that depend on the result.
func (p OrganizationPatch) Apply(o *Organization, now time.Time) error {
	if p.DisplayName != nil {
		o.DisplayName = *p.DisplayName
	}
	if p.ExternalID != nil {
		o.ExternalID = optional(*p.ExternalID)
	}
	if p.ReplaceMetadata {
		o.Metadata = MergeMetadata(nil, p.Metadata)
	} else if len(p.Metadata) > 0 {
		o.Metadata = MergeMetadata(o.Metadata, p.Metadata)
	}
	if p.Slug != nil {
		o.Slug = optional(*p.Slug)
	}
	if p.LogoURL != nil {
		o.LogoURL = optional(*p.LogoURL)
	}
	o.UpdateTime = now
	return CheckMergedPairs("organization.metadata", "the organization", o.Metadata, OrganizationMetadataMaxPairs)
}

func checkDisplayName(v *Violations, field, s string) {
	n := utf8.RuneCountInString(strings.TrimSpace(s))
	switch {
	case n == 0:
		v.Add(field, "string.min_len=1", "is required and must not be blank")
	case utf8.RuneCountInString(s) > OrganizationDisplayNameMax:
		v.Add(field, "string.max_len=200", "must be at most %d characters, got %d", OrganizationDisplayNameMax, utf8.RuneCountInString(s))
	}
	if !utf8.ValidString(s) {
		v.Add(field, "string.utf8", "must be valid UTF-8")
	}
}

func checkExternalID(v *Violations, field, s string) {
	if n := utf8.RuneCountInString(s); n > ExternalIDMax {
		v.Add(field, "string.max_len=255", "must be at most %d characters, got %d", ExternalIDMax, n)
	}
	if !utf8.ValidString(s) {
		v.Add(field, "string.utf8", "must be valid UTF-8")
	}
}

func checkSlug(v *Violations, field, s string) {
	if s == "" {
		return
	}
	if len(s) > SlugMax {
		v.Add(field, "string.max_len=253", "must be at most %d characters", SlugMax)
	} else if !slugPattern.MatchString(s) {
		v.Add(field, "string.pattern", "must be lower-case letters, digits and hyphens in dot-separated labels, like a host name")
	}
}

func checkLogoURL(v *Violations, field, s string) {
	if n := utf8.RuneCountInString(s); n > LogoURLMax {
		v.Add(field, "string.max_len=1024", "must be at most %d characters", LogoURLMax)
	}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// OrganizationChanges names the fields (as the REST API spells them, sorted) whose values
// differ between two versions of an organization: an event's changed_fields.
func OrganizationChanges(before, after Organization) []string {
	var out changedFields
	out.add("display_name", before.DisplayName != after.DisplayName)
	out.add("external_id", !equalPtr(before.ExternalID, after.ExternalID))
	out.add("logo_url", !equalPtr(before.LogoURL, after.LogoURL))
	out.add("metadata", !maps.Equal(before.Metadata, after.Metadata))
	out.add("region_code", before.RegionCode != after.RegionCode)
	out.add("slug", !equalPtr(before.Slug, after.Slug))
	return out
}
