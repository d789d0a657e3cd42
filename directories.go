package roster

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ID prefixes of SCIM directories and what hangs off them (../shared/api section 3.6).
const (
	PrefixDirectory       = "dir_"
	PrefixDirectorySecret = "sec_"
	PrefixDirectoryUser   = "diruser_"
	PrefixDirectoryGroup  = "dirgroup_"
)

// Directory limits (docs/directories.md). ListDirectories has no page fields, so an
// organization's directories are capped; the (organization, provider) unique key already keeps
// them to one per provider, and the cap is the bound a list answer relies on.
const (
	MaxDirectoriesPerOrganization = 10
	DirectoryNameMax              = 256
	DirectoryMappingMaxPairs      = 30
	DirectoryMappingKeyMax        = 32  // the wire rule (AttributeMapping.key)
	DirectoryMappingValueMax      = 256 // the wire says 32; SCIM URN paths are longer (docs/directories.md)
	MaxRoleAssignments            = 100
	MaxDirectoryPageSize          = 30 // ListDirectoryUsers / ListDirectoryGroups: page_size <= 30
	// DirectorySecretPrefix starts every SCIM bearer token Roster issues, so that a leaked one
	// is recognizable (secret scanners, logs); 32 random bytes follow, base64url.
	DirectorySecretPrefix = "rscim_"
	// DirectorySecretUseGranularity: the last-used time of a secret is written at most this
	// often, so that a busy IdP does not turn every SCIM read into a write.
	DirectorySecretUseGranularity = time.Minute
	// DirectoryGroupMemberTimeGranularity: a SCIM write that changes only a group's members
	// moves the group's update time (meta.lastModified, its version) at most this often, so
	// that concurrent member writes of one big group do not all update, and on PostgreSQL
	// wait for, the group's row (docs/scim.md "The write path").
	DirectoryGroupMemberTimeGranularity = time.Second
)

// DirectoryType is the protocol of a directory; Roster serves SCIM only.
type DirectoryType string

const DirectorySCIM DirectoryType = "SCIM"

// DirectoryProviders are the identity providers the wire enum DirectoryProvider names; ""
// (unspecified) is a generic SCIM client.
var DirectoryProviders = []string{"OKTA", "GOOGLE", "MICROSOFT_AD", "AUTH0", "ONELOGIN", "JUMPCLOUD", "PING_IDENTITY"}

// DirectoryStatus is how far a directory's set-up has come (derived, see Directory.Status).
type DirectoryStatus string

const (
	DirectoryDraft      DirectoryStatus = "DRAFT"       // no secret yet: the IdP cannot connect
	DirectoryInProgress DirectoryStatus = "IN_PROGRESS" // a secret exists, the IdP has not called yet
	DirectoryCompleted  DirectoryStatus = "COMPLETED"   // the IdP has provisioned through it
)

// DirectoryMapping maps one Roster profile field or custom attribute (Key) from a SCIM
// attribute (MapTo: a core attribute such as "title", a dotted path such as "name.givenName",
// or a full URN path of an extension attribute). Keys read as in SSO attribute mappings
// (DESIGN "Mappings read the same way everywhere").
type DirectoryMapping struct {
	Key   string
	MapTo string
}

// DirectoryRoleAssignment gives the members of a directory group a role of the organization.
type DirectoryRoleAssignment struct {
	GroupID  string
	RoleID   string
	RoleName string
}

// Directory is an organization's SCIM directory: the endpoint its identity provider
// provisions users and groups into.
type Directory struct {
	ID             string
	EnvironmentID  string
	OrganizationID string
	Name           string
	Type           DirectoryType
	Provider       string // one of DirectoryProviders, or "" for a generic SCIM client
	// Enabled directories answer SCIM requests; a disabled one answers 401 and keeps its data.
	Enabled         bool
	Mappings        []DirectoryMapping        // in the order they were given
	RoleAssignments []DirectoryRoleAssignment // in group ID order
	HasSecret       bool                      // filled by reads: an active secret exists
	CreateTime      time.Time
	UpdateTime      time.Time
	LastSyncTime    *time.Time // the last SCIM write
}

