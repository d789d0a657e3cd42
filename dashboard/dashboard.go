// Package dashboard is the operators' web console, served under /dashboard by roster serve
// (docs/dashboard.md): server-rendered html/template pages and one CSS file, embedded in the
// binary; plain forms that POST and redirect, so it works without JavaScript and under a
// strict Content-Security-Policy. It is one more entry point into the application layer:
// the directory only through directory.Service, operators only through operators.Service.
package dashboard

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/internal/errcode"
	"github.com/rosterhq/roster/operators"
	"github.com/rosterhq/roster/webhooks"
)

// Prefix is where the dashboard is served.
const Prefix = "/dashboard"

// ContentSecurityPolicy is sent with every dashboard response: no inline script or style,
// no framing, forms post only to Roster.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config is what the dashboard needs.
type Config struct {
	Directory   *directory.Service
	Environment roster.Environment
	Operators   *operators.Service
	Log         *slog.Logger
	// Secure is true when browsers reach Roster over HTTPS (TLS here, or an https public URL
	// in front): the session cookie is then __Host-roster_session, Secure.
	Secure bool
	// CSRFKey keys the HMAC that derives each session's CSRF token from its session token
	// (serve derives it from the encryption key with CSRFKey, so every node shares it); nil
	// draws a random key at start.
	CSRFKey []byte
	// Issuer is Roster's public URL, the base of each directory's SCIM endpoint ("" : the URL
	// the browser used).
	Issuer string
	// Webhooks manages the webhook endpoints (the Webhooks screen); nil: the screen says
	// the server manages none.
	Webhooks *webhooks.Service
	// TestSignIn starts operators' test sign-ins through SSO connections (the *sso.Handler);
	// nil: the dashboard offers none.
	TestSignIn TestSignIn
}

// CSRFKey derives the key of the CSRF tokens from a secret of the deployment (the
// encryption key), so that it differs from the secret and is the same on every node.
func CSRFKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("roster dashboard csrf key v1"))
	return m.Sum(nil)
}

// Handler serves the dashboard.
type Handler struct {
	cfg   Config
	mux   *http.ServeMux
	pages map[string]*template.Template

	searchCountUpTo int // usersSearchCountUpTo; tests lower it
}

// New builds the dashboard's handler; mount it at Prefix and Prefix+"/".
func New(cfg Config) *Handler {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if len(cfg.CSRFKey) == 0 {
		cfg.CSRFKey = make([]byte, 32)
		if _, err := rand.Read(cfg.CSRFKey); err != nil {
			panic(err)
		}
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), pages: map[string]*template.Template{}, searchCountUpTo: usersSearchCountUpTo}
	for _, p := range []string{"setup", "sign-in", "attributes", "attribute", "delete", "message"} {
		h.pages[p] = h.parsePage(p)
	}
	static, _ := fs.Sub(staticFS, "static")
	fileServer := http.StripPrefix(Prefix+"/static/", http.FileServerFS(static))
	m := h.mux
	m.Handle("GET "+Prefix+"/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") { // no directory listings
			h.message(w, r, http.StatusNotFound, "Not found", "There is no such page in the dashboard.")
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fileServer.ServeHTTP(w, r)
	}))
	home := func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"/attributes", http.StatusSeeOther)
	}
	m.HandleFunc("GET "+Prefix, home)
	m.HandleFunc("GET "+Prefix+"/{$}", home)
	m.HandleFunc("GET "+Prefix+"/setup", h.setupForm)
	m.HandleFunc("POST "+Prefix+"/setup", h.preSession(h.setup))
	m.HandleFunc("GET "+Prefix+"/sign-in", h.signInForm)
	m.HandleFunc("POST "+Prefix+"/sign-in", h.preSession(h.signIn))
	m.HandleFunc("POST "+Prefix+"/sign-out", h.session(h.signOut))
	m.HandleFunc("POST "+Prefix+"/sign-out-everywhere", h.session(h.signOutEverywhere))
	m.HandleFunc("GET "+Prefix+"/attributes", h.session(h.attributes))
	m.HandleFunc("POST "+Prefix+"/attributes", h.session(h.createAttribute))
	m.HandleFunc("GET "+Prefix+"/attributes/{key}", h.session(h.attribute))
	m.HandleFunc("POST "+Prefix+"/attributes/{key}", h.session(h.updateAttribute))
	m.HandleFunc("GET "+Prefix+"/attributes/{key}/delete", h.session(h.confirmDelete))
	m.HandleFunc("POST "+Prefix+"/attributes/{key}/delete", h.session(h.deleteAttribute))
	h.registerOrganizations(m)
	h.registerClients(m)
	h.registerRoles(m)
	h.registerAudit(m)
	h.registerUsers(m)
	h.registerDirectories(m)
	h.registerConnectionMapping(m)
	h.registerConnections(m)
	h.registerWebhooks(m)
	h.registerEvents(m)
	m.HandleFunc(Prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		h.message(w, r, http.StatusNotFound, "Not found", "There is no such page in the dashboard.")
	})
	return h
}

