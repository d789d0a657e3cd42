package sso_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/crewjam/saml"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/internal/samltest"
)

// samlFixture is a Roster with an organization whose SAML connection trusts a test IdP.
type samlFixture struct {
	*fixture
	idp  *samltest.IdP
	conn string
	// jar is the browser's: it keeps the cookie that binds each sign-in to it.
	jar http.CookieJar
}

func setupSAML(t testing.TB, backend string) *samlFixture {
	t.Helper()
	r := rostertest.Start(t, backend)
	f := &fixture{r: r, token: r.Token(t)}
	if err := r.Directory.SetRedirectURIs(context.Background(), r.ClientID, []string{appCallback}); err != nil {
		t.Fatal(err)
	}
	res := f.rest(t, "POST", "/api/v1/organizations", `{"display_name": "Initech"}`, 200)
	f.org = res.Body["organization"].(map[string]any)["id"].(string)
	f.rest(t, "POST", "/api/v1/user-attributes", `{"key": "department", "display_name": "Department"}`, 200)
	jar, _ := cookiejar.New(nil)
	sf := &samlFixture{fixture: f, idp: samltest.Start(t), jar: jar}
	sf.conn = sf.newConnection(t, f.org, sf.idp, `"department": "department", "group:Admins": "admin"`)
	f.rest(t, "POST", "/api/v1/organizations/"+f.org+"/domains", `{"domain": "initech.test"}`, 200)
	return sf
}

// newConnection creates an enabled SAML connection of org that trusts idp (by metadata URL).
func (sf *samlFixture) newConnection(t testing.TB, org string, idp *samltest.IdP, mapping string) string {
	t.Helper()
	f := sf.fixture
	res := f.rest(t, "POST", "/api/v1/organizations/"+org+"/connections", `{"provider": "MICROSOFT_AD", "type": "SAML"}`, 200)
	id := res.Body["connection"].(map[string]any)["id"].(string)
	res = f.rest(t, "PATCH", "/api/v1/organizations/"+org+"/connections/"+id, fmt.Sprintf(`{"saml_config":
		{"idp_metadata_url": %q, "idp_sso_request_binding": "HTTP_REDIRECT"}, "attribute_mapping": {%s}}`, idp.URL+"/metadata", mapping), 200)
	c := res.Body["connection"].(map[string]any)
	sc := c["saml_config"].(map[string]any)
	if c["status"] != "COMPLETED" || sc["idp_entity_id"] != idp.EntityID || sc["sp_assertion_url"] != f.r.Issuer+"/sso/saml/"+id+"/acs" ||
		sc["sp_entity_id"] != f.r.Issuer+"/sso/saml/"+id+"/metadata" || len(sc["idp_certificates"].([]any)) != 1 {
		t.Fatalf("SAML connection: %s", res.Raw)
	}
	f.rest(t, "PATCH", "/api/v1/organizations/"+org+"/connections/"+id+":enable", "", 200)
	return id
}

