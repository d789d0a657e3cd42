package dashboard_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/dashboard"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/internal/password"
	"github.com/rosterhq/roster/operators"
	"github.com/rosterhq/roster/outbound"
	"github.com/rosterhq/roster/secretbox"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/postgres"
	"github.com/rosterhq/roster/store/postgres/pgtest"
	"github.com/rosterhq/roster/store/sqlite"
	"github.com/rosterhq/roster/store/sqlstore"
	"github.com/rosterhq/roster/webhooks"
)

// cheap keeps the tests fast: the hash format and checks are the same at any cost.
var cheap = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

const (
	adaEmail    = "ada@example.com"
	adaPassword = "correct horse battery"
	maxFailures = 3
)

// console is a dashboard on a real store, served by httptest.
type console struct {
	srv *httptest.Server
	dir *directory.Service
	env roster.Environment
	ops *operators.Service
	h   *dashboard.Handler
	st  store.Store
	// hooks is the dashboard's webhook service (the default outbound rule: no private
	// addresses).
	hooks *webhooks.Service
}

func newConsole(t *testing.T, st store.Store, csrfKey ...byte) *console {
	t.Helper()
	ctx := context.Background()
	box, err := secretbox.New(make([]byte, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	dir := directory.New(st, directory.WithSecretBox(box))
	env, err := dir.EnsureEnvironment(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ops := operators.New(st, operators.Settings{Password: cheap, MaxFailures: maxFailures, Lockout: time.Minute})
	hooks := webhooks.New(st, box, outbound.New(outbound.Options{}))
	h := dashboard.New(dashboard.Config{Directory: dir, Environment: env, Operators: ops, CSRFKey: csrfKey, Webhooks: hooks})
	mux := http.NewServeMux()
	mux.Handle("/dashboard", h)
	mux.Handle("/dashboard/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &console{srv: srv, dir: dir, env: env, ops: ops, h: h, st: st, hooks: hooks}
}

// sqliteConsole opens a SQLite store in a temporary directory (closed when tb ends) and the
// directory service of the dashboard's tests and benchmarks (an all-zero encryption key), with
// its environment.
func sqliteConsole(tb testing.TB) (*sqlstore.Store, *secretbox.Box, *directory.Service, roster.Environment) {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	box, _ := secretbox.New(make([]byte, secretbox.KeySize))
	dir := directory.New(st, directory.WithSecretBox(box))
	env, err := dir.EnsureEnvironment(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return st, box, dir, env
}

// eachBackend runs fn on a dashboard over a fresh SQLite store and a fresh PostgreSQL schema.
func eachBackend(t *testing.T, fn func(t *testing.T, c *console)) {
	eachStore(t, func(t *testing.T, st store.Store) { fn(t, newConsole(t, st)) })
}

// eachStore runs fn, in parallel subtests, on a fresh SQLite store and a fresh PostgreSQL
// schema, each closed after.
func eachStore(t *testing.T, fn func(t *testing.T, st store.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		st, err := sqlite.Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		st, err := postgres.Open(context.Background(), pgtest.NewSchema(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		fn(t, st)
	})
}

// browser is a client with cookies that does not follow redirects.
type browser struct {
	t    *testing.T
	c    *console
	http *http.Client
}

func (c *console) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: c, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(req *http.Request) response {
	b.t.Helper()
	res, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, string(body)}
}

func (b *browser) get(path string) response {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.c.srv.URL+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) response {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.c.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the form on the page at path.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	res := b.get(path)
	m := csrfField.FindStringSubmatch(res.body)
	if m == nil {
		b.t.Fatalf("GET %s: %d, no CSRF field:\n%s", path, res.status, res.body)
	}
	return m[1]
}

func wantStatus(t *testing.T, what string, res response, status int) {
	t.Helper()
	if res.status != status {
		t.Fatalf("%s: status %d, want %d\n%s", what, res.status, status, res.body)
	}
}

func wantRedirect(t *testing.T, what string, res response, location string) {
	t.Helper()
	if res.status != http.StatusSeeOther || res.header.Get("Location") != location {
		t.Fatalf("%s: %d to %q, want 303 to %q\n%s", what, res.status, res.header.Get("Location"), location, res.body)
	}
}

// signIn creates the operator Ada (once) and signs her in.
func (b *browser) signIn() {
	b.t.Helper()
	if _, err := b.c.ops.Get(context.Background(), adaEmail); err != nil {
		if _, err := b.c.ops.Create(context.Background(), roster.NewOperator{Email: adaEmail}, adaPassword); err != nil {
			b.t.Fatal(err)
		}
	}
	tok := b.csrf("/dashboard/sign-in")
	res := b.post("/dashboard/sign-in", url.Values{"csrf": {tok}, "email": {adaEmail}, "password": {adaPassword}})
	wantRedirect(b.t, "sign in", res, "/dashboard/attributes")
}

func TestNoSessionRedirectsToSignIn(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *console) {
		b := c.browser(t)
		wantRedirect(t, "GET /dashboard", b.get("/dashboard"), "/dashboard/attributes")
		wantRedirect(t, "GET /dashboard/attributes", b.get("/dashboard/attributes"), "/dashboard/sign-in?next=%2Fdashboard%2Fattributes")
		wantRedirect(t, "GET an attribute", b.get("/dashboard/attributes/employee_id?x=1"),
			"/dashboard/sign-in?next=%2Fdashboard%2Fattributes%2Femployee_id%3Fx%3D1")
		// A POST without a session is refused, and writes nothing.
		wantStatus(t, "POST without a session", b.post("/dashboard/attributes", url.Values{"key": {"employee_id"}, "display_name": {"Employee Number"}}), 403)
		wantAbsent(t, c, "employee_id")

		// After sign-in, next brings the operator back; a next off the dashboard is ignored.
		if _, err := c.ops.Create(context.Background(), roster.NewOperator{Email: adaEmail}, adaPassword); err != nil {
			t.Fatal(err)
		}
		for next, want := range map[string]string{
			"/dashboard/attributes/x?y=1": "/dashboard/attributes/x?y=1",
			"https://evil.example/":       "/dashboard/attributes",
			"//evil.example/dashboard/":   "/dashboard/attributes",
			"/\\evil.example":             "/dashboard/attributes",
			"/api/v1/organizations":       "/dashboard/attributes",
		} {
			b := c.browser(t)
			tok := b.csrf("/dashboard/sign-in?next=" + url.QueryEscape(next))
			res := b.post("/dashboard/sign-in", url.Values{"csrf": {tok}, "email": {adaEmail}, "password": {adaPassword}, "next": {next}})
			wantRedirect(t, "sign in with next="+next, res, want)
		}
	})
}

func wantAbsent(t *testing.T, c *console, key string) {
	t.Helper()
	if _, err := c.dir.GetAttribute(context.Background(), c.env, key); roster.ErrorCode(err) != roster.ENotFound {
		t.Fatalf("attribute %s: %v, want NOT_FOUND (nothing written)", key, err)
	}
}

func TestCSRF(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *console) {
		b := c.browser(t)
		b.signIn()
		add := url.Values{"key": {"employee_id"}, "display_name": {"Employee Number"}, "type": {"string"}}
		with := func(tok string) url.Values {
			v := url.Values{"csrf": {tok}}
			for k, vs := range add {
				v[k] = vs
			}
			return v
		}
		wantStatus(t, "no CSRF token", b.post("/dashboard/attributes", add), 403)
		wantStatus(t, "a forged CSRF token", b.post("/dashboard/attributes", with("forged")), 403)
		// Another session's token (another operator's browser) is not this session's.
		other := c.browser(t)
		other.signIn()
		wantStatus(t, "another session's CSRF token", b.post("/dashboard/attributes", with(other.csrf("/dashboard/attributes"))), 403)
		// The session cookie's value is not the token.
		var cookie string
		u, _ := url.Parse(c.srv.URL + "/dashboard/")
		for _, ck := range b.http.Jar.Cookies(u) {
			if ck.Name == "roster_session" {
				cookie = ck.Value
			}
		}
		if cookie == "" {
			t.Fatal("no roster_session cookie")
		}
		wantStatus(t, "the session cookie as CSRF token", b.post("/dashboard/attributes", with(cookie)), 403)
		// A POST from another site is refused even with the right token.
		tok := b.csrf("/dashboard/attributes")
		req, _ := http.NewRequest("POST", c.srv.URL+"/dashboard/attributes", strings.NewReader(with(tok).Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		wantStatus(t, "a cross-origin POST", b.do(req), 403)
		wantAbsent(t, c, "employee_id")

		// Sign-out without the token does not sign out.
		wantStatus(t, "sign-out without CSRF", b.post("/dashboard/sign-out", nil), 403)
		wantStatus(t, "still signed in", b.get("/dashboard/attributes"), 200)

		// The pre-session forms use a double-submit cookie: without it, or with another
		// value, sign-in is refused before any password check.
		fresh := c.browser(t)
		wantStatus(t, "sign-in without CSRF", fresh.post("/dashboard/sign-in", url.Values{"email": {adaEmail}, "password": {adaPassword}}), 403)
		fresh.csrf("/dashboard/sign-in") // sets the cookie
		wantStatus(t, "sign-in with a wrong CSRF", fresh.post("/dashboard/sign-in", url.Values{"csrf": {"x" + strings.Repeat("A", 42)}, "email": {adaEmail}, "password": {adaPassword}}), 403)

		// With the token, the same form writes.
		wantRedirect(t, "add with CSRF", b.post("/dashboard/attributes", with(tok)), "/dashboard/attributes?done=created&key=employee_id")
		if d, err := c.dir.GetAttribute(context.Background(), c.env, "employee_id"); err != nil || d.DisplayName != "Employee Number" {
			t.Fatalf("attribute after add: %+v, %v", d, err)
		}
	})
}

func TestSetUpLink(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *console) {
		ctx := context.Background()
		token, _, ok, err := c.ops.FirstRunLink(ctx)
		if err != nil || !ok {
			t.Fatalf("first-run link: %v %v", ok, err)
		}
		b := c.browser(t)
		path := operators.SetUpPath + "?token=" + url.QueryEscape(token)
		page := b.get(path)
		wantStatus(t, "the link's form", page, 200)
		if !strings.Contains(page.body, `name="email"`) || !strings.Contains(page.body, `name="password"`) {
			t.Fatalf("the first-operator form asks for no email or password:\n%s", page.body)
		}
		tok := csrfField.FindStringSubmatch(page.body)[1]
		// A weak password: the service's message, next to the field; the link still works.
		res := b.post("/dashboard/setup", url.Values{"csrf": {tok}, "token": {token}, "email": {adaEmail}, "password": {"short"}})
		wantStatus(t, "a weak password", res, 400)
		if !strings.Contains(res.body, `<span id="password-error"><span class="field-error">`) {
			t.Fatalf("no error next to the password field:\n%s", res.body)
		}
		res = b.post("/dashboard/setup", url.Values{"csrf": {tok}, "token": {token}, "email": {adaEmail}, "display_name": {"Ada"}, "password": {adaPassword}})
		wantRedirect(t, "set up", res, "/dashboard/sign-in?done=setup&email=ada%40example.com")
		// Used: the link's message, no form.
		for _, p := range []string{path, operators.SetUpPath + "?token=nonsense", operators.SetUpPath} {
			res = b.get(p)
			wantStatus(t, "GET "+p, res, 404)
			if !strings.Contains(res.body, "the set-up link is not valid") || strings.Contains(res.body, `name="password"`) {
				t.Fatalf("GET %s:\n%s", p, res.body)
			}
		}
		res = b.post("/dashboard/setup", url.Values{"csrf": {tok}, "token": {token}, "email": {"eve@example.com"}, "password": {adaPassword}})
		wantStatus(t, "the used link again", res, 404)
		if !strings.Contains(res.body, "the set-up link is not valid") {
			t.Fatalf("used link:\n%s", res.body)
		}
		// The chosen password signs in.
		tok = b.csrf("/dashboard/sign-in")
		wantRedirect(t, "sign in", b.post("/dashboard/sign-in", url.Values{"csrf": {tok}, "email": {adaEmail}, "password": {adaPassword}}), "/dashboard/attributes")
		res = b.get("/dashboard/attributes")
		wantStatus(t, "attributes", res, 200)
		if !strings.Contains(res.body, `<span id="operator">ada@example.com</span>`) {
			t.Fatalf("the operator's email is not in the page:\n%s", res.body)
		}
		// Signed in, the sign-in page sends on.
		wantRedirect(t, "the sign-in page when signed in", b.get("/dashboard/sign-in?next=%2Fdashboard%2Fattributes%2Fx"), "/dashboard/attributes/x")
	})
}

func TestSignInRefusals(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *console) {
		if _, err := c.ops.Create(context.Background(), roster.NewOperator{Email: adaEmail}, adaPassword); err != nil {
			t.Fatal(err)
		}
		b := c.browser(t)
		tok := b.csrf("/dashboard/sign-in")
		try := func(pw string) response {
			return b.post("/dashboard/sign-in", url.Values{"csrf": {tok}, "email": {adaEmail}, "password": {pw}})
		}
		res := try("wrong password")
		wantStatus(t, "a wrong password", res, 401)
		if !strings.Contains(res.body, operators.ErrBadCredentials.Message) {
			t.Fatalf("wrong password: no %q in\n%s", operators.ErrBadCredentials.Message, res.body)
		}
		for range maxFailures - 1 {
			try("wrong password")
		}
		// Locked: even the right password is refused, with the service's message.
		res = try(adaPassword)
		wantStatus(t, "locked", res, 401)
		want := template(operators.ErrLocked.Message)
		if !strings.Contains(res.body, want) {
			t.Fatalf("locked: no %q in\n%s", want, res.body)
		}
		if strings.Contains(res.header.Get("Set-Cookie"), "roster_session=") {
			t.Fatal("a locked sign-in set a session cookie")
		}
	})
}

