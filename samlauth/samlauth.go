// Package samlauth adapts github.com/crewjam/saml to Roster: Roster is the SAML service
// provider of each SAML connection. Everything about XML signatures, canonicalization,
// decryption and the protocol's checks is the library's; this package chooses what to require
// (which signatures, whose certificates, which request IDs, how much clock skew) and turns a
// verified assertion into claims. See docs/saml.md.
package samlauth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/outbound"
)

func init() {
	// The library checks time conditions against one process-wide skew; it is set to the
	// largest skew a connection may allow, and Verify then applies the connection's own.
	saml.MaxClockSkew = roster.MaxSAMLClockSkew
}

// IdP is what Roster needs of an identity provider's metadata.
type IdP struct {
	EntityID     string
	SSOURL       string // HTTP-Redirect binding, or HTTP-POST when that is all it has
	Certificates []string
}

// ParseMetadata reads an IdP's metadata XML (an EntityDescriptor, or the first IdP of an
// EntitiesDescriptor).
func ParseMetadata(data []byte) (IdP, error) {
	ed, err := samlsp.ParseMetadata(data)
	if err != nil {
		return IdP{}, fmt.Errorf("IdP metadata: %w: %w", errNotMetadata, err)
	}
	if len(ed.IDPSSODescriptors) == 0 {
		return IdP{}, errors.New("IdP metadata: no IDPSSODescriptor")
	}
	out := IdP{EntityID: ed.EntityID}
	d := ed.IDPSSODescriptors[0]
	for _, s := range d.SingleSignOnServices {
		if s.Binding == saml.HTTPRedirectBinding || (out.SSOURL == "" && s.Binding == saml.HTTPPostBinding) {
			out.SSOURL = s.Location
		}
	}
	for _, kd := range d.KeyDescriptors {
		if kd.Use != "" && kd.Use != "signing" {
			continue
		}
		for _, c := range kd.KeyInfo.X509Data.X509Certificates {
			der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c.Data), ""))
			if err != nil {
				return IdP{}, fmt.Errorf("IdP metadata: certificate: %w", err)
			}
			if _, err := x509.ParseCertificate(der); err != nil {
				return IdP{}, fmt.Errorf("IdP metadata: certificate: %w", err)
			}
			out.Certificates = append(out.Certificates, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
		}
	}
	if out.EntityID == "" || out.SSOURL == "" || len(out.Certificates) == 0 {
		return IdP{}, errors.New("IdP metadata: an entity ID, an SSO URL and a signing certificate are required")
	}
	return out, nil
}

// MetadataWhat names IdP metadata in the uniform error of a failed fetch.
const MetadataWhat = "the SAML metadata"

// errNotMetadata marks a document that is not SAML metadata at all.
var errNotMetadata = errors.New("not SAML metadata")

// FetchMetadata reads an IdP's metadata from its URL through the outbound guard. A failed
// fetch, or an answer that is not SAML metadata at all, is the guard's uniform error (it
// tells nothing of what answered there); metadata that lacks something says what.
func FetchMetadata(ctx context.Context, g *outbound.Guard, metadataURL string) (IdP, error) {
	data, err := g.Get(ctx, MetadataWhat, metadataURL)
	if err != nil {
		return IdP{}, err
	}
	idp, err := ParseMetadata(data)
	if errors.Is(err, errNotMetadata) {
		return IdP{}, outbound.Failed(MetadataWhat, err)
	}
	return idp, err
}

// SP is Roster as the service provider of one connection.
type SP struct {
	EntityID    string // also the metadata URL
	ACSURL      string
	Key         *rsa.PrivateKey
	Certificate *x509.Certificate
}

// NewKeyPair makes the service provider's RSA key and a self-signed certificate for it, as
// PEM. IdPs use the certificate to check signed requests and to encrypt assertions.
func NewKeyPair(commonName string, now time.Time) (keyPEM, certPEM string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: commonName, Organization: []string{"Roster"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), nil
}

// ParseKeyPair reads a key pair made by NewKeyPair.
func ParseKeyPair(keyPEM, certPEM string) (*rsa.PrivateKey, *x509.Certificate, error) {
	kb, _ := pem.Decode([]byte(keyPEM))
	if kb == nil {
		return nil, nil, errors.New("SAML key: not PEM")
	}
	key, err := x509.ParsePKCS1PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	cert, err := roster.ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, nil, err
	}
	return key, cert, nil
}

var nameIDFormats = map[string]saml.NameIDFormat{
	roster.NameIDUnspecified: saml.UnspecifiedNameIDFormat, roster.NameIDEmail: saml.EmailAddressNameIDFormat,
	roster.NameIDTransient: saml.TransientNameIDFormat, roster.NameIDPersistent: saml.PersistentNameIDFormat,
}

