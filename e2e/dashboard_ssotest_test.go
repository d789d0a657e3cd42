package e2e

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ssoTestApp is where the application of these tests says it lives (never fetched).
const ssoTestApp = "http://127.0.0.1:9/app/callback"

// ssoTestSetup gives srv an organization, the custom attribute employee_number and a
// disabled OIDC connection to the e2e identity provider (e2e/node/idp.mjs), configured
// through the REST API as an application would; it returns the organization's and the
// connection's IDs and the API token.
func ssoTestSetup(t *testing.T, srv *server, provider *idp) (org, conn, token string) {
	t.Helper()
	_, token = tokenRequest(t, srv.URL, bootstrapClientID, bootstrapClientSecret)
	rest := func(method, path, body string) map[string]any {
		t.Helper()
		status, res := restJSON(t, srv.URL, token, method, path, body)
		if status != 200 {
			t.Fatalf("%s %s: %d %v", method, path, status, res)
		}
		return res
	}
	rest("POST", "/api/v1/user-attributes", `{"key": "employee_number", "display_name": "Employee number", "type": "integer"}`)
	org = rest("POST", "/api/v1/organizations", `{"display_name": "SSO e2e"}`)["organization"].(map[string]any)["id"].(string)
	rest("POST", "/api/v1/organizations/"+org+"/domains", `{"domain": "sso-e2e.test", "domain_type": "ORGANIZATION_DOMAIN"}`)
	conn = rest("POST", "/api/v1/organizations/"+org+"/connections", `{"provider": "OKTA", "type": "OIDC"}`)["connection"].(map[string]any)["id"].(string)
	rest("PATCH", "/api/v1/organizations/"+org+"/connections/"+conn, fmt.Sprintf(`{
		"oidc_config": {"issuer": %q, "client_id": %q, "client_secret": %q, "scopes": ["openid", "profile", "email"], "pkce_enabled": true},
		"attribute_mapping": {"employee_number": "employee_number"}}`, provider.URL, idpClientID, idpClientSecret))
	return org, conn, token
}

