package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDashboardOrganizations drives Chromium through the Organizations screens of a live
// `roster serve` on SQLite and on PostgreSQL (issue 14: "create an organization with an
// external ID and metadata and find it by the external ID"): Add Organization with an
// external ID, a metadata key the API refuses (its message word for word beside the form),
// a metadata pair, a search by the exact external ID among look-alikes, the organization's
// page, and the delete confirmation; the REST API then finds the same organization by its
// external ID with its metadata.
func TestDashboardOrganizations(t *testing.T) {
	allocCtx, shots := dashboardAllocator(t)
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { dashboardOrganizations(t, allocCtx, backend, shots) })
	}
}

func dashboardOrganizations(t *testing.T, allocCtx context.Context, backend, shots string) {
	srv, link := dashboardServer(t, backend)
	_, token := tokenRequest(t, srv.URL, bootstrapClientID, bootstrapClientSecret)
	rest := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		return restJSON(t, srv.URL, token, method, path, body)
	}
	// Look-alikes the exact look-up must not find.
	for _, ext := range []string{"megasoft-70", "megasoft-7x", "MEGASOFT-7"} {
		if status, res := rest("POST", "/api/v1/organizations", `{"display_name": "Look-alike `+ext+`", "external_id": "`+ext+`"}`); status != 200 {
			t.Fatalf("create %s: %d %v", ext, status, res)
		}
	}

	b := openTab(t, allocCtx, 90*time.Second, shots, "organizations-"+backend)

	b.setUpAndSignIn(link, srv.URL+"/dashboard/organizations", "the Organizations screen", "#add-organization")
	b.shot("list")

	b.step("Add Organization Megasoft Inc / megasoft-7",
		chromedp.SendKeys(chromedp.CSS("#display_name"), "Megasoft Inc"),
		chromedp.SendKeys(chromedp.CSS("#external_id"), "megasoft-7"),
		chromedp.Click(chromedp.CSS("#add-organization button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#edit-organization")))
	id := b.text("#org-id")
	if !strings.HasPrefix(id, "org_") || b.text("#org-external-id") != "megasoft-7" {
		t.Fatalf("the new organization's page: id %q, external ID %q", id, b.text("#org-external-id"))
	}

	// A key the API refuses: its message beside the metadata form, word for word.
	b.step("a too short metadata key",
		chromedp.SendKeys(chromedp.CSS("#meta-key"), "ab"),
		chromedp.SendKeys(chromedp.CSS("#meta-value"), "x"),
		chromedp.Click(chromedp.CSS("#add-metadata button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#metadata-error .field-error")))
	status, apiErr := rest("PATCH", "/api/v1/organizations/"+id, `{"metadata": {"ab": "x"}}`)
	violation := func() map[string]any {
		defer func() { _ = recover() }()
		return apiErr["details"].([]any)[0].(map[string]any)["validation_error_info"].(map[string]any)["field_violations"].([]any)[0].(map[string]any)
	}()
	if status != 400 || violation == nil {
		t.Fatalf("the API's answer to the same key: %d %v", status, apiErr)
	}
	if got := b.text("#metadata-error"); got != violation["description"] {
		t.Fatalf("beside the metadata form: %q; the API says %q", got, violation["description"])
	}
	if got := b.text("#error"); got != apiErr["message"] {
		t.Fatalf("the page's message: %q; the API's: %q", got, apiErr["message"])
	}
	b.shot("metadata-error")
	b.step("add metadata plan=enterprise",
		chromedp.Clear(chromedp.CSS("#meta-key")), chromedp.SendKeys(chromedp.CSS("#meta-key"), "plan"),
		chromedp.Clear(chromedp.CSS("#meta-value")), chromedp.SendKeys(chromedp.CSS("#meta-value"), "enterprise"),
		chromedp.Click(chromedp.CSS("#add-metadata button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#metadata")))
	if got := b.text("#metadata tbody"); !strings.Contains(got, "plan") {
		t.Fatalf("the metadata table: %q", got)
	}

	// Find it by its external ID, exactly: the look-alikes are not found.
	b.step("find by external ID",
		chromedp.Navigate(srv.URL+"/dashboard/organizations"), chromedp.WaitVisible(chromedp.CSS("#search-organizations")),
		chromedp.SendKeys(chromedp.CSS("#q"), "megasoft-7"),
		chromedp.SetValue(chromedp.CSS("#by"), "external_id"),
		chromedp.Click(chromedp.CSS("#search-organizations button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#show-all")))
	if got := b.text("#organizations tbody"); !strings.Contains(got, "Megasoft Inc") || strings.Contains(got, "Look-alike") {
		t.Fatalf("found by the external ID megasoft-7: %q", got)
	}
	b.shot("found-by-external-id")
	b.step("open it",
		chromedp.Click(chromedp.CSS(`#organizations a[href="/dashboard/organizations/`+id+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#edit-organization")))
	if b.text("#org-id") != id || b.text("#org-external-id") != "megasoft-7" {
		t.Fatal("the found organization's page is another's")
	}
	if v, err := chromedp.Run(b.tctx, chromedp.Value(chromedp.CSS(`#metadata input[name=value]`))); err != nil || v != "enterprise" {
		t.Fatalf("the metadata value on the page: %q %v", v, err)
	}
	b.shot("organization")
	b.step("delete confirmation", chromedp.Navigate(srv.URL+"/dashboard/organizations/"+id+"/delete"), chromedp.WaitVisible(chromedp.CSS("#delete-organization")))
	if got := b.text("#goes-with-it"); !strings.Contains(got, "0 memberships") {
		t.Fatalf("the delete confirmation: %q", got)
	}
	b.shot("delete")

	// The application finds the same organization by its external ID through the API.
	status, got := rest("GET", "/api/v1/organizations:external/megasoft-7", "")
	org, _ := got["organization"].(map[string]any)
	if status != 200 || org["id"] != id || org["metadata"].(map[string]any)["plan"] != "enterprise" {
		t.Fatalf("GET by external ID: %d %v", status, got)
	}
	b.close() // close the tab first: a connection it opened ahead holds up a graceful stop
	srv.stop(t)
}
