package roster

import (
	"strings"
	"time"

	"golang.org/x/net/idna"
)

// DomainType says what an organization's domain is for (the wire enum DomainType).
type DomainType string

const (
	// DomainOrganization routes sign-ins: a login hint at this domain goes to the
	// organization's SSO connection.
	DomainOrganization DomainType = "ORGANIZATION_DOMAIN"
	// DomainAllowedEmail lets users of this email domain join the organization.
	DomainAllowedEmail DomainType = "ALLOWED_EMAIL_DOMAIN"
)

// Domain is an email domain that belongs to an organization. A domain belongs to at most one
// organization of an environment, so that a sign-in by email domain has one destination.
// Domains created through the API are verified by that act (verification method ADMIN): the
// caller is the application's own back end (docs/sso.md).
type Domain struct {
	ID             string
	EnvironmentID  string
	OrganizationID string
	Name           string // lower case, ASCII (IDNA) form
	Type           DomainType
	CreateTime     time.Time
	UpdateTime     time.Time
}

// MaxDomainsPerOrganization caps an organization's domains, so that the lists that show
// them (ListDomains, and every ListConnections entry) stay bounded (docs/limits.md).
const MaxDomainsPerOrganization = 100

// Domain name limits (../shared/api section 3.7).
const (
	DomainMin = 4
	DomainMax = 255
)

// NormalizeDomain checks a domain name and returns its lower-case ASCII form.
func NormalizeDomain(field, name string) (string, error) {
	var v Violations
	s := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
	ascii, err := idna.Lookup.ToASCII(s)
	switch {
	case len(name) < DomainMin || len(name) > DomainMax:
		v.Add(field, "string.len=4..255", "must be 4 to 255 characters")
	case err != nil || !strings.Contains(ascii, ".") || strings.ContainsAny(ascii, "@/:* "):
		v.Add(field, "hostname", "must be a domain name such as example.com")
	case publicEmailDomains[ascii]:
		v.Add(field, "not_public", "%s is a public email provider; it cannot belong to one organization", ascii)
	}
	return ascii, v.Err()
}

// publicEmailDomains are shared by people of many companies: routing them to one
// organization's identity provider would send strangers there.
var publicEmailDomains = map[string]bool{
	"gmail.com": true, "googlemail.com": true, "outlook.com": true, "hotmail.com": true, "live.com": true,
	"yahoo.com": true, "icloud.com": true, "me.com": true, "aol.com": true, "proton.me": true,
	"protonmail.com": true, "gmx.com": true, "mail.com": true, "yandex.com": true, "zoho.com": true,
}

// EmailDomain returns the normalized domain of an email address, or "".
func EmailDomain(email string) string {
	_, d, ok := strings.Cut(strings.TrimSpace(email), "@")
	if !ok || d == "" {
		return ""
	}
	ascii, err := idna.Lookup.ToASCII(strings.ToLower(d))
	if err != nil {
		return ""
	}
	return ascii
}