// template escapes s as html/template writes text.
func template(s string) string {
	return strings.NewReplacer("'", "&#39;", `"`, "&#34;", "&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func TestSignOutEverywhere(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *console) {
		older, newer := c.browser(t), c.browser(t)
		older.signIn()
		newer.signIn()
		wantStatus(t, "older session", older.get("/dashboard/attributes"), 200)
		tok := newer.csrf("/dashboard/attributes")
		wantRedirect(t, "sign out everywhere", newer.post("/dashboard/sign-out-everywhere", url.Values{"csrf": {tok}}), "/dashboard/sign-in?done=everywhere")
		wantRedirect(t, "the older session after sign-out-everywhere", older.get("/dashboard/attributes"),
			"/dashboard/sign-in?next=%2Fdashboard%2Fattributes")
		wantRedirect(t, "the session that signed out", newer.get("/dashboard/attributes"), "/dashboard/sign-in?next=%2Fdashboard%2Fattributes")

		// Sign-out ends only its own session.
		a, z := c.browser(t), c.browser(t)
		a.signIn()
		z.signIn()
		wantRedirect(t, "sign out", a.post("/dashboard/sign-out", url.Values{"csrf": {a.csrf("/dashboard/attributes")}}), "/dashboard/sign-in?done=signed-out")
		wantRedirect(t, "after sign-out", a.get("/dashboard/attributes"), "/dashboard/sign-in?next=%2Fdashboard%2Fattributes")
		wantStatus(t, "another session after sign-out", z.get("/dashboard/attributes"), 200)
	})
}

