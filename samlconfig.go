package roster

import (
	"crypto/x509"
	"encoding/pem"
	"strings"
	"time"
)

// SAML name ID formats, request bindings and signing requirements (the wire enums
// NameIdFormat, RequestBinding and SAMLSigningOptions, by name).
const (
	NameIDUnspecified = "UNSPECIFIED"
	NameIDEmail       = "EMAIL"
	NameIDTransient   = "TRANSIENT"
	NameIDPersistent  = "PERSISTENT"

	BindingRedirect = "HTTP_REDIRECT"
	BindingPost     = "HTTP_POST"

	SignResponseOnly         = "SAML_ONLY_RESPONSE_SIGNING"
	SignAssertionOnly        = "SAML_ONLY_ASSERTION_SIGNING"
	SignResponseAndAssertion = "SAML_RESPONSE_ASSERTION_SIGNING"
	SignResponseOrAssertion  = "SAML_RESPONSE_OR_ASSERTION_SIGNING"
)

// SAML clock skew bounds (docs/saml.md).
const (
	DefaultSAMLClockSkew = 3 * time.Minute
	MaxSAMLClockSkew     = 10 * time.Minute
	// MaxIdPCertificates bounds the certificates a connection trusts at once (rotation).
	MaxIdPCertificates = 5
)

// SAMLConfig is a SAML connection's identity provider and the rules its answers must meet.
type SAMLConfig struct {
	MetadataURL  string   // where the IdP's metadata was read from, if it was
	EntityID     string   // the IdP's entity ID: the Issuer of its responses
	SSOURL       string   // the IdP's single sign-on endpoint
	Certificates []string // PEM; a response signed by any of them is accepted
	NameIDFormat string
	// RequestBinding is how the AuthnRequest reaches the IdP; answers always come by
	// HTTP-POST to the ACS.
	RequestBinding    string
	SignRequests      bool
	SigningOption     string // which of response and assertion must be signed
	AllowIdPInitiated bool
	// DefaultRedirectURI receives IdP-initiated sign-ins (with an idp_initiated_login token).
	DefaultRedirectURI string
	ForceAuthn         bool
	ClockSkew          time.Duration
}

func (c SAMLConfig) status() ConnectionStatus {
	switch {
	case c.EntityID != "" && c.SSOURL != "" && len(c.Certificates) > 0:
		return ConnectionCompleted
	case c.EntityID != "" || c.SSOURL != "" || len(c.Certificates) > 0 || c.MetadataURL != "":
		return ConnectionInProgress
	}
	return ConnectionDraft
}

func (c SAMLConfig) missing() string {
	var m []string
	if c.EntityID == "" {
		m = append(m, "idp_entity_id")
	}
	if c.SSOURL == "" {
		m = append(m, "idp_sso_url")
	}
	if len(c.Certificates) == 0 {
		m = append(m, "idp_certificate")
	}
	return strings.Join(m, ", ") + " missing (or give idp_metadata_url)"
}

// SAMLPatch changes a SAML configuration; nil fields stay as they are. IdP metadata, when
// given (already fetched and parsed by the caller into EntityID, SSOURL and Certificates),
// replaces the IdP's entity ID, SSO URL and certificates.
type SAMLPatch struct {
	MetadataURL *string
	EntityID    *string
	SSOURL      *string
	// Certificates, when set, replace the trusted certificates: to rotate, send the old and
	// the new one together, later only the new one.
	Certificates       []string
	NameIDFormat       *string
	RequestBinding     *string
	SignRequests       *bool
	SigningOption      *string
	AllowIdPInitiated  *bool
	DefaultRedirectURI *string
	ForceAuthn         *bool
	ClockSkew          *time.Duration
}

