package roster

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Profile fields that a connection's attribute mapping can fill (docs/attribute-mapping.md).
const (
	FieldEmail             = "email"
	FieldEmailVerified     = "email_verified"
	FieldGivenName         = "given_name"
	FieldFamilyName        = "family_name"
	FieldName              = "name"
	FieldPhoneNumber       = "phone_number"
	FieldLocale            = "locale"
	FieldPicture           = "picture"
	FieldPreferredUsername = "preferred_username"
	FieldGroups            = "groups"
)

// GroupRolePrefix starts an attribute-mapping key that maps a provider group to a role:
// "group:Engineering" → "admin".
const GroupRolePrefix = "group:"

// CustomAttributePrefix may qualify a custom attribute key in a mapping
// ("custom_attributes.employee_number"); the bare key works too.
const CustomAttributePrefix = "custom_attributes."

// defaultClaims lists, per profile field, the claims that fill it when a connection's mapping
// does not name one, first match wins. The list is the union of what OIDC providers send
// (Google, Okta, Auth0: the standard claims), what Microsoft Entra and Active Directory send
// (givenName, surname, upn, mail) and the SAML attribute names of common providers, so every
// provider lands in the same normalized fields with no configuration.
var defaultClaims = map[string][]string{
	FieldEmail: {"email", "mail", "emailAddress", "Email", "upn",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
		"urn:oid:0.9.2342.19200300.100.1.3", "urn:oid:1.3.6.1.4.1.5923.1.1.1.6", SAMLNameIDClaim},
	FieldEmailVerified: {"email_verified"},
	FieldGivenName: {"given_name", "givenName", "givenname", "firstName", "first_name", "FirstName",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname", "urn:oid:2.5.4.42"},
	FieldFamilyName: {"family_name", "surname", "familyName", "sn", "lastName", "last_name", "LastName",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname", "urn:oid:2.5.4.4"},
	FieldName: {"name", "displayName", "display_name", "cn",
		"http://schemas.microsoft.com/identity/claims/displayname", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
		"urn:oid:2.16.840.1.113730.3.1.241", "urn:oid:2.5.4.3"},
	FieldPhoneNumber: {"phone_number", "mobilePhone", "mobile", "telephoneNumber", "phone",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/mobilephone", "urn:oid:0.9.2342.19200300.100.1.41", "urn:oid:2.5.4.20"},
	FieldLocale:            {"locale", "preferredLanguage", "urn:oid:2.16.840.1.113730.3.1.39"},
	FieldPicture:           {"picture"},
	FieldPreferredUsername: {"preferred_username", "nickname", "userPrincipalName", "uid", "urn:oid:0.9.2342.19200300.100.1.1"},
	FieldGroups: {"groups", "memberOf", "isMemberOf", "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups",
		"http://schemas.xmlsoap.org/claims/Group", "urn:oid:1.3.6.1.4.1.5923.1.5.1.1"},
}

// SAMLNameIDClaim carries a SAML assertion's NameID among its claims: the last resort for
// the email address (when the NameID is one).
const SAMLNameIDClaim = "saml:nameid"

// StandardFields are the mappable profile fields, in a fixed order.
var StandardFields = []string{FieldEmail, FieldEmailVerified, FieldGivenName, FieldFamilyName, FieldName,
	FieldPhoneNumber, FieldLocale, FieldPicture, FieldPreferredUsername, FieldGroups}

// AttributeMapping is a parsed connection mapping.
type AttributeMapping struct {
	Standard   map[string]string // profile field → claim
	Custom     map[string]string // custom attribute key → claim
	GroupRoles map[string]string // provider group → role name
}

// ParseAttributeMapping checks a connection's attribute_mapping. Keys are profile fields,
// custom attribute keys (defined in defs; "custom_attributes." may prefix them) or
// "group:<provider group>"; values are the provider's claim names (a dot walks into nested
// objects, e.g. "address.postal_code") or, for groups, role names that roleExists knows.
func ParseAttributeMapping(m map[string]string, defs map[string]AttributeDefinition, roleExists func(string) bool) (AttributeMapping, error) {
	out := AttributeMapping{Standard: map[string]string{}, Custom: map[string]string{}, GroupRoles: map[string]string{}}
	var v Violations
	const field = "connection.attribute_mapping"
	if len(m) > AttributeMappingMaxPairs {
		v.Add(field, "map.max_pairs=30", "at most %d pairs, got %d", AttributeMappingMaxPairs, len(m))
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		val := m[k]
		f := field + "." + k
		switch {
		case k == "" || utf8.RuneCountInString(k) > AttributeMappingKeyMax:
			v.Add(f, "map.keys.string.max_len=100", "keys are 1 to %d characters", AttributeMappingKeyMax)
			continue
		case val == "" || utf8.RuneCountInString(val) > AttributeMappingValueMax:
			v.Add(f, "map.values.string.max_len=256", "values are 1 to %d characters", AttributeMappingValueMax)
			continue
		}
		if group, ok := strings.CutPrefix(k, GroupRolePrefix); ok {
			if group == "" {
				v.Add(f, "group", "name the provider group after %q", GroupRolePrefix)
			} else if roleExists != nil && !roleExists(val) {
				v.Add(f, "role", "no role named %q exists", val)
			} else {
				out.GroupRoles[group] = val
			}
			continue
		}
		if isStandardField(k) {
			out.Standard[k] = val
			continue
		}
		key := strings.TrimPrefix(k, CustomAttributePrefix)
		if _, ok := defs[key]; !ok {
			v.Add(f, "defined", "%q is neither a profile field (%s) nor a defined custom attribute; define it first (/api/v1/user-attributes)",
				key, strings.Join(StandardFields, ", "))
			continue
		}
		out.Custom[key] = val
	}
	return out, v.Err()
}

func isStandardField(k string) bool {
	_, ok := defaultClaims[k]
	return ok
}

// ProviderProfile is what one sign-in says about a user, normalized.
type ProviderProfile struct {
	Subject       string // the provider's ID for the user
	Email         string
	EmailVerified *bool
	// Standard holds the profile fields the provider sent, by field name (strings; groups
	// are in Groups).
	Standard map[string]string
	Groups   []string // nil when the provider sent no groups
	Custom   map[string]string
	Role     string // from the group-to-role mapping, "" when no group matched
	Raw      map[string]any
}

// Normalize maps a provider's claims onto the profile fields through mapping, falling back to
// the default claim names for fields the mapping does not name. Values that are not strings
// are written as JSON scalars ("true", "42"); a list fills a single field with its first
// element.
func Normalize(claims map[string]any, subject string, mapping AttributeMapping) ProviderProfile {
	p := ProviderProfile{Subject: subject, Standard: map[string]string{}, Custom: map[string]string{}, Raw: claims}
	for _, field := range StandardFields {
		names := defaultClaims[field]
		if c, ok := mapping.Standard[field]; ok {
			names = []string{c}
		}
		for _, name := range names {
			val, ok := lookupClaim(claims, name)
			if !ok {
				continue
			}
			if field == FieldGroups {
				p.Groups = claimStrings(val)
				break
			}
			s, ok := claimString(val)
			if !ok || s == "" {
				continue
			}
			p.Standard[field] = s
			break
		}
	}
	p.Email = NormalizeEmail(p.Standard[FieldEmail])
	if s, ok := p.Standard[FieldEmailVerified]; ok {
		b := s == "true"
		p.EmailVerified = &b
	}
	for key, claim := range mapping.Custom {
		if val, ok := lookupClaim(claims, claim); ok {
			if s, ok := claimString(val); ok && s != "" {
				p.Custom[key] = s
			}
		}
	}
	// The first group, in the provider's order, that has a role decides the role.
	for _, g := range p.Groups {
		if r, ok := mapping.GroupRoles[g]; ok {
			p.Role = r
			break
		}
	}
	return p
}

// lookupClaim finds a claim by its exact name first (SAML names hold dots), then by walking
// a dotted path into nested objects.
func lookupClaim(claims map[string]any, name string) (any, bool) {
	if v, ok := claims[name]; ok {
		return v, true
	}
	parts := strings.Split(name, ".")
	if len(parts) < 2 {
		return nil, false
	}
	var cur any = claims
	for _, p := range parts {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func claimString(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return strings.TrimSpace(t), true
	case bool:
		return strconv.FormatBool(t), true
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1e15 {
			return strconv.FormatInt(int64(t), 10), true
		}
		return strconv.FormatFloat(t, 'f', -1, 64), true
	case json.Number:
		return t.String(), true
	case []any:
		if len(t) > 0 {
			return claimString(t[0])
		}
	case []string:
		if len(t) > 0 {
			return strings.TrimSpace(t[0]), true
		}
	}
	return "", false
}

func claimStrings(v any) []string {
	out := []string{}
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			if s, ok := claimString(e); ok && s != "" {
				out = append(out, s)
			}
		}
	case []string:
		for _, s := range t {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	default:
		if s, ok := claimString(t); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

// RawClaimsMax bounds the raw claims kept from one sign-in (docs/attribute-mapping.md).
const RawClaimsMax = 16 << 10

// CapRawClaims returns the claims as JSON of at most RawClaimsMax bytes: the largest claims
// are dropped first until it fits, and "_truncated" lists what was dropped.
func CapRawClaims(claims map[string]any) []byte {
	b, err := json.Marshal(claims)
	if err == nil && len(b) <= RawClaimsMax {
		return b
	}
	type sized struct {
		k string
		n int
	}
	var all []sized
	for k, v := range claims {
		vb, _ := json.Marshal(v)
		all = append(all, sized{k, len(k) + len(vb)})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n })
	kept := map[string]any{}
	for k, v := range claims {
		kept[k] = v
	}
	var dropped []string
	for _, s := range all {
		delete(kept, s.k)
		dropped = append(dropped, s.k)
		kept["_truncated"] = dropped
		if b, err = json.Marshal(kept); err == nil && len(b) <= RawClaimsMax {
			return b
		}
	}
	return []byte(fmt.Sprintf(`{"_truncated":%d}`, len(claims)))
}

// ApplyLogin refreshes a user's profile from a sign-in: every field the provider sent
// replaces the stored one; fields it did not send, and custom attributes it does not map, keep
// their values. Values that break a profile rule (a phone number that is not E.164, a locale
// that is not BCP 47, a custom attribute value its definition refuses) are skipped and
// reported, so one odd claim does not stop a sign-in.
func ApplyLogin(pr *Profile, p ProviderProfile, defs map[string]AttributeDefinition) (skipped []string) {
	set := func(field string, dst *string, check func(string) bool) {
		s, ok := p.Standard[field]
		if !ok {
			return
		}
		if check != nil && !check(s) {
			skipped = append(skipped, field)
			return
		}
		*dst = s
	}
	maxLen := func(n int) func(string) bool {
		return func(s string) bool { return utf8.RuneCountInString(s) <= n }
	}
	oldDefault := strings.TrimSpace(pr.GivenName + " " + pr.FamilyName)
	set(FieldGivenName, &pr.GivenName, maxLen(NameMax))
	set(FieldFamilyName, &pr.FamilyName, maxLen(NameMax))
	set(FieldName, &pr.Name, maxLen(NameMax))
	set(FieldPhoneNumber, &pr.PhoneNumber, e164.MatchString)
	set(FieldLocale, &pr.Locale, func(s string) bool { return CanonicalLocale(s) != "" })
	pr.Locale = CanonicalLocale(pr.Locale)
	set(FieldPicture, &pr.Picture, maxLen(PictureMax))
	set(FieldPreferredUsername, &pr.PreferredUsername, maxLen(PreferredUsernameMax))
	// A name the provider does not send follows given and family name, unless it was set
	// to something else (as ProfilePatch does).
	if _, given := p.Standard[FieldName]; !given && (pr.Name == "" || pr.Name == oldDefault) {
		pr.Name = strings.TrimSpace(pr.GivenName + " " + pr.FamilyName)
	}
	if p.EmailVerified != nil {
		pr.EmailVerified = *p.EmailVerified
	}
	if p.Groups != nil {
		if len(p.Groups) > GroupsMax {
			skipped = append(skipped, FieldGroups)
		} else {
			pr.Groups = p.Groups
		}
	}
	if pr.CustomAttributes == nil {
		pr.CustomAttributes = map[string]string{}
	}
	for k, val := range p.Custom {
		d, ok := defs[k]
		if !ok || d.CheckValue(val) != "" {
			skipped = append(skipped, CustomAttributePrefix+k)
			continue
		}
		pr.CustomAttributes[k] = val
	}
	sort.Strings(skipped)
	return skipped
}

// DefaultClaims returns the claims that fill a profile field when no mapping names one.
func DefaultClaims(field string) []string { return append([]string(nil), defaultClaims[field]...) }
