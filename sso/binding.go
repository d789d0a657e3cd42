package sso

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/oauth"
)

// A sign-in is bound to the browser that started it (docs/sso.md, "Binding a sign-in to
// the browser"): /oauth/authorize and /sso/authorize set an HttpOnly cookie holding a random
// secret, and the sign-in's ID (the state sent to the provider) is that secret's SHA-256. The
// callback and the ACS finish a sign-in only for the browser that shows the secret; a
// sign-in carried into another browser (login CSRF, a forwarded IdP answer) gets an error,
// never a code. Each sign-in has its own cookie (named after its ID), so sign-ins in several
// tabs do not disturb one another, and nothing new is stored: any node can check it.
const bindingPrefix = "roster_signin_"

// bindingMessage is the error the application gets when the binding does not hold.
const bindingMessage = "this sign-in was not started in this browser (or its cookie was lost); start again from the application"

var signInIDPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// newBinding returns a browser secret and the sign-in ID it binds.
func newBinding() (secret, id string) {
	secret = oauth.NewToken()
	return secret, oauth.HashToken(secret)
}

func bindingName(id string) string { return bindingPrefix + id[:16] }

// cookiePath is where the cookie goes back: the callback and the ACS, under {issuer}/sso/.
func (h *Handler) cookiePath() string {
	if u, err := url.Parse(h.issuer); err == nil {
		return strings.TrimSuffix(u.Path, "/") + "/sso/"
	}
	return "/sso/"
}

// setBinding gives the browser the secret of sign-in id. SameSite=Lax: the OIDC callback is
// a top-level GET, which carries Lax cookies across sites; the SAML ACS is a cross-site POST,
// which does not, so the ACS has the browser post once more from Roster's own page
// (samlRepost) before it checks.
func (h *Handler) setBinding(w http.ResponseWriter, secret, id string) {
	http.SetCookie(w, &http.Cookie{Name: bindingName(id), Value: secret, Path: h.cookiePath(),
		MaxAge: int(roster.LoginRequestLifetime / time.Second), HttpOnly: true, Secure: strings.HasPrefix(h.issuer, "https://"),
		SameSite: http.SameSiteLaxMode})
}

// hasBindingCookie tells whether the request carries a cookie for sign-in id at all.
func hasBindingCookie(r *http.Request, id string) bool {
	if !signInIDPattern.MatchString(id) {
		return false
	}
	_, err := r.Cookie(bindingName(id))
	return err == nil
}

// bound tells whether the request comes from the browser that started sign-in id, and
// clears that sign-in's cookie: it is used once.
func (h *Handler) bound(w http.ResponseWriter, r *http.Request, id string) bool {
	if !signInIDPattern.MatchString(id) {
		return false
	}
	c, err := r.Cookie(bindingName(id))
	if err != nil {
		return false
	}
	http.SetCookie(w, &http.Cookie{Name: c.Name, Value: "", Path: h.cookiePath(), MaxAge: -1, HttpOnly: true,
		Secure: strings.HasPrefix(h.issuer, "https://"), SameSite: http.SameSiteLaxMode})
	return subtle.ConstantTimeCompare([]byte(oauth.HashToken(c.Value)), []byte(id)) == 1
}

// repostField marks an ACS post that came from Roster's own page (samlRepost).
const repostField = "RosterRepost"

// repostScript submits the page's form; the page's CSP allows this script only (by hash).
const repostScript = "document.forms[0].submit()"

var repostCSP = func() string {
	sum := sha256.Sum256([]byte(repostScript))
	return "default-src 'none'; script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

// samlRepost answers the IdP's cross-site POST with a page that posts the same answer to the
// ACS again, now from Roster's own page: a same-site request, on which the browser sends the
// Lax binding cookie. Without JavaScript the person presses the button.
func samlRepost(w http.ResponseWriter, action string, form url.Values) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", repostCSP)
	w.Header().Set("Referrer-Policy", "no-referrer")
	var b strings.Builder
	fmt.Fprintf(&b, `<!doctype html><title>Signing in</title><form method="post" action="%s">`, html.EscapeString(action))
	for _, k := range []string{"SAMLResponse", "RelayState"} {
		fmt.Fprintf(&b, `<input type="hidden" name="%s" value="%s">`, k, html.EscapeString(form.Get(k)))
	}
	fmt.Fprintf(&b, `<input type="hidden" name="%s" value="1"><noscript><button type="submit">Continue</button></noscript></form><script>%s</script>`+"\n",
		repostField, repostScript)
	_, _ = w.Write([]byte(b.String()))
}
