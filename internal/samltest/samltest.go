// Package samltest is a SAML identity provider for Go tests, built on crewjam/saml's
// IdentityProvider: it signs real responses (response and assertion, RSA-SHA256) for the
// user a test chooses, so tests can check both the happy path and, by changing those
// responses, that Roster refuses forged ones. End-to-end tests use SimpleSAMLphp instead.
package samltest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	dsig "github.com/russellhaering/goxmldsig"
)

// User is who the provider signs in.
type User struct {
	NameID     string
	Attributes map[string][]string
}

// IdP is a running test identity provider.
type IdP struct {
	URL      string
	EntityID string
	CertPEM  string
	IDP      *saml.IdentityProvider

	mu   sync.Mutex
	user User
	// Encrypt keeps the SP's encryption key, so assertions are encrypted; by default it is
	// dropped and assertions travel in plain (signed), which the forgery tests need.
	Encrypt bool
	// EditSP, when set, changes the SP metadata the provider works from (e.g. another
	// encryption key).
	EditSP func(*saml.EntityDescriptor)
}

// Start runs a provider until the test ends.
func Start(t testing.TB) *IdP {
	t.Helper()
	key, certPEM, cert := newKeyPair(t)
	p := &IdP{CertPEM: certPEM}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	base, _ := url.Parse(srv.URL)
	p.IDP = &saml.IdentityProvider{
		Key: key, Certificate: cert, MetadataURL: *base.JoinPath("metadata"), SSOURL: *base.JoinPath("sso"),
		ServiceProviderProvider: p, SessionProvider: p, SignatureMethod: dsig.RSASHA256SignatureMethod,
	}
	p.EntityID = p.IDP.MetadataURL.String()
	mux.HandleFunc("/metadata", p.IDP.ServeMetadata)
	mux.HandleFunc("/sso", p.IDP.ServeSSO)
	// IdP-initiated sign-in (an app tile): /start?sp=<SP entity ID>&relay=<RelayState>.
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		p.IDP.ServeIDPInitiated(w, r, r.URL.Query().Get("sp"), r.URL.Query().Get("relay"))
	})
	return p
}

// SetUser chooses who signs in next.
func (p *IdP) SetUser(u User) {
	p.mu.Lock()
	p.user = u
	p.mu.Unlock()
}

// GetSession signs the current user in at once.
func (p *IdP) GetSession(_ http.ResponseWriter, _ *http.Request, _ *saml.IdpAuthnRequest) *saml.Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := &saml.Session{ID: fmt.Sprint(time.Now().UnixNano()), CreateTime: saml.TimeNow(), ExpireTime: saml.TimeNow().Add(time.Hour),
		Index: "1", NameID: p.user.NameID, NameIDFormat: string(saml.EmailAddressNameIDFormat)}
	for name, vals := range p.user.Attributes {
		a := saml.Attribute{Name: name, NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"}
		for _, v := range vals {
			a.Values = append(a.Values, saml.AttributeValue{Type: "xs:string", Value: v})
		}
		s.CustomAttributes = append(s.CustomAttributes, a)
	}
	return s
}

// GetServiceProvider reads the SP's metadata from its entity ID (Roster's metadata URL).
func (p *IdP) GetServiceProvider(_ *http.Request, id string) (*saml.EntityDescriptor, error) {
	resp, err := http.Get(id)
	if err != nil {
		return nil, os.ErrNotExist
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	ed, err := samlsp.ParseMetadata(data)
	if err != nil {
		return nil, os.ErrNotExist
	}
	if !p.Encrypt {
		for i := range ed.SPSSODescriptors {
			var keep []saml.KeyDescriptor
			for _, kd := range ed.SPSSODescriptors[i].KeyDescriptors {
				if kd.Use != "encryption" {
					keep = append(keep, kd)
				}
			}
			ed.SPSSODescriptors[i].KeyDescriptors = keep
		}
	}
	if p.EditSP != nil {
		p.EditSP(ed)
	}
	return ed, nil
}

// Answer is what the provider's auto-submitting form posts to the ACS.
type Answer struct {
	ACS          string
	SAMLResponse string
	RelayState   string
}

var (
	formAction = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)
	formInput  = regexp.MustCompile(`<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"`)
)

// ParseForm reads the provider's HTML form.
func ParseForm(html string) (Answer, error) {
	m := formAction.FindStringSubmatch(html)
	if m == nil {
		return Answer{}, fmt.Errorf("no form in: %.300s", html)
	}
	a := Answer{ACS: unescape(m[1])}
	for _, in := range formInput.FindAllStringSubmatch(html, -1) {
		switch in[1] {
		case "SAMLResponse", "SAMLRequest":
			a.SAMLResponse = unescape(in[2])
		case "RelayState":
			a.RelayState = unescape(in[2])
		}
	}
	if a.SAMLResponse == "" {
		return Answer{}, fmt.Errorf("no SAMLResponse in: %.300s", html)
	}
	return a, nil
}

func unescape(s string) string {
	r := regexp.MustCompile(`&(amp|lt|gt|quot|#39|#43|#61|#x2b|#x3d|#x2f);`)
	return r.ReplaceAllStringFunc(s, func(e string) string {
		switch e {
		case "&amp;":
			return "&"
		case "&lt;":
			return "<"
		case "&gt;":
			return ">"
		case "&quot;":
			return `"`
		case "&#39;":
			return "'"
		case "&#43;", "&#x2b;":
			return "+"
		case "&#61;", "&#x3d;":
			return "="
		case "&#x2f;":
			return "/"
		}
		return e
	})
}

func newKeyPair(t testing.TB) (*rsa.PrivateKey, string, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "samltest IdP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), cert
}