// provider builds the library's service provider for a connection.
func (sp SP) provider(c roster.SAMLConfig) (*saml.ServiceProvider, error) {
	acs, err := url.Parse(sp.ACSURL)
	if err != nil {
		return nil, err
	}
	meta, err := url.Parse(sp.EntityID)
	if err != nil {
		return nil, err
	}
	var keys []saml.KeyDescriptor
	for _, p := range c.Certificates {
		cert, err := roster.ParseCertificatePEM(p)
		if err != nil {
			return nil, err
		}
		keys = append(keys, saml.KeyDescriptor{Use: "signing", KeyInfo: saml.KeyInfo{X509Data: saml.X509Data{
			X509Certificates: []saml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(cert.Raw)}}}}})
	}
	binding := saml.HTTPRedirectBinding
	if c.RequestBinding == roster.BindingPost {
		binding = saml.HTTPPostBinding
	}
	out := &saml.ServiceProvider{
		EntityID: sp.EntityID, Key: sp.Key, Certificate: sp.Certificate, AcsURL: *acs, MetadataURL: *meta,
		AuthnNameIDFormat: nameIDFormats[c.NameIDFormat], AllowIDPInitiated: false,
		IDPMetadata: &saml.EntityDescriptor{EntityID: c.EntityID, IDPSSODescriptors: []saml.IDPSSODescriptor{{
			SSODescriptor: saml.SSODescriptor{RoleDescriptor: saml.RoleDescriptor{
				ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol", KeyDescriptors: keys}},
			SingleSignOnServices: []saml.Endpoint{{Binding: binding, Location: c.SSOURL}},
		}}},
	}
	if c.SignRequests {
		out.SignatureMethod = dsig.RSASHA256SignatureMethod
	}
	if c.ForceAuthn {
		t := true
		out.ForceAuthn = &t
	}
	return out, nil
}

// Metadata is the service provider's metadata XML for a connection.
func (sp SP) Metadata(c roster.SAMLConfig) ([]byte, error) {
	p, err := sp.provider(c)
	if err != nil {
		return nil, err
	}
	md := p.Metadata()
	md.SPSSODescriptors[0].AuthnRequestsSigned = &c.SignRequests
	wantSigned := true
	md.SPSSODescriptors[0].WantAssertionsSigned = &wantSigned
	var buf bytes.Buffer
	buf.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	enc := xmlEncoder(&buf)
	if err := enc.Encode(md); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Request is an AuthnRequest on its way to the IdP.
type Request struct {
	ID          string // the AuthnRequest's ID: the response's InResponseTo
	RedirectURL string // HTTP-Redirect binding: send the browser here
	PostForm    []byte // HTTP-POST binding: an auto-submitting form to show
}

// NewRequest makes the AuthnRequest of a sign-in; relayState comes back with the response.
func (sp SP) NewRequest(c roster.SAMLConfig, relayState string) (Request, error) {
	p, err := sp.provider(c)
	if err != nil {
		return Request{}, err
	}
	binding := saml.HTTPRedirectBinding
	if c.RequestBinding == roster.BindingPost {
		binding = saml.HTTPPostBinding
	}
	req, err := p.MakeAuthenticationRequest(c.SSOURL, binding, saml.HTTPPostBinding)
	if err != nil {
		return Request{}, err
	}
	out := Request{ID: req.ID}
	if binding == saml.HTTPPostBinding {
		out.PostForm = req.Post(relayState)
		return out, nil
	}
	u, err := req.Redirect(relayState, p)
	if err != nil {
		return Request{}, err
	}
	out.RedirectURL = u.String()
	return out, nil
}

// Assertion is a verified assertion, reduced to what a sign-in needs.
type Assertion struct {
	ID           string
	NameID       string
	NameIDFormat string
	Claims       map[string]any // attribute name (and friendly name) -> string or []any of strings
	NotOnOrAfter time.Time      // after this the assertion is no longer valid (replay window)
}

// Verify checks a SAMLResponse (base64, as posted to the ACS) for a connection: the
// signatures that the connection's signing option requires, made by one of its IdP
// certificates; Destination, Audience and Recipient are Roster's; InResponseTo is one of
// requestIDs; the issuer is the connection's IdP; the time conditions hold within the
// connection's clock skew. Replays are the caller's to refuse (Assertion.ID). With
// unsolicited, the response must answer no request at all (IdP-initiated sign-in).
func (sp SP) Verify(c roster.SAMLConfig, samlResponse string, requestIDs []string, unsolicited bool, now time.Time) (Assertion, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(samlResponse), ""))
	if err != nil {
		return Assertion{}, errors.New("SAMLResponse is not base64")
	}
	p, err := sp.provider(c)
	if err != nil {
		return Assertion{}, err
	}
	p.AllowIDPInitiated = unsolicited
	acs, _ := url.Parse(sp.ACSURL)
	a, err := p.ParseXMLResponse(raw, requestIDs, *acs)
	if err != nil {
		return Assertion{}, describe(err)
	}
	responseSigned, err := hasResponseSignature(raw)
	if err != nil {
		return Assertion{}, err
	}
	switch c.SigningOption {
	case roster.SignResponseOnly, roster.SignResponseAndAssertion:
		if !responseSigned {
			return Assertion{}, errors.New("the SAML response is not signed, and the connection requires it")
		}
	}
	switch c.SigningOption {
	case roster.SignAssertionOnly, roster.SignResponseAndAssertion:
		// Without the response's signature the library demands a valid signature on the
		// assertion itself.
		stripped, err := withoutResponseSignature(raw)
		if err != nil {
			return Assertion{}, err
		}
		if a, err = p.ParseXMLResponse(stripped, requestIDs, *acs); err != nil {
			return Assertion{}, fmt.Errorf("the assertion is not signed as the connection requires: %w", describe(err))
		}
	}
	if err := checkTimes(a, c.ClockSkew, now); err != nil {
		return Assertion{}, err
	}
	if unsolicited && answersRequest(raw, a) {
		// A response to some sign-in's request, replayed as if unasked.
		return Assertion{}, errors.New("an IdP-initiated response must not answer a request (InResponseTo is set)")
	}
	out := Assertion{ID: a.ID, Claims: map[string]any{}, NotOnOrAfter: now.Add(roster.MaxSAMLClockSkew)}
	if a.Subject != nil && a.Subject.NameID != nil {
		out.NameID, out.NameIDFormat = strings.TrimSpace(a.Subject.NameID.Value), a.Subject.NameID.Format
	}
	if a.Conditions != nil && !a.Conditions.NotOnOrAfter.IsZero() {
		out.NotOnOrAfter = a.Conditions.NotOnOrAfter.Add(c.ClockSkew)
	}
	for _, st := range a.AttributeStatements {
		for _, attr := range st.Attributes {
			var vals []any
			for _, v := range attr.Values {
				vals = append(vals, v.Value)
			}
			var val any = vals
			if len(vals) == 1 {
				val = vals[0]
			}
			out.Claims[attr.Name] = val
			if attr.FriendlyName != "" {
				if _, taken := out.Claims[attr.FriendlyName]; !taken {
					out.Claims[attr.FriendlyName] = val
				}
			}
		}
	}
	return out, nil
}