// Status is derived from the set-up, as for connections.
func (d Directory) Status() DirectoryStatus {
	switch {
	case d.LastSyncTime != nil:
		return DirectoryCompleted
	case d.HasSecret:
		return DirectoryInProgress
	}
	return DirectoryDraft
}

// NewDirectory starts a SCIM directory of an organization: enabled (as Scalekit enables a
// directory when its provider is chosen), with no secret until one is created.
func NewDirectory(id, environmentID, organizationID string, typ DirectoryType, provider string, now time.Time) (Directory, error) {
	var v Violations
	switch typ {
	case DirectorySCIM:
	case "":
		v.Add("directory.directory_type", "required", "a directory type is required (SCIM)")
	default:
		v.Add("directory.directory_type", "enum", "Roster serves SCIM directories, not %s", typ)
	}
	if provider != "" && !knownDirectoryProvider(provider) {
		v.Add("directory.directory_provider", "enum.defined_only", "unknown directory provider %q", provider)
	}
	if err := v.Err(); err != nil {
		return Directory{}, err
	}
	return Directory{ID: id, EnvironmentID: environmentID, OrganizationID: organizationID, Name: DefaultDirectoryName(provider),
		Type: typ, Provider: provider, Enabled: true, Mappings: []DirectoryMapping{}, RoleAssignments: []DirectoryRoleAssignment{},
		CreateTime: now, UpdateTime: now}, nil
}

// DefaultDirectoryName names a new directory after its provider.
func DefaultDirectoryName(provider string) string {
	names := map[string]string{"OKTA": "Okta", "GOOGLE": "Google Workspace", "MICROSOFT_AD": "Microsoft Entra ID", "AUTH0": "Auth0",
		"ONELOGIN": "OneLogin", "JUMPCLOUD": "JumpCloud", "PING_IDENTITY": "Ping Identity"}
	if n, ok := names[provider]; ok {
		return n + " SCIM directory"
	}
	return "SCIM directory"
}

func knownDirectoryProvider(p string) bool {
	for _, k := range DirectoryProviders {
		if k == p {
			return true
		}
	}
	return false
}

// DirectoryPatch changes a directory; nil fields stay as they are. Mappings, when not nil,
// replace the whole mapping.
type DirectoryPatch struct {
	Name     *string
	Type     *DirectoryType
	Provider *string
	Enabled  *bool
	Mappings []DirectoryMapping
}

// Apply checks and applies a patch; defs are the environment's attribute definitions (needed
// when Mappings is set).
func (p DirectoryPatch) Apply(d *Directory, defs map[string]AttributeDefinition, now time.Time) error {
	var v Violations
	if p.Name != nil {
		if n := utf8.RuneCountInString(strings.TrimSpace(*p.Name)); n == 0 || n > DirectoryNameMax {
			v.Add("directory.name", "string.len=1..256", "must be 1 to %d characters", DirectoryNameMax)
		} else {
			d.Name = strings.TrimSpace(*p.Name)
		}
	}
	if p.Type != nil && *p.Type != DirectorySCIM {
		v.Add("directory.directory_type", "enum", "Roster serves SCIM directories, not %s", *p.Type)
	}
	if p.Provider != nil {
		if *p.Provider != "" && !knownDirectoryProvider(*p.Provider) {
			v.Add("directory.directory_provider", "enum.defined_only", "unknown directory provider %q", *p.Provider)
		} else {
			d.Provider = *p.Provider
		}
	}
	if p.Enabled != nil {
		d.Enabled = *p.Enabled
	}
	if p.Mappings != nil {
		if err := CheckDirectoryMappings("directory.mappings", p.Mappings, defs); err != nil {
			return err
		}
		d.Mappings = p.Mappings
	}
	if err := v.Err(); err != nil {
		return err
	}
	d.UpdateTime = now
	return nil
}