// ServeHTTP sets the security headers of every response, refuses cross-site POSTs, and
// routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	if r.Method == http.MethodPost && !sameOrigin(r) {
		h.message(w, r, http.StatusForbidden, "Refused", "The form was sent from another site.")
		return
	}
	h.mux.ServeHTTP(w, r)
}

// sameOrigin checks the Origin header of a POST, or else its Referer, against the request's
// host; a request with neither passes (the CSRF token still guards it).
func sameOrigin(r *http.Request) bool {
	from := r.Header.Get("Origin")
	if from == "" {
		from = r.Header.Get("Referer")
		if from == "" {
			return true
		}
	}
	u, err := url.Parse(from)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// Cookies.

func (h *Handler) sessionCookieName() string {
	if h.cfg.Secure {
		return "__Host-roster_session"
	}
	return "roster_session"
}

func (h *Handler) preCookieName() string {
	if h.cfg.Secure {
		return "__Host-roster_csrf"
	}
	return "roster_csrf"
}

func (h *Handler) cookie(name, value string, expires time.Time) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: Prefix, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: h.cfg.Secure}
	if h.cfg.Secure {
		c.Path = "/" // a __Host- cookie must have Path=/
	}
	if !expires.IsZero() {
		c.Expires = expires
	}
	return c
}

func (h *Handler) clearCookie(w http.ResponseWriter, name string) {
	c := h.cookie(name, "", time.Time{})
	c.MaxAge = -1
	http.SetCookie(w, c)
}

// CSRF: with a session, the token is HMAC-SHA256(key, session token); it is sent in a hidden
// field of every form and checked on every POST. Without a session (sign-in, set-up), a
// random value is set in a cookie and must come back in the form (double submit).

func (h *Handler) sessionCSRF(sessionToken string) string {
	m := hmac.New(sha256.New, h.cfg.CSRFKey)
	m.Write([]byte("roster dashboard csrf\x00"))
	m.Write([]byte(sessionToken))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func equal(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// preCSRF returns the pre-session CSRF value, setting its cookie when there is none.
func (h *Handler) preCSRF(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(h.preCookieName()); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	v := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, h.cookie(h.preCookieName(), v, time.Time{}))
	return v
}

// preSession guards the POSTs made before a session exists with the double-submit cookie.
func (h *Handler) preSession(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(h.preCookieName())
		if err != nil || !equal(r.PostFormValue("csrf"), c.Value) {
			h.forbidden(w, r)
			return
		}
		next(w, r)
	}
}

func (h *Handler) forbidden(w http.ResponseWriter, r *http.Request) {
	h.message(w, r, http.StatusForbidden, "Refused", "The form's security token is missing or wrong: nothing was changed. Reload the page and try again.")
}

// request is an authenticated request.
type request struct {
	op    roster.Operator
	token string
	csrf  string
}

type sessionHandler func(w http.ResponseWriter, r *http.Request, s request)

