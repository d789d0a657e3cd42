package dashboard_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/oauth"
	"github.com/rosterhq/roster/secretbox"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/postgres"
	"github.com/rosterhq/roster/store/postgres/pgtest"
	"github.com/rosterhq/roster/store/sqlite"
)

// withTokens runs fn on a dashboard and, over the same store, the real OAuth token endpoint
// (oauth.Handler, as roster serve mounts it), on SQLite and on PostgreSQL.
func withTokens(t *testing.T, fn func(t *testing.T, c *console, tokenURL string)) {
	run := func(t *testing.T, st store.Store) {
		c := newConsole(t, st)
		box, err := secretbox.New(make([]byte, secretbox.KeySize)) // newConsole's key
		if err != nil {
			t.Fatal(err)
		}
		mux := http.NewServeMux()
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		(&oauth.Handler{Server: oauth.NewServer(st, srv.URL, 0, oauth.WithSecretBox(box)), EnvironmentID: c.env.ID}).Register(mux)
		fn(t, c, srv.URL+"/oauth/token")
	}
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		st, err := sqlite.Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		run(t, st)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		st, err := postgres.Open(context.Background(), pgtest.NewSchema(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		run(t, st)
	})
}

// token asks the token endpoint for a client-credentials token and returns the status and
// the RFC 6749 error code, if any.
func token(t *testing.T, tokenURL, id, secret string) (int, string) {
	t.Helper()
	res, err := http.PostForm(tokenURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var e struct {
		Error       string `json:"error"`
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(body, &e)
	if res.StatusCode == 200 && e.AccessToken == "" {
		t.Fatalf("token: 200 without access_token: %s", body)
	}
	return res.StatusCode, e.Error
}

var (
	secretField  = regexp.MustCompile(`id="client-secret">([^<]+)<`)
	clientIDPath = regexp.MustCompile(`^/dashboard/clients/([^/?]+)\?done=created$`)
)

// shownFieldError returns the error shown beside an input (its span id="<input>-error").
func shownFieldError(body, input string) string {
	m := regexp.MustCompile(`<span id="` + regexp.QuoteMeta(input) + `-error"><span class="field-error">([^<]*)</span>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// auditText returns every stored field of every audit entry, one entry a line.
func auditText(t *testing.T, c *console) (entries []roster.OperatorAuditEntry, text string) {
	t.Helper()
	p, err := c.ops.ListAudit(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range p.Entries {
		b.WriteString(strings.Join([]string{e.ID, e.OperatorID, e.Email, e.Action, e.Target, e.RemoteAddr}, " | ") + "\n")
	}
	return p.Entries, b.String()
}

func hasEntry(entries []roster.OperatorAuditEntry, action, target string) bool {
	for _, e := range entries {
		if e.Action == action && (target == "" || e.Target == target) {
			return true
		}
	}
	return false
}

func TestClientsScreen(t *testing.T) {
	withTokens(t, func(t *testing.T, c *console, tokenURL string) {
		ctx := context.Background()
		b := c.browser(t)
		// A failed sign-in is recorded, without the password typed.
		tok := b.csrf("/dashboard/sign-in")
		if _, err := c.ops.Create(ctx, roster.NewOperator{Email: adaEmail}, adaPassword); err != nil {
			t.Fatal(err)
		}
		const wrong = "wrong horse battery staple"
		wantStatus(t, "wrong password", b.post("/dashboard/sign-in", url.Values{"csrf": {tok}, "email": {adaEmail}, "password": {wrong}}), 401)
		b.signIn()
		res := b.get("/dashboard/clients")
		wantStatus(t, "clients", res, 200)
		if !strings.Contains(res.body, `id="clients-empty"`) {
			t.Fatalf("no clients yet, page:\n%s", res.body)
		}
		tok = b.csrf("/dashboard/clients")

		// Form errors are the directory's, beside the field.
		res = b.post("/dashboard/clients", url.Values{"csrf": {tok}, "name": {""}})
		wantStatus(t, "empty name", res, 400)
		if got := shownFieldError(res.body, "name"); got != "must be 1 to 200 characters long" {
			t.Fatalf("name error %q\n%s", got, res.body)
		}
		res = b.post("/dashboard/clients", url.Values{"csrf": {tok}, "name": {"billing"}, "redirect_uris": {"http://app.example.com/cb"}})
		wantStatus(t, "http redirect URI", res, 400)
		want := roster.CheckRedirectURIs([]string{"http://app.example.com/cb"})
		if got := shownFieldError(res.body, "redirect_uris"); got != template(`"http://app.example.com/cb" must use https (http is allowed only for localhost)`) ||
			!strings.Contains(res.body, template(roster.ErrorMessage(want))) {
			t.Fatalf("redirect_uris error %q, want the API's %q\n%s", got, roster.ErrorMessage(want), res.body)
		}

		// CSRF: refused, nothing written.
		before, _ := c.dir.ListClients(ctx, c.env)
		wantStatus(t, "create without CSRF", b.post("/dashboard/clients", url.Values{"name": {"billing"}}), 403)
		wantStatus(t, "create with a forged CSRF", b.post("/dashboard/clients", url.Values{"csrf": {"forged"}, "name": {"billing"}}), 403)
		if after, _ := c.dir.ListClients(ctx, c.env); len(after) != len(before) {
			t.Fatalf("a refused POST created a client: %d clients, was %d", len(after), len(before))
		}

		// Create: the secret is on the page the creation leads to, once.
		res = b.post("/dashboard/clients", url.Values{"csrf": {tok}, "name": {"billing"}, "redirect_uris": {"https://app.example.com/cb\n"}})
		m := clientIDPath.FindStringSubmatch(res.header.Get("Location"))
		if res.status != 303 || m == nil {
			t.Fatalf("create: %d to %q\n%s", res.status, res.header.Get("Location"), res.body)
		}
		id := m[1]
		if strings.Contains(res.header.Get("Location"), "secret") {
			t.Fatal("the secret is in the redirect")
		}
		res = b.get(res.header.Get("Location"))
		wantStatus(t, "client page after create", res, 200)
		sm := secretField.FindStringSubmatch(res.body)
		if sm == nil {
			t.Fatalf("no secret on the page after creation:\n%s", res.body)
		}
		secret := sm[1]
		if status, e := token(t, tokenURL, id, secret); status != 200 {
			t.Fatalf("the new client's secret gets no token: %d %s", status, e)
		}
		res = b.get("/dashboard/clients/" + id)
		wantStatus(t, "client page reloaded", res, 200)
		if strings.Contains(res.body, secret) || strings.Contains(res.body, `id="client-secret"`) {
			t.Fatalf("the secret is shown again on reload:\n%s", res.body)
		}
		if res := b.get("/dashboard/clients"); !strings.Contains(res.body, id) || strings.Contains(res.body, secret) {
			t.Fatalf("list: the client missing or its secret shown:\n%s", res.body)
		}
		// Another session (or browser) never sees it.
		other := c.browser(t)
		other.signIn()
		if res := other.get("/dashboard/clients/" + id + "?done=created"); strings.Contains(res.body, secret) {
			t.Fatal("another session sees the secret")
		}

		// Redirect URIs: the API's rule, then saved.
		res = b.post("/dashboard/clients/"+id+"/redirect-uris", url.Values{"csrf": {tok}, "redirect_uris": {"https://a.example/cb#frag"}})
		wantStatus(t, "fragment", res, 400)
		if got := shownFieldError(res.body, "redirect_uris"); got != template(`"https://a.example/cb#frag" must not have a fragment`) {
			t.Fatalf("redirect_uris error %q", got)
		}
		wantStatus(t, "redirect URIs without CSRF", b.post("/dashboard/clients/"+id+"/redirect-uris", url.Values{"redirect_uris": {"https://evil.example/cb"}}), 403)
		if cl, _ := c.dir.GetClient(ctx, c.env, id); strings.Join(cl.RedirectURIs, " ") != "https://app.example.com/cb" {
			t.Fatalf("a refused POST changed the redirect URIs: %v", cl.RedirectURIs)
		}
		wantRedirect(t, "set redirect URIs", b.post("/dashboard/clients/"+id+"/redirect-uris",
			url.Values{"csrf": {tok}, "redirect_uris": {"https://a.example/cb\r\nhttp://localhost:3000/cb"}}), "/dashboard/clients/"+id+"?done=uris")
		if cl, err := c.dir.GetClient(ctx, c.env, id); err != nil || strings.Join(cl.RedirectURIs, " ") != "https://a.example/cb http://localhost:3000/cb" {
			t.Fatalf("redirect URIs %v, %v", cl.RedirectURIs, err)
		}

		// Revoke: refused without CSRF (still active), confirmed, then done: no more tokens.
		wantStatus(t, "revoke without CSRF", b.post("/dashboard/clients/"+id+"/revoke", nil), 403)
		if status, _ := token(t, tokenURL, id, secret); status != 200 {
			t.Fatal("a refused revoke revoked the client")
		}
		res = b.get("/dashboard/clients/" + id + "/revoke")
		wantStatus(t, "revoke confirmation", res, 200)
		if !strings.Contains(res.body, "its secret no longer gets tokens") {
			t.Fatalf("the confirmation does not say what revoking does:\n%s", res.body)
		}
		wantRedirect(t, "revoke", b.post("/dashboard/clients/"+id+"/revoke", url.Values{"csrf": {tok}}), "/dashboard/clients?done=revoked&id="+id)
		if status, e := token(t, tokenURL, id, secret); status != 401 || e != "invalid_client" {
			t.Fatalf("a revoked client's secret: %d %q, want 401 invalid_client", status, e)
		}
		if res := b.get("/dashboard/clients/" + id); !strings.Contains(res.body, `id="client-status">revoked`) {
			t.Fatalf("client page does not say revoked:\n%s", res.body)
		}

		// The audit log has each action, by whom, and neither the secret nor a password.
		entries, text := auditText(t, c)
		for _, a := range [][2]string{{"sign-in.failure", ""}, {"sign-in", ""}, {"client.create", id}, {"client.redirect_uris", id}, {"client.revoke", id}} {
			if !hasEntry(entries, a[0], a[1]) {
				t.Errorf("no audit entry %s %s in:\n%s", a[0], a[1], text)
			}
		}
		for _, e := range entries {
			if e.Action == "client.create" && (e.Email != adaEmail || e.OperatorID == "" || e.RemoteAddr == "" || e.CreateTime.IsZero()) {
				t.Errorf("client.create entry lacks who, where or when: %+v", e)
			}
		}
		for _, s := range []string{secret, adaPassword, wrong} {
			if strings.Contains(text, s) {
				t.Fatalf("the audit log holds a secret or password %q:\n%s", s, text)
			}
		}
		if n := strings.Count(text, "client."); n != 3 {
			t.Errorf("%d client entries, want 3 (refused POSTs are not recorded):\n%s", n, text)
		}
		res = b.get("/dashboard/audit")
		wantStatus(t, "audit page", res, 200)
		for _, s := range []string{"client.create", "client.revoke", id, adaEmail} {
			if !strings.Contains(res.body, s) {
				t.Errorf("audit page lacks %q", s)
			}
		}
		if strings.Contains(res.body, secret) {
			t.Fatal("the audit page shows the secret")
		}
	})
}