// ssoAppSignIn signs the IdP's default user in through the connection as an application
// does (/oauth/authorize, the IdP, the callback), with a plain HTTP client, and returns the
// code the application gets.
func ssoAppSignIn(t *testing.T, srv *server, conn string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host == "127.0.0.1:9" {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	sum := sha256.Sum256([]byte("an-application-verifier-that-is-long-enough-0123"))
	q := url.Values{"response_type": {"code"}, "client_id": {bootstrapClientID}, "redirect_uri": {ssoTestApp}, "scope": {"openid profile email"},
		"state": {"s1"}, "connection_id": {conn}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	res, err := client.Get(srv.URL + "/oauth/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := url.Parse(res.Header.Get("Location"))
	if loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("the application's sign-in: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	return loc.Query().Get("code")
}

// ssoUsers counts the environment's users through the REST API.
func ssoUsers(t *testing.T, srv *server, token string) int {
	t.Helper()
	status, res := restJSON(t, srv.URL, token, "GET", "/api/v1/users?page_size=10", "")
	if status != 200 {
		t.Fatalf("list users: %d %v", status, res)
	}
	users, _ := res["users"].([]any)
	return len(users)
}

// TestDashboardSSOTest drives Chromium through an SSO connection's test sign-in and mapping
// preview on a live `roster serve` (SQLite and PostgreSQL) with the e2e OpenID provider: on
// the (disabled) connection's mapping page, "Test sign-in", the provider signs Ada in, and the
// result page shows her profile as the mapping makes it, with no user created; after a real
// sign-in of the application, the mapping page previews an edited mapping (given_name from
// family_name) and shows the changed field without saving it. Screenshots
// ssotest-<backend>-NN-<screen>.png.
func TestDashboardSSOTest(t *testing.T) {
	nodeDeps(t)
	allocCtx, shots := dashboardAllocator(t)
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			srv, link := dashboardServer(t, backend, "ROSTER_BOOTSTRAP_REDIRECT_URIS="+ssoTestApp)
			provider := startIdP(t, srv.URL)
			org, conn, token := ssoTestSetup(t, srv, provider)
			mappingPath := "/dashboard/organizations/" + org + "/connections/" + conn + "/mapping"

			b := openTab(t, allocCtx, 120*time.Second, shots, "ssotest-"+backend)
			b.setUpAndSignIn(link, srv.URL+mappingPath, "the connection's mapping page", "#preview-none")
			b.shot("mapping-no-sign-in")

			b.step("Test sign-in: to the identity provider and back to the result",
				chromedp.Click(chromedp.CSS("#test-sign-in button[type=submit]")),
				chromedp.WaitVisible(chromedp.CSS("#test-ok")))
			where, _ := chromedp.Run(b.tctx, chromedp.Location())
			if !strings.HasPrefix(where, srv.URL+"/dashboard/organizations/"+org+"/connections/"+conn+"/test/ctest_") {
				t.Fatalf("the test sign-in ended at %s", where)
			}
			for sel, want := range map[string]string{"#mapped-email": "ada@sso-e2e.test", "#mapped-given_name": "Ada",
				"#mapped-family_name": "Lovelace", "#custom-employee_number": "1815", "#mapped-groups": "Admins, Staff"} {
				if got := b.text(sel); got != want {
					t.Fatalf("%s on the result page: %q, want %q", sel, got, want)
				}
			}
			if !strings.Contains(b.text("#raw-claims"), `"employee_number": "1815"`) {
				t.Fatalf("raw claims: %s", b.text("#raw-claims"))
			}
			b.shot("test-result")
			if n := ssoUsers(t, srv, token); n != 0 {
				t.Fatalf("the test sign-in created %d users", n)
			}

			// The application signs Ada in for real (the connection enabled): the mapping page
			// now previews from her claims.
			if status, res := restJSON(t, srv.URL, token, "PATCH", "/api/v1/organizations/"+org+"/connections/"+conn+":enable", ""); status != 200 {
				t.Fatalf("enable: %d %v", status, res)
			}
			ssoAppSignIn(t, srv, conn)
			b.step("the mapping page, with the last sign-in",
				chromedp.Navigate(srv.URL+mappingPath), chromedp.WaitVisible(chromedp.CSS("#preview-source")))
			if got := b.text("#mapped-given_name"); got != "Ada" {
				t.Fatalf("given_name with the saved mapping: %q", got)
			}
			b.shot("mapping-last-sign-in")
			b.step("map given_name from family_name, and preview",
				chromedp.SendKeys(chromedp.CSS("#key-1"), "given_name"),
				chromedp.SendKeys(chromedp.CSS("#claim-1"), "family_name"),
				chromedp.Click(chromedp.CSS("#preview-mapping")),
				chromedp.WaitVisible(chromedp.CSS(".notice")))
			if got := b.text("#mapped-given_name"); got != "Lovelace" {
				t.Fatalf("given_name in the preview: %q, want Lovelace", got)
			}
			if !strings.Contains(b.text("#preview-heading"), "edited mapping") {
				t.Fatalf("the preview's heading: %q", b.text("#preview-heading"))
			}
			b.shot("mapping-preview")
			status, res := restJSON(t, srv.URL, token, "GET", "/api/v1/organizations/"+org+"/connections/"+conn, "")
			if m, _ := res["connection"].(map[string]any)["attribute_mapping"].(map[string]any); status != 200 || m["given_name"] != nil {
				t.Fatalf("the preview saved the mapping: %d %v", status, res)
			}
			b.step("a key the API refuses, beside the field",
				chromedp.SendKeys(chromedp.CSS("#key-2"), "shoe_size"),
				chromedp.SendKeys(chromedp.CSS("#claim-2"), "shoe"),
				chromedp.Click(chromedp.CSS("#save-mapping")),
				chromedp.WaitVisible(chromedp.CSS("#key-2-error .field-error")))
			if got := b.text("#key-2-error"); !strings.Contains(got, `"shoe_size" is neither a profile field`) {
				t.Fatalf("the refusal beside the key: %q", got)
			}
			b.shot("mapping-error")
			if n := ssoUsers(t, srv, token); n != 1 {
				t.Fatalf("%d users after one application sign-in, want 1", n)
			}
			b.close()
		})
	}
}
