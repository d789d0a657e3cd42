package roster

import (
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxConnectionsPerOrganization caps an organization's SSO connections, so that connection
// lists stay bounded (docs/limits.md).
const MaxConnectionsPerOrganization = 100

// MaxConnectionsListed bounds a list of the whole environment's connections (ListConnections
// without organization_id or domain); past it, the caller lists by organization.
const MaxConnectionsListed = 1000

// ID prefixes of SSO connections and organization domains.
const (
	PrefixConnection = "conn_"
	PrefixDomain     = "dom_"
)

// ConnectionType is the protocol of an SSO connection.
type ConnectionType string

const (
	ConnectionOIDC ConnectionType = "OIDC"
	ConnectionSAML ConnectionType = "SAML"
)

// Identity providers Roster knows by name (the wire enum ConnectionProvider). The provider
// picks nothing but defaults: every provider's claims go through the same mapping.
var ConnectionProviders = []string{"OKTA", "GOOGLE", "MICROSOFT_AD", "AUTH0", "ONELOGIN", "PING_IDENTITY",
	"JUMPCLOUD", "CUSTOM", "MICROSOFT", "ADFS"}

// ConnectionStatus is how far a connection's configuration has come.
type ConnectionStatus string

const (
	ConnectionDraft      ConnectionStatus = "DRAFT"       // nothing configured yet
	ConnectionInProgress ConnectionStatus = "IN_PROGRESS" // partly configured
	ConnectionCompleted  ConnectionStatus = "COMPLETED"   // enough to sign in
)

// Connection limits (../shared/api section 3.5).
const (
	AttributeMappingMaxPairs = 30
	AttributeMappingKeyMax   = 100
	AttributeMappingValueMax = 256
	URLMax                   = 2048
)

// Connection is an organization's SSO connection to its identity provider.
type Connection struct {
	ID               string
	EnvironmentID    string
	OrganizationID   string
	Type             ConnectionType
	Provider         string // one of ConnectionProviders
	Enabled          bool
	DebugEnabled     bool
	UIButtonTitle    string
	AttributeMapping map[string]string // see ParseAttributeMapping
	SyncProfile      bool              // refresh mapped attributes at every sign-in (default true)
	JITProvisioning  bool              // create users and memberships at sign-in (default true)
	OIDC             OIDCConfig
	SAML             SAMLConfig
	CreateTime       time.Time
	UpdateTime       time.Time
}

// OIDCConfig is an OIDC connection's upstream provider: by discovery from the issuer, or by
// manual endpoints.
type OIDCConfig struct {
	Issuer            string
	DiscoveryEndpoint string
	AuthorizeURI      string
	TokenURI          string
	UserInfoURI       string
	JWKSURI           string
	ClientID          string
	// ClientSecret is set in memory only when a request gives it or a login needs it; the
	// store keeps it encrypted (SecretSealed) and it is never returned by the API.
	// Both are left out of any JSON encoding (json:"-"), so that no generic encoder (an
	// event's plain data, a log) can show them.
	ClientSecret   string   `json:"-"`
	SecretSealed   string   `json:"-"`
	Scopes         []string // default openid, profile, email
	TokenAuthBasic bool     // client_secret_basic instead of client_secret_post
	PKCE           bool
	Manual         bool // manual endpoints instead of discovery
}

// HasSecret reports whether a client secret is stored.
func (c OIDCConfig) HasSecret() bool { return c.SecretSealed != "" || c.ClientSecret != "" }

// Status is derived from the configuration: a connection is COMPLETED when a login could use it.
func (c Connection) Status() ConnectionStatus {
	if c.Type == ConnectionSAML {
		return c.SAML.status()
	}
	o := c.OIDC
	ready := o.ClientID != "" && o.HasSecret() && (o.Issuer != "" || o.DiscoveryEndpoint != "")
	if o.Manual {
		ready = o.ClientID != "" && o.HasSecret() && o.Issuer != "" && o.AuthorizeURI != "" && o.TokenURI != "" && o.JWKSURI != ""
	}
	switch {
	case ready:
		return ConnectionCompleted
	case o.ClientID != "" || o.Issuer != "" || o.DiscoveryEndpoint != "" || o.HasSecret():
		return ConnectionInProgress
	}
	return ConnectionDraft
}

// NewConnection starts a connection of a type and provider, disabled, with the defaults.
func NewConnection(id, environmentID, organizationID string, typ ConnectionType, provider string, now time.Time) (Connection, error) {
	var v Violations
	switch typ {
	case ConnectionOIDC, ConnectionSAML:
	case "":
		v.Add("connection.type", "required", "a connection type is required (OIDC or SAML)")
	default:
		v.Add("connection.type", "enum", "Roster serves OIDC and SAML connections, not %s", typ)
	}
	if provider == "" {
		provider = "CUSTOM"
	}
	if !knownProvider(provider) {
		v.Add("connection.provider", "enum.defined_only", "unknown identity provider %q", provider)
	}
	if err := v.Err(); err != nil {
		return Connection{}, err
	}
	return Connection{
		ID: id, EnvironmentID: environmentID, OrganizationID: organizationID, Type: typ, Provider: provider,
		AttributeMapping: map[string]string{}, SyncProfile: true, JITProvisioning: true,
		OIDC: OIDCConfig{Scopes: []string{"openid", "profile", "email"}, PKCE: true},
		SAML: SAMLConfig{NameIDFormat: NameIDEmail, RequestBinding: BindingRedirect, SigningOption: SignResponseOrAssertion,
			ClockSkew: DefaultSAMLClockSkew},
		CreateTime: now, UpdateTime: now,
	}, nil
}

func knownProvider(p string) bool {
	for _, k := range ConnectionProviders {
		if k == p {
			return true
		}
	}
	return false
}

// ConnectionPatch changes a connection: nil fields stay as they are. AttributeMapping, when
// set, replaces the whole mapping (the wire has no way to say "remove one key" otherwise).
type ConnectionPatch struct {
	Provider         *string
	Enabled          *bool
	DebugEnabled     *bool
	UIButtonTitle    *string
	AttributeMapping map[string]string
	SyncProfile      *bool
	JITProvisioning  *bool
	OIDC             *OIDCPatch
	SAML             *SAMLPatch
}

// OIDCPatch changes an OIDC configuration; nil fields stay as they are.
type OIDCPatch struct {
	Issuer, DiscoveryEndpoint, AuthorizeURI, TokenURI, UserInfoURI, JWKSURI, ClientID, ClientSecret *string
	Scopes                                                                                          []string
	TokenAuthBasic, PKCE, SyncProfile, JITProvisioning                                              *bool
	Manual                                                                                          *bool
}

// Apply checks and applies a patch. Custom attribute keys in the mapping must be defined
// (defs) and group-to-role targets must be role names in roles.
func (p ConnectionPatch) Apply(c *Connection, defs map[string]AttributeDefinition, roleExists func(string) bool, now time.Time) error {
	var v Violations
	if p.Provider != nil {
		if !knownProvider(*p.Provider) {
			v.Add("connection.provider", "enum.defined_only", "unknown identity provider %q", *p.Provider)
		} else {
			c.Provider = *p.Provider
		}
	}
	if p.UIButtonTitle != nil {
		if utf8.RuneCountInString(*p.UIButtonTitle) > 100 {
			v.Add("connection.ui_button_title", "string.max_len=100", "must be at most 100 characters")
		}
		c.UIButtonTitle = *p.UIButtonTitle
	}
	if p.AttributeMapping != nil {
		if _, err := ParseAttributeMapping(p.AttributeMapping, defs, roleExists); err != nil {
			return err
		}
		c.AttributeMapping = p.AttributeMapping
	}
	if o := p.OIDC; o != nil {
		if c.Type != ConnectionOIDC {
			v.Add("connection.oidc_config", "type", "this is a %s connection; it takes no OIDC settings", c.Type)
		} else {
			o.apply(&v, &c.OIDC)
		}
	}
	if s := p.SAML; s != nil {
		if c.Type != ConnectionSAML {
			v.Add("connection.saml_config", "type", "this is a %s connection; it takes no SAML settings", c.Type)
		} else {
			s.apply(&v, &c.SAML)
		}
	}
	if p.DebugEnabled != nil {
		c.DebugEnabled = *p.DebugEnabled
	}
	if p.SyncProfile != nil {
		c.SyncProfile = *p.SyncProfile
	}
	if p.JITProvisioning != nil {
		c.JITProvisioning = *p.JITProvisioning
	}
	if err := v.Err(); err != nil {
		return err
	}
	if p.Enabled != nil {
		if err := c.SetEnabled(*p.Enabled); err != nil {
			return err
		}
	}
	c.UpdateTime = now
	return nil
}

func (o *OIDCPatch) apply(v *Violations, c *OIDCConfig) {
	setURL := func(field string, src *string, dst *string) {
		if src == nil {
			return
		}
		s := strings.TrimSpace(*src)
		if s != "" {
			checkURL(v, "connection.oidc_config."+field, s)
		}
		*dst = s
	}
	setURL("issuer", o.Issuer, &c.Issuer)
	setURL("discovery_endpoint", o.DiscoveryEndpoint, &c.DiscoveryEndpoint)
	setURL("authorize_uri", o.AuthorizeURI, &c.AuthorizeURI)
	setURL("token_uri", o.TokenURI, &c.TokenURI)
	setURL("user_info_uri", o.UserInfoURI, &c.UserInfoURI)
	setURL("jwks_uri", o.JWKSURI, &c.JWKSURI)
	if o.ClientID != nil {
		if utf8.RuneCountInString(*o.ClientID) > 255 {
			v.Add("connection.oidc_config.client_id", "string.max_len=255", "must be at most 255 characters")
		}
		c.ClientID = strings.TrimSpace(*o.ClientID)
	}
	if o.ClientSecret != nil {
		if len(*o.ClientSecret) > 1024 {
			v.Add("connection.oidc_config.client_secret", "string.max_len=1024", "must be at most 1024 bytes")
		}
		c.ClientSecret, c.SecretSealed = *o.ClientSecret, ""
	}
	if o.Scopes != nil {
		scopes := []string{"openid"}
		for _, s := range o.Scopes {
			if s != "openid" {
				scopes = append(scopes, s)
			}
		}
		c.Scopes = scopes
	}
	for _, b := range []struct {
		src *bool
		dst *bool
	}{{o.TokenAuthBasic, &c.TokenAuthBasic}, {o.PKCE, &c.PKCE}} {
		if b.src != nil {
			*b.dst = *b.src
		}
	}
	if o.Manual != nil {
		c.Manual = *o.Manual
	}
}

// checkURL accepts absolute http(s) URLs. Plain http is allowed so that providers on a
// private network or loopback (tests, development) work; operators choose their providers.
func checkURL(v *Violations, field, s string) {
	u, err := url.Parse(s)
	switch {
	case len(s) > URLMax:
		v.Add(field, "string.max_len=2048", "must be at most %d characters", URLMax)
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		v.Add(field, "uri", "must be an absolute http or https URL")
	case u.Fragment != "" || u.User != nil:
		v.Add(field, "uri", "must not carry a fragment or credentials")
	}
}

// SetEnabled switches a connection on or off; only a completed connection may be enabled.
func (c *Connection) SetEnabled(on bool) error {
	if on && c.Status() != ConnectionCompleted {
		return &Error{Code: EFailedPrecondition, Message: "the connection is not fully configured: " + c.missing(),
			Violations: []FieldViolation{{Field: "connection", Constraint: "status=COMPLETED", Description: "configure the connection before enabling it"}}}
	}
	c.Enabled = on
	return nil
}

func (c Connection) missing() string {
	if c.Type == ConnectionSAML {
		return c.SAML.missing()
	}
	var m []string
	o := c.OIDC
	if o.Issuer == "" && o.DiscoveryEndpoint == "" {
		m = append(m, "issuer")
	}
	if o.ClientID == "" {
		m = append(m, "client_id")
	}
	if !o.HasSecret() {
		m = append(m, "client_secret")
	}
	if o.Manual {
		for _, f := range []struct{ name, v string }{{"authorize_uri", o.AuthorizeURI}, {"token_uri", o.TokenURI}, {"jwks_uri", o.JWKSURI}} {
			if f.v == "" {
				m = append(m, f.name)
			}
		}
	}
	return strings.Join(m, ", ") + " missing"
}
