package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDashboardClientsFlow drives Chromium through the API clients, roles and audit screens
// of a live `roster serve` (SQLite and PostgreSQL): create an API client and see its secret once (a reload
// does not show it), get a token with it from /oauth/token, revoke it (the same secret is
// then refused by /oauth/token), create a role after a form error with the API's message,
// and find each of these actions in the audit log, which holds neither the secret nor the
// password.
func TestDashboardClientsFlow(t *testing.T) {
	exe := chromium(t)
	shots := screenshotDir(t)
	rosterBinary(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("no-proxy-server", true), chromedp.WindowSize(1200, 900))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { dashboardClientsFlow(t, allocCtx, backend, shots) })
	}
}

func dashboardClientsFlow(t *testing.T, allocCtx context.Context, backend, shots string) {
	srv := startServer(t, backendArgs(t, backend),
		"ROSTER_BOOTSTRAP_CLIENT_ID="+bootstrapClientID, "ROSTER_BOOTSTRAP_CLIENT_SECRET="+bootstrapClientSecret)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !strings.Contains(srv.stdout.String(), "curl -s"); {
		time.Sleep(20 * time.Millisecond)
	}
	m := regexp.MustCompile(`(?m)^\s+(\S+/dashboard/setup\?token=\S+)$`).FindStringSubmatch(srv.stdout.String())
	if m == nil {
		t.Fatalf("the first start printed no set-up link:\n%s", srv.stdout.String())
	}
	link := m[1]

	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	tctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tctx, actions...); err != nil {
			where, _ := chromedp.Run(ctx, chromedp.Location())
			page, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
			t.Fatalf("%s: %v (at %s: %.1500s)", what, err, where, page)
		}
	}
	n := 0
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		n++
		if err := os.WriteFile(filepath.Join(shots, fmt.Sprintf("dashboard-clients-%s-%02d-%s.png", backend, n, name)), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	html := func() string {
		t.Helper()
		s, err := chromedp.Run(tctx, chromedp.OuterHTML(chromedp.CSS("html")))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	const email, pw = "first@example.com", "the first operator's password"
	step("set up and sign in",
		chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#setup")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS("#setup button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#sign-in")),
		chromedp.Clear(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS("#sign-in button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#operator")))

	// API clients: the bootstrap client is listed; create one.
	step("API clients", chromedp.Click(chromedp.CSS(`nav a[href="/dashboard/clients"]`)), chromedp.WaitVisible(chromedp.CSS("#create-client")))
	if got := text("#clients tbody"); !strings.Contains(got, bootstrapClientID) {
		t.Fatalf("the bootstrap client is not listed: %q", got)
	}
	shot("clients")
	step("create a client",
		chromedp.SendKeys(chromedp.CSS("#name"), "e2e app"),
		chromedp.SendKeys(chromedp.CSS("#redirect_uris"), "https://app.example/cb"),
		chromedp.Click(chromedp.CSS("#create-client button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#client-secret")))
	id, secret := text("#new-client-id"), text("#client-secret")
	if id == "" || len(secret) < 16 {
		t.Fatalf("client %q secret %q", id, secret)
	}
	shot("client-created")
	if status, _ := tokenRequest(t, srv.URL, id, secret); status != 200 {
		t.Fatalf("the new client's secret gets no token: %d", status)
	}
	step("reload the client's page", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#client-id")))
	if page := html(); strings.Contains(page, secret) || strings.Contains(page, `id="client-secret"`) {
		t.Fatal("the secret is shown again after a reload")
	}
	shot("client")

	step("revoke",
		chromedp.Click(chromedp.CSS("#revoke-link")), chromedp.WaitVisible(chromedp.CSS("#revoke-client")))
	shot("client-revoke")
	step("confirm revoke", chromedp.Click(chromedp.CSS("#revoke-client button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#clients")))
	if status, _ := tokenRequest(t, srv.URL, id, secret); status != 401 {
		t.Fatalf("the revoked client's secret: %d, want 401", status)
	}

	// Roles: a form error with the API's message beside the name, then a role.
	step("roles", chromedp.Click(chromedp.CSS(`nav a[href="/dashboard/roles"]`)), chromedp.WaitVisible(chromedp.CSS("#create-role")))
	step("bad role name",
		chromedp.SendKeys(chromedp.CSS("#name"), "billing admin"),
		chromedp.Click(chromedp.CSS("#create-role button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#name-error .field-error")))
	if got := text("#name-error"); got != "must be 1 to 64 letters, digits or '_'" {
		t.Fatalf("beside the role name: %q", got)
	}
	step("create role",
		chromedp.Clear(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "billing_admin"),
		chromedp.SendKeys(chromedp.CSS("#display_name"), "Billing admin"),
		chromedp.Click(chromedp.CSS("#create-role button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/dashboard/roles/billing_admin"]`)))
	shot("roles")
	step("role", chromedp.Click(chromedp.CSS(`a[href="/dashboard/roles/billing_admin"]`)), chromedp.WaitVisible(chromedp.CSS("#edit-role")))
	shot("role")

	// The audit log lists these actions, and neither the secret nor the password.
	step("audit log", chromedp.Click(chromedp.CSS(`nav a[href="/dashboard/audit"]`)), chromedp.WaitVisible(chromedp.CSS("#audit")))
	log := text("#audit tbody")
	for _, want := range []string{"setup", "sign-in", "client.create " + id, "client.revoke " + id, "role.create billing_admin", email} {
		if !strings.Contains(strings.Join(strings.Fields(log), " "), want) {
			t.Errorf("the audit log lacks %q:\n%s", want, log)
		}
	}
	if page := html(); strings.Contains(page, secret) || strings.Contains(page, pw) {
		t.Fatal("the audit page shows the secret or the password")
	}
	shot("audit")
	cancel()
	srv.stop(t)
	srv.checkLogsFree(t, "client secret", secret)
	srv.checkLogsFree(t, "operator's password", pw)
}