// answer runs a sign-in up to the IdP's auto-posting form and returns what it would post.
func (sf *samlFixture) answer(t testing.TB, params url.Values) samltest.Answer {
	t.Helper()
	client := &http.Client{Jar: sf.jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(sf.r.URL + "/oauth/authorize?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(loc, sf.idp.URL) && !strings.Contains(loc, "SAMLRequest") {
		t.Fatalf("authorize: %d %s", res.StatusCode, loc)
	}
	res, err = http.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	a, err := samltest.ParseForm(string(body))
	if err != nil {
		t.Fatalf("IdP answer (%d): %v", res.StatusCode, err)
	}
	return a
}

// post sends an answer to an ACS and returns where Roster sends the browser.
func (sf *samlFixture) post(t testing.TB, acs string, a samltest.Answer) (*url.URL, int, string) {
	t.Helper()
	return postACS(t, sf.jar, acs, url.Values{"SAMLResponse": {a.SAMLResponse}, "RelayState": {a.RelayState}})
}

// postACS posts to an ACS as a browser with jar does: when Roster answers with its page that
// posts the answer again (to bind it to the browser's cookie), that form is submitted too.
func postACS(t testing.TB, jar http.CookieJar, acs string, form url.Values) (*url.URL, int, string) {
	t.Helper()
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.PostForm(acs, form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusOK && bytes.Contains(body, []byte(`name="RosterRepost"`)) && form.Get("RosterRepost") == "" {
		again, err := samltest.ParseForm(string(body))
		if err != nil {
			t.Fatalf("re-post page: %v", err)
		}
		return postACS(t, jar, again.ACS, url.Values{"SAMLResponse": {again.SAMLResponse}, "RelayState": {again.RelayState}, "RosterRepost": {"1"}})
	}
	if res.StatusCode != http.StatusFound {
		return nil, res.StatusCode, string(body)
	}
	loc, _ := url.Parse(res.Header.Get("Location"))
	return loc, res.StatusCode, ""
}

func (sf *samlFixture) params(extra ...string) url.Values {
	return authParams(sf.fixture, verifier, append([]string{"organization_id", sf.org}, extra...)...)
}

var ada = samltest.User{NameID: "ada@initech.test", Attributes: map[string][]string{
	"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname":    {"Ada"},
	"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname":      {"Lovelace"},
	"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress": {"ada@initech.test"},
	"department": {"R&D"},
	"http://schemas.microsoft.com/ws/2008/06/identity/claims/groups": {"Admins", "Staff"},
}}

func TestSAMLSignIn(t *testing.T) {
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			sf := setupSAML(t, backend)
			sf.idp.Encrypt = backend == "postgres" // encrypted assertions are decrypted with the SP key
			sf.idp.SetUser(ada)
			a := sf.answer(t, sf.params())
			loc, status, page := sf.post(t, a.ACS, a)
			if loc == nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "app-state-1" {
				t.Fatalf("SAML sign-in: %d %v %s", status, loc, page)
			}
			code, body := sf.exchange(t, loc.Query().Get("code"), verifier)
			if code != 200 {
				t.Fatalf("exchange: %d %v", code, body)
			}
			claims := sf.verifyIDToken(t, body["id_token"].(string))
			if claims["email"] != "ada@initech.test" || claims["given_name"] != "Ada" || claims["family_name"] != "Lovelace" ||
				claims["custom_attributes"].(map[string]any)["department"] != "R&D" || claims["amr"].([]any)[0] != sf.conn {
				t.Fatalf("ID token: %v", claims)
			}
			groups := claims["groups"].([]any)
			if len(groups) != 2 || groups[0] != "Admins" {
				t.Fatalf("groups: %v", groups)
			}
			res := sf.rest(t, "GET", "/api/v1/users/"+claims["sub"].(string), "", 200)
			m := res.Body["user"].(map[string]any)["memberships"].([]any)[0].(map[string]any)
			if m["roles"].([]any)[0].(map[string]any)["name"] != "admin" || m["provisioning_method"] != "jit_using_sso" {
				t.Fatalf("membership: %v", m)
			}
			// The SP metadata is published for the IdP administrator.
			md, err := http.Get(sf.r.URL + "/sso/saml/" + sf.conn + "/metadata")
			if err != nil {
				t.Fatal(err)
			}
			mdBody, _ := io.ReadAll(md.Body)
			md.Body.Close()
			if md.StatusCode != 200 || !bytes.Contains(mdBody, []byte(sf.r.Issuer+"/sso/saml/"+sf.conn+"/acs")) || !bytes.Contains(mdBody, []byte("X509Certificate")) {
				t.Fatalf("SP metadata: %d %s", md.StatusCode, mdBody)
			}
		})
	}
}

// mutate decodes a SAMLResponse, changes its XML and encodes it again.
func mutate(t testing.TB, samlResponse string, change func(doc *etree.Document)) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(samlResponse)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	change(doc)
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(out)
}

func child(el *etree.Element, tag string) *etree.Element {
	for _, c := range el.ChildElements() {
		if c.Tag == tag {
			return c
		}
	}
	return nil
}

func removeSignature(el *etree.Element) {
	if s := child(el, "Signature"); s != nil {
		el.RemoveChild(s)
	}
}

