package scim

import (
	"strings"
)

// Schema URNs (RFC 7643 sections 8.7.1 and 8.7.2, RFC 7644 section 3).
const (
	UserSchema           = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupSchema          = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseUserSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

	listResponseSchema = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	patchOpSchema      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	errorSchema        = "urn:ietf:params:scim:api:messages:2.0:Error"
	spcSchema          = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	resourceTypeSchema = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	schemaSchema       = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// Attribute types (RFC 7643 section 2.3).
const (
	TypeString    = "string"
	TypeBoolean   = "boolean"
	TypeDecimal   = "decimal"
	TypeInteger   = "integer"
	TypeDateTime  = "dateTime"
	TypeBinary    = "binary"
	TypeReference = "reference"
	TypeComplex   = "complex"
)

// Mutability and returned values (RFC 7643 section 7).
const (
	ReadOnly  = "readOnly"
	ReadWrite = "readWrite"
	Immutable = "immutable"
	WriteOnly = "writeOnly"

	ReturnedAlways  = "always"
	ReturnedNever   = "never"
	ReturnedDefault = "default"
	ReturnedRequest = "request"
)

// Attribute is one attribute definition of a schema (RFC 7643 section 7). The definitions
// drive the /Schemas answer, the coercion of what clients send, filters and PATCH paths.
type Attribute struct {
	Name            string       `json:"name"`
	Type            string       `json:"type"`
	SubAttributes   []*Attribute `json:"subAttributes,omitempty"`
	MultiValued     bool         `json:"multiValued"`
	Description     string       `json:"description"`
	Required        bool         `json:"required"`
	CanonicalValues []string     `json:"canonicalValues,omitempty"`
	CaseExact       bool         `json:"caseExact"`
	Mutability      string       `json:"mutability"`
	Returned        string       `json:"returned"`
	Uniqueness      string       `json:"uniqueness"`
	ReferenceTypes  []string     `json:"referenceTypes,omitempty"`
}

// Sub finds a sub-attribute by name, case-insensitively (RFC 7643 section 2.1).
func (a *Attribute) Sub(name string) *Attribute {
	for _, s := range a.SubAttributes {
		if strings.EqualFold(s.Name, name) {
			return s
		}
	}
	return nil
}

// Schema is a resource schema or a schema extension.
type Schema struct {
	ID          string
	Name        string
	Description string
	Attributes  []*Attribute
}

// Attr finds a top-level attribute by name, case-insensitively.
func (s *Schema) Attr(name string) *Attribute {
	for _, a := range s.Attributes {
		if strings.EqualFold(a.Name, name) {
			return a
		}
	}
	return nil
}

// ResourceType is one of the two resource types this package serves (RFC 7643 section 6).
type ResourceType struct {
	Name       string // "User", "Group"
	Endpoint   string // "/Users", "/Groups"
	Schema     *Schema
	Extensions []*Schema // declared extensions (not required)
}

// Extension finds a declared extension by URN, case-insensitively.
func (rt *ResourceType) Extension(urn string) *Schema {
	for _, e := range rt.Extensions {
		if strings.EqualFold(e.ID, urn) {
			return e
		}
	}
	return nil
}

// attribute builders, with the RFC's defaults: single-valued, optional, not case-exact,
// readWrite, returned by default, not unique.
type attrOpt func(*Attribute)

func attr(name, typ string, opts ...attrOpt) *Attribute {
	a := &Attribute{Name: name, Type: typ, Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: "none"}
	for _, o := range opts {
		o(a)
	}
	return a
}

func str(name string, opts ...attrOpt) *Attribute { return attr(name, TypeString, opts...) }

func complexAttr(name string, subs []*Attribute, opts ...attrOpt) *Attribute {
	a := attr(name, TypeComplex, opts...)
	a.SubAttributes = subs
	return a
}

func desc(d string) attrOpt             { return func(a *Attribute) { a.Description = d } }
func multi(a *Attribute)                { a.MultiValued = true }
func required(a *Attribute)             { a.Required = true }
func caseExact(a *Attribute)            { a.CaseExact = true }
func readOnly(a *Attribute)             { a.Mutability = ReadOnly }
func immutable(a *Attribute)            { a.Mutability = Immutable }
func writeOnly(a *Attribute)            { a.Mutability = WriteOnly; a.Returned = ReturnedNever }
func uniqueServer(a *Attribute)         { a.Uniqueness = "server" }
func canonical(v ...string) attrOpt     { return func(a *Attribute) { a.CanonicalValues = v } }
func refTypes(v ...string) attrOpt      { return func(a *Attribute) { a.ReferenceTypes = v } }
func returned(r string) attrOpt         { return func(a *Attribute) { a.Returned = r } }
func boolean(name, d string) *Attribute { return attr(name, TypeBoolean, desc(d)) }

// multiValuedSubs are the sub-attributes of the usual multi-valued attributes (value, display,
// type, primary), with the canonical values of type.
func multiValuedSubs(valueType string, types ...string) []*Attribute {
	v := attr("value", valueType, desc("The attribute's significant value."))
	if valueType == TypeReference {
		v.ReferenceTypes = []string{"external"}
	}
	return []*Attribute{
		v,
		str("display", desc("A human-readable name, primarily used for display purposes."), readOnly),
		str("type", desc("A label indicating the attribute's function."), canonical(types...)),
		boolean("primary", "A Boolean value indicating the 'primary' or preferred attribute value for this attribute."),
	}
}

// commonAttributes are id, externalId and meta (RFC 7643 section 3.1), listed in every
// resource schema's answer for completeness of the case-insensitive lookups.
var (
	idAttr = str("id", desc("A unique identifier for a SCIM resource as defined by the service provider."),
		caseExact, readOnly, returned(ReturnedAlways), uniqueServer)
	externalIDAttr = str("externalId", desc("A String that is an identifier for the resource as defined by the provisioning client."), caseExact)
	metaAttr       = complexAttr("meta", []*Attribute{
		str("resourceType", desc("The name of the resource type of the resource."), caseExact, readOnly),
		attr("created", TypeDateTime, desc("The DateTime that the resource was added to the service provider."), readOnly),
		attr("lastModified", TypeDateTime, desc("The most recent DateTime that the details of this resource were updated at the service provider."), readOnly),
		attr("location", TypeReference, desc("The URI of the resource being returned."), caseExact, readOnly),
		str("version", desc("The version of the resource being returned."), caseExact, readOnly),
	}, desc("A complex attribute containing resource metadata."), readOnly)
)

// UserSchemaDef is the core User schema (RFC 7643 section 4.1 and 8.7.1).
var UserSchemaDef = &Schema{
	ID: UserSchema, Name: "User", Description: "User Account",
	Attributes: []*Attribute{
		str("userName", desc("Unique identifier for the User, typically used by the user to directly authenticate to the service provider. REQUIRED."), required, uniqueServer),
		complexAttr("name", []*Attribute{
			str("formatted", desc("The full name, including all middle names, titles, and suffixes as appropriate, formatted for display.")),
			str("familyName", desc("The family name of the User, or last name in most Western languages.")),
			str("givenName", desc("The given name of the User, or first name in most Western languages.")),
			str("middleName", desc("The middle name(s) of the User.")),
			str("honorificPrefix", desc("The honorific prefix(es) of the User, or title in most Western languages.")),
			str("honorificSuffix", desc("The honorific suffix(es) of the User, or suffix in most Western languages.")),
		}, desc("The components of the user's real name.")),
		str("displayName", desc("The name of the User, suitable for display to end-users.")),
		str("nickName", desc("The casual way to address the user in real life.")),
		attr("profileUrl", TypeReference, desc("A fully qualified URL pointing to a page representing the User's online profile."), refTypes("external")),
		str("title", desc("The user's title, such as \"Vice President.\"")),
		str("userType", desc("Used to identify the relationship between the organization and the user.")),
		str("preferredLanguage", desc("Indicates the User's preferred written or spoken language.")),
		str("locale", desc("Used to indicate the User's default location for purposes of localizing items such as currency, date time format, or numerical representations.")),
		str("timezone", desc("The User's time zone in the 'Olson' time zone database format, e.g., 'America/Los_Angeles'.")),
		boolean("active", "A Boolean value indicating the User's administrative status."),
		str("password", desc("The User's cleartext password. Roster accepts and discards it: sign-in is single sign-on."), writeOnly),
		complexAttr("emails", multiValuedSubs(TypeString, "work", "home", "other"), desc("Email addresses for the user."), multi),
		complexAttr("phoneNumbers", multiValuedSubs(TypeString, "work", "home", "mobile", "fax", "pager", "other"), desc("Phone numbers for the User."), multi),
		complexAttr("ims", multiValuedSubs(TypeString, "aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"), desc("Instant messaging addresses for the User."), multi),
		complexAttr("photos", multiValuedSubs(TypeReference, "photo", "thumbnail"), desc("URLs of photos of the User."), multi),
		complexAttr("addresses", []*Attribute{
			str("formatted", desc("The full mailing address, formatted for display or use with a mailing label.")),
			str("streetAddress", desc("The full street address component.")),
			str("locality", desc("The city or locality component.")),
			str("region", desc("The state or region component.")),
			str("postalCode", desc("The zip code or postal code component.")),
			str("country", desc("The country name component.")),
			str("type", desc("A label indicating the attribute's function."), canonical("work", "home", "other")),
			boolean("primary", "A Boolean value indicating the 'primary' or preferred attribute value for this attribute."),
		}, desc("A physical mailing address for this User."), multi),
		complexAttr("groups", []*Attribute{
			str("value", desc("The identifier of the User's group."), readOnly),
			attr("$ref", TypeReference, desc("The URI of the corresponding 'Group' resource to which the user belongs."), readOnly, refTypes("User", "Group")),
			str("display", desc("A human-readable name, primarily used for display purposes."), readOnly),
			str("type", desc("A label indicating the attribute's function, e.g., 'direct' or 'indirect'."), canonical("direct", "indirect"), readOnly),
		}, desc("A list of groups to which the user belongs. Roster ignores it on input: membership is written through /Groups."), multi, readOnly),
		complexAttr("entitlements", multiValuedSubs(TypeString), desc("A list of entitlements for the User."), multi),
		complexAttr("roles", multiValuedSubs(TypeString), desc("A list of roles for the User."), multi),
		complexAttr("x509Certificates", multiValuedSubs(TypeBinary), desc("A list of certificates issued to the User."), multi),
	},
}

// EnterpriseUserSchemaDef is the enterprise User extension (RFC 7643 section 4.3).
var EnterpriseUserSchemaDef = &Schema{
	ID: EnterpriseUserSchema, Name: "EnterpriseUser", Description: "Enterprise User",
	Attributes: []*Attribute{
		str("employeeNumber", desc("Numeric or alphanumeric identifier assigned to a person, typically based on order of hire or association with an organization.")),
		str("costCenter", desc("Identifies the name of a cost center.")),
		str("organization", desc("Identifies the name of an organization.")),
		str("division", desc("Identifies the name of a division.")),
		str("department", desc("Identifies the name of a department.")),
		complexAttr("manager", []*Attribute{
			str("value", desc("The id of the SCIM resource representing the User's manager. REQUIRED."), required),
			attr("$ref", TypeReference, desc("The URI of the SCIM resource representing the User's manager."), refTypes("User")),
			str("displayName", desc("The displayName of the User's manager."), readOnly),
		}, desc("The User's manager. A bare string or a one-element array is read as {\"value\": ...}.")),
	},
}

// GroupSchemaDef is the core Group schema (RFC 7643 section 4.2 and 8.7.1).
var GroupSchemaDef = &Schema{
	ID: GroupSchema, Name: "Group", Description: "Group",
	Attributes: []*Attribute{
		str("displayName", desc("A human-readable name for the Group. REQUIRED."), required),
		complexAttr("members", []*Attribute{
			str("value", desc("Identifier of the member of this Group."), immutable),
			attr("$ref", TypeReference, desc("The URI corresponding to a SCIM resource that is a member of this Group."), immutable, refTypes("User", "Group")),
			str("type", desc("A label indicating the type of resource, e.g., 'User' or 'Group'."), immutable, canonical("User", "Group")),
			str("display", desc("A human-readable name of the member, set by the service provider."), readOnly),
		}, desc("A list of members of the Group."), multi),
	},
}

// Users and Groups are the two resource types.
var (
	Users  = &ResourceType{Name: "User", Endpoint: "/Users", Schema: UserSchemaDef, Extensions: []*Schema{EnterpriseUserSchemaDef}}
	Groups = &ResourceType{Name: "Group", Endpoint: "/Groups", Schema: GroupSchemaDef}
)

// allSchemas is what /Schemas lists.
var allSchemas = []*Schema{UserSchemaDef, GroupSchemaDef, EnterpriseUserSchemaDef}

// commonAttr finds id, externalId or meta.
func commonAttr(name string) *Attribute {
	for _, a := range []*Attribute{idAttr, externalIDAttr, metaAttr} {
		if strings.EqualFold(a.Name, name) {
			return a
		}
	}
	return nil
}

// isURN reports whether a top-level key names a schema (an extension's container or a
// URN-qualified path) rather than an attribute: attribute names never hold a colon.
func isURN(key string) bool { return strings.Contains(key, ":") }
