package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/rosterhq/roster/internal/oidctest"
	"github.com/rosterhq/roster/internal/samltest"
)

// TestDashboardConnections drives Chromium through the SSO connection screens of a live
// `roster serve` on SQLite and PostgreSQL: from an organization's page to its connections,
// create a SAML connection, copy its ACS URL with the copy button (the clipboard holds it and
// the aria-live region says "Copied"), configure it from pasted IdP metadata XML (real metadata
// of a crewjam/saml identity provider, internal/samltest) to COMPLETED, and compare the SP
// values shown with the REST API's; create an OIDC connection, an issuer the API refuses (its
// message beside the field), then the issuer of a discovery server (internal/oidctest) with
// a client ID and secret to COMPLETED (the secret in no page), and enable it. Screenshots
// connections-<backend>-NN-<screen>.png.
func TestDashboardConnections(t *testing.T) {
	allocCtx, shots := dashboardAllocator(t)
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dashboardConnections(t, allocCtx, shots, backend)
		})
	}
}

func dashboardConnections(t *testing.T, allocCtx context.Context, shots, backend string) {
	srv, link := dashboardServer(t, backend)
	_, token := tokenRequest(t, srv.URL, bootstrapClientID, bootstrapClientSecret)
	status, res := restJSON(t, srv.URL, token, "POST", "/api/v1/organizations", `{"display_name": "Megasoft Inc"}`)
	if status != 200 {
		t.Fatalf("create organization: %d %v", status, res)
	}
	org := res["organization"].(map[string]any)["id"].(string)
	idp := samltest.Start(t)
	mdRes, err := http.Get(idp.URL + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	md, _ := io.ReadAll(mdRes.Body)
	mdRes.Body.Close()
	op := oidctest.Start(t)

	b := openTab(t, allocCtx, 120*time.Second, shots, "connections-"+backend)
	b.setUpAndSignIn(link, srv.URL+"/dashboard/organizations/"+org, "the organization's page", "#add-connection-link")
	b.step("Add SSO connection", chromedp.Click(chromedp.CSS("#add-connection-link")), chromedp.WaitVisible(chromedp.CSS("#create-connection")))
	b.shot("list-empty")

	// SAML.
	b.step("create a SAML connection (Okta)",
		chromedp.SetValue(chromedp.CSS("#type"), "SAML"),
		chromedp.SetValue(chromedp.CSS("#provider"), "OKTA"),
		chromedp.Click(chromedp.CSS("#create-connection button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#acs-url")))
	samlID := b.text("#conn-id")
	if got := b.text("#conn-status"); got != "DRAFT" {
		t.Fatalf("a new connection's status: %q", got)
	}
	b.shot("saml-created")

	// The copy buttons: one per value, added by copy.js; clicking puts the value on the
	// clipboard and says so.
	buttons, err := chromedp.Run(b.tctx, chromedp.Evaluate[int](`document.querySelectorAll('#copy-values button.copy').length`))
	if err != nil || buttons != 3 {
		t.Fatalf("copy buttons: %d %v", buttons, err)
	}
	if err := chromedp.FromContext(b.ctx).Browser.Call(b.tctx, "Browser.setPermission", map[string]any{
		"permission": map[string]any{"name": "clipboard-read"}, "setting": "granted", "origin": srv.URL}, nil); err != nil {
		t.Logf("grant clipboard-read: %v", err)
	}
	acs := b.value("#acs-url")
	b.step("copy the ACS URL", chromedp.Click(chromedp.CSS(`button[aria-label="Copy ACS URL"]`)))
	if _, err := chromedp.Run(b.tctx, chromedp.Poll[bool](`document.getElementById('copy-status').textContent.startsWith('Copied')`)); err != nil {
		t.Fatalf("no Copied in the live region: %v (%q)", err, b.text("#copy-status"))
	}
	if got := b.text("#copy-status"); got != "Copied ACS URL." {
		t.Fatalf("the live region says %q", got)
	}
	clip, err := chromedp.Run(b.tctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	switch {
	case err != nil:
		t.Logf("the clipboard cannot be read here (%v): the live region's Copied stands for it", err)
	case clip != acs:
		t.Fatalf("the clipboard holds %q, want the ACS URL %q", clip, acs)
	}
	b.shot("saml-copied")

	b.step("paste the IdP's metadata XML",
		chromedp.Click(chromedp.CSS("#by-xml summary")), chromedp.WaitVisible(chromedp.CSS("#idp_metadata_xml")),
		chromedp.SetValue(chromedp.CSS("#idp_metadata_xml"), string(md)))
	b.submit("#saml-xml button[type=submit]", "SAML settings saved.")
	if got := b.text("#conn-status"); got != "COMPLETED" {
		t.Fatalf("after the metadata: status %q", got)
	}
	if got := b.text("#idp-entity-id"); got != idp.EntityID {
		t.Fatalf("IdP entity ID %q, want %q", got, idp.EntityID)
	}
	status, res = restJSON(t, srv.URL, token, "GET", "/api/v1/organizations/"+org+"/connections/"+samlID, "")
	if status != 200 {
		t.Fatalf("REST GET connection: %d %v", status, res)
	}
	sc := res["connection"].(map[string]any)["saml_config"].(map[string]any)
	for sel, f := range map[string]string{"#acs-url": "sp_assertion_url", "#sp-entity-id": "sp_entity_id", "#sp-metadata-url": "sp_metadata_url"} {
		if got := b.value(sel); got != sc[f] {
			t.Fatalf("%s shows %q, the API's %s is %v", sel, got, f, sc[f])
		}
	}
	b.shot("saml-completed")
	// The metadata URL form: serve's guard (--allow-private-networks in these tests) reaches
	// the IdP on loopback through the directory.
	b.step("the metadata URL", chromedp.SendKeys(chromedp.CSS("#idp_metadata_url"), idp.URL+"/metadata"))
	b.submit("#saml-url button[type=submit]", "SAML settings saved.")
	if got := b.text("#idp-metadata-url"); got != idp.URL+"/metadata" {
		t.Fatalf("metadata URL shown: %q", got)
	}

	// OIDC.
	b.step("to the connections", chromedp.Click(chromedp.CSS("#connections-link")), chromedp.WaitVisible(chromedp.CSS("#connections")))
	b.shot("list")
	b.step("create an OIDC connection (Microsoft)",
		chromedp.SetValue(chromedp.CSS("#type"), "OIDC"),
		chromedp.SetValue(chromedp.CSS("#provider"), "MICROSOFT"),
		chromedp.Click(chromedp.CSS("#create-connection button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#redirect-uri")))
	if got := b.value("#redirect-uri"); got != srv.URL+"/sso/oidc/callback" {
		t.Fatalf("redirect URI %q", got)
	}
	b.shot("oidc-created")
	const secret = "e2e-dashboard-secret-5c81"
	b.step("an issuer the API refuses (credentials in the URL)",
		chromedp.SendKeys(chromedp.CSS("#issuer"), "https://user:pw@idp.example"),
		chromedp.SendKeys(chromedp.CSS("#client_id"), op.ClientID),
		chromedp.SendKeys(chromedp.CSS("#client_secret"), secret),
		chromedp.Click(chromedp.CSS("#oidc button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#issuer-error .field-error")))
	if got := b.text("#issuer-error"); got != "must not carry a fragment or credentials" {
		t.Fatalf("beside the issuer: %q", got)
	}
	b.shot("oidc-error")
	b.step("the discovery server's issuer",
		chromedp.Clear(chromedp.CSS("#issuer")),
		chromedp.SendKeys(chromedp.CSS("#issuer"), op.URL),
		chromedp.SendKeys(chromedp.CSS("#client_secret"), secret))
	b.submit("#oidc button[type=submit]", "OIDC settings saved.")
	if got := b.text("#conn-status"); got != "COMPLETED" {
		t.Fatalf("OIDC status %q", got)
	}
	if h := b.html(); strings.Contains(h, secret) || !strings.Contains(h, "A client secret is stored") {
		t.Fatal("the page shows the secret, or does not say one is stored")
	}
	b.shot("oidc-completed")
	b.submit("#toggle-connection button[type=submit]", "Connection enabled")
	if got := b.text("#conn-enabled"); got != "yes" {
		t.Fatalf("enabled: %q", got)
	}
	b.shot("oidc-enabled")
	b.step("the delete confirmation", chromedp.Click(chromedp.CSS("#delete-link")), chromedp.WaitVisible(chromedp.CSS("#delete-connection")))
	b.shot("delete-confirmation")
	b.step("the connections", chromedp.Navigate(srv.URL+"/dashboard/organizations/"+org+"/connections"), chromedp.WaitVisible(chromedp.CSS("#connections")))
	if h := b.html(); strings.Contains(h, secret) || strings.Count(h, "<td>COMPLETED</td>") != 2 {
		t.Fatalf("the list: %s", h)
	}
	b.shot("list-completed")
	b.close()
	srv.stop(t)
}

// submit clicks a form's submit button and waits for the next page's notice (POST, redirect,
// GET): the notice of the page before is removed first, so that it is not the one found.
func (b *tab) submit(button, notice string) {
	b.t.Helper()
	b.step("submit "+button, chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('.notice').forEach(e => e.remove())`),
		chromedp.Click(chromedp.CSS(button)), chromedp.WaitVisible(chromedp.CSS(".notice")))
	if got := b.text(".notice"); !strings.Contains(got, notice) {
		b.t.Fatalf("after %s: notice %q, want %q", button, got, notice)
	}
}

// value is the value of the input sel selects.
func (b *tab) value(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.tctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return s
}
