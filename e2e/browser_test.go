package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rosterhq/roster/internal/oidctest"
	"github.com/rosterhq/roster/internal/samltest"
)

// chromium finds Debian's chromium (apt-get install chromium; .ci/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("ROSTER_TEST_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed (apt-get install chromium)")
	return ""
}

// app is the application's redirect URI: it records the query each sign-in ends with.
type app struct {
	srv  *httptest.Server
	mu   sync.Mutex
	last url.Values
}

func startApp(t *testing.T) *app {
	a := &app{}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" { // the browser asks for /favicon.ico too
			http.NotFound(w, r)
			return
		}
		a.mu.Lock()
		a.last = r.URL.Query()
		a.mu.Unlock()
		fmt.Fprint(w, "<!doctype html><title>app</title><p id=done>back at the application</p>")
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *app) query() url.Values {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// TestSignInInRealBrowser signs in with headless Chromium, OIDC and SAML, with the identity
// providers on another site than Roster (Roster at http://localhost:PORT, the providers at
// http://127.0.0.1:PORT2): the SAML answer reaches the ACS as a cross-site POST, on which the
// browser does not send Roster's SameSite=Lax cookie, and the sign-in must still be bound to
// the browser and end with a code at the application (docs/sso.md). A cookie-jar client
// cannot show this; a browser applies SameSite.
func TestSignInInRealBrowser(t *testing.T) {
	exe := chromium(t)
	rosterBinary(t)
	application := startApp(t)
	redirect := application.srv.URL + "/callback"
	addr := freeAddr(t)
	issuer := "http://localhost:" + strings.Split(addr, ":")[1]
	srv := startServerAt(t, addr, append(backendArgs(t, "sqlite"), "--issuer-url", issuer),
		"ROSTER_BOOTSTRAP_CLIENT_ID="+bootstrapClientID,
		"ROSTER_BOOTSTRAP_CLIENT_SECRET="+bootstrapClientSecret,
		"ROSTER_BOOTSTRAP_REDIRECT_URIS="+redirect)
	_, token := tokenRequest(t, srv.URL, bootstrapClientID, bootstrapClientSecret)
	rest := func(method, path, body string) map[string]any {
		t.Helper()
		status, res := restJSON(t, srv.URL, token, method, path, body)
		if status != 200 {
			t.Fatalf("%s %s: %d %v", method, path, status, res)
		}
		return res
	}
	org := rest("POST", "/api/v1/organizations", `{"display_name": "Browser Co"}`)["organization"].(map[string]any)["id"].(string)
	// Each organization owns its users' email domain, so its connection may sign them in
	// (the linking rule, docs/sso.md).
	rest("POST", "/api/v1/organizations/"+org+"/domains", `{"domain": "browser-oidc.test", "domain_type": "ORGANIZATION_DOMAIN"}`)

	// OIDC connection to a provider at 127.0.0.1.
	op := oidctest.Start(t)
	op.SetUser("00u-chrome", map[string]any{"email": "chrome@browser-oidc.test", "given_name": "Chrome"})
	oidcConn := rest("POST", "/api/v1/organizations/"+org+"/connections", `{"provider": "OKTA", "type": "OIDC"}`)["connection"].(map[string]any)["id"].(string)
	rest("PATCH", "/api/v1/organizations/"+org+"/connections/"+oidcConn, fmt.Sprintf(`{"oidc_config":
		{"issuer": %q, "client_id": %q, "client_secret": %q, "pkce_enabled": true}}`, op.URL, op.ClientID, op.ClientSecret))
	rest("PATCH", "/api/v1/organizations/"+org+"/connections/"+oidcConn+":enable", "")

	// SAML connection (HTTP-POST answer to the ACS) to an IdP at 127.0.0.1.
	idp := samltest.Start(t)
	idp.SetUser(samltest.User{NameID: "saml@browser-saml.test", Attributes: map[string][]string{
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress": {"saml@browser-saml.test"}}})
	org2 := rest("POST", "/api/v1/organizations", `{"display_name": "Browser SAML Co"}`)["organization"].(map[string]any)["id"].(string)
	rest("POST", "/api/v1/organizations/"+org2+"/domains", `{"domain": "browser-saml.test", "domain_type": "ORGANIZATION_DOMAIN"}`)
	samlConn := rest("POST", "/api/v1/organizations/"+org2+"/connections", `{"provider": "OKTA", "type": "SAML"}`)["connection"].(map[string]any)["id"].(string)
	rest("PATCH", "/api/v1/organizations/"+org2+"/connections/"+samlConn, fmt.Sprintf(`{"saml_config":
		{"idp_metadata_url": %q, "idp_sso_request_binding": "HTTP_REDIRECT"}}`, idp.URL+"/metadata"))
	rest("PATCH", "/api/v1/organizations/"+org2+"/connections/"+samlConn+":enable", "")

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("no-proxy-server", true))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()

	verifier := "a-verifier-of-the-browser-test-that-is-long-enough"
	sum := sha256.Sum256([]byte(verifier))
	for _, tc := range []struct{ name, org string }{{"OIDC", org}, {"SAML", org2}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := chromedp.NewContext(allocCtx)
			defer cancel()
			if err := chromedp.Do(ctx); err != nil { // starts the browser (no timeout on this first call)
				t.Fatalf("start chromium: %v", err)
			}
			tctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
			defer cancelT()
			state := "browser-" + tc.name
			start := issuer + "/oauth/authorize?" + url.Values{"response_type": {"code"}, "client_id": {bootstrapClientID},
				"redirect_uri": {redirect}, "scope": {"openid profile email"}, "state": {state}, "nonce": {"n-" + state},
				"organization_id": {tc.org}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
				"code_challenge_method": {"S256"}}.Encode()
			if err := chromedp.Do(tctx, chromedp.Navigate(start), chromedp.WaitVisible(chromedp.CSS("#done"))); err != nil {
				where, _ := chromedp.Run(ctx, chromedp.Location())
				page, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
				t.Fatalf("sign-in did not reach the application: %v (at %s: %.600s)", err, where, page)
			}
			where, _ := chromedp.Run(ctx, chromedp.Location())
			q := application.query()
			if q.Get("code") == "" || q.Get("state") != state || q.Get("error") != "" {
				t.Fatalf("the application got %v (at %s)", q, where)
			}
			form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {redirect},
				"client_id": {bootstrapClientID}, "client_secret": {bootstrapClientSecret}, "code_verifier": {verifier}}
			res, err := http.PostForm(srv.URL+"/oauth/token", form)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("code exchange: %d", res.StatusCode)
			}
		})
	}
	srv.stop(t)
}
