package e2e

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// axeScript is axe-core's browser build, installed by npm ci in e2e/node (pinned in its
// package.json and package-lock.json).
var axeScript = filepath.Join("node", "node_modules", "axe-core", "axe.min.js")

// axeViolation is what the test keeps of one of axe.run's violations.
type axeViolation struct {
	ID      string `json:"id"`
	Impact  string `json:"impact"`
	Help    string `json:"help"`
	HelpURL string `json:"helpUrl"`
	Nodes   []struct {
		Target  []any  `json:"target"`
		HTML    string `json:"html"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// axeRun runs axe-core on the document (WCAG 2 A and AA, and axe's best practices) and
// returns the violations, without the passes.
const axeRun = `axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}, resultTypes: ['violations']})
	.then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
		nodes: v.nodes.map(n => ({target: n.target, html: n.html, failureSummary: n.failureSummary}))})))`

// dashboardGETRoutes reads the patterns the dashboard registers on its mux from the source
// of package dashboard (m.Handle / m.HandleFunc calls, Prefix spelled out) and returns those
// a browser can GET: a GET pattern or one without a method.
func dashboardGETRoutes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "dashboard", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("the dashboard's source: %v", err)
	}
	var routes []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
				return true
			}
			var pattern string
			var concat func(e ast.Expr) bool
			concat = func(e ast.Expr) bool {
				switch e := e.(type) {
				case *ast.BinaryExpr:
					return e.Op == token.ADD && concat(e.X) && concat(e.Y)
				case *ast.BasicLit:
					s, err := strconv.Unquote(e.Value)
					pattern += s
					return err == nil && e.Kind == token.STRING
				case *ast.Ident:
					if e.Name == "Prefix" {
						pattern += "/dashboard"
						return true
					}
				}
				return false
			}
			if !concat(call.Args[0]) {
				t.Fatalf("%s: a route pattern the test cannot read: %s", fset.Position(call.Pos()), pattern)
			}
			method, path, found := strings.Cut(pattern, " ")
			if !found {
				method, path = "", pattern
			}
			if method == "" || method == "GET" {
				routes = append(routes, strings.TrimSpace(method+" "+path))
			}
			return true
		})
	}
	if len(routes) < 10 {
		t.Fatalf("only %d GET routes read from ../dashboard: %v", len(routes), routes)
	}
	return routes
}

// TestDashboardAccessibility runs axe-core in Chromium on every screen of the dashboard of a
// live `roster serve` (SQLite), each with content in its tables and lists, and fails on any
// violation of impact "serious" or "critical" of WCAG 2 A/AA or axe's best practices (the
// lesser ones are logged). Every GET route the dashboard registers must be visited, or be
// named here as not a screen. axe is injected through the DevTools protocol
// (Runtime.evaluate), which the page's Content-Security-Policy does not govern: the CSP
// stays in force, and the test checks that it does. A screenshot of each screen is written
// as a11y-NN-<screen>.png.
func TestDashboardAccessibility(t *testing.T) {
	nodeDeps(t)
	axe, err := os.ReadFile(axeScript)
	if err != nil {
		t.Fatalf("axe-core is not installed in e2e/node: run `npm ci` in e2e/node (%v)", err)
	}
	routes := dashboardGETRoutes(t)
	allocCtx, shots := dashboardAllocator(t)
	srv, link := dashboardServer(t, "sqlite", "ROSTER_BOOTSTRAP_REDIRECT_URIS="+ssoTestApp)
	// An SSO connection to the e2e OpenID provider, for its mapping and test sign-in screens.
	ssoOrg, ssoConn, _ := ssoTestSetup(t, srv, startIdP(t, srv.URL))
	ssoPath := "/dashboard/organizations/" + ssoOrg + "/connections/" + ssoConn

	// Content for every table and list: an attribute, an organization with an external ID,
	// metadata, a domain and a member.
	_, apiToken := tokenRequest(t, srv.URL, bootstrapClientID, bootstrapClientSecret)
	rest := func(method, path, body string) map[string]any {
		t.Helper()
		status, res := restJSON(t, srv.URL, apiToken, method, path, body)
		if status != 200 {
			t.Fatalf("%s %s: %d %v", method, path, status, res)
		}
		return res
	}
	// Webhook endpoints first, so that the changes below fill their delivery logs: one whose
	// receiver answers 204, one whose port is closed (failed attempts with their error).
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(receiver.Close)
	okHook := rest("POST", "/api/v1/webhook_endpoints", `{"url": "`+receiver.URL+`/hook", "description": "CRM sync", "event_types": ["organization.*", "user.created"]}`)["endpoint"].(map[string]any)["id"].(string)
	failingHook := rest("POST", "/api/v1/webhook_endpoints", `{"url": "http://`+freeAddr(t)+`/hook"}`)["endpoint"].(map[string]any)["id"].(string)
	rest("POST", "/api/v1/user-attributes", `{"key": "employee_id", "display_name": "Employee Number"}`)
	org := rest("POST", "/api/v1/organizations", `{"display_name": "Megasoft Inc", "external_id": "megasoft-7", "metadata": {"plan": "enterprise"}}`)["organization"].(map[string]any)["id"].(string)
	rest("POST", "/api/v1/organizations", `{"display_name": "Megasoft Labs"}`)
	rest("POST", "/api/v1/organizations/"+org+"/domains", `{"domain": "megasoft.example"}`)
	john := rest("POST", "/api/v1/organizations/"+org+"/users", `{"email": "john@megasoft.example"}`)["user"].(map[string]any)["id"].(string)
	rest("POST", "/api/v1/permissions", `{"name": "logs:read", "description": "Read the logs."}`)
	rest("POST", "/api/v1/roles", `{"name": "auditor", "display_name": "Auditor", "description": "Reads logs.", "permissions": ["logs:read"]}`)
	rest("POST", "/api/v1/organizations/"+org+"/roles", `{"name": "billing", "display_name": "Billing", "description": "Pays.", "permissions": ["logs:read"]}`)
	rest("PATCH", "/api/v1/memberships/organizations/"+org+"/users/"+john, `{"roles": [{"name": "billing"}]}`)
	dir := rest("POST", "/api/v1/organizations/"+org+"/directories", `{"directory_type": "SCIM", "directory_provider": "OKTA"}`)["directory"].(map[string]any)["id"].(string)
	samlConn := rest("POST", "/api/v1/organizations/"+org+"/connections", `{"type": "SAML", "provider": "OKTA"}`)["connection"].(map[string]any)["id"].(string)
	oidcConn := rest("POST", "/api/v1/organizations/"+org+"/connections", `{"type": "OIDC", "provider": "MICROSOFT"}`)["connection"].(map[string]any)["id"].(string)
	rest("PATCH", "/api/v1/organizations/"+org+"/connections/"+oidcConn, `{"oidc_config": {"issuer": "https://login.example.com/v2.0", "client_id": "abc", "client_secret": "s3cret"}}`)

	b := openTab(t, allocCtx, 180*time.Second, shots, "a11y")

	visited := map[string]bool{}
	failed := false
	// check runs axe on the page the browser shows, as the screen name of the route, and
	// writes its screenshot.
	check := func(route, name string) {
		t.Helper()
		visited[route] = true
		b.shot(name)
		// The CSP is in force on the page (an inline script does not run), and axe is loaded
		// all the same: Runtime.evaluate is the debugger's, not a script of the page's.
		csp, err := chromedp.Run(b.tctx, chromedp.Evaluate[string](`(() => {
			const s = document.createElement('script');
			s.textContent = 'window.__rosterInline = true';
			document.head.appendChild(s);
			s.remove();
			return window.__rosterInline ? 'inline script ran' : 'blocked';
		})()`))
		if err != nil || csp != "blocked" {
			t.Fatalf("%s: the page's Content-Security-Policy is not in force (%q, %v)", name, csp, err)
		}
		if _, err := chromedp.Run(b.tctx, chromedp.Evaluate[chromedp.Void](string(axe))); err != nil {
			t.Fatalf("%s: inject axe-core: %v", name, err)
		}
		vs, err := chromedp.Run(b.tctx, chromedp.Evaluate[[]axeViolation](axeRun, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: axe.run: %v", name, err)
		}
		for _, v := range vs {
			var msg strings.Builder
			fmt.Fprintf(&msg, "%s (%s): %s [%s] %s", name, route, v.ID, v.Impact, v.Help)
			for _, node := range v.Nodes {
				fmt.Fprintf(&msg, "\n\t%v %s\n\t\t%s", node.Target, node.HTML, strings.ReplaceAll(node.Summary, "\n", "\n\t\t"))
			}
			fmt.Fprintf(&msg, "\n\t%s", v.HelpURL)
			if v.Impact == "serious" || v.Impact == "critical" {
				failed = true
				t.Error(msg.String())
			} else {
				t.Log(msg.String())
			}
		}
		t.Logf("%s (%s): %d violations", name, route, len(vs))
	}
	// axe finds what it should: a planted input without a label, and a button without a name.
	planted := func() {
		t.Helper()
		b.step("plant an unlabelled input and an empty button", chromedp.Evaluate[chromedp.Void](
			`document.querySelector('main').insertAdjacentHTML('beforeend', '<input id="planted-input"><button id="planted-button"></button>')`))
		vs, err := chromedp.Run(b.tctx, chromedp.Evaluate[[]axeViolation](axeRun, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("axe.run: %v", err)
		}
		found := map[string]string{}
		for _, v := range vs {
			found[v.ID] = v.Impact
		}
		if found["label"] != "critical" || found["button-name"] != "critical" {
			t.Fatalf("axe did not report the planted violations as critical: %v", found)
		}
	}
	visit := func(route, name, path, sel string) {
		t.Helper()
		b.step("open "+path, chromedp.Navigate(srv.URL+path), chromedp.WaitVisible(chromedp.CSS(sel)))
		check(route, name)
	}

	const email, pw = "first@example.com", "the first operator's password"
	// Before a session: set-up (with the printed link, and without a token), sign-in (with
	// its error).
	b.step("open the printed link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#setup")))
	check("GET /dashboard/setup", "setup")
	b.step("a weak password and a too long display name",
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SetValue(chromedp.CSS("#display_name"), strings.Repeat("x", 300)),
		chromedp.SendKeys(chromedp.CSS("#password"), "short"),
		chromedp.Click(chromedp.CSS("#setup button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#password-error .field-error")),
		chromedp.WaitVisible(chromedp.CSS("#display_name-error .field-error")))
	check("GET /dashboard/setup", "setup-form-error")
	visit("GET /dashboard/setup", "setup-no-token", "/dashboard/setup", "main h1")
	b.step("open the printed link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#setup")))
	b.step("set the password",
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#display_name"), "First Operator"),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS("#setup button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#sign-in")))
	check("GET /dashboard/sign-in", "sign-in")
	b.step("a wrong password",
		chromedp.Clear(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), "not the password"),
		chromedp.Click(chromedp.CSS("#sign-in button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#error")))
	check("GET /dashboard/sign-in", "sign-in-error")
	b.step("sign in",
		chromedp.Clear(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS("#sign-in button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#operator")))

	// Signed in.
	visit("GET /dashboard", "home", "/dashboard", "#add-attribute")
	visit("GET /dashboard/{$}", "home-slash", "/dashboard/", "#add-attribute")
	visit("GET /dashboard/attributes", "attributes", "/dashboard/attributes?done=created&key=employee_id", "#custom")
	b.step("a key the API refuses",
		chromedp.SendKeys(chromedp.CSS("#display_name"), "Cost Centre"),
		chromedp.SendKeys(chromedp.CSS("#key"), "Cost Centre"),
		chromedp.Click(chromedp.CSS("#add-attribute button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#key-error .field-error")))
	check("GET /dashboard/attributes", "attributes-form-error")
	visit("GET /dashboard/attributes/{key}", "attribute-edit", "/dashboard/attributes/employee_id", "#edit-attribute")
	visit("GET /dashboard/attributes/{key}/delete", "attribute-delete", "/dashboard/attributes/employee_id/delete", "#delete-attribute")
	visit("GET /dashboard/organizations", "organizations", "/dashboard/organizations", "#organizations")
	visit("GET /dashboard/organizations", "organizations-search", "/dashboard/organizations?q=megasoft&by=any", "#show-all")
	visit("GET /dashboard/organizations", "organizations-search-error", "/dashboard/organizations?q=m&by=any", "#q-error .field-error")
	visit("GET /dashboard/organizations", "organizations-deleted", "/dashboard/organizations?done=deleted&id="+org, ".notice")
	visit("GET /dashboard/organizations/{id}", "organization", "/dashboard/organizations/"+org+"?done=metadata", "#metadata")
	b.step("a metadata key the API refuses",
		chromedp.SendKeys(chromedp.CSS("#meta-key"), "ab"),
		chromedp.SendKeys(chromedp.CSS("#meta-value"), "x"),
		chromedp.Click(chromedp.CSS("#add-metadata button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#metadata-error .field-error")))
	check("GET /dashboard/organizations/{id}", "organization-form-error")
	visit("GET /dashboard/organizations/{id}/delete", "organization-delete", "/dashboard/organizations/"+org+"/delete", "#delete-organization")
	visit("GET /dashboard/organizations/{id}/directories/{dir}", "directory", "/dashboard/organizations/"+org+"/directories/"+dir, "#endpoint")
	visit("GET /dashboard/organizations/{org}/connections/{id}/mapping", "connection-mapping-none", ssoPath+"/mapping", "#preview-none")
	b.step("Test sign-in", chromedp.Click(chromedp.CSS("#test-sign-in button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#test-ok")))
	check("GET /dashboard/organizations/{org}/connections/{id}/test/{result}", "connection-test")
	if status, res := restJSON(t, srv.URL, apiToken, "PATCH", "/api/v1/organizations/"+ssoOrg+"/connections/"+ssoConn+":enable", ""); status != 200 {
		t.Fatalf("enable the connection: %d %v", status, res)
	}
	ssoAppSignIn(t, srv, ssoConn)
	visit("GET /dashboard/organizations/{org}/connections/{id}/mapping", "connection-mapping", ssoPath+"/mapping", "#preview-source")
	b.step("a mapping key the API refuses",
		chromedp.SendKeys(chromedp.CSS("#key-1"), "shoe_size"),
		chromedp.SendKeys(chromedp.CSS("#claim-1"), "shoe"),
		chromedp.Click(chromedp.CSS("#preview-mapping")),
		chromedp.WaitVisible(chromedp.CSS("#key-1-error .field-error")))
	check("GET /dashboard/organizations/{org}/connections/{id}/mapping", "connection-mapping-form-error")
	conns := "/dashboard/organizations/" + org + "/connections"
	visit("GET /dashboard/organizations/{id}/connections", "connections", conns, "#connections")
	b.step("a provider the API refuses",
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#provider').insertAdjacentHTML('beforeend', '<option value="NOPE">NOPE</option>')`),
		chromedp.SetValue(chromedp.CSS("#provider"), "NOPE"),
		chromedp.Click(chromedp.CSS("#create-connection button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#provider-error .field-error")))
	check("GET /dashboard/organizations/{id}/connections", "connections-form-error")
	visit("GET /dashboard/organizations/{id}/connections/{conn}", "connection-saml", conns+"/"+samlConn+"?done=created", "#acs-url")
	b.step("SAML by hand, a certificate that is not one",
		chromedp.Click(chromedp.CSS("#by-hand summary")),
		chromedp.SetValue(chromedp.CSS("#idp_certificate"), "not a certificate"),
		chromedp.Click(chromedp.CSS("#saml-manual button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#idp_certificate-error .field-error")))
	check("GET /dashboard/organizations/{id}/connections/{conn}", "connection-saml-form-error")
	visit("GET /dashboard/organizations/{id}/connections/{conn}", "connection-oidc", conns+"/"+oidcConn, "#redirect-uri")
	b.step("copy the redirect URI", chromedp.Click(chromedp.CSS(`button[aria-label="Copy Redirect URI"]`)), chromedp.WaitVisible(chromedp.CSS("#copy-status")))
	check("GET /dashboard/organizations/{id}/connections/{conn}", "connection-oidc-copied")
	visit("GET /dashboard/organizations/{id}/connections/{conn}/delete", "connection-delete", conns+"/"+oidcConn+"/delete", "#delete-connection")
	visit("GET /dashboard/users", "users", "/dashboard/users", "#user-search")
	visit("GET /dashboard/users", "users-search", "/dashboard/users?q=megasoft", "#user-search")
	visit("GET /dashboard/users/{id}", "user", "/dashboard/users/"+john, "#profile")
	visit("GET /dashboard/clients", "clients", "/dashboard/clients", "#clients")
	visit("GET /dashboard/clients/{id}", "client", "/dashboard/clients/"+bootstrapClientID, "main h1")
	visit("GET /dashboard/clients/{id}/revoke", "client-revoke", "/dashboard/clients/"+bootstrapClientID+"/revoke", "#revoke-client")
	visit("GET /dashboard/roles", "roles", "/dashboard/roles", "#roles")
	visit("GET /dashboard/roles/{name}", "role", "/dashboard/roles/auditor", "#edit-role")
	visit("GET /dashboard/roles/{name}/delete", "role-delete", "/dashboard/roles/auditor/delete", "#delete-role")
	visit("GET /dashboard/roles/{name}/delete", "role-delete-default", "/dashboard/roles/member/delete", "#default-role")
	visit("GET /dashboard/permissions/delete", "permission-delete", "/dashboard/permissions/delete?name=logs:read", "#delete-permission")
	visit("GET /dashboard/organizations/{id}/roles", "organization-roles", "/dashboard/organizations/"+org+"/roles", "#org-roles")
	visit("GET /dashboard/organizations/{id}/roles/{name}", "organization-role", "/dashboard/organizations/"+org+"/roles/billing", "#edit-role")
	visit("GET /dashboard/organizations/{id}/roles/{name}/delete", "organization-role-delete", "/dashboard/organizations/"+org+"/roles/billing/delete", "#delete-role")
	b.step("delete a held role without moving its holders",
		chromedp.Click(chromedp.CSS("#delete-role button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#reassign_role_name-error .field-error")))
	check("GET /dashboard/organizations/{id}/roles/{name}/delete", "organization-role-delete-error")
	// Webhooks: the logs have deliveries once the worker has sent the changes above.
	for _, id := range []string{okHook, failingHook} {
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if status, res := restJSON(t, srv.URL, apiToken, "GET", "/api/v1/webhook_endpoints/"+id+"/deliveries", ""); status == 200 && len(res["deliveries"].([]any)) > 0 {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("no delivery to %s after 20 s: %d %v", id, status, res)
			}
		}
	}
	visit("GET /dashboard/webhooks", "webhooks", "/dashboard/webhooks", "#webhooks")
	b.step("a URL the API refuses",
		chromedp.SendKeys(chromedp.CSS("#url"), "ftp://files.example.com/"),
		chromedp.Click(chromedp.CSS("#create-webhook button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#url-error .field-error")))
	check("GET /dashboard/webhooks", "webhooks-form-error")
	b.step("add an endpoint",
		chromedp.Clear(chromedp.CSS("#url")),
		chromedp.SendKeys(chromedp.CSS("#url"), receiver.URL+"/second"),
		chromedp.Click(chromedp.CSS("#event_types-type-user-created")),
		chromedp.Click(chromedp.CSS("#create-webhook button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#signing-secret")))
	check("GET /dashboard/webhooks/{id}", "webhook-created")
	b.step("copy the secret", chromedp.Click(chromedp.CSS(`button[aria-label="Copy signing secret"]`)), chromedp.WaitVisible(chromedp.CSS("#copy-status")))
	check("GET /dashboard/webhooks/{id}", "webhook-created-copied")
	visit("GET /dashboard/webhooks/{id}", "webhook", "/dashboard/webhooks/"+okHook+"?done=redelivered", "#deliveries")
	b.step("a URL the API refuses",
		chromedp.Clear(chromedp.CSS("#url")),
		chromedp.SendKeys(chromedp.CSS("#url"), "https://user:pw@hooks.example.com/"),
		chromedp.Click(chromedp.CSS("#edit-webhook button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#url-error .field-error")))
	check("GET /dashboard/webhooks/{id}", "webhook-form-error")
	visit("GET /dashboard/webhooks/{id}", "webhook-failing", "/dashboard/webhooks/"+failingHook, "#deliveries")
	visit("GET /dashboard/webhooks/{id}/delete", "webhook-delete", "/dashboard/webhooks/"+failingHook+"/delete", "#delete-webhook")
	visit("GET /dashboard/events", "events", "/dashboard/events?types=organization.*&types=user.created", "#events")
	visit("GET /dashboard/events", "events-organization", "/dashboard/events?organization_id="+org, "#events")
	visit("GET /dashboard/events", "events-error", "/dashboard/events?after=nope", "#after-error .field-error")
	visit("GET /dashboard/audit", "audit", "/dashboard/audit", "#audit")
	visit("/dashboard/", "not-found", "/dashboard/no-such-screen", "#error")
	planted()

	notScreens := map[string]string{
		"GET /dashboard/static/": "the stylesheet",
	}
	for _, r := range routes {
		if !visited[r] && notScreens[r] == "" {
			t.Errorf("the dashboard registers %q, which this test does not visit: add its screen (or say why it is not one)", r)
		}
	}
	for r := range visited {
		if !slices.Contains(routes, r) {
			t.Errorf("the test visits %q as a route, which the dashboard does not register", r)
		}
	}
	if failed {
		t.Errorf("serious or critical accessibility violations: see above; screenshots in %s", shots)
	}
	b.close() // close the browser's tab first: a connection it opened ahead holds up a graceful stop
	srv.stop(t)
}