func TestAttributesScreen(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *console) {
		ctx := context.Background()
		b := c.browser(t)
		b.signIn()
		res := b.get("/dashboard/attributes")
		wantStatus(t, "attributes", res, 200)
		for _, s := range []string{"<code>given_name</code>", "<code>email</code>", `id="custom-empty"`, `<a href="/dashboard/attributes" aria-current="page">User Attributes</a>`} {
			if !strings.Contains(res.body, s) {
				t.Fatalf("attributes page lacks %q:\n%s", s, res.body)
			}
		}
		tok := csrfField.FindStringSubmatch(res.body)[1]
		// The API's message, next to the fields it names.
		res = b.post("/dashboard/attributes", url.Values{"csrf": {tok}, "key": {"Employee ID"}, "display_name": {""}, "type": {"string"}})
		wantStatus(t, "a bad key", res, 400)
		_, apiErr := c.dir.CreateAttribute(ctx, c.env, roster.AttributeDefinition{Key: "Employee ID", Type: roster.AttributeString})
		var e *roster.Error
		if !asError(apiErr, &e) || len(e.Violations) != 2 {
			t.Fatalf("the API's error: %v", apiErr)
		}
		for _, v := range e.Violations {
			want := `<span id="` + v.Field + `-error"><span class="field-error">` + v.Description + `</span>`
			if !strings.Contains(res.body, want) {
				t.Fatalf("no %q in\n%s", want, res.body)
			}
		}
		if !strings.Contains(res.body, `value="Employee ID"`) {
			t.Fatal("the form lost what was typed")
		}
		wantAbsent(t, c, "employee_id")

		res = b.post("/dashboard/attributes", url.Values{"csrf": {tok}, "key": {"employee_id"}, "display_name": {"Employee Number"}, "type": {"string"}, "max_length": {"20"}})
		wantRedirect(t, "add", res, "/dashboard/attributes?done=created&key=employee_id")
		res = b.get("/dashboard/attributes?done=created&key=employee_id")
		if !strings.Contains(res.body, "<td>Employee Number</td><td><code>employee_id</code></td>") || !strings.Contains(res.body, "Attribute employee_id added.") {
			t.Fatalf("the new attribute is not listed:\n%s", res.body)
		}
		// The same key again: the API's conflict, next to the key.
		res = b.post("/dashboard/attributes", url.Values{"csrf": {tok}, "key": {"employee_id"}, "display_name": {"Other"}, "type": {"string"}})
		wantStatus(t, "a taken key", res, 409)
		if !strings.Contains(res.body, `<span id="key-error"><span class="field-error">`) {
			t.Fatalf("a taken key: no error next to the key:\n%s", res.body)
		}

		// Edit the display name.
		wantStatus(t, "edit page", b.get("/dashboard/attributes/employee_id"), 200)
		res = b.post("/dashboard/attributes/employee_id", url.Values{"csrf": {tok}, "display_name": {strings.Repeat("x", 101)}})
		wantStatus(t, "a too long name", res, 400)
		if !strings.Contains(res.body, `<span id="display_name-error"><span class="field-error">is required and must be at most 100 characters</span>`) {
			t.Fatalf("too long name:\n%s", res.body)
		}
		wantRedirect(t, "rename", b.post("/dashboard/attributes/employee_id", url.Values{"csrf": {tok}, "display_name": {"Employee No."}}),
			"/dashboard/attributes?done=updated&key=employee_id")
		if d, _ := c.dir.GetAttribute(ctx, c.env, "employee_id"); d.DisplayName != "Employee No." || d.MaxLength != 20 {
			t.Fatalf("after rename: %+v", d)
		}

		// Delete: the confirmation says the values go too; without CSRF nothing happens.
		res = b.get("/dashboard/attributes/employee_id/delete")
		wantStatus(t, "confirm delete", res, 200)
		if !strings.Contains(res.body, "also deletes every value of it stored on user profiles") {
			t.Fatalf("the confirmation does not say what happens to stored values:\n%s", res.body)
		}
		wantStatus(t, "delete without CSRF", b.post("/dashboard/attributes/employee_id/delete", nil), 403)
		if _, err := c.dir.GetAttribute(ctx, c.env, "employee_id"); err != nil {
			t.Fatalf("deleted without CSRF: %v", err)
		}
		wantRedirect(t, "delete", b.post("/dashboard/attributes/employee_id/delete", url.Values{"csrf": {tok}}), "/dashboard/attributes?done=deleted&key=employee_id")
		wantAbsent(t, c, "employee_id")
		wantStatus(t, "a deleted attribute's page", b.get("/dashboard/attributes/employee_id"), 404)
	})
}

