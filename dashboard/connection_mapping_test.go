package dashboard_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/dashboard"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/internal/oidctest"
	"github.com/rosterhq/roster/internal/samltest"
	"github.com/rosterhq/roster/oauth"
	"github.com/rosterhq/roster/operators"
	"github.com/rosterhq/roster/outbound"
	"github.com/rosterhq/roster/secretbox"
	"github.com/rosterhq/roster/sso"
	"github.com/rosterhq/roster/store"
)

// The mapping preview and test sign-in of an SSO connection (docs/dashboard.md, "Mapping
// preview and test sign-in"): a dashboard and Roster's sign-in endpoints on one httptest
// server (as serve mounts them), an application client, and in-process identity providers
// (internal/oidctest, internal/samltest).

const appCallback = "http://127.0.0.1:9/app/callback"

type ssoConsole struct {
	*console
	clientID string
	idp      *oidctest.Provider
	org      roster.Organization
}

func newSSOConsole(t *testing.T, st store.Store) *ssoConsole {
	t.Helper()
	ctx := context.Background()
	box, err := secretbox.New(make([]byte, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	dir := directory.New(st, directory.WithSecretBox(box))
	t.Cleanup(func() { _ = dir.Close(context.Background()) })
	env, created, err := dir.Bootstrap(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := dir.SetRedirectURIs(ctx, created.Client.ID, []string{appCallback}); err != nil {
		t.Fatal(err)
	}
	ops := operators.New(st, operators.Settings{Password: cheap, MaxFailures: maxFailures, Lockout: time.Minute})
	var mux http.ServeMux
	srv := httptest.NewServer(&mux)
	t.Cleanup(srv.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tokens := oauth.NewServer(st, srv.URL, time.Hour, oauth.WithSecretBox(box))
	signIn := sso.New(sso.Config{Directory: dir, Tokens: tokens, EnvironmentID: env.ID, Issuer: srv.URL, Log: log,
		Outbound: outbound.New(outbound.Options{AllowPrivateNetworks: true, Log: log})})
	h := dashboard.New(dashboard.Config{Directory: dir, Environment: env, Operators: ops, Log: log, Issuer: srv.URL, TestSignIn: signIn})
	signIn.Register(&mux)
	mux.Handle("/dashboard", h)
	mux.Handle("/dashboard/", h)
	c := &ssoConsole{console: &console{srv: srv, dir: dir, env: env, ops: ops}, clientID: created.Client.ID, idp: oidctest.Start(t)}
	c.org, err = dir.CreateOrganization(ctx, env, roster.NewOrganization{DisplayName: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dir.CreateDomain(ctx, env, roster.OrganizationRef{ID: c.org.ID}, "acme.test", roster.DomainOrganization); err != nil {
		t.Fatal(err)
	}
	for _, a := range []roster.AttributeDefinition{
		{Key: "employee_number", DisplayName: "Employee number", Type: roster.AttributeInteger},
		{Key: "cost_center", DisplayName: "Cost center", Type: roster.AttributeString},
	} {
		if _, err := dir.CreateAttribute(ctx, env, a); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func eachSSOBackend(t *testing.T, fn func(t *testing.T, c *ssoConsole)) {
	eachStore(t, func(t *testing.T, st store.Store) { fn(t, newSSOConsole(t, st)) })
}

// oidcConnection makes an OIDC connection of org to the test provider, enabled or not.
func (c *ssoConsole) oidcConnection(t *testing.T, orgID string, mapping map[string]string, enabled bool) roster.Connection {
	t.Helper()
	ctx := context.Background()
	conn, err := c.dir.CreateConnection(ctx, c.env, orgID, roster.ConnectionOIDC, "OKTA")
	if err != nil {
		t.Fatal(err)
	}
	pkce := true
	conn, err = c.dir.UpdateConnection(ctx, c.env, orgID, conn.ID, roster.ConnectionPatch{AttributeMapping: mapping,
		OIDC: &roster.OIDCPatch{Issuer: &c.idp.URL, ClientID: &c.idp.ClientID, ClientSecret: &c.idp.ClientSecret, PKCE: &pkce}})
	if err != nil {
		t.Fatal(err)
	}
	if enabled {
		if conn, err = c.dir.SetConnectionEnabled(ctx, c.env, orgID, conn.ID, true); err != nil {
			t.Fatal(err)
		}
	}
	return conn
}

// follow walks redirects with b's cookies (the browser's jar) until a page, or a redirect to
// where stop says; it returns the last response and its URL.
func (b *browser) follow(start string, stop func(*url.URL) bool) (response, *url.URL) {
	b.t.Helper()
	u, _ := url.Parse(start)
	for range 10 {
		req, _ := http.NewRequest("GET", u.String(), nil)
		res := b.do(req)
		if res.status < 300 || res.status > 399 {
			return res, u
		}
		next, err := u.Parse(res.header.Get("Location"))
		if err != nil {
			b.t.Fatal(err)
		}
		if stop(next) {
			return res, next
		}
		u = next
	}
	b.t.Fatalf("too many redirects from %s", start)
	return response{}, nil
}

// appSignIn runs an application's sign-in (/oauth/authorize) through the connection in b and
// returns where Roster sends the browser at the end.
func (c *ssoConsole) appSignIn(t *testing.T, b *browser, connID string) *url.URL {
	t.Helper()
	sum := sha256.Sum256([]byte("a-verifier-of-the-application-that-is-long-enough-43"))
	q := url.Values{"response_type": {"code"}, "client_id": {c.clientID}, "redirect_uri": {appCallback}, "scope": {"openid profile email"},
		"state": {"app-state"}, "connection_id": {connID}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"}}
	res, last := b.follow(c.srv.URL+"/oauth/authorize?"+q.Encode(), func(u *url.URL) bool { return u.Host == "127.0.0.1:9" })
	if last.Host != "127.0.0.1:9" {
		t.Fatalf("the application's sign-in did not come back to it: %s %d\n%s", last, res.status, res.body)
	}
	return last
}

var continueLink = regexp.MustCompile(`<a href="([^"]+)" id="continue-link">`)

// testSignIn presses "Test sign-in" on path's page and follows the browser to the provider
// and back; it returns the result page's path and response.
func (c *ssoConsole) testSignIn(t *testing.T, b *browser, connPath string) (string, response) {
	t.Helper()
	tok := b.csrf(connPath + "/mapping")
	res := b.post(connPath+"/test", url.Values{"csrf": {tok}})
	wantStatus(t, "start a test sign-in", res, 200)
	m := continueLink.FindStringSubmatch(res.body)
	if m == nil || !strings.Contains(res.body, `<meta http-equiv="refresh" content="0;url=`) {
		t.Fatalf("no way on to the provider:\n%s", res.body)
	}
	_, last := b.follow(html.UnescapeString(m[1]), func(u *url.URL) bool { return strings.HasPrefix(u.Path, "/dashboard/") || u.Host == "127.0.0.1:9" })
	if !strings.HasPrefix(last.Path, connPath+"/test/") {
		t.Fatalf("the test sign-in ended at %s, not its result page", last)
	}
	return last.Path, b.get(last.Path)
}

func wantBodyHas(t *testing.T, what string, res response, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(res.body, p) {
			t.Fatalf("%s: the page lacks %q:\n%s", what, p, res.body)
		}
	}
}

func wantNoUsers(t *testing.T, c *ssoConsole, what string) {
	t.Helper()
	l, err := c.dir.ListUsers(context.Background(), c.env, directory.ListUsersInput{PageInput: directory.PageInput{PageSize: 10}})
	if err != nil || l.Total != 0 || len(l.Items) != 0 {
		t.Fatalf("%s: users were created: %v %+v", what, err, l.Items)
	}
}

var adaClaims = map[string]any{"email": "ada@acme.test", "email_verified": true, "given_name": "Ada", "family_name": "Lovelace",
	"nickname": "countess", "locale": "en-gb", "employee_no": 1815, "dept": "R&D <lab>", "groups": []string{"Admins", "Staff"}}

// TestConnectionMappingPreview: the preview of a mapping is what a real sign-in stores for the
// same claims; an edited mapping is previewed and not saved; the API's messages beside the
// key; CSRF refusals write nothing; another organization's connection is not found.
func TestConnectionMappingPreview(t *testing.T) {
	eachSSOBackend(t, func(t *testing.T, c *ssoConsole) {
		ctx := context.Background()
		mapping := map[string]string{"employee_number": "employee_no", "custom_attributes.cost_center": "dept", "group:Admins": "admin"}
		conn := c.oidcConnection(t, c.org.ID, mapping, true)
		path := "/dashboard/organizations/" + c.org.ID + "/connections/" + conn.ID
		b := c.browser(t)
		b.signIn()

		// Nobody has signed in yet: the page says so and offers the test sign-in.
		res := b.get(path + "/mapping")
		wantStatus(t, "the mapping page", res, 200)
		wantBodyHas(t, "the mapping page before a sign-in", res, `id="preview-none"`, `id="test-sign-in"`, `value="employee_no"`)

		// A real sign-in through the sso package stores the user.
		c.idp.SetUser("00u-ada", adaClaims)
		if loc := c.appSignIn(t, c.browser(t), conn.ID); loc.Query().Get("code") == "" {
			t.Fatalf("no code: %s", loc)
		}
		last, err := c.dir.LatestSignIn(ctx, c.env, c.org.ID, conn.ID)
		if err != nil || last.Subject != "00u-ada" || !strings.Contains(string(last.RawClaims), `"employee_no":1815`) {
			t.Fatalf("the latest sign-in: %v %+v", err, last)
		}
		if _, err := c.dir.LatestSignIn(ctx, c.env, "org_other", conn.ID); roster.ErrorCode(err) != roster.ENotFound {
			t.Fatalf("the latest sign-in under another organization: %v", err)
		}
		u, err := c.dir.GetUser(ctx, c.env, roster.UserRef{ID: last.UserID})
		if err != nil {
			t.Fatal(err)
		}
		// The preview of the same mapping is the stored profile.
		pv, err := c.dir.PreviewMapping(ctx, c.env, c.org.ID, conn.ID, mapping)
		if err != nil || !pv.Found {
			t.Fatalf("preview: %v %+v", err, pv)
		}
		got, want := pv.Mapped.Profile, u.Profile
		if got.GivenName != want.GivenName || got.FamilyName != want.FamilyName || got.Name != want.Name || got.Locale != want.Locale ||
			got.PreferredUsername != want.PreferredUsername || got.EmailVerified != want.EmailVerified ||
			fmt.Sprint(got.Groups) != fmt.Sprint(want.Groups) || fmt.Sprint(got.CustomAttributes) != fmt.Sprint(want.CustomAttributes) ||
			pv.Mapped.Email != u.Email || pv.Mapped.Subject != "00u-ada" || pv.Mapped.Role != "admin" {
			t.Fatalf("the preview differs from the stored user:\npreview %+v\nstored  %+v", pv.Mapped, u.Profile)
		}
		if want.CustomAttributes["employee_number"] != "1815" || want.CustomAttributes["cost_center"] != "R&D <lab>" || want.Locale != "en-GB" {
			t.Fatalf("stored profile: %+v", want)
		}
		if m := u.Memberships; len(m) != 1 || len(m[0].Roles) != 1 || m[0].Roles[0].Name != "admin" {
			t.Fatalf("memberships: %+v", m)
		}
		// The page shows it: the saved mapping's result, the raw claims escaped and indented.
		res = b.get(path + "/mapping")
		wantBodyHas(t, "the mapping page after a sign-in", res, `id="preview-source"`, `id="mapped-given_name">Ada<`,
			`id="mapped-locale">en-GB<`, `id="custom-employee_number">1815<`, `id="custom-cost_center">R&amp;D &lt;lab&gt;<`,
			`id="mapped-role"><code>admin</code>`, "\n  &#34;dept&#34;: &#34;R&amp;D &lt;lab&gt;&#34;,")

		// Preview an edited mapping: the page shows its result, and nothing is saved.
		tok := b.csrf(path + "/mapping")
		form := url.Values{"csrf": {tok}, "action": {"preview"},
			"key":   {"employee_number", "given_name", "custom_attributes.cost_center", "", ""},
			"claim": {"employee_no", "nickname", "dept", "", ""}}
		res = b.post(path+"/mapping", form)
		wantStatus(t, "preview", res, 200)
		wantBodyHas(t, "preview", res, "Preview of the edited mapping", `id="mapped-given_name">countess<`, `value="nickname"`)
		if strings.Contains(res.body, `id="mapped-role"`) {
			t.Fatal("the preview kept the group mapping it no longer has")
		}
		if cur, _ := c.dir.GetConnection(ctx, c.env, c.org.ID, conn.ID); fmt.Sprint(cur.AttributeMapping) != fmt.Sprint(mapping) {
			t.Fatalf("the preview saved the mapping: %v", cur.AttributeMapping)
		}

		// Mapping errors: the API's message beside the key, for save and preview alike.
		bad := map[string]string{"employee_number": "employee_no", "shoe_size": "shoe"}
		_, apiErr := c.dir.UpdateConnection(ctx, c.env, c.org.ID, conn.ID, roster.ConnectionPatch{AttributeMapping: bad})
		var apiMsg string
		if e, ok := apiErr.(*roster.Error); ok && len(e.Violations) == 1 {
			apiMsg = e.Violations[0].Description
		} else {
			t.Fatalf("the API's refusal: %v", apiErr)
		}
		for _, action := range []string{"save", "preview"} {
			res = b.post(path+"/mapping", url.Values{"csrf": {tok}, "action": {action}, "key": {"employee_number", "shoe_size"}, "claim": {"employee_no", "shoe"}})
			wantStatus(t, action+" an unknown key", res, 400)
			wantBodyHas(t, action+" an unknown key", res, `<span id="key-1-error"><span class="field-error">`+html.EscapeString(apiMsg)+`</span>`, `value="shoe_size"`)
		}
		// A group mapped to no role, and too many pairs (the API's limit, beside the table).
		res = b.post(path+"/mapping", url.Values{"csrf": {tok}, "action": {"save"}, "key": {"group:Ops"}, "claim": {"no_such_role"}})
		wantStatus(t, "a group to no role", res, 400)
		wantBodyHas(t, "a group to no role", res, `<span id="key-0-error"><span class="field-error">no role named &#34;no_such_role&#34; exists</span>`)
		many := url.Values{"csrf": {tok}, "action": {"save"}}
		tooMany := map[string]string{}
		for i := range 31 {
			many.Add("key", fmt.Sprintf("group:g%d", i))
			many.Add("claim", "admin")
			tooMany[fmt.Sprintf("group:g%d", i)] = "admin"
		}
		_, apiErr = c.dir.UpdateConnection(ctx, c.env, c.org.ID, conn.ID, roster.ConnectionPatch{AttributeMapping: tooMany})
		res = b.post(path+"/mapping", many)
		wantStatus(t, "31 pairs", res, 400)
		wantBodyHas(t, "31 pairs", res, `<span id="mapping-error"><span class="field-error">at most 30 pairs, got 31</span>`, html.EscapeString(roster.ErrorMessage(apiErr)))
		// The same key twice.
		res = b.post(path+"/mapping", url.Values{"csrf": {tok}, "action": {"save"}, "key": {"given_name", "given_name"}, "claim": {"a", "b"}})
		wantStatus(t, "a key twice", res, 400)
		wantBodyHas(t, "a key twice", res, `<span id="key-1-error"><span class="field-error">this key is given twice`)
		if cur, _ := c.dir.GetConnection(ctx, c.env, c.org.ID, conn.ID); fmt.Sprint(cur.AttributeMapping) != fmt.Sprint(mapping) {
			t.Fatalf("a refused mapping was saved: %v", cur.AttributeMapping)
		}

		// CSRF: refused, nothing written (save, preview, test).
		for _, f := range []url.Values{
			{"action": {"save"}, "key": {"given_name"}, "claim": {"nickname"}},
			{"csrf": {"wrong"}, "action": {"save"}, "key": {"given_name"}, "claim": {"nickname"}},
			{"action": {"preview"}, "key": {"given_name"}, "claim": {"nickname"}},
		} {
			res = b.post(path+"/mapping", f)
			wantStatus(t, "mapping without its CSRF token", res, 403)
		}
		res = b.post(path+"/test", url.Values{"csrf": {"wrong"}})
		wantStatus(t, "test without its CSRF token", res, 403)
		if len(res.header.Values("Set-Cookie")) != 0 || strings.Contains(res.body, c.idp.URL) {
			t.Fatalf("a refused test started a sign-in: %v", res.header)
		}
		if cur, _ := c.dir.GetConnection(ctx, c.env, c.org.ID, conn.ID); fmt.Sprint(cur.AttributeMapping) != fmt.Sprint(mapping) {
			t.Fatalf("a refused POST saved the mapping: %v", cur.AttributeMapping)
		}

		// Save: 303 back to the page, the connection has the new mapping; the audit log says so.
		res = b.post(path+"/mapping", url.Values{"csrf": {tok}, "action": {"save"}, "key": {"given_name", "employee_number"}, "claim": {"nickname", "employee_no"}})
		wantRedirect(t, "save the mapping", res, path+"/mapping?done=saved")
		if cur, _ := c.dir.GetConnection(ctx, c.env, c.org.ID, conn.ID); fmt.Sprint(cur.AttributeMapping) != fmt.Sprint(map[string]string{"given_name": "nickname", "employee_number": "employee_no"}) {
			t.Fatalf("saved mapping: %v", cur.AttributeMapping)
		}
		wantBodyHas(t, "after saving", b.get(path+"/mapping?done=saved"), "Attribute mapping saved", `id="mapped-given_name">countess<`)
		audit := b.get("/dashboard/audit")
		wantBodyHas(t, "the audit log", audit, "connection.mapping", "connection.mapping.preview", conn.ID)

		// Another organization's path to the connection: not found, nothing written.
		other, err := c.dir.CreateOrganization(ctx, c.env, roster.NewOrganization{DisplayName: "Other"})
		if err != nil {
			t.Fatal(err)
		}
		otherPath := "/dashboard/organizations/" + other.ID + "/connections/" + conn.ID
		wantStatus(t, "another organization's mapping page", b.get(otherPath+"/mapping"), 404)
		wantStatus(t, "another organization's mapping save", b.post(otherPath+"/mapping", url.Values{"csrf": {tok}, "action": {"save"}, "key": {"name"}, "claim": {"x"}}), 404)
		wantStatus(t, "another organization's preview", b.post(otherPath+"/mapping", url.Values{"csrf": {tok}, "action": {"preview"}}), 404)
		res = b.post(otherPath+"/test", url.Values{"csrf": {tok}})
		wantStatus(t, "another organization's test", res, 404)
		if cur, _ := c.dir.GetConnection(ctx, c.env, c.org.ID, conn.ID); cur.AttributeMapping["name"] != "" {
			t.Fatalf("saved through another organization: %v", cur.AttributeMapping)
		}
		// A saved mapping whose custom attribute was deleted since: the page says so beside the
		// key (sign-ins skip that entry).
		res = b.post(path+"/mapping", url.Values{"csrf": {tok}, "action": {"save"}, "key": {"cost_center"}, "claim": {"dept"}})
		wantRedirect(t, "save a cost_center mapping", res, path+"/mapping?done=saved")
		if err := c.dir.DeleteAttribute(ctx, c.env, "cost_center"); err != nil {
			t.Fatal(err)
		}
		res = b.get(path + "/mapping")
		wantStatus(t, "the page of a stale mapping", res, 200)
		wantBodyHas(t, "the page of a stale mapping", res, `<span id="key-0-error"><span class="field-error">&#34;cost_center&#34; is neither a profile field`)

		// Without a session: sign in first; a POST is refused.
		anon := c.browser(t)
		wantRedirect(t, "the mapping page without a session", anon.get(path+"/mapping"), "/dashboard/sign-in?next="+url.QueryEscape(path+"/mapping"))
		wantStatus(t, "a test without a session", anon.post(path+"/test", url.Values{"csrf": {tok}}), 403)
	})
}

// TestConnectionTestSignIn: a test sign-in through a disabled connection, end to end (start,
// the provider, the callback, the result page), creates no user, identity or membership and
// issues no code; its result is the operator's only; its state cannot finish an application's
// sign-in nor an application's land on the test page; the provider's refusal shows with the
// application's message.
func TestConnectionTestSignIn(t *testing.T) {
	eachSSOBackend(t, func(t *testing.T, c *ssoConsole) {
		ctx := context.Background()
		conn := c.oidcConnection(t, c.org.ID, map[string]string{"employee_number": "employee_no", "group:Admins": "admin"}, false)
		path := "/dashboard/organizations/" + c.org.ID + "/connections/" + conn.ID
		b := c.browser(t)
		b.signIn()
		c.idp.SetUser("00u-ada", adaClaims)

		result, res := c.testSignIn(t, b, path)
		wantStatus(t, "the result page", res, 200)
		wantBodyHas(t, "the result page", res, `id="test-ok"`, `id="mapped-email">ada@acme.test<`, `id="mapped-given_name">Ada<`,
			`id="custom-employee_number">1815<`, `id="mapped-role"><code>admin</code>`, `id="mapped-subject"><code>00u-ada</code>`,
			"&#34;email&#34;: &#34;ada@acme.test&#34;", `id="test-dry-run"`)
		wantNoUsers(t, c, "a test sign-in")
		if _, err := c.dir.LatestSignIn(ctx, c.env, c.org.ID, conn.ID); roster.ErrorCode(err) != roster.ENotFound {
			t.Fatalf("a test sign-in stored an identity: %v", err)
		}
		if cur, _ := c.dir.GetConnection(ctx, c.env, c.org.ID, conn.ID); cur.Enabled {
			t.Fatal("the test enabled the connection")
		}
		wantBodyHas(t, "the audit log", b.get("/dashboard/audit"), "connection.test")

		// The result is the operator's: not without a session, not for another operator, not
		// under another organization.
		anon := c.browser(t)
		wantRedirect(t, "the result without a session", anon.get(result), "/dashboard/sign-in?next="+url.QueryEscape(result))
		if _, err := c.ops.Create(ctx, roster.NewOperator{Email: "bob@example.com"}, adaPassword); err != nil {
			t.Fatal(err)
		}
		bob := c.browser(t)
		tok := bob.csrf("/dashboard/sign-in")
		wantRedirect(t, "bob signs in", bob.post("/dashboard/sign-in", url.Values{"csrf": {tok}, "email": {"bob@example.com"}, "password": {adaPassword}}), "/dashboard/attributes")
		wantStatus(t, "another operator's result", bob.get(result), 404)
		other, err := c.dir.CreateOrganization(ctx, c.env, roster.NewOrganization{DisplayName: "Other"})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "the result under another organization", b.get(strings.Replace(result, c.org.ID, other.ID, 1)), 404)
		wantStatus(t, "an unknown result", b.get(path+"/test/ctest_nope"), 404)

		// A test's state at the callback goes to the test, never to an application; an
		// application's sign-in never lands on the test page.
		tok = b.csrf(path + "/mapping")
		res = b.post(path+"/test", url.Values{"csrf": {tok}})
		m := continueLink.FindStringSubmatch(res.body)
		if m == nil {
			t.Fatalf("no provider link:\n%s", res.body)
		}
		res, last := b.follow(html.UnescapeString(m[1]), func(u *url.URL) bool { return u.Path == sso.CallbackPath })
		if last.Path != sso.CallbackPath || last.Query().Get("state") == "" {
			t.Fatalf("the provider did not send back to the callback: %s", last)
		}
		callback := last.String()
		// Another browser (no binding cookie): no user, no code, the binding error on the result.
		res, end := anon.follow(callback, func(u *url.URL) bool { return true })
		if end.Host == "127.0.0.1:9" || end.Query().Get("code") != "" {
			t.Fatalf("a test's state finished an application sign-in: %s", end)
		}
		wantBodyHas(t, "the test's result in another browser", b.get(end.Path), "not started in this browser")
		// Used once: the operator's own browser now finds it gone.
		res, _ = b.follow(callback, func(u *url.URL) bool { return true })
		wantStatus(t, "the test's callback again", res, 400)
		wantNoUsers(t, c, "a test's callback")

		// An application's sign-in through the (now enabled) connection ends at the application.
		if _, err := c.dir.SetConnectionEnabled(ctx, c.env, c.org.ID, conn.ID, true); err != nil {
			t.Fatal(err)
		}
		if loc := c.appSignIn(t, b, conn.ID); loc.Query().Get("code") == "" || strings.HasPrefix(loc.Path, "/dashboard") {
			t.Fatalf("the application's sign-in: %s", loc)
		}

		// The provider's refusal: the same message the application gets.
		c.idp.SetFault(oidctest.WrongAudience)
		loc := c.appSignIn(t, c.browser(t), conn.ID)
		appErr := loc.Query().Get("error_description")
		if appErr == "" {
			t.Fatalf("the application got no error: %s", loc)
		}
		_, res = c.testSignIn(t, b, path)
		wantBodyHas(t, "the refused test", res, `<p class="error" id="test-error">The sign-in failed: `+html.EscapeString(appErr)+`</p>`)

		// A provider that cannot be reached: the result page says so at once.
		gone := "http://127.0.0.1:1"
		if _, err := c.dir.UpdateConnection(ctx, c.env, c.org.ID, conn.ID, roster.ConnectionPatch{OIDC: &roster.OIDCPatch{Issuer: &gone}}); err != nil {
			t.Fatal(err)
		}
		tok = b.csrf(path + "/mapping")
		res = b.post(path+"/test", url.Values{"csrf": {tok}})
		if loc := res.header.Get("Location"); res.status != http.StatusSeeOther || !strings.HasPrefix(loc, path+"/test/ctest_") {
			t.Fatalf("a test through an unreachable provider: %d %q\n%s", res.status, loc, res.body)
		} else {
			wantBodyHas(t, "an unreachable provider", b.get(loc), `id="test-error">The sign-in failed: the organization&#39;s identity provider could not be reached</p>`)
		}
		if l, err := c.dir.ListUsers(ctx, c.env, directory.ListUsersInput{PageInput: directory.PageInput{PageSize: 10}}); err != nil || l.Total != 1 {
			t.Fatalf("users after the application's one sign-in and the failed tests: %v %d, want 1", err, l.Total)
		}
	})
}

// TestConnectionTestSignInSAML: the same end to end through a SAML connection (disabled).
func TestConnectionTestSignInSAML(t *testing.T) {
	eachSSOBackend(t, func(t *testing.T, c *ssoConsole) {
		ctx := context.Background()
		idp := samltest.Start(t)
		idp.SetUser(samltest.User{NameID: "grace@acme.test", Attributes: map[string][]string{
			"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname":    {"Grace"},
			"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname":      {"Hopper"},
			"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress": {"grace@acme.test"},
			"costcenter": {"Navy <1>"},
		}})
		conn, err := c.dir.CreateConnection(ctx, c.env, c.org.ID, roster.ConnectionSAML, "MICROSOFT_AD")
		if err != nil {
			t.Fatal(err)
		}
		binding := roster.BindingRedirect
		if _, err := c.dir.UpdateConnection(ctx, c.env, c.org.ID, conn.ID, roster.ConnectionPatch{AttributeMapping: map[string]string{"cost_center": "costcenter"},
			SAML: &roster.SAMLPatch{EntityID: &idp.EntityID, SSOURL: ptr(idp.URL + "/sso"), Certificates: []string{idp.CertPEM}, RequestBinding: &binding}}); err != nil {
			t.Fatal(err)
		}
		path := "/dashboard/organizations/" + c.org.ID + "/connections/" + conn.ID
		b := c.browser(t)
		b.signIn()
		tok := b.csrf(path + "/mapping")
		res := b.post(path+"/test", url.Values{"csrf": {tok}})
		wantStatus(t, "start a SAML test", res, 200)
		m := continueLink.FindStringSubmatch(res.body)
		if m == nil || !strings.HasPrefix(html.UnescapeString(m[1]), idp.URL+"/sso?") {
			t.Fatalf("no way on to the IdP:\n%s", res.body)
		}
		idpRes, err := http.Get(html.UnescapeString(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(idpRes.Body)
		idpRes.Body.Close()
		a, err := samltest.ParseForm(string(page))
		if err != nil {
			t.Fatal(err)
		}
		res = b.post(strings.TrimPrefix(a.ACS, c.srv.URL), url.Values{"SAMLResponse": {a.SAMLResponse}, "RelayState": {a.RelayState}})
		loc := res.header.Get("Location")
		if res.status != http.StatusSeeOther || !strings.HasPrefix(loc, path+"/test/") {
			t.Fatalf("the ACS: %d to %q\n%s", res.status, loc, res.body)
		}
		res = b.get(loc)
		wantBodyHas(t, "the SAML result", res, `id="mapped-email">grace@acme.test<`, `id="mapped-given_name">Grace<`, `id="mapped-family_name">Hopper<`,
			`id="custom-cost_center">Navy &lt;1&gt;<`, `<code>grace@acme.test</code>`, "saml:nameid")
		wantNoUsers(t, c, "a SAML test sign-in")

		// The HTTP-POST binding: the answer to the dashboard's POST is the auto-posting form to
		// the IdP, under a CSP that lets it post there (the dashboard's has form-action 'self').
		binding = roster.BindingPost
		if _, err := c.dir.UpdateConnection(ctx, c.env, c.org.ID, conn.ID, roster.ConnectionPatch{SAML: &roster.SAMLPatch{RequestBinding: &binding}}); err != nil {
			t.Fatal(err)
		}
		res = b.post(path+"/test", url.Values{"csrf": {tok}})
		csp := res.header.Get("Content-Security-Policy")
		if res.status != 200 || !strings.Contains(res.body, "SAMLRequest") || strings.Contains(csp, "form-action") || !strings.Contains(csp, "default-src 'none'") {
			t.Fatalf("the POST binding's form: %d %q\n%s", res.status, csp, res.body)
		}
		req, err := samltest.ParseForm(res.body)
		if err != nil || req.ACS != idp.URL+"/sso" {
			t.Fatalf("the AuthnRequest form: %v %+v", err, req)
		}
		idpRes, err = http.PostForm(req.ACS, url.Values{"SAMLRequest": {req.SAMLResponse}, "RelayState": {req.RelayState}})
		if err != nil {
			t.Fatal(err)
		}
		page, _ = io.ReadAll(idpRes.Body)
		idpRes.Body.Close()
		if a, err = samltest.ParseForm(string(page)); err != nil {
			t.Fatal(err)
		}
		res = b.post(strings.TrimPrefix(a.ACS, c.srv.URL), url.Values{"SAMLResponse": {a.SAMLResponse}, "RelayState": {a.RelayState}})
		if loc = res.header.Get("Location"); res.status != http.StatusSeeOther || !strings.HasPrefix(loc, path+"/test/") {
			t.Fatalf("the ACS (POST binding): %d to %q\n%s", res.status, loc, res.body)
		}
		wantBodyHas(t, "the SAML result (POST binding)", b.get(loc), `id="mapped-given_name">Grace<`)
		wantNoUsers(t, c, "a SAML test sign-in (POST binding)")
	})
}