func (p *SAMLPatch) apply(v *Violations, c *SAMLConfig) {
	const f = "connection.saml_config."
	if p.MetadataURL != nil {
		if *p.MetadataURL != "" {
			checkURL(v, f+"idp_metadata_url", *p.MetadataURL)
		}
		c.MetadataURL = *p.MetadataURL
	}
	if p.EntityID != nil {
		if len(*p.EntityID) > 1024 {
			v.Add(f+"idp_entity_id", "string.max_len=1024", "must be at most 1024 characters")
		}
		c.EntityID = strings.TrimSpace(*p.EntityID)
	}
	if p.SSOURL != nil {
		if *p.SSOURL != "" {
			checkURL(v, f+"idp_sso_url", *p.SSOURL)
		}
		c.SSOURL = strings.TrimSpace(*p.SSOURL)
	}
	if p.Certificates != nil {
		if len(p.Certificates) > MaxIdPCertificates {
			v.Add(f+"idp_certificate", "repeated.max_items=5", "at most %d certificates at once", MaxIdPCertificates)
		}
		for _, pemText := range p.Certificates {
			if _, err := ParseCertificatePEM(pemText); err != nil {
				v.Add(f+"idp_certificate", "x509", "%s", err.Error())
			}
		}
		c.Certificates = p.Certificates
	}
	enum := func(field string, src *string, dst *string, allowed ...string) {
		if src == nil || *src == "" {
			return
		}
		for _, a := range allowed {
			if *src == a {
				*dst = a
				return
			}
		}
		v.Add(f+field, "enum", "must be one of %s", strings.Join(allowed, ", "))
	}
	enum("idp_name_id_format", p.NameIDFormat, &c.NameIDFormat, NameIDUnspecified, NameIDEmail, NameIDTransient, NameIDPersistent)
	enum("idp_sso_request_binding", p.RequestBinding, &c.RequestBinding, BindingRedirect, BindingPost)
	enum("saml_signing_option", p.SigningOption, &c.SigningOption, SignResponseOnly, SignAssertionOnly, SignResponseAndAssertion, SignResponseOrAssertion)
	if p.SigningOption != nil && *p.SigningOption == "NO_SIGNING" {
		v.Add(f+"saml_signing_option", "signed", "Roster accepts only signed SAML answers")
	}
	for _, b := range []struct {
		src, dst *bool
	}{{p.SignRequests, &c.SignRequests}, {p.AllowIdPInitiated, &c.AllowIdPInitiated}, {p.ForceAuthn, &c.ForceAuthn}} {
		if b.src != nil {
			*b.dst = *b.src
		}
	}
	if p.DefaultRedirectURI != nil {
		if *p.DefaultRedirectURI != "" {
			checkURL(v, f+"default_redirect_uri", *p.DefaultRedirectURI)
		}
		c.DefaultRedirectURI = *p.DefaultRedirectURI
	}
	if c.AllowIdPInitiated && c.DefaultRedirectURI == "" && (p.AllowIdPInitiated != nil || p.DefaultRedirectURI != nil) {
		v.Add(f+"default_redirect_uri", "required", "IdP-initiated sign-in needs a default_redirect_uri to send people to")
	}
	if p.ClockSkew != nil {
		if *p.ClockSkew < 0 || *p.ClockSkew > MaxSAMLClockSkew {
			v.Add(f+"clock_skew", "duration.range=0..10m", "must be between 0 and %s", MaxSAMLClockSkew)
		} else {
			c.ClockSkew = *p.ClockSkew
		}
	}
}

// ParseCertificatePEM reads one X.509 certificate in PEM (or bare base64 DER, as IdP
// dashboards often show it).
func ParseCertificatePEM(s string) (*x509.Certificate, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "-----BEGIN") {
		s = "-----BEGIN CERTIFICATE-----\n" + s + "\n-----END CERTIFICATE-----"
	}
	block, _ := pem.Decode([]byte(s))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, Errorf(EInvalid, "not a PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, Errorf(EInvalid, "not an X.509 certificate: %v", err)
	}
	return cert, nil
}

// SplitCertificates splits a text that holds several PEM certificates.
func SplitCertificates(s string) []string {
	var out []string
	rest := []byte(s)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		out = append(out, string(pem.EncodeToMemory(block)))
	}
	if len(out) == 0 && strings.TrimSpace(s) != "" {
		out = []string{strings.TrimSpace(s)}
	}
	return out
}

// SAMLKey is an environment's SAML service-provider key: it signs AuthnRequests and decrypts
// assertions. The private key is stored sealed (docs/encryption.md).
type SAMLKey struct {
	EnvironmentID    string
	PrivateKeySealed string
	Certificate      string // PEM, published in the SP metadata
	CreateTime       time.Time
}