// session authenticates every request through operators.Authenticate (nothing is cached):
// without a session, a GET is sent to sign in and comes back after; a POST needs its CSRF
// token.
func (h *Handler) session(next sessionHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := ""
		if c, err := r.Cookie(h.sessionCookieName()); err == nil {
			token = c.Value
		}
		op, _, err := h.cfg.Operators.Authenticate(r.Context(), token)
		if errors.Is(err, operators.ErrNoSession) {
			if token != "" {
				h.clearCookie(w, h.sessionCookieName())
			}
			if r.Method != http.MethodGet {
				h.forbidden(w, r)
				return
			}
			http.Redirect(w, r, Prefix+"/sign-in?"+url.Values{"next": {r.URL.RequestURI()}}.Encode(), http.StatusSeeOther)
			return
		} else if err != nil {
			h.fail(w, r, err)
			return
		}
		// The operator is the actor of the events this request's writes record.
		r = r.WithContext(roster.WithActor(r.Context(), roster.Actor{Type: roster.ActorOperator, ID: op.ID}))
		s := request{op: op, token: token, csrf: h.sessionCSRF(token)}
		if r.Method == http.MethodPost && !equal(r.PostFormValue("csrf"), s.csrf) {
			h.forbidden(w, r)
			return
		}
		if r.Method == http.MethodPost { // every state change that succeeds goes in the audit log (audit.go)
			h.audited(w, r, s, next)
			return
		}
		next(w, r, s)
	}
}

// safeNext accepts only a path of the dashboard as where to go after sign-in.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if next == "" || err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || strings.HasPrefix(next, "//") ||
		strings.ContainsAny(next, "\\\r\n") || !strings.HasPrefix(u.Path, Prefix+"/") || strings.Contains(u.Path, "..") {
		return Prefix + "/attributes"
	}
	return next
}

// Rendering.

var funcs = template.FuncMap{
	"join": strings.Join,
	// typeSelector is the data of the "event-types" partial: a fieldset of checkboxes.
	"typeSelector": func(name, legend string, options []typeOption) typeSelector {
		return typeSelector{Name: name, Legend: legend, Options: options}
	},
}

type typeSelector struct {
	Name, Legend string
	Options      []typeOption
}

// page is what every template gets.
type page struct {
	Title    string
	Nav      string // the current screen, for the nav
	Operator *roster.Operator
	CSRF     string
	Notice   string
	Error    string
	Fields   map[string]string // a field's error message, by form input name
	Data     any
}

func (h *Handler) render(w http.ResponseWriter, status int, name string, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := h.pages[name].ExecuteTemplate(w, "layout", p); err != nil {
		h.cfg.Log.Error("dashboard: render", "page", name, "err", err)
	}
}

func (h *Handler) message(w http.ResponseWriter, _ *http.Request, status int, title, msg string) {
	h.render(w, status, "message", page{Title: title, Error: msg})
}

// fail shows an error of the application layer with its message (an internal error's detail
// is only logged).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if roster.ErrorCode(err) == roster.EInternal {
		h.cfg.Log.ErrorContext(r.Context(), "dashboard", "path", r.URL.Path, "err", err)
	}
	h.message(w, r, statusOf(err), "Error", roster.ErrorMessage(err))
}

// statusOf is the HTTP status of an error of the application layer: the one the REST API
// answers the same error with (internal/errcode, the mapping api uses too).
func statusOf(err error) int {
	return errcode.HTTP(roster.ErrorCode(err))
}

// fieldErrors maps an error's field violations to the form's inputs (the last segment of
// the API's field path: "attribute.display_name" → "display_name"); what maps to no input of
// the form stays in the page's message.
func fieldErrors(err error, inputs ...string) map[string]string {
	var e *roster.Error
	if !errors.As(err, &e) {
		return nil
	}
	out := map[string]string{}
	for _, v := range e.Violations {
		f := v.Field
		if i := strings.LastIndexByte(f, '.'); i >= 0 {
			f = f[i+1:]
		}
		for _, in := range inputs {
			if in == f {
				if out[f] != "" {
					out[f] += "; "
				}
				out[f] += v.Description
			}
		}
	}
	return out
}
