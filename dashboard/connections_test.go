package dashboard_test

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/dashboard"
	"github.com/rosterhq/roster/internal/errcode"
	"github.com/rosterhq/roster/internal/oidctest"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/internal/samltest"
	"github.com/rosterhq/roster/operators"
	"github.com/rosterhq/roster/outbound"
	"github.com/rosterhq/roster/server"
)

// apiConsole is the dashboard served by a whole test Roster (rostertest: the REST API, the
// sign-in endpoints and the directory with its outbound guard), so that a page's values can be
// compared with the REST API's answers for the same connection, on the same public URL.
type apiConsole struct {
	*console
	r     *rostertest.Roster
	token string
}

func startAPIConsole(t *testing.T, backend string, opts ...rostertest.Option) *apiConsole {
	t.Helper()
	var dash atomic.Pointer[dashboard.Handler]
	opts = append(opts, rostertest.WithServer(func(cfg *server.Config) {
		cfg.Dashboard = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { dash.Load().ServeHTTP(w, r) })
	}))
	r := rostertest.Start(t, backend, opts...)
	env, err := r.Directory.EnsureEnvironment(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ops := operators.New(r.Store, operators.Settings{Password: cheap, MaxFailures: maxFailures, Lockout: time.Minute})
	dash.Store(dashboard.New(dashboard.Config{Directory: r.Directory, Environment: env, Operators: ops, Issuer: r.Issuer}))
	c := &console{srv: &httptest.Server{URL: r.URL}, dir: r.Directory, env: env, ops: ops}
	return &apiConsole{console: c, r: r, token: r.Token(t)}
}

func eachAPIBackend(t *testing.T, fn func(t *testing.T, c *apiConsole), opts ...rostertest.Option) {
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			fn(t, startAPIConsole(t, backend, opts...))
		})
	}
}

// restConnection is the REST API's GET of a connection: its "connection" object.
func (c *apiConsole) restConnection(t *testing.T, orgID, id string) map[string]any {
	t.Helper()
	res := c.r.REST(t, c.token, "GET", "/api/v1/organizations/"+orgID+"/connections/"+id, "")
	if res.Status != 200 {
		t.Fatalf("REST GET connection: %d %s", res.Status, res.Raw)
	}
	m, _ := res.Body["connection"].(map[string]any)
	return m
}

func field(m map[string]any, path ...string) string {
	var v any = m
	for _, p := range path {
		mm, _ := v.(map[string]any)
		v = mm[p]
	}
	s, _ := v.(string)
	return s
}

// copyValue is the value of a page's read-only copy input.
func copyValue(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`<input id="` + id + `" value="([^"]*)" readonly data-copy=`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no copy value %s in\n%s", id, body)
	}
	return html.UnescapeString(m[1])
}

// createConnection adds a connection through the list page's form and returns its page's path.
func createConnection(t *testing.T, b *browser, orgID, typ, provider string) (path, id string) {
	t.Helper()
	list := "/dashboard/organizations/" + orgID + "/connections"
	res := b.post(list, url.Values{"csrf": {b.csrf(list)}, "type": {typ}, "provider": {provider}})
	if res.status != 303 || !strings.HasPrefix(res.header.Get("Location"), list+"/conn_") || !strings.HasSuffix(res.header.Get("Location"), "?done=created") {
		t.Fatalf("create %s connection: %d %q\n%s", typ, res.status, res.header.Get("Location"), res.body)
	}
	path = strings.TrimSuffix(res.header.Get("Location"), "?done=created")
	return path, strings.TrimPrefix(path, list+"/")
}

// descriptionOf is the description of an application-layer error's one violation.
func descriptionOf(t *testing.T, err error) string {
	t.Helper()
	var e *roster.Error
	if !errors.As(err, &e) || len(e.Violations) != 1 {
		t.Fatalf("want one violation: %v", err)
	}
	return e.Violations[0].Description
}

func fetchMetadata(t *testing.T, u string) string {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.Contains(string(b), "EntityDescriptor") {
		t.Fatalf("metadata: %d %s", res.StatusCode, b)
	}
	return string(b)
}

