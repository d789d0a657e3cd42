package sso_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// startOIDC runs a sign-in in the browser jar up to the provider's answer and returns the
// callback URL the provider sent the browser to (not yet followed).
func startOIDC(t testing.TB, f *fixture, jar http.CookieJar) string {
	t.Helper()
	var cb string
	client := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Path == "/sso/oidc/callback" {
			cb = req.URL.String()
			return http.ErrUseLastResponse
		}
		return nil
	}}
	res, err := client.Get(f.r.URL + "/oauth/authorize?" + authParams(f, verifier, "organization_id", f.org).Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if cb == "" {
		t.Fatalf("no callback: %d", res.StatusCode)
	}
	return cb
}

// deliver follows a callback URL in the browser jar and returns where Roster sends it.
func deliver(t *testing.T, jar http.CookieJar, cb string) *url.URL {
	t.Helper()
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(cb)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("callback: %d %v", res.StatusCode, err)
	}
	return loc
}

func newJar() http.CookieJar {
	jar, _ := cookiejar.New(nil)
	return jar
}

func wantUnbound(t *testing.T, loc *url.URL, what string) {
	t.Helper()
	if loc == nil || loc.Query().Get("code") != "" || loc.Query().Get("error") != "access_denied" ||
		!strings.Contains(loc.Query().Get("error_description"), "not started in this browser") || loc.Query().Get("state") != "app-state-1" ||
		!strings.HasPrefix(loc.String(), appCallback) {
		t.Fatalf("%s: want access_denied to the application without a code, got %v", what, loc)
	}
}

// TestOIDCSignInBoundToBrowser: the provider's answer finishes a sign-in only in the browser
// that started it; carried into another browser (no cookie, or that browser's own sign-in
// cookie, or a forged one) it ends in an error at the application, without a code.
func TestOIDCSignInBoundToBrowser(t *testing.T) {
	f := setup(t, "sqlite")
	f.idp.SetUser("00u-bind", map[string]any{"email": "bind@acme.test", "given_name": "Bo"})

	// The cookie: HttpOnly, SameSite=Lax, for Roster's /sso/ paths only.
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).
		Get(f.r.URL + "/oauth/authorize?" + authParams(f, verifier, "organization_id", f.org).Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	set := res.Header.Get("Set-Cookie")
	if !strings.HasPrefix(set, "roster_signin_") || !strings.Contains(set, "HttpOnly") || !strings.Contains(set, "SameSite=Lax") ||
		!strings.Contains(set, "Path=/sso/") {
		t.Fatalf("authorize sets %q", set)
	}

	a := newJar()
	wantUnbound(t, deliver(t, newJar(), startOIDC(t, f, a)), "no cookie")
	b := newJar()
	startOIDC(t, f, b) // b has a sign-in of its own, and its cookie
	wantUnbound(t, deliver(t, b, startOIDC(t, f, a)), "another browser's cookie")

	cb := startOIDC(t, f, a)
	forged := newJar()
	u, _ := url.Parse(f.r.URL + "/sso/")
	state, _ := url.Parse(cb)
	forged.SetCookies(u, []*http.Cookie{{Name: "roster_signin_" + state.Query().Get("state")[:16], Value: "guess", Path: "/sso/"}})
	wantUnbound(t, deliver(t, forged, cb), "forged cookie")

	// The browser that started it finishes it, once.
	cb = startOIDC(t, f, a)
	if loc := deliver(t, a, cb); loc.Query().Get("code") == "" {
		t.Fatalf("the starting browser: %v", loc)
	}

	// /sso/authorize (the profile flavor) binds the same way.
	res, err = (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).
		Get(f.r.URL + "/sso/authorize?" + url.Values{"response_type": {"code"}, "client_id": {f.r.ClientID}, "redirect_uri": {appCallback},
			"organization": {f.org}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(res.Header.Get("Set-Cookie"), "roster_signin_") {
		t.Fatalf("/sso/authorize: %d, Set-Cookie %q", res.StatusCode, res.Header.Get("Set-Cookie"))
	}
}

// TestSAMLSignInBoundToBrowser: the IdP's answer, posted from another browser, is refused
// after Roster's same-site re-post, without a code; the starting browser signs in.
func TestSAMLSignInBoundToBrowser(t *testing.T) {
	sf := setupSAML(t, "sqlite")
	sf.idp.SetUser(ada)
	acs := sf.r.URL + "/sso/saml/" + sf.conn + "/acs"

	// Without any cookie, the cross-site post gets the re-post page (not a code) and the
	// re-post, still without the cookie, is refused.
	a := sf.answer(t, sf.params())
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.PostForm(acs, url.Values{"SAMLResponse": {a.SAMLResponse}, "RelayState": {a.RelayState}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Location") != "" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'sha256-") {
		t.Fatalf("cross-site post without cookie: %d %v", res.StatusCode, res.Header)
	}
	loc, _, page := postACS(t, newJar(), acs, url.Values{"SAMLResponse": {a.SAMLResponse}, "RelayState": {a.RelayState}})
	if loc == nil {
		t.Fatalf("no redirect: %s", page)
	}
	wantUnbound(t, loc, "SAML without cookie")

	// Another browser with a sign-in (and cookie) of its own.
	mine := sf.jar
	other := newJar()
	sf.jar = other
	sf.answer(t, sf.params())
	sf.jar = mine
	a = sf.answer(t, sf.params())
	loc, _, page = postACS(t, other, acs, url.Values{"SAMLResponse": {a.SAMLResponse}, "RelayState": {a.RelayState}})
	if loc == nil {
		t.Fatalf("no redirect: %s", page)
	}
	wantUnbound(t, loc, "SAML from another browser")

	a = sf.answer(t, sf.params())
	if loc, _, page := sf.post(t, acs, a); loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("the starting browser: %v %s", loc, page)
	}
}
