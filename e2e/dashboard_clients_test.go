package e2e

import (
	"context"
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
	allocCtx, shots := dashboardAllocator(t)
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { dashboardClientsFlow(t, allocCtx, backend, shots) })
	}
}

func dashboardClientsFlow(t *testing.T, allocCtx context.Context, backend, shots string) {
	srv, link := dashboardServer(t, backend)

	b := openTab(t, allocCtx, 90*time.Second, shots, "dashboard-clients-"+backend)

	const email, pw = "first@example.com", "the first operator's password"
	b.step("set up and sign in",
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
	b.step("API clients", chromedp.Click(chromedp.CSS(`nav a[href="/dashboard/clients"]`)), chromedp.WaitVisible(chromedp.CSS("#create-client")))
	if got := b.text("#clients tbody"); !strings.Contains(got, bootstrapClientID) {
		t.Fatalf("the bootstrap client is not listed: %q", got)
	}
	b.shot("clients")
	b.step("create a client",
		chromedp.SendKeys(chromedp.CSS("#name"), "e2e app"),
		chromedp.SendKeys(chromedp.CSS("#redirect_uris"), "https://app.example/cb"),
		chromedp.Click(chromedp.CSS("#create-client button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#client-secret")))
	id, secret := b.text("#new-client-id"), b.text("#client-secret")
	if id == "" || len(secret) < 16 {
		t.Fatalf("client %q secret %q", id, secret)
	}
	b.shot("client-created")
	if status, _ := tokenRequest(t, srv.URL, id, secret); status != 200 {
		t.Fatalf("the new client's secret gets no token: %d", status)
	}
	b.step("reload the client's page", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#client-id")))
	if page := b.html(); strings.Contains(page, secret) || strings.Contains(page, `id="client-secret"`) {
		t.Fatal("the secret is shown again after a reload")
	}
	b.shot("client")

	b.step("revoke",
		chromedp.Click(chromedp.CSS("#revoke-link")), chromedp.WaitVisible(chromedp.CSS("#revoke-client")))
	b.shot("client-revoke")
	b.step("confirm revoke", chromedp.Click(chromedp.CSS("#revoke-client button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#clients")))
	if status, _ := tokenRequest(t, srv.URL, id, secret); status != 401 {
		t.Fatalf("the revoked client's secret: %d, want 401", status)
	}

	// Roles: a form error with the API's message beside the name, then a role.
	b.step("roles", chromedp.Click(chromedp.CSS(`nav a[href="/dashboard/roles"]`)), chromedp.WaitVisible(chromedp.CSS("#create-role")))
	b.step("bad role name",
		chromedp.SendKeys(chromedp.CSS("#name"), "billing admin"),
		chromedp.Click(chromedp.CSS("#create-role button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#name-error .field-error")))
	if got := b.text("#name-error"); got != "must be 1 to 64 letters, digits or '_'" {
		t.Fatalf("beside the role name: %q", got)
	}
	b.step("create role",
		chromedp.Clear(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "billing_admin"),
		chromedp.SendKeys(chromedp.CSS("#display_name"), "Billing admin"),
		chromedp.Click(chromedp.CSS("#create-role button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/dashboard/roles/billing_admin"]`)))
	b.shot("roles")
	b.step("role", chromedp.Click(chromedp.CSS(`a[href="/dashboard/roles/billing_admin"]`)), chromedp.WaitVisible(chromedp.CSS("#edit-role")))
	b.shot("role")

	// The audit log lists these actions, and neither the secret nor the password.
	b.step("audit log", chromedp.Click(chromedp.CSS(`nav a[href="/dashboard/audit"]`)), chromedp.WaitVisible(chromedp.CSS("#audit")))
	log := b.text("#audit tbody")
	for _, want := range []string{"setup", "sign-in", "client.create " + id, "client.revoke " + id, "role.create billing_admin", email} {
		if !strings.Contains(strings.Join(strings.Fields(log), " "), want) {
			t.Errorf("the audit log lacks %q:\n%s", want, log)
		}
	}
	if page := b.html(); strings.Contains(page, secret) || strings.Contains(page, pw) {
		t.Fatal("the audit page shows the secret or the password")
	}
	b.shot("audit")
	b.close()
	srv.stop(t)
	srv.checkLogsFree(t, "client secret", secret)
	srv.checkLogsFree(t, "operator's password", pw)
}