// checkTimes applies the connection's clock skew (the library allowed the largest one).
func checkTimes(a *saml.Assertion, skew time.Duration, now time.Time) error {
	if c := a.Conditions; c != nil {
		if !c.NotBefore.IsZero() && now.Add(skew).Before(c.NotBefore) {
			return fmt.Errorf("the assertion is not valid before %s", c.NotBefore.UTC().Format(time.RFC3339))
		}
		if !c.NotOnOrAfter.IsZero() && !now.Before(c.NotOnOrAfter.Add(skew)) {
			return fmt.Errorf("the assertion expired at %s", c.NotOnOrAfter.UTC().Format(time.RFC3339))
		}
	}
	if a.Subject != nil {
		for _, sc := range a.Subject.SubjectConfirmations {
			if d := sc.SubjectConfirmationData; d != nil && !d.NotOnOrAfter.IsZero() && !now.Before(d.NotOnOrAfter.Add(skew)) {
				return fmt.Errorf("the assertion's subject confirmation expired at %s", d.NotOnOrAfter.UTC().Format(time.RFC3339))
			}
		}
	}
	return nil
}

// describe keeps the library's reason (its public error text hides it).
func describe(err error) error {
	var ire *saml.InvalidResponseError
	if errors.As(err, &ire) && ire.PrivateErr != nil {
		return fmt.Errorf("SAML response rejected: %w", ire.PrivateErr)
	}
	return fmt.Errorf("SAML response rejected: %w", err)
}

const dsigNS = "http://www.w3.org/2000/09/xmldsig#"

func responseSignature(doc *etree.Document) *etree.Element {
	root := doc.Root()
	if root == nil {
		return nil
	}
	for _, el := range root.ChildElements() {
		if el.Tag == "Signature" && el.NamespaceURI() == dsigNS {
			return el
		}
	}
	return nil
}

func hasResponseSignature(raw []byte) (bool, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return false, err
	}
	return responseSignature(doc) != nil, nil
}

func withoutResponseSignature(raw []byte) ([]byte, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil, err
	}
	if sig := responseSignature(doc); sig != nil {
		doc.Root().RemoveChild(sig)
	}
	return doc.WriteToBytes()
}

func xmlEncoder(w io.Writer) *xml.Encoder {
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	return enc
}

// answersRequest reports whether a response or its assertion names a request it answers.
func answersRequest(raw []byte, a *saml.Assertion) bool {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil || doc.Root() == nil {
		return true
	}
	if doc.Root().SelectAttrValue("InResponseTo", "") != "" {
		return true
	}
	if a.Subject != nil {
		for _, sc := range a.Subject.SubjectConfirmations {
			if sc.SubjectConfirmationData != nil && sc.SubjectConfirmationData.InResponseTo != "" {
				return true
			}
		}
	}
	return false
}