// TestSAMLRefusals: forged, replayed and misdirected answers are refused, and the classic
// XML signature attacks do not sign anyone in as someone else.
func TestSAMLRefusals(t *testing.T) {
	sf := setupSAML(t, "sqlite")
	sf.idp.SetUser(ada)
	refused := func(t *testing.T, a samltest.Answer, acs string, want string) {
		t.Helper()
		loc, status, page := sf.post(t, acs, a)
		switch {
		case loc != nil && loc.Query().Get("code") != "":
			t.Fatalf("accepted: %v", loc)
		case loc != nil && (loc.Query().Get("error") != "access_denied" || !containsFold(loc.Query().Get("error_description"), want)):
			t.Fatalf("want access_denied about %q, got %v", want, loc.Query())
		case loc == nil && (status != 400 || !containsFold(page, want)):
			t.Fatalf("want a page about %q, got %d %s", want, status, page)
		}
	}
	acs := func() string { return sf.r.URL + "/sso/saml/" + sf.conn + "/acs" }

	t.Run("unsigned", func(t *testing.T) {
		a := sf.answer(t, sf.params())
		a.SAMLResponse = mutate(t, a.SAMLResponse, func(doc *etree.Document) {
			removeSignature(doc.Root())
			removeSignature(child(doc.Root(), "Assertion"))
		})
		refused(t, a, acs(), "signature element not present")
	})
	t.Run("tampered attribute", func(t *testing.T) {
		a := sf.answer(t, sf.params())
		a.SAMLResponse = mutate(t, a.SAMLResponse, func(doc *etree.Document) {
			removeSignature(doc.Root()) // so that the assertion's own signature decides
			for _, v := range doc.FindElements("//AttributeValue") {
				if v.Text() == "ada@initech.test" {
					v.SetText("eve@initech.test")
				}
			}
		})
		refused(t, a, acs(), "rejected")
	})
	t.Run("wrapping: forged assertion first, signed one after", func(t *testing.T) {
		a := sf.answer(t, sf.params())
		a.SAMLResponse = mutate(t, a.SAMLResponse, func(doc *etree.Document) {
			removeSignature(doc.Root())
			signed := child(doc.Root(), "Assertion")
			evil := signed.Copy()
			removeSignature(evil)
			for _, v := range evil.FindElements("//AttributeValue") {
				if v.Text() == "ada@initech.test" {
					v.SetText("eve@initech.test")
				}
			}
			if n := evil.FindElement(".//NameID"); n != nil {
				n.SetText("eve@initech.test")
			}
			doc.Root().InsertChildAt(signed.Index(), evil)
		})
		loc, _, _ := sf.post(t, acs(), a)
		if loc != nil && loc.Query().Get("code") != "" {
			// Accepted only if the signed assertion is the one used: check who signed in.
			_, body := sf.exchange(t, loc.Query().Get("code"), verifier)
			claims := sf.verifyIDToken(t, body["id_token"].(string))
			if claims["email"] != "ada@initech.test" {
				t.Fatalf("the forged assertion signed in %v", claims["email"])
			}
		}
	})
	t.Run("wrapping: forged assertion with the signed one's ID and signature", func(t *testing.T) {
		a := sf.answer(t, sf.params())
		a.SAMLResponse = mutate(t, a.SAMLResponse, func(doc *etree.Document) {
			removeSignature(doc.Root())
			signed := child(doc.Root(), "Assertion")
			evil := signed.Copy() // same ID, same Signature element, forged content
			if n := evil.FindElement(".//NameID"); n != nil {
				n.SetText("eve@initech.test")
			}
			for _, v := range evil.FindElements("//AttributeValue") {
				if v.Text() == "ada@initech.test" {
					v.SetText("eve@initech.test")
				}
			}
			doc.Root().RemoveChild(signed)
			doc.Root().AddChild(evil)
			ext := doc.Root().CreateElement("samlp:Extensions")
			ext.AddChild(signed) // the genuine signed assertion hidden elsewhere
		})
		refused(t, a, acs(), "rejected")
	})
	t.Run("wrapping: signed response around a forged assertion moved out", func(t *testing.T) {
		a := sf.answer(t, sf.params())
		a.SAMLResponse = mutate(t, a.SAMLResponse, func(doc *etree.Document) {
			// A new unsigned response carries a forged assertion; the genuine signed response
			// rides inside it.
			genuine := doc.Root().Copy()
			evil := doc.Root()
			removeSignature(evil)
			as := child(evil, "Assertion")
			removeSignature(as)
			if n := as.FindElement(".//NameID"); n != nil {
				n.SetText("eve@initech.test")
			}
			evil.AddChild(genuine)
		})
		refused(t, a, acs(), "rejected")
	})
	t.Run("comment in NameID and email", func(t *testing.T) {
		sf.idp.SetUser(samltest.User{NameID: "mallory@initech.test.evil.test", Attributes: map[string][]string{
			"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress": {"mallory@initech.test.evil.test"}}})
		defer sf.idp.SetUser(ada)
		// The organization holds the long domain, so that the sign-in is accepted (linking
		// rule) and the test sees which address it signed in.
		sf.addDomain(t, sf.org, "initech.test.evil.test")
		a := sf.answer(t, sf.params())
		raw, _ := base64.StdEncoding.DecodeString(a.SAMLResponse)
		// Comments are outside the signature (exclusive c14n), so this still verifies; a parser
		// that reads only the first text node would see mallory@initech.test.
		forged := bytes.ReplaceAll(raw, []byte("mallory@initech.test.evil.test"), []byte("mallory@initech.test<!---->.evil.test"))
		a.SAMLResponse = base64.StdEncoding.EncodeToString(forged)
		loc, status, page := sf.post(t, acs(), a)
		if loc == nil || loc.Query().Get("code") == "" {
			return // refused outright: safe too
		}
		_, body := sf.exchange(t, loc.Query().Get("code"), verifier)
		claims := sf.verifyIDToken(t, body["id_token"].(string))
		if claims["email"] != "mallory@initech.test.evil.test" {
			t.Fatalf("a comment truncated the identity to %v (%d %s)", claims["email"], status, page)
		}
	})
	t.Run("assertion from another connection's IdP", func(t *testing.T) {
		other := samltest.Start(t)
		other.SetUser(ada)
		otherConn := sf.newConnection(t, sf.org, other, `"department": "department"`)
		// Disable the first so the organization's sign-in goes through the other IdP.
		sf.rest(t, "PATCH", "/api/v1/organizations/"+sf.org+"/connections/"+sf.conn+":disable", "", 200)
		saved := sf.idp
		sf.idp = other
		a := sf.answer(t, sf.params("connection_id", otherConn))
		sf.idp = saved
		sf.rest(t, "PATCH", "/api/v1/organizations/"+sf.org+"/connections/"+sf.conn+":enable", "", 200)
		// Posted to the first connection's ACS: another connection's sign-in.
		refused(t, a, acs(), "another connection")
		// A genuine sign-in of the first connection answered by the other IdP.
		b := sf.answer(t, sf.params("connection_id", sf.conn))
		b.SAMLResponse = a.SAMLResponse
		refused(t, b, acs(), "rejected")
	})
	t.Run("audience is another SP", func(t *testing.T) {
		sf.idp.EditSP = func(ed *saml.EntityDescriptor) { ed.EntityID = "https://other-sp.example/metadata" }
		defer func() { sf.idp.EditSP = nil }()
		refused(t, sf.answer(t, sf.params()), acs(), "audience")
	})
	t.Run("destination is another connection's ACS", func(t *testing.T) {
		// A second organization trusts the same IdP; an answer meant for the first connection
		// is posted to the second one's ACS, with a sign-in of the second.
		res := sf.rest(t, "POST", "/api/v1/organizations", `{"display_name": "Other Co"}`, 200)
		org2 := res.Body["organization"].(map[string]any)["id"].(string)
		conn2 := sf.newConnection(t, org2, sf.idp, `"department": "department"`)
		a1 := sf.answer(t, sf.params())
		a2 := sf.answer(t, authParams(sf.fixture, verifier, "organization_id", org2))
		a2.SAMLResponse = a1.SAMLResponse
		refused(t, a2, sf.r.URL+"/sso/saml/"+conn2+"/acs", "Destination")
	})
	t.Run("expired", func(t *testing.T) {
		saml.TimeNow = func() time.Time { return time.Now().Add(-time.Hour) }
		a := sf.answer(t, sf.params())
		saml.TimeNow = func() time.Time { return time.Now().UTC() }
		refused(t, a, acs(), "expired")
	})
	t.Run("replayed", func(t *testing.T) {
		a := sf.answer(t, sf.params())
		if loc, _, page := sf.post(t, acs(), a); loc == nil || loc.Query().Get("code") == "" {
			t.Fatalf("first post: %v %s", loc, page)
		}
		refused(t, a, acs(), "unknown, expired or already finished")
		// The same answer with a fresh sign-in's RelayState: its InResponseTo is not that
		// sign-in's request.
		b := sf.answer(t, sf.params())
		b.SAMLResponse = a.SAMLResponse
		refused(t, b, acs(), "InResponseTo")
	})
	t.Run("no RelayState (IdP-initiated)", func(t *testing.T) {
		a := sf.answer(t, sf.params())
		a.RelayState = ""
		refused(t, a, acs(), "IdP-initiated")
	})
	t.Run("encrypted with another key", func(t *testing.T) {
		other := samltest.Start(t) // only for its certificate
		sf.idp.EditSP = func(ed *saml.EntityDescriptor) {
			for i, kd := range ed.SPSSODescriptors[0].KeyDescriptors {
				if kd.Use == "encryption" {
					block := strings.TrimSpace(other.CertPEM)
					block = strings.TrimPrefix(block, "-----BEGIN CERTIFICATE-----")
					block = strings.TrimSuffix(block, "-----END CERTIFICATE-----")
					ed.SPSSODescriptors[0].KeyDescriptors[i].KeyInfo.X509Data.X509Certificates[0].Data = strings.Join(strings.Fields(block), "")
				}
			}
		}
		sf.idp.Encrypt = true
		defer func() { sf.idp.EditSP, sf.idp.Encrypt = nil, false }()
		a := sf.answer(t, sf.params())
		if !strings.Contains(decode(t, a.SAMLResponse), "EncryptedAssertion") {
			t.Fatal("the IdP did not encrypt the assertion")
		}
		refused(t, a, acs(), "rejected")
	})
	t.Run("signing option: response signature required", func(t *testing.T) {
		sf.rest(t, "PATCH", "/api/v1/organizations/"+sf.org+"/connections/"+sf.conn, `{"saml_config": {"saml_signing_option": "SAML_ONLY_RESPONSE_SIGNING"}}`, 200)
		defer sf.rest(t, "PATCH", "/api/v1/organizations/"+sf.org+"/connections/"+sf.conn, `{"saml_config": {"saml_signing_option": "SAML_RESPONSE_OR_ASSERTION_SIGNING"}}`, 200)
		a := sf.answer(t, sf.params())
		a.SAMLResponse = mutate(t, a.SAMLResponse, func(doc *etree.Document) { removeSignature(doc.Root()) })
		refused(t, a, acs(), "not signed")
	})
	t.Run("signing option: assertion signature required", func(t *testing.T) {
		sf.rest(t, "PATCH", "/api/v1/organizations/"+sf.org+"/connections/"+sf.conn, `{"saml_config": {"saml_signing_option": "SAML_ONLY_ASSERTION_SIGNING"}}`, 200)
		defer sf.rest(t, "PATCH", "/api/v1/organizations/"+sf.org+"/connections/"+sf.conn, `{"saml_config": {"saml_signing_option": "SAML_RESPONSE_OR_ASSERTION_SIGNING"}}`, 200)
		a := sf.answer(t, sf.params())
		a.SAMLResponse = mutate(t, a.SAMLResponse, func(doc *etree.Document) { removeSignature(child(doc.Root(), "Assertion")) })
		// The response's signature covered the assertion's, so the change breaks it: refused
		// either way.
		refused(t, a, acs(), "signature")
		// Both signed: accepted.
		b := sf.answer(t, sf.params())
		if loc, _, page := sf.post(t, acs(), b); loc == nil || loc.Query().Get("code") == "" {
			t.Fatalf("a doubly signed answer was refused: %v %s", loc, page)
		}
	})
}