// CheckDirectoryMappings checks a directory's attribute mapping: keys are Roster profile
// fields or defined custom attributes ("custom_attributes." may prefix them), each at most
// once; values name the SCIM attribute. field names the request field in violations.
func CheckDirectoryMappings(field string, m []DirectoryMapping, defs map[string]AttributeDefinition) error {
	var v Violations
	if len(m) > DirectoryMappingMaxPairs {
		v.Add(field, "repeated.max_items=30", "at most %d mappings, got %d", DirectoryMappingMaxPairs, len(m))
		return v.Err()
	}
	seen := map[string]bool{}
	for i, e := range m {
		f := field + "[" + itoa(i) + "]"
		key := strings.TrimPrefix(e.Key, CustomAttributePrefix)
		switch {
		case e.Key == "" || utf8.RuneCountInString(e.Key) > DirectoryMappingKeyMax:
			v.Add(f+".key", "string.len=1..32", "keys are 1 to %d characters", DirectoryMappingKeyMax)
			continue
		case e.MapTo == "" || utf8.RuneCountInString(e.MapTo) > DirectoryMappingValueMax:
			v.Add(f+".map_to", "string.len=1..256", "map_to is 1 to %d characters", DirectoryMappingValueMax)
			continue
		case seen[key]:
			v.Add(f+".key", "unique", "%q is mapped twice", key)
			continue
		}
		seen[key] = true
		if key == FieldGroups || key == FieldEmailVerified {
			v.Add(f+".key", "field", "%q cannot be mapped from SCIM (groups come from SCIM Groups; SCIM has no email_verified)", key)
			continue
		}
		if isStandardField(key) {
			continue
		}
		if _, ok := defs[key]; !ok {
			v.Add(f+".key", "defined", "%q is neither a profile field (%s) nor a defined custom attribute; define it first (/api/v1/user-attributes)",
				key, strings.Join(directoryMappableFields(), ", "))
		}
	}
	return v.Err()
}

func directoryMappableFields() []string {
	out := []string{}
	for _, f := range StandardFields {
		if f != FieldGroups && f != FieldEmailVerified {
			out = append(out, f)
		}
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }

// CheckRoleAssignments checks the shape of a group-to-role mapping: each group at most once,
// each role a valid role name. That the groups and roles exist is checked against the store.
func CheckRoleAssignments(field string, a []DirectoryRoleAssignment) error {
	var v Violations
	if len(a) > MaxRoleAssignments {
		v.Add(field, "repeated.max_items=100", "at most %d assignments, got %d", MaxRoleAssignments, len(a))
		return v.Err()
	}
	seen := map[string]bool{}
	for i, e := range a {
		f := field + "[" + itoa(i) + "]"
		if _, ok := IDNumber(e.GroupID, PrefixDirectoryGroup); !ok {
			v.Add(f+".group_id", "string.prefix=dirgroup_", "must be a directory group ID (dirgroup_...)")
		} else if seen[e.GroupID] {
			v.Add(f+".group_id", "unique", "group %s is assigned twice; a group maps to one role", e.GroupID)
		}
		seen[e.GroupID] = true
		if e.RoleName == "" && e.RoleID == "" {
			v.Add(f+".role_name", "required", "a role name is required")
		} else if e.RoleName != "" && !validRoleName(e.RoleName) {
			v.Add(f+".role_name", "pattern=^[a-zA-Z0-9_]{1,64}$", "must be 1 to 64 letters, digits or '_'")
		}
	}
	return v.Err()
}

// DirectorySecret is a SCIM bearer token of a directory. Only its SHA-256 hash is stored: the
// token is 256 random bits, so no guessing or precomputation can find it from the hash, and a
// slow password hash would only slow down every SCIM request (docs/directories.md).
type DirectorySecret struct {
	ID           string
	DirectoryID  string
	Hash         string `json:"-"` // hex SHA-256 of the token; never in any JSON encoding
	Suffix       string // the token's last 4 characters, to tell tokens apart
	Active       bool
	CreateTime   time.Time
	ExpireTime   *time.Time // nil: does not expire (docs/directories.md)
	LastUsedTime *time.Time
}

// NewDirectorySecret makes a token and its stored form; the token is returned once and never
// stored.
func NewDirectorySecret(id, directoryID string, now time.Time) (DirectorySecret, string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return DirectorySecret{}, "", err
	}
	token := DirectorySecretPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return DirectorySecret{ID: id, DirectoryID: directoryID, Hash: HashDirectorySecret(token), Suffix: token[len(token)-4:],
		Active: true, CreateTime: now}, token, nil
}