func TestSecurityHeaders(t *testing.T) {
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := newConsole(t, st)
	token, _, _, err := c.ops.FirstRunLink(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b := c.browser(t)
	check := func(what string, res response) {
		t.Helper()
		for h, want := range map[string]string{
			"Content-Security-Policy": dashboard.ContentSecurityPolicy,
			"X-Frame-Options":         "DENY",
			"Referrer-Policy":         "same-origin",
			"X-Content-Type-Options":  "nosniff",
		} {
			if got := res.header.Get(h); got != want {
				t.Errorf("%s: %s %q, want %q", what, h, got, want)
			}
		}
		if strings.Contains(res.body, "<script") || strings.Contains(res.body, "<style") || strings.Contains(res.body, " style=") {
			t.Errorf("%s: inline script or style", what)
		}
	}
	for _, p := range []string{"/dashboard", "/dashboard/sign-in", "/dashboard/setup?token=" + token, "/dashboard/setup?token=bad",
		"/dashboard/attributes", "/dashboard/static/style.css", "/dashboard/nothing-here"} {
		check("GET "+p, b.get(p))
	}
	check("POST without CSRF", b.post("/dashboard/sign-in", nil))
	b.signIn()
	for _, p := range []string{"/dashboard/attributes", "/dashboard/attributes/nope", "/dashboard/nothing-here"} {
		check("GET "+p+" signed in", b.get(p))
	}
	wantStatus(t, "the static directory", b.get("/dashboard/static/"), 404)
	res := b.get("/dashboard/static/style.css")
	wantStatus(t, "style.css", res, 200)
	if !strings.HasPrefix(res.header.Get("Content-Type"), "text/css") {
		t.Fatalf("style.css: %s", res.header.Get("Content-Type"))
	}
	// The session cookie: HttpOnly, SameSite=Lax, on the dashboard's path.
	fresh := c.browser(t)
	tok := fresh.csrf("/dashboard/sign-in")
	res = fresh.post("/dashboard/sign-in", url.Values{"csrf": {tok}, "email": {adaEmail}, "password": {adaPassword}})
	sc := res.header.Get("Set-Cookie")
	for _, want := range []string{"roster_session=", "Path=/dashboard", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(sc, want) {
			t.Fatalf("session cookie %q lacks %q", sc, want)
		}
	}
}

func asError(err error, e **roster.Error) bool {
	var x *roster.Error
	if err == nil {
		return false
	}
	ok := errors.As(err, &x)
	*e = x
	return ok
}

// Nodes that share the deployment's key accept each other's CSRF tokens (a PostgreSQL
// deployment behind a load balancer); a node with another key does not.
func TestCSRFAcrossNodes(t *testing.T) {
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	secret := []byte("the deployment's encryption key, 32 bytes or so....")
	a := newConsole(t, st, dashboard.CSRFKey(secret)...)
	b := newConsole(t, st, dashboard.CSRFKey(secret)...)
	other := newConsole(t, st, dashboard.CSRFKey([]byte("another key"))...)
	br := a.browser(t)
	br.signIn()
	tok := br.csrf("/dashboard/attributes")
	// The cookie jar keys cookies by host, not port: the session reaches every node.
	br.c = other
	wantStatus(t, "another key's node", br.post("/dashboard/attributes", url.Values{"csrf": {tok}, "key": {"employee_id"}, "display_name": {"Employee Number"}}), 403)
	wantAbsent(t, a, "employee_id")
	br.c = b
	wantRedirect(t, "the same key's node", br.post("/dashboard/attributes", url.Values{"csrf": {tok}, "key": {"employee_id"}, "display_name": {"Employee Number"}}),
		"/dashboard/attributes?done=created&key=employee_id")
}

// Under TLS the session cookie is __Host-roster_session: Secure, Path=/, HttpOnly, Lax.
func TestSecureCookies(t *testing.T) {
	ctx := context.Background()
	st, _, dir, env := sqliteConsole(t)
	ops := operators.New(st, operators.Settings{Password: cheap})
	if _, err := ops.Create(ctx, roster.NewOperator{Email: adaEmail}, adaPassword); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(dashboard.New(dashboard.Config{Directory: dir, Environment: env, Operators: ops, Secure: true}))
	defer srv.Close()
	c := &console{srv: srv, dir: dir, env: env, ops: ops}
	b := c.browser(t)
	b.http.Transport = srv.Client().Transport
	tok := b.csrf("/dashboard/sign-in")
	res := b.post("/dashboard/sign-in", url.Values{"csrf": {tok}, "email": {adaEmail}, "password": {adaPassword}})
	wantRedirect(t, "sign in", res, "/dashboard/attributes")
	sc := res.header.Get("Set-Cookie")
	for _, want := range []string{"__Host-roster_session=", "Path=/;", "Secure", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(sc, want) {
			t.Fatalf("session cookie %q lacks %q", sc, want)
		}
	}
	wantStatus(t, "a page over TLS", b.get("/dashboard/attributes"), 200)
}
