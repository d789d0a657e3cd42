package dashboard_test

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/dashboard"
	"github.com/rosterhq/roster/secretbox"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/sqlite"
	"github.com/rosterhq/roster/webhooks"
)

var (
	webhookPath  = regexp.MustCompile(`^/dashboard/webhooks/(wh_[^/?]+)\?done=created$`)
	signingField = regexp.MustCompile(`id="signing-secret" value="([^"]+)"`)
)

// shownSecret is the signing secret a page shows, or "".
func shownSecret(body string) string {
	m := signingField.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// openedSecret is the endpoint's signing secret as stored (newConsole's key).
func openedSecret(t *testing.T, c *console, id string) string {
	t.Helper()
	box, err := secretbox.New(make([]byte, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.st.GetWebhookEndpoint(context.Background(), c.env.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	s, err := box.Open(e.SecretSealed, id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// otherEnvironment makes a second environment of the deployment.
func otherEnvironment(t *testing.T, c *console) roster.Environment {
	t.Helper()
	env := roster.Environment{ID: roster.NewIDGenerator().New(roster.PrefixEnvironment), Name: "other", CursorKey: make([]byte, 32), CreateTime: time.Now().UTC()}
	if err := c.st.CreateEnvironment(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	return env
}

func TestWebhooksScreen(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *console) {
		ctx := context.Background()
		b := c.browser(t)
		b.signIn()
		res := b.get("/dashboard/webhooks")
		wantStatus(t, "list", res, 200)
		wantContains(t, "list", res.body, `id="webhooks-empty"`, `value="organization.directory.*"`, `value="user.created"`, `href="/dashboard/webhooks" aria-current="page"`)
		tok := b.csrf("/dashboard/webhooks")

		// The outbound rule: the service's message beside the URL, nothing created.
		_, _, apiErr := c.hooks.Create(ctx, c.env.ID, webhooks.NewEndpoint{URL: "http://127.0.0.1:8080/hook"})
		if apiErr == nil {
			t.Fatal("the service took a loopback URL")
		}
		res = b.post("/dashboard/webhooks", url.Values{"csrf": {tok}, "url": {"http://127.0.0.1:8080/hook"}, "event_types": {"user.created"}})
		wantStatus(t, "loopback URL", res, 400)
		wantBeside(t, res.body, "url", apiErr.(*roster.Error).Violations[0].Description)
		wantContains(t, "loopback URL kept", res.body, `value="http://127.0.0.1:8080/hook"`, `value="user.created" checked`)
		// CSRF refused: nothing written.
		wantStatus(t, "create without CSRF", b.post("/dashboard/webhooks", url.Values{"url": {"https://hooks.example.com/a"}}), 403)
		wantStatus(t, "create with a wrong CSRF", b.post("/dashboard/webhooks", url.Values{"csrf": {tok + "x"}, "url": {"https://hooks.example.com/a"}}), 403)
		if l, err := c.hooks.List(ctx, c.env.ID); err != nil || len(l) != 0 {
			t.Fatalf("refused creates wrote %v %v", l, err)
		}

		// Create: the secret is shown once, on the page the create leads to.
		res = b.post("/dashboard/webhooks", url.Values{"csrf": {tok}, "url": {" https://hooks.example.com/roster "}, "description": {"billing"},
			"event_types": {"organization.*", "user.created"}})
		m := webhookPath.FindStringSubmatch(res.header.Get("Location"))
		if res.status != 303 || m == nil {
			t.Fatalf("create: %d to %q\n%s", res.status, res.header.Get("Location"), res.body)
		}
		id, path := m[1], "/dashboard/webhooks/"+m[1]
		e, err := c.hooks.Get(ctx, c.env.ID, id)
		if err != nil || e.URL != "https://hooks.example.com/roster" || e.Description != "billing" || !reflect.DeepEqual(e.EventTypes, []string{"organization.*", "user.created"}) || !e.Enabled {
			t.Fatalf("created %+v %v", e, err)
		}
		res = b.get(res.header.Get("Location"))
		wantStatus(t, "the new endpoint's page", res, 200)
		secret := shownSecret(res.body)
		if !strings.HasPrefix(secret, "whsec_") || secret != openedSecret(t, c, id) {
			t.Fatalf("the page after the create shows %q, want the endpoint's secret\n%s", secret, res.body)
		}
		wantContains(t, "copy button", res.body, `data-copy="signing secret"`, `src="/dashboard/static/copy.js"`)
		for what, p := range map[string]string{"reload": path + "?done=created", "page": path, "list": "/dashboard/webhooks"} {
			if res := b.get(p); res.status != 200 || strings.Contains(res.body, secret) || strings.Contains(res.body, "whsec_") {
				t.Fatalf("%s: %d, shows the secret again\n%s", what, res.status, res.body)
			}
		}
		res = b.get("/dashboard/webhooks")
		wantContains(t, "list", res.body, `href="/dashboard/webhooks/`+id+`"`, "organization.*, user.created", "enabled", "none yet")

		// Settings: the API's message beside the field; then saved.
		form := url.Values{"csrf": {tok}, "url": {"https://hooks.example.com/v2"}, "description": {"new"}, "event_types": {"nope.created"}}
		res = b.post(path, form)
		wantStatus(t, "unknown type", res, 400)
		wantContains(t, "unknown type", res.body, `<span id="event_types-error"><span class="field-error">`)
		form["event_types"] = []string{"user.*"}
		wantRedirect(t, "save settings", b.post(path, form), path+"?done=saved")
		if e, _ := c.hooks.Get(ctx, c.env.ID, id); e.URL != "https://hooks.example.com/v2" || e.Description != "new" || !reflect.DeepEqual(e.EventTypes, []string{"user.*"}) {
			t.Fatalf("after save: %+v", e)
		}
		delete(form, "event_types") // none checked: every type
		wantRedirect(t, "save all types", b.post(path, form), path+"?done=saved")
		if e, _ := c.hooks.Get(ctx, c.env.ID, id); len(e.EventTypes) != 0 {
			t.Fatalf("after save with no type: %+v", e.EventTypes)
		}

		// Disable, enable.
		wantRedirect(t, "disable", b.post(path+"/disable", url.Values{"csrf": {tok}}), path+"?done=disabled")
		if e, _ := c.hooks.Get(ctx, c.env.ID, id); e.Enabled || e.DisabledReason != roster.WebhookDisabledOperator {
			t.Fatalf("after disable: %+v", e)
		}
		wantContains(t, "disabled page", b.get(path).body, "disabled by an operator", `id="enable-webhook"`)
		wantRedirect(t, "enable", b.post(path+"/enable", url.Values{"csrf": {tok}}), path+"?done=enabled")
		if e, _ := c.hooks.Get(ctx, c.env.ID, id); !e.Enabled {
			t.Fatalf("after enable: %+v", e)
		}

		// Rotate: the new secret once.
		wantRedirect(t, "rotate", b.post(path+"/rotate-secret", url.Values{"csrf": {tok}}), path+"?done=rotated")
		res = b.get(path + "?done=rotated")
		if rotated := shownSecret(res.body); rotated == "" || rotated == secret || rotated != openedSecret(t, c, id) {
			t.Fatalf("after rotation the page shows %q\n%s", rotated, res.body)
		}
		if res := b.get(path + "?done=rotated"); strings.Contains(res.body, "whsec_") {
			t.Fatalf("the rotated secret shown twice\n%s", res.body)
		}

		// Redeliver: a manual delivery queued for the event.
		org, err := c.dir.CreateOrganization(ctx, c.env, roster.NewOrganization{DisplayName: "Acme"})
		if err != nil {
			t.Fatal(err)
		}
		evs := waitEvents(t, c.st, c.env.ID, store.EventQuery{Types: []string{roster.EventOrganizationCreated}, OrganizationID: org.ID, Limit: 1})
		other := otherEnvironment(t, c)
		otherOrg, err := c.dir.CreateOrganization(ctx, other, roster.NewOrganization{DisplayName: "Elsewhere"})
		if err != nil {
			t.Fatal(err)
		}
		otherEvs := waitEvents(t, c.st, other.ID, store.EventQuery{OrganizationID: otherOrg.ID, Limit: 1})
		wantStatus(t, "redeliver another environment's event", b.post(path+"/redeliver", url.Values{"csrf": {tok}, "event_id": {otherEvs[0].ID}}), 404)
		wantStatus(t, "redeliver without CSRF", b.post(path+"/redeliver", url.Values{"event_id": {evs[0].ID}}), 403)
		wantRedirect(t, "redeliver", b.post(path+"/redeliver", url.Values{"csrf": {tok}, "event_id": {evs[0].ID}}), path+"?done=redelivered")
		leases, err := c.st.ClaimWebhookEndpoints(ctx, "dashboard-test", time.Now().Add(time.Second), time.Minute, 20)
		if err != nil {
			t.Fatal(err)
		}
		var lease *store.WebhookLease
		for i := range leases {
			if leases[i].Endpoint.ID == id {
				lease = &leases[i]
			}
		}
		if lease == nil || len(lease.Redeliveries) != 1 || lease.Redeliveries[0].Event.ID != evs[0].ID {
			t.Fatalf("queued redeliveries: %+v", leases)
		}

		// The delivery log, paged, with a redeliver button per event; the list's last status.
		var log []roster.WebhookDelivery
		at := time.Now().UTC().Truncate(time.Second)
		for i := range 60 {
			d := roster.WebhookDelivery{EndpointID: id, EventID: evs[0].ID, EventType: evs[0].Type, Attempt: i + 1, Status: 503, Latency: 12 * time.Millisecond, Error: "HTTP 503", Time: at.Add(time.Duration(i) * time.Second)}
			if i == 59 {
				d.Status, d.Success, d.Error, d.Manual, d.Attempt = 200, true, "", true, 1
			}
			log = append(log, d)
		}
		if err := c.st.SaveWebhookProgress(ctx, "dashboard-test", store.WebhookProgress{EndpointID: id, Deliveries: log, State: lease.State, Release: true}); err != nil {
			t.Fatal(err)
		}
		res = b.get(path)
		if n := strings.Count(res.body, `name="event_id" value="`+evs[0].ID+`"`); n != 50 {
			t.Fatalf("first page of the log: %d redeliver buttons, want 50\n%s", n, res.body)
		}
		wantContains(t, "log", res.body, "1 (manual)", "12 ms", "HTTP 503", evs[0].Type, `id="older"`)
		older := regexp.MustCompile(`href="([^"]+)" id="older"`).FindStringSubmatch(res.body)[1]
		res = b.get(strings.ReplaceAll(older, "&amp;", "&"))
		if n := strings.Count(res.body, `name="event_id" value="`); n != 10 || strings.Contains(res.body, `id="older"`) || !strings.Contains(res.body, `id="newest"`) {
			t.Fatalf("older page: %d rows\n%s", n, res.body)
		}
		wantContains(t, "list's last delivery", b.get("/dashboard/webhooks").body, `<span class="ok">200</span>`)

		// Disabled for failing: the page says so, and Enable resumes it.
		leases, err = c.st.ClaimWebhookEndpoints(ctx, "dashboard-test", time.Now().Add(2*time.Second), time.Minute, 20)
		if err != nil {
			t.Fatal(err)
		}
		lease = nil
		for i := range leases {
			if leases[i].Endpoint.ID == id {
				lease = &leases[i]
			}
		}
		if lease == nil {
			t.Fatalf("the endpoint was not claimed again: %+v", leases)
		}
		if err := c.st.SaveWebhookProgress(ctx, "dashboard-test", store.WebhookProgress{EndpointID: id, State: lease.State, Disable: true}); err != nil {
			t.Fatal(err)
		}
		wantContains(t, "failing endpoint", b.get(path).body, "disabled: failing", `id="failing-help"`, "Enable and resume")
		wantContains(t, "failing endpoint in the list", b.get("/dashboard/webhooks").body, "disabled: failing")
		wantRedirect(t, "enable a failing endpoint", b.post(path+"/enable", url.Values{"csrf": {tok}}), path+"?done=enabled")
		if e, _ := c.hooks.Get(ctx, c.env.ID, id); !e.Enabled || e.DisabledReason != "" {
			t.Fatalf("after enabling a failing endpoint: %+v", e)
		}

		// Another environment's endpoint is not found, on every route; nothing changes.
		oe, _, err := c.hooks.Create(ctx, other.ID, webhooks.NewEndpoint{URL: "https://hooks.example.com/other"})
		if err != nil {
			t.Fatal(err)
		}
		if oe, err = c.hooks.Get(ctx, other.ID, oe.ID); err != nil { // as stored
			t.Fatal(err)
		}
		op := "/dashboard/webhooks/" + oe.ID
		for _, p := range []string{op, op + "/delete"} {
			wantStatus(t, "GET "+p, b.get(p), 404)
		}
		for _, p := range []string{op, op + "/enable", op + "/disable", op + "/rotate-secret", op + "/redeliver", op + "/delete"} {
			res := b.post(p, url.Values{"csrf": {tok}, "url": {"https://evil.example.com/"}, "event_id": {otherEvs[0].ID}})
			wantStatus(t, "POST "+p, res, 404)
			if strings.Contains(res.body, "whsec_") {
				t.Fatalf("POST %s shows a secret", p)
			}
		}
		if got, err := c.hooks.Get(ctx, other.ID, oe.ID); err != nil || !reflect.DeepEqual(got, oe) {
			t.Fatalf("another environment's endpoint changed: %+v %v, was %+v", got, err, oe)
		}

		// CSRF: every POST refused, nothing written.
		before, _ := c.hooks.Get(ctx, c.env.ID, id)
		for _, p := range []string{path, path + "/enable", path + "/disable", path + "/rotate-secret", path + "/redeliver", path + "/delete"} {
			wantStatus(t, "POST "+p+" without CSRF", b.post(p, url.Values{"url": {"https://evil.example.com/"}, "event_id": {evs[0].ID}}), 403)
		}
		if got, err := c.hooks.Get(ctx, c.env.ID, id); err != nil || !reflect.DeepEqual(got, before) {
			t.Fatalf("refused POSTs changed the endpoint: %+v %v", got, err)
		}

		// Delete, after a confirmation page.
		wantContains(t, "confirm", b.get(path+"/delete").body, `id="delete-webhook"`, e.ID)
		wantRedirect(t, "delete", b.post(path+"/delete", url.Values{"csrf": {tok}}), "/dashboard/webhooks?done=deleted&id="+id)
		if _, err := c.hooks.Get(ctx, c.env.ID, id); roster.ErrorCode(err) != roster.ENotFound {
			t.Fatalf("after delete: %v", err)
		}

		// The audit log has every write, and never a secret.
		entries, text := auditText(t, c)
		for _, a := range []string{"webhook.create", "webhook.update", "webhook.disable", "webhook.enable", "webhook.rotate_secret", "webhook.redeliver", "webhook.delete"} {
			if !hasEntry(entries, a, "") {
				t.Fatalf("no %s in the audit log:\n%s", a, text)
			}
		}
		if strings.Contains(text, "whsec_") || strings.Contains(text, secret) {
			t.Fatalf("a secret in the audit log:\n%s", text)
		}
	})
}

// The one-time cookie of a secret opens only in the session that made it.
func TestWebhookSecretOtherSession(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *console) {
		a, b := c.browser(t), c.browser(t)
		a.signIn()
		b.signIn()
		res := a.post("/dashboard/webhooks", url.Values{"csrf": {a.csrf("/dashboard/webhooks")}, "url": {"https://hooks.example.com/x"}})
		loc := res.header.Get("Location")
		if webhookPath.FindStringSubmatch(loc) == nil {
			t.Fatalf("create: %d %q", res.status, loc)
		}
		u, _ := url.Parse(c.srv.URL + "/dashboard/")
		for _, ck := range a.http.Jar.Cookies(u) {
			if ck.Name == "roster_secret" {
				b.http.Jar.SetCookies(u, []*http.Cookie{ck})
			}
		}
		if res := b.get(loc); res.status != 200 || strings.Contains(res.body, "whsec_") {
			t.Fatalf("another session opened the secret: %d\n%s", res.status, res.body)
		}
	})
}

// A dashboard without a webhook service says so on its Webhooks screen.
func TestWebhooksNotConfigured(t *testing.T) {
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := newConsole(t, st)
	srv := httptest.NewServer(dashboard.New(dashboard.Config{Directory: c.dir, Environment: c.env, Operators: c.ops}))
	t.Cleanup(srv.Close)
	c.srv = srv
	b := c.browser(t)
	b.signIn()
	wantStatus(t, "webhooks without a service", b.get("/dashboard/webhooks"), 501)
	wantStatus(t, "events without a webhook service", b.get("/dashboard/events"), 200)
}

// Selectors the checkboxes do not list ("*", a prefix not at a dot) are shown checked, so that
// saving the settings keeps them.
func TestWebhookOtherSelectorsKept(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *console) {
		ctx := context.Background()
		e, _, err := c.hooks.Create(ctx, c.env.ID, webhooks.NewEndpoint{URL: "https://hooks.example.com/x", EventTypes: []string{"*", "user.organization_*"}})
		if err != nil {
			t.Fatal(err)
		}
		b := c.browser(t)
		b.signIn()
		path := "/dashboard/webhooks/" + e.ID
		res := b.get(path)
		wantContains(t, "page", res.body, `value="*" checked`, `value="user.organization_*" checked`)
		var checked []string
		for _, m := range regexp.MustCompile(`name="event_types" value="([^"]+)" checked`).FindAllStringSubmatch(res.body, -1) {
			checked = append(checked, m[1])
		}
		form := url.Values{"csrf": {b.csrf(path)}, "url": {e.URL}, "description": {"edited"}, "event_types": checked}
		wantRedirect(t, "save", b.post(path, form), path+"?done=saved")
		if got, _ := c.hooks.Get(ctx, c.env.ID, e.ID); got.Description != "edited" || !reflect.DeepEqual(got.EventTypes, []string{"*", "user.organization_*"}) {
			t.Fatalf("after saving: %+v", got)
		}
	})
}

// waitEvents reads events until the query finds some: on PostgreSQL the feed shows a
// committed event once every older transaction of the server has ended (parallel tests').
func waitEvents(t *testing.T, st store.Store, envID string, q store.EventQuery) []store.StoredEvent {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		evs, err := st.ListEvents(context.Background(), envID, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) > 0 {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("no event matches %+v after 10 s", q)
		}
	}
}