// HashDirectorySecret is the stored form of a token, and how a presented token is looked up.
func HashDirectorySecret(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// DirectoryUser is a user as a directory's SCIM client provisioned it: the raw SCIM resource,
// kept whole, and the normalized fields the Scalekit DirectoryUser message shows.
type DirectoryUser struct {
	ID            string
	EnvironmentID string
	DirectoryID   string
	UserID        string // the linked Roster user ("" while none)
	UserName      string // SCIM userName; unique per directory, case-insensitively
	ExternalID    string
	DisplayName   string
	Active        bool
	Raw           json.RawMessage // the SCIM resource as the client last wrote it (a JSON object)
	// Normalized fields.
	Email             string
	PreferredUsername string
	GivenName         string
	FamilyName        string
	Emails            []string
	CreateTime        time.Time
	UpdateTime        time.Time
}

// DirectoryGroup is a group a directory's SCIM client provisioned. Its members are rows of
// their own (store: AddDirectoryGroupMembers), never a list inside the group.
type DirectoryGroup struct {
	ID            string
	EnvironmentID string
	DirectoryID   string
	DisplayName   string
	ExternalID    string
	Raw           json.RawMessage
	MemberCount   int // filled by reads
	CreateTime    time.Time
	UpdateTime    time.Time
}

// Limits of stored SCIM resources.
const (
	DirectoryTextMax = 256      // userName, displayName, externalId, normalized fields
	DirectoryRawMax  = 64 << 10 // one raw SCIM resource
)

// Validate checks a directory user before it is stored.
func (u DirectoryUser) Validate() error {
	var v Violations
	if n := utf8.RuneCountInString(u.UserName); n == 0 || n > DirectoryTextMax {
		v.Add("userName", "string.len=1..256", "userName is required and at most %d characters", DirectoryTextMax)
	}
	if utf8.RuneCountInString(u.ExternalID) > DirectoryTextMax {
		v.Add("externalId", "string.max_len=256", "at most %d characters", DirectoryTextMax)
	}
	for _, f := range []struct{ name, val string }{{"email", u.Email}, {"preferred_username", u.PreferredUsername},
		{"given_name", u.GivenName}, {"family_name", u.FamilyName}} {
		if utf8.RuneCountInString(f.val) > DirectoryTextMax {
			v.Add(f.name, "string.max_len=256", "at most %d characters", DirectoryTextMax)
		}
	}
	checkRaw(&v, u.Raw)
	return v.Err()
}

// Validate checks a directory group before it is stored.
func (g DirectoryGroup) Validate() error {
	var v Violations
	if n := utf8.RuneCountInString(g.DisplayName); n == 0 || n > DirectoryTextMax {
		v.Add("displayName", "string.len=1..256", "displayName is required and at most %d characters", DirectoryTextMax)
	}
	if utf8.RuneCountInString(g.ExternalID) > DirectoryTextMax {
		v.Add("externalId", "string.max_len=256", "at most %d characters", DirectoryTextMax)
	}
	checkRaw(&v, g.Raw)
	return v.Err()
}

func checkRaw(v *Violations, raw json.RawMessage) {
	if len(raw) == 0 {
		return
	}
	if len(raw) > DirectoryRawMax {
		v.Add("resource", "bytes.max_len=65536", "a SCIM resource is at most %d bytes", DirectoryRawMax)
		return
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		v.Add("resource", "json_object", "the SCIM resource must be a JSON object")
	}
}

// UserNameKey is the form of a SCIM userName its uniqueness is checked on: userName is
// case-insensitive (RFC 7643 section 4.1.1).
func UserNameKey(userName string) string { return strings.ToLower(NormalizeEmail(userName)) }