// The SSO connection screens on both backends: create SAML and OIDC connections from
// the list page; the values for the IT admin equal the REST API's for the same connection;
// SAML configured from pasted metadata XML, from a metadata URL (a loopback server, which the
// test's outbound rule allows) and by hand; OIDC by discovery and by manual endpoints; the
// client secret in no page after saving; the API's messages beside the fields; enable (refused
// while incomplete, with the API's message), disable, delete.
func TestConnectionScreens(t *testing.T) {
	eachAPIBackend(t, func(t *testing.T, c *apiConsole) {
		ctx := context.Background()
		b := c.browser(t)
		b.signIn()
		acme, err := c.dir.CreateOrganization(ctx, c.env, roster.NewOrganization{DisplayName: "Acme"})
		if err != nil {
			t.Fatal(err)
		}
		orgPath := "/dashboard/organizations/" + acme.ID
		list := orgPath + "/connections"
		wantBody(t, "the organization's page", b.get(orgPath), `<a href="`+list+`" id="add-connection-link">Add SSO connection</a>`)
		res := b.get(list)
		wantStatus(t, "the list", res, 200)
		wantBody(t, "the list", res, `id="connections-empty"`, `<option value="SAML"`, `<option value="OIDC"`, `<option value="OKTA"`)

		// A type Roster does not serve: the API's message beside the type.
		_, apiErr := c.dir.CreateConnection(ctx, c.env, acme.ID, "PASSWORD", "OKTA")
		res = b.post(list, url.Values{"csrf": {b.csrf(list)}, "type": {"PASSWORD"}, "provider": {"OKTA"}})
		wantStatus(t, "type PASSWORD", res, 400)
		wantBody(t, "type PASSWORD", res, fieldError("type", descriptionOf(t, apiErr)))
		_, apiErr = c.dir.CreateConnection(ctx, c.env, acme.ID, roster.ConnectionSAML, "NOPE")
		res = b.post(list, url.Values{"csrf": {b.csrf(list)}, "type": {"SAML"}, "provider": {"NOPE"}})
		wantStatus(t, "provider NOPE", res, 400)
		wantBody(t, "provider NOPE", res, fieldError("provider", descriptionOf(t, apiErr)))
		if l, _ := c.dir.ListConnections(ctx, c.env, acme.ID, ""); len(l) != 0 {
			t.Fatalf("refused creates wrote %d connections", len(l))
		}

		// SAML: the SP values equal the REST API's, each with a copy input.
		samlPath, samlID := createConnection(t, b, acme.ID, "SAML", "OKTA")
		res = b.get(samlPath + "?done=created")
		wantStatus(t, "the SAML connection", res, 200)
		wantBody(t, "the SAML connection", res, `<dd id="conn-status">DRAFT</dd>`, `<dd id="conn-enabled">no</dd>`,
			`<script src="/dashboard/static/copy.js" defer></script>`, `id="copy-status" class="help" role="status" aria-live="polite"`,
			`id="conn-missing"`, "idp_entity_id, idp_sso_url, idp_certificate missing")
		api := c.restConnection(t, acme.ID, samlID)
		for id, f := range map[string]string{"acs-url": "sp_assertion_url", "sp-entity-id": "sp_entity_id", "sp-metadata-url": "sp_metadata_url"} {
			want := field(api, "saml_config", f)
			if want == "" || copyValue(t, res.body, id) != want {
				t.Fatalf("%s: page %q, API %s %q", id, copyValue(t, res.body, id), f, want)
			}
		}
		wantBody(t, "the list", b.get(list), `<a href="`+samlPath+`"><code>`+samlID+`</code></a>`, "<td>SAML</td><td>OKTA</td><td>DRAFT</td><td>no</td>")
		wantBody(t, "the organization's page", b.get(orgPath), `<a href="`+samlPath+`"><code>`+samlID+`</code></a>`)

		// Pasted metadata XML: refused when it is not metadata, with the API's message beside
		// the textarea and nothing stored; real IdP metadata completes the connection.
		idp := samltest.Start(t)
		xml := fetchMetadata(t, idp.URL+"/metadata")
		var probe roster.SAMLPatch
		apiMsg := descriptionOf(t, c.dir.ReadSAMLMetadata(ctx, "<nope/>", &probe))
		rest := c.r.REST(t, c.token, "PATCH", "/api/v1/organizations/"+acme.ID+"/connections/"+samlID, `{"saml_config": {"idp_metadata_url": "<nope/>"}}`)
		if rest.Status != 400 || !strings.Contains(rest.Raw, strings.ReplaceAll(apiMsg, `"`, `\"`)) {
			t.Fatalf("the REST API's answer to bad XML: %d %s, want %q", rest.Status, rest.Raw, apiMsg)
		}
		res = b.post(samlPath+"/saml", url.Values{"csrf": {b.csrf(samlPath)}, "source": {"xml"}, "idp_metadata_xml": {"<nope/>"}})
		wantStatus(t, "bad XML", res, 400)
		wantBody(t, "bad XML", res, fieldError("idp_metadata_xml", apiMsg), `<details id="by-xml" open>`)
		res = b.post(samlPath+"/saml", url.Values{"csrf": {b.csrf(samlPath)}, "source": {"xml"}, "idp_metadata_xml": {"<x>" + strings.Repeat("a", 1<<20) + "</x>"}})
		wantStatus(t, "XML over 1 MiB", res, 400)
		wantBody(t, "XML over 1 MiB", res, fieldError("idp_metadata_xml", "the metadata XML must be at most 1 MiB"))
		res = b.post(samlPath+"/saml", url.Values{"csrf": {b.csrf(samlPath)}, "source": {"xml"}, "idp_metadata_xml": {"https://"}})
		wantStatus(t, "not XML", res, 400)
		wantBody(t, "not XML", res, fieldError("idp_metadata_xml", "must be an http(s) URL or the metadata XML"))
		if got, _ := c.dir.GetConnection(ctx, c.env, acme.ID, samlID); got.Status() != roster.ConnectionDraft {
			t.Fatalf("a refused metadata was stored: %+v", got.SAML)
		}
		res = b.post(samlPath+"/saml", url.Values{"csrf": {b.csrf(samlPath)}, "source": {"xml"}, "idp_metadata_xml": {xml}})
		wantRedirect(t, "pasted XML", res, samlPath+"?done=saml")
		res = b.get(samlPath + "?done=saml")
		wantBody(t, "configured by XML", res, "SAML settings saved.", `<dd id="conn-status">COMPLETED</dd>`,
			`<dd id="idp-entity-id"><code>`+template(idp.EntityID)+`</code></dd>`)
		if strings.Contains(res.body, `id="conn-missing"`) {
			t.Fatalf("a completed connection still says what is missing:\n%s", res.body)
		}
		api = c.restConnection(t, acme.ID, samlID)
		if field(api, "status") != "COMPLETED" || field(api, "saml_config", "idp_entity_id") != idp.EntityID ||
			field(api, "saml_config", "idp_sso_url") != idp.URL+"/sso" {
			t.Fatalf("the API after pasted XML: %v", api)
		}

		// By metadata URL (loopback: the test's outbound rule allows private networks).
		res = b.post(samlPath+"/saml", url.Values{"csrf": {b.csrf(samlPath)}, "source": {"url"}, "idp_metadata_url": {idp.URL + "/metadata"}})
		wantRedirect(t, "metadata URL", res, samlPath+"?done=saml")
		if api = c.restConnection(t, acme.ID, samlID); field(api, "saml_config", "idp_metadata_url") != idp.URL+"/metadata" || field(api, "status") != "COMPLETED" {
			t.Fatalf("the API after the metadata URL: %v", api)
		}
		wantBody(t, "configured by URL", b.get(samlPath), `<dd id="idp-metadata-url"><code>`+template(idp.URL+"/metadata")+`</code></dd>`)
		res = b.post(samlPath+"/saml", url.Values{"csrf": {b.csrf(samlPath)}, "source": {"url"}, "idp_metadata_url": {" "}})
		wantStatus(t, "no metadata URL", res, 400)
		wantBody(t, "no metadata URL", res, fieldError("idp_metadata_url", "enter the identity provider's metadata URL"))
		// A URL that is not http(s): the API's message beside the URL input.
		res = b.post(samlPath+"/saml", url.Values{"csrf": {b.csrf(samlPath)}, "source": {"url"}, "idp_metadata_url": {"ftp://idp.example/md"}})
		wantStatus(t, "ftp metadata URL", res, 400)
		wantBody(t, "ftp metadata URL", res, fieldError("idp_metadata_url", "must be an http(s) URL or the metadata XML"), `value="ftp://idp.example/md"`)

		// By hand: an invalid SSO URL gets the API's message beside it, nothing stored.
		bad := "not a url"
		_, apiErr = c.dir.UpdateConnection(ctx, c.env, acme.ID, samlID, roster.ConnectionPatch{SAML: &roster.SAMLPatch{SSOURL: &bad}})
		rest = c.r.REST(t, c.token, "PATCH", "/api/v1/organizations/"+acme.ID+"/connections/"+samlID, `{"saml_config": {"idp_sso_url": "not a url"}}`)
		if rest.Status != 400 || !strings.Contains(rest.Raw, descriptionOf(t, apiErr)) || !strings.Contains(rest.Raw, "connection.saml_config.idp_sso_url") {
			t.Fatalf("the REST API's answer to a bad SSO URL: %d %s", rest.Status, rest.Raw)
		}
		manual := url.Values{"csrf": {b.csrf(samlPath)}, "source": {"manual"}, "idp_entity_id": {"https://idp.example/entity"},
			"idp_sso_url": {bad}, "idp_certificate": {idp.CertPEM}, "idp_name_id_format": {"PERSISTENT"},
			"idp_sso_request_binding": {"HTTP_POST"}, "want_request_signed": {"1"}, "force_authn": {"1"}}
		res = b.post(samlPath+"/saml", manual)
		wantStatus(t, "bad SSO URL", res, 400)
		wantBody(t, "bad SSO URL", res, fieldError("idp_sso_url", descriptionOf(t, apiErr)), `<details id="by-hand" open>`, `value="not a url"`)
		// A certificate that is not one: the domain's message beside it.
		manual.Set("idp_sso_url", "https://idp.example/sso")
		manual.Set("idp_certificate", "not a certificate")
		res = b.post(samlPath+"/saml", manual)
		wantStatus(t, "bad certificate", res, 400)
		wantBody(t, "bad certificate", res, `<span id="idp_certificate-error"><span class="field-error">`)
		if got, _ := c.dir.GetConnection(ctx, c.env, acme.ID, samlID); got.SAML.EntityID != idp.EntityID {
			t.Fatalf("a refused manual form was stored: %+v", got.SAML)
		}
		manual.Set("idp_certificate", idp.CertPEM)
		res = b.post(samlPath+"/saml", manual)
		wantRedirect(t, "by hand", res, samlPath+"?done=saml")
		got, _ := c.dir.GetConnection(ctx, c.env, acme.ID, samlID)
		if s := got.SAML; s.EntityID != "https://idp.example/entity" || s.SSOURL != "https://idp.example/sso" || len(s.Certificates) != 1 ||
			s.NameIDFormat != "PERSISTENT" || s.RequestBinding != "HTTP_POST" || !s.SignRequests || !s.ForceAuthn || got.Status() != roster.ConnectionCompleted {
			t.Fatalf("by hand: %+v", s)
		}
		// Unticked boxes turn the options off.
		manual.Del("want_request_signed")
		manual.Del("force_authn")
		wantRedirect(t, "by hand, boxes off", b.post(samlPath+"/saml", manual), samlPath+"?done=saml")
		if got, _ = c.dir.GetConnection(ctx, c.env, acme.ID, samlID); got.SAML.SignRequests || got.SAML.ForceAuthn {
			t.Fatalf("boxes off: %+v", got.SAML)
		}

		// Enable, disable.
		res = b.post(samlPath+"/enabled", url.Values{"csrf": {b.csrf(samlPath)}, "enabled": {"1"}})
		wantRedirect(t, "enable", res, samlPath+"?done=enabled")
		wantBody(t, "enabled", b.get(samlPath+"?done=enabled"), `<dd id="conn-enabled">yes</dd>`, "Disable connection")
		res = b.post(samlPath+"/enabled", url.Values{"csrf": {b.csrf(samlPath)}, "enabled": {"0"}})
		wantRedirect(t, "disable", res, samlPath+"?done=disabled")
		if got, _ = c.dir.GetConnection(ctx, c.env, acme.ID, samlID); got.Enabled {
			t.Fatal("still enabled")
		}

		// OIDC: the redirect URI is the API's; enabling a draft is refused with the API's
		// message, which names what is missing.
		oidcPath, oidcID := createConnection(t, b, acme.ID, "OIDC", "MICROSOFT")
		res = b.get(oidcPath)
		api = c.restConnection(t, acme.ID, oidcID)
		if want := field(api, "oidc_config", "redirect_uri"); want == "" || copyValue(t, res.body, "redirect-uri") != want {
			t.Fatalf("redirect URI: page %q, API %q", copyValue(t, res.body, "redirect-uri"), want)
		}
		wantBody(t, "the OIDC connection", res, "No client secret is stored yet.")
		_, apiErr = c.dir.SetConnectionEnabled(ctx, c.env, acme.ID, oidcID, true)
		res = b.post(oidcPath+"/enabled", url.Values{"csrf": {b.csrf(oidcPath)}, "enabled": {"1"}})
		wantStatus(t, "enable a draft", res, errcode.HTTP(roster.ErrorCode(apiErr))) // the REST API's status of the same refusal
		wantBody(t, "enable a draft", res, `<p class="error" role="alert" id="error">`+template(roster.ErrorMessage(apiErr))+`</p>`,
			"issuer, client_id, client_secret missing")

		// By discovery, with a secret; a bad issuer is the API's message beside it, and the
		// secret typed with it is not sent back.
		op := oidctest.Start(t)
		const secret = "dashboard-secret-7f3a91c4"
		bad = "not a url"
		_, apiErr = c.dir.UpdateConnection(ctx, c.env, acme.ID, oidcID, roster.ConnectionPatch{OIDC: &roster.OIDCPatch{Issuer: &bad}})
		form := url.Values{"csrf": {b.csrf(oidcPath)}, "configuration_type": {"DISCOVERY"}, "issuer": {bad}, "client_id": {op.ClientID},
			"client_secret": {secret}, "scopes": {"profile", "email", "groups"}, "pkce_enabled": {"1"}, "token_auth_type": {"BASIC_AUTH"}}
		res = b.post(oidcPath+"/oidc", form)
		wantStatus(t, "bad issuer", res, 400)
		wantBody(t, "bad issuer", res, fieldError("issuer", descriptionOf(t, apiErr)), `value="not a url"`)
		if strings.Contains(res.body, secret) {
			t.Fatal("the refused form's page shows the client secret")
		}
		form.Set("issuer", op.URL)
		res = b.post(oidcPath+"/oidc", form)
		wantRedirect(t, "OIDC by discovery", res, oidcPath+"?done=oidc")
		res = b.get(oidcPath + "?done=oidc")
		wantBody(t, "configured OIDC", res, `<dd id="conn-status">COMPLETED</dd>`, "A client secret is stored; it is never shown.",
			`id="client_secret" name="client_secret" type="password" maxlength="1024" value=""`)
		got, _ = c.dir.GetConnection(ctx, c.env, acme.ID, oidcID)
		if o := got.OIDC; o.Issuer != op.URL || o.ClientID != op.ClientID || o.Manual || !o.PKCE || !o.TokenAuthBasic ||
			strings.Join(o.Scopes, " ") != "openid profile email" {
			t.Fatalf("OIDC by discovery: %+v", o)
		}
		if s, err := c.dir.ConnectionSecret(got); err != nil || s != secret {
			t.Fatalf("stored secret: %q %v", s, err)
		}
		if api = c.restConnection(t, acme.ID, oidcID); field(api, "oidc_config", "issuer") != op.URL || field(api, "configuration_type") != "DISCOVERY" {
			t.Fatalf("the API after OIDC by discovery: %v", api)
		}

		// Manual endpoints; an empty secret field keeps the stored secret.
		form = url.Values{"csrf": {b.csrf(oidcPath)}, "configuration_type": {"MANUAL"}, "issuer": {op.URL}, "client_id": {op.ClientID},
			"authorize_uri": {op.URL + "/authorize"}, "token_uri": {op.URL + "/token"}, "jwks_uri": {op.URL + "/jwks"},
			"user_info_uri": {op.URL + "/userinfo"}, "token_auth_type": {"URL_PARAMS"}}
		res = b.post(oidcPath+"/oidc", form)
		wantRedirect(t, "OIDC by hand", res, oidcPath+"?done=oidc")
		got, _ = c.dir.GetConnection(ctx, c.env, acme.ID, oidcID)
		if o := got.OIDC; !o.Manual || o.AuthorizeURI != op.URL+"/authorize" || o.JWKSURI != op.URL+"/jwks" || o.PKCE || o.TokenAuthBasic ||
			strings.Join(o.Scopes, " ") != "openid" || got.Status() != roster.ConnectionCompleted {
			t.Fatalf("OIDC by hand: %+v", o)
		}
		if s, err := c.dir.ConnectionSecret(got); err != nil || s != secret {
			t.Fatalf("the empty secret field changed the secret: %q %v", s, err)
		}
		wantRedirect(t, "enable OIDC", b.post(oidcPath+"/enabled", url.Values{"csrf": {b.csrf(oidcPath)}, "enabled": {"1"}}), oidcPath+"?done=enabled")

		// The secret is in no page.
		for _, p := range []string{oidcPath, oidcPath + "?done=oidc", list, orgPath, oidcPath + "/delete", "/dashboard/audit"} {
			if res := b.get(p); res.status != 200 || strings.Contains(res.body, secret) {
				t.Fatalf("GET %s: %d, secret shown: %v", p, res.status, strings.Contains(res.body, secret))
			}
		}

		// Delete, after its confirmation page.
		res = b.get(samlPath + "/delete")
		wantStatus(t, "delete confirmation", res, 200)
		wantBody(t, "delete confirmation", res, `id="consequence"`, `action="`+samlPath+`/delete"`)
		res = b.post(samlPath+"/delete", url.Values{"csrf": {b.csrf(samlPath + "/delete")}})
		wantRedirect(t, "delete", res, list+"?done=deleted")
		if _, err := c.dir.GetConnection(ctx, c.env, acme.ID, samlID); roster.ErrorCode(err) != roster.ENotFound {
			t.Fatalf("deleted connection: %v", err)
		}
		wantBody(t, "the list after delete", b.get(list+"?done=deleted"), "Connection deleted")
		wantStatus(t, "the deleted connection's page", b.get(samlPath), 404)
	})
}