func decode(t testing.TB, s string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// TestSAMLSettings: manual configuration with two certificates (rotation), the HTTP-POST
// request binding, signed AuthnRequests, and LDAP-style (urn:oid) attribute names.
func TestSAMLSettings(t *testing.T) {
	sf := setupSAML(t, "sqlite")
	base := "/api/v1/organizations/" + sf.org + "/connections/" + sf.conn
	old := samltest.Start(t) // a retiring IdP key: its certificate stays trusted for a while
	// Entered by hand: both certificates in one field, as a PEM bundle.
	res := sf.rest(t, "PATCH", base, fmt.Sprintf(`{"saml_config": {"idp_entity_id": %q, "idp_sso_url": %q, "idp_certificate": %q,
		"idp_sso_request_binding": "HTTP_POST", "want_request_signed": true, "idp_name_id_format": "PERSISTENT"}}`,
		sf.idp.EntityID, sf.idp.URL+"/sso", old.CertPEM+sf.idp.CertPEM), 200)
	sc := res.Body["connection"].(map[string]any)["saml_config"].(map[string]any)
	if len(sc["idp_certificates"].([]any)) != 2 || sc["idp_sso_request_binding"] != "HTTP_POST" || sc["want_request_signed"] != true ||
		sc["idp_name_id_format"] != "PERSISTENT" {
		t.Fatalf("manual settings: %s", res.Raw)
	}
	sf.rest(t, "PATCH", base, `{"saml_config": {"idp_certificate": "not a certificate"}}`, 400)

	sf.idp.SetUser(samltest.User{NameID: "opaque-4711", Attributes: map[string][]string{
		"urn:oid:0.9.2342.19200300.100.1.3": {"lin@initech.test"}, "urn:oid:2.5.4.42": {"Lin"}, "urn:oid:2.5.4.4": {"Chen"},
		"urn:oid:1.3.6.1.4.1.5923.1.5.1.1": {"Admins", "Ops"}}})
	// HTTP-POST binding: Roster answers with a form that posts the (signed) AuthnRequest.
	res2, err := (&http.Client{Jar: sf.jar}).Get(sf.r.URL + "/oauth/authorize?" + sf.params().Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res2.Body)
	res2.Body.Close()
	if res2.StatusCode != 200 || !bytes.Contains(page, []byte(`name="SAMLRequest"`)) || !bytes.Contains(page, []byte(sf.idp.URL+"/sso")) {
		t.Fatalf("POST binding page: %d %s", res2.StatusCode, page)
	}
	form, err := samltest.ParseForm(string(page))
	if err != nil {
		t.Fatal(err)
	}
	req := decode(t, form.SAMLResponse) // the form field is SAMLRequest; ParseForm reads any SAML* field
	if !strings.Contains(req, "AuthnRequest") || !strings.Contains(req, "SignatureValue") {
		t.Fatalf("AuthnRequest not signed: %.400s", req)
	}
	post, err := http.PostForm(sf.idp.URL+"/sso", url.Values{"SAMLRequest": {form.SAMLResponse}, "RelayState": {form.RelayState}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(post.Body)
	post.Body.Close()
	a, err := samltest.ParseForm(string(body))
	if err != nil {
		t.Fatalf("IdP answer: %v", err)
	}
	loc, _, msg := sf.post(t, a.ACS, a)
	if loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("sign-in with urn:oid attributes: %v %s", loc, msg)
	}
	_, tok := sf.exchange(t, loc.Query().Get("code"), verifier)
	claims := sf.verifyIDToken(t, tok["id_token"].(string))
	if claims["email"] != "lin@initech.test" || claims["given_name"] != "Lin" || claims["family_name"] != "Chen" || len(claims["groups"].([]any)) != 2 {
		t.Fatalf("urn:oid normalization: %v", claims)
	}
}

// TestSAMLClockSkew: the connection's allowed clock skew (roster.v1.SAMLSettingsService)
// decides whether an IdP whose clock runs two minutes ahead is accepted.
func TestSAMLClockSkew(t *testing.T) {
	sf := setupSAML(t, "sqlite")
	sf.idp.SetUser(ada)
	path := "/api/v1/organizations/" + sf.org + "/connections/" + sf.conn + "/saml-settings"
	res := sf.rest(t, "GET", path, "", 200)
	if res.Body["clock_skew_seconds"] != float64(180) {
		t.Fatalf("default skew: %s", res.Raw)
	}
	sf.rest(t, "PATCH", path, `{"clock_skew_seconds": 601}`, 400)
	aheadAnswer := func() samltest.Answer {
		saml.TimeNow = func() time.Time { return time.Now().UTC().Add(2 * time.Minute) }
		defer func() { saml.TimeNow = func() time.Time { return time.Now().UTC() } }()
		return sf.answer(t, sf.params())
	}
	if loc, _, page := sf.post(t, sf.r.URL+"/sso/saml/"+sf.conn+"/acs", aheadAnswer()); loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("2 minutes ahead with a 3-minute skew: %v %s", loc, page)
	}
	res = sf.rest(t, "PATCH", path, `{"clock_skew_seconds": 30}`, 200)
	if res.Body["clock_skew_seconds"] != float64(30) {
		t.Fatalf("update: %s", res.Raw)
	}
	loc, _, _ := sf.post(t, sf.r.URL+"/sso/saml/"+sf.conn+"/acs", aheadAnswer())
	if loc == nil || loc.Query().Get("error") != "access_denied" || !strings.Contains(loc.Query().Get("error_description"), "not valid before") {
		t.Fatalf("2 minutes ahead with a 30-second skew: %v", loc)
	}
	// SAML settings belong to SAML connections.
	oidc := sf.rest(t, "POST", "/api/v1/organizations/"+sf.org+"/connections", `{"provider": "OKTA", "type": "OIDC"}`, 200)
	oid := oidc.Body["connection"].(map[string]any)["id"].(string)
	sf.rest(t, "GET", "/api/v1/organizations/"+sf.org+"/connections/"+oid+"/saml-settings", "", 400)
}

// TestSAMLIdPInitiated: an unasked response (an IdP's app tile) is accepted only when the
// connection allows it, and then signs no one in directly: the person goes to the default
// redirect URI with an idp_initiated_login token, from which the application starts an
// ordinary sign-in.
func TestSAMLIdPInitiated(t *testing.T) {
	sf := setupSAML(t, "sqlite")
	sf.idp.SetUser(ada)
	acs := sf.r.URL + "/sso/saml/" + sf.conn + "/acs"
	spEntity := sf.r.Issuer + "/sso/saml/" + sf.conn + "/metadata"
	unasked := func() samltest.Answer {
		res, err := http.Get(sf.idp.URL + "/start?" + url.Values{"sp": {spEntity}, "relay": {"tile"}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		a, err := samltest.ParseForm(string(body))
		if err != nil {
			t.Fatalf("IdP-initiated answer: %v", err)
		}
		return a
	}
	settings := "/api/v1/organizations/" + sf.org + "/connections/" + sf.conn + "/saml-settings"
	// Not allowed by default.
	if loc, status, page := sf.post(t, acs, unasked()); loc != nil || status != 400 || !strings.Contains(page, "not enabled") {
		t.Fatalf("unasked answer accepted by default: %v %d %s", loc, status, page)
	}
	// Allowing it needs a default redirect URI.
	sf.rest(t, "PATCH", settings, `{"allow_idp_initiated_login": true}`, 400)
	sf.rest(t, "PATCH", "/api/v1/organizations/"+sf.org+"/connections/"+sf.conn, `{"saml_config": {"default_redirect_uri": "`+appCallback+`"}}`, 200)
	res := sf.rest(t, "PATCH", settings, `{"allow_idp_initiated_login": true}`, 200)
	if res.Body["allow_idp_initiated_login"] != true {
		t.Fatalf("settings: %s", res.Raw)
	}

	a := unasked()
	loc, status, page := sf.post(t, acs, a)
	if loc == nil || loc.Query().Get("idp_initiated_login") == "" || loc.Query().Get("code") != "" {
		t.Fatalf("IdP-initiated: %v %d %s", loc, status, page)
	}
	claims := sf.verifyJWT(t, loc.Query().Get("idp_initiated_login"))
	if claims["connection_id"] != sf.conn || claims["organization_id"] != sf.org || claims["login_hint"] != "ada@initech.test" || claims["relay_state"] != "tile" {
		t.Fatalf("idp_initiated_login claims: %v", claims)
	}
	// The same answer twice: refused.
	if loc, _, page := sf.post(t, acs, a); loc != nil || !strings.Contains(page, "already used") {
		t.Fatalf("replayed unasked answer: %v %s", loc, page)
	}
	// An answer to some sign-in's request, posted as if unasked: refused.
	asked := sf.answer(t, sf.params())
	asked.RelayState = ""
	if loc, _, page := sf.post(t, acs, asked); loc != nil || !strings.Contains(page, "InResponseTo") {
		t.Fatalf("solicited answer replayed as unasked: %v %s", loc, page)
	}
	// The application starts an ordinary sign-in from the token's claims.
	b := sf.answer(t, sf.params("connection_id", claims["connection_id"].(string), "login_hint", claims["login_hint"].(string)))
	if loc, _, page := sf.post(t, acs, b); loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("sign-in after the IdP-initiated hand-off: %v %s", loc, page)
	}
}