// Another organization's connection, or one that does not exist, is not found under this
// organization, for every page and every form, and nothing is written; every POST without the
// page's CSRF token is refused with nothing written.
func TestConnectionScreensIsolationAndCSRF(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *console) {
		ctx := context.Background()
		b := c.browser(t)
		b.signIn()
		acme, err := c.dir.CreateOrganization(ctx, c.env, roster.NewOrganization{DisplayName: "Acme"})
		if err != nil {
			t.Fatal(err)
		}
		globex, err := c.dir.CreateOrganization(ctx, c.env, roster.NewOrganization{DisplayName: "Globex"})
		if err != nil {
			t.Fatal(err)
		}
		conn, err := c.dir.CreateConnection(ctx, c.env, acme.ID, roster.ConnectionOIDC, "OKTA")
		if err != nil {
			t.Fatal(err)
		}
		saml, err := c.dir.CreateConnection(ctx, c.env, acme.ID, roster.ConnectionSAML, "OKTA")
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "Globex's list", b.get("/dashboard/organizations/"+globex.ID+"/connections"), 200)
		wantStatus(t, "an unknown organization's list", b.get("/dashboard/organizations/org_nope/connections"), 404)
		tok := b.csrf("/dashboard/organizations/" + globex.ID + "/connections")
		unchanged := func(what string) {
			t.Helper()
			for _, id := range []string{conn.ID, saml.ID} {
				got, err := c.dir.GetConnection(ctx, c.env, acme.ID, id)
				if err != nil || got.Enabled || got.Status() != roster.ConnectionDraft || got.UpdateTime != got.CreateTime {
					t.Fatalf("%s wrote: %v %+v", what, err, got)
				}
			}
			if l, _ := c.dir.ListConnections(ctx, c.env, "", ""); len(l) != 2 {
				t.Fatalf("%s: %d connections", what, len(l))
			}
		}
		oidcForm := url.Values{"configuration_type": {"DISCOVERY"}, "issuer": {"https://idp.example"}, "client_id": {"x"}, "client_secret": {"y"}}
		samlForm := url.Values{"source": {"manual"}, "idp_entity_id": {"e"}, "idp_sso_url": {"https://idp.example/sso"}}
		for _, org := range []string{globex.ID, "org_nope"} {
			base := "/dashboard/organizations/" + org + "/connections/"
			for _, p := range []string{base + conn.ID, base + conn.ID + "/delete", base + "conn_nope"} {
				wantStatus(t, "GET "+p, b.get(p), 404)
			}
			for p, form := range map[string]url.Values{base + conn.ID + "/oidc": oidcForm, base + saml.ID + "/saml": samlForm,
				base + conn.ID + "/enabled": {"enabled": {"1"}}, base + conn.ID + "/delete": {}} {
				f := url.Values{"csrf": {tok}}
				for k, v := range form {
					f[k] = v
				}
				wantStatus(t, "POST "+p, b.post(p, f), 404)
			}
		}
		unchanged("another organization's forms")

		// CSRF: no token, or another session's.
		other := c.browser(t)
		other.signIn()
		otherTok := other.csrf("/dashboard/organizations/" + acme.ID + "/connections")
		base := "/dashboard/organizations/" + acme.ID + "/connections"
		for p, form := range map[string]url.Values{base: {"type": {"SAML"}, "provider": {"OKTA"}}, base + "/" + conn.ID + "/oidc": oidcForm,
			base + "/" + saml.ID + "/saml": samlForm, base + "/" + conn.ID + "/enabled": {"enabled": {"1"}}, base + "/" + conn.ID + "/delete": {}} {
			for _, bad := range []string{"", otherTok} {
				f := url.Values{}
				if bad != "" {
					f.Set("csrf", bad)
				}
				for k, v := range form {
					f[k] = v
				}
				wantStatus(t, "POST "+p+" without its CSRF token", b.post(p, f), 403)
			}
		}
		unchanged("POSTs without their CSRF token")
	})
}

// A metadata URL on a private network is refused under production's outbound rule (no
// --allow-private-networks), with the API's one message beside the URL input, and nothing is
// stored.
func TestConnectionMetadataURLRefused(t *testing.T) {
	eachAPIBackend(t, func(t *testing.T, c *apiConsole) {
		ctx := context.Background()
		b := c.browser(t)
		b.signIn()
		acme, err := c.dir.CreateOrganization(ctx, c.env, roster.NewOrganization{DisplayName: "Acme"})
		if err != nil {
			t.Fatal(err)
		}
		idp := samltest.Start(t)
		samlPath, samlID := createConnection(t, b, acme.ID, "SAML", "OKTA")
		rest := c.r.REST(t, c.token, "PATCH", "/api/v1/organizations/"+acme.ID+"/connections/"+samlID,
			`{"saml_config": {"idp_metadata_url": "`+idp.URL+`/metadata"}}`)
		var probe roster.SAMLPatch
		msg := descriptionOf(t, c.dir.ReadSAMLMetadata(ctx, idp.URL+"/metadata", &probe))
		if rest.Status != 400 || !strings.Contains(rest.Raw, msg) || !strings.Contains(msg, "could not fetch the SAML metadata") {
			t.Fatalf("the REST API's refusal: %d %s (%q)", rest.Status, rest.Raw, msg)
		}
		res := b.post(samlPath+"/saml", url.Values{"csrf": {b.csrf(samlPath)}, "source": {"url"}, "idp_metadata_url": {idp.URL + "/metadata"}})
		wantStatus(t, "a loopback metadata URL", res, 400)
		wantBody(t, "a loopback metadata URL", res, fieldError("idp_metadata_url", msg))
		if got, _ := c.dir.GetConnection(ctx, c.env, acme.ID, samlID); got.SAML.MetadataURL != "" || got.Status() != roster.ConnectionDraft {
			t.Fatalf("a refused metadata URL was stored: %+v", got.SAML)
		}
		// Pasted XML needs no fetch: it is read under any rule.
		res = b.post(samlPath+"/saml", url.Values{"csrf": {b.csrf(samlPath)}, "source": {"xml"}, "idp_metadata_xml": {fetchMetadata(t, idp.URL+"/metadata")}})
		wantRedirect(t, "pasted XML", res, samlPath+"?done=saml")
	}, rostertest.WithOutbound(outbound.Options{}))
}
