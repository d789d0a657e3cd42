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

// TestDashboardOrganizations drives Chromium through the Organizations screens of a live
// `roster serve` on SQLite and on PostgreSQL (issue 14: "create an organization with an
// external ID and metadata and find it by the external ID"): Add Organization with an
// external ID, a metadata key the API refuses (its message word for word beside the form),
// a metadata pair, a search by the exact external ID among look-alikes, the organization's
// page, and the delete confirmation; the REST API then finds the same organization by its
// external ID with its metadata.
func TestDashboardOrganizations(t *testing.T) {
	exe := chromium(t)
	shots := screenshotDir(t)
	rosterBinary(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("no-proxy-server", true), chromedp.WindowSize(1200, 900))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { dashboardOrganizations(t, allocCtx, backend, shots) })
	}
}

func dashboardOrganizations(t *testing.T, allocCtx context.Context, backend, shots string) {
	srv := startServer(t, backendArgs(t, backend),
		"ROSTER_BOOTSTRAP_CLIENT_ID="+bootstrapClientID, "ROSTER_BOOTSTRAP_CLIENT_SECRET="+bootstrapClientSecret)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !strings.Contains(srv.stdout.String(), "curl -s"); {
		time.Sleep(20 * time.Millisecond)
	}
	m := regexp.MustCompile(`(?m)^\s+(\S+/dashboard/setup\?token=\S+)$`).FindStringSubmatch(srv.stdout.String())
	if m == nil || !strings.HasPrefix(m[1], srv.URL+"/") {
		t.Fatalf("the first start printed no set-up link on %s:\n%s", srv.URL, srv.stdout.String())
	}
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

	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	tctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()
	n := 0
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tctx, actions...); err != nil {
			where, _ := chromedp.Run(ctx, chromedp.Location())
			page, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
			t.Fatalf("%s: %v (at %s: %.1500s)", what, err, where, page)
		}
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		n++
		if err := os.WriteFile(filepath.Join(shots, fmt.Sprintf("organizations-%s-%02d-%s.png", backend, n, name)), png, 0o644); err != nil {
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

	const email, pw = "first@example.com", "the first operator's password"
	step("set up the first operator",
		chromedp.Navigate(m[1]), chromedp.WaitVisible(chromedp.CSS("#setup")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS("#setup button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#sign-in")))
	step("sign in, to the Organizations screen",
		chromedp.Navigate(srv.URL+"/dashboard/organizations"), chromedp.WaitVisible(chromedp.CSS("#sign-in")),
		chromedp.Clear(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS("#sign-in button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#add-organization")))
	shot("list")

	step("Add Organization Megasoft Inc / megasoft-7",
		chromedp.SendKeys(chromedp.CSS("#display_name"), "Megasoft Inc"),
		chromedp.SendKeys(chromedp.CSS("#external_id"), "megasoft-7"),
		chromedp.Click(chromedp.CSS("#add-organization button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#edit-organization")))
	id := text("#org-id")
	if !strings.HasPrefix(id, "org_") || text("#org-external-id") != "megasoft-7" {
		t.Fatalf("the new organization's page: id %q, external ID %q", id, text("#org-external-id"))
	}

	// A key the API refuses: its message beside the metadata form, word for word.
	step("a too short metadata key",
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
	if got := text("#metadata-error"); got != violation["description"] {
		t.Fatalf("beside the metadata form: %q; the API says %q", got, violation["description"])
	}
	if got := text("#error"); got != apiErr["message"] {
		t.Fatalf("the page's message: %q; the API's: %q", got, apiErr["message"])
	}
	shot("metadata-error")
	step("add metadata plan=enterprise",
		chromedp.Clear(chromedp.CSS("#meta-key")), chromedp.SendKeys(chromedp.CSS("#meta-key"), "plan"),
		chromedp.Clear(chromedp.CSS("#meta-value")), chromedp.SendKeys(chromedp.CSS("#meta-value"), "enterprise"),
		chromedp.Click(chromedp.CSS("#add-metadata button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#metadata")))
	if got := text("#metadata tbody"); !strings.Contains(got, "plan") {
		t.Fatalf("the metadata table: %q", got)
	}

	// Find it by its external ID, exactly: the look-alikes are not found.
	step("find by external ID",
		chromedp.Navigate(srv.URL+"/dashboard/organizations"), chromedp.WaitVisible(chromedp.CSS("#search-organizations")),
		chromedp.SendKeys(chromedp.CSS("#q"), "megasoft-7"),
		chromedp.SetValue(chromedp.CSS("#by"), "external_id"),
		chromedp.Click(chromedp.CSS("#search-organizations button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#show-all")))
	if got := text("#organizations tbody"); !strings.Contains(got, "Megasoft Inc") || strings.Contains(got, "Look-alike") {
		t.Fatalf("found by the external ID megasoft-7: %q", got)
	}
	shot("found-by-external-id")
	step("open it",
		chromedp.Click(chromedp.CSS(`#organizations a[href="/dashboard/organizations/`+id+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#edit-organization")))
	if text("#org-id") != id || text("#org-external-id") != "megasoft-7" {
		t.Fatal("the found organization's page is another's")
	}
	if v, err := chromedp.Run(tctx, chromedp.Value(chromedp.CSS(`#metadata input[name=value]`))); err != nil || v != "enterprise" {
		t.Fatalf("the metadata value on the page: %q %v", v, err)
	}
	shot("organization")
	step("delete confirmation", chromedp.Navigate(srv.URL+"/dashboard/organizations/"+id+"/delete"), chromedp.WaitVisible(chromedp.CSS("#delete-organization")))
	if got := text("#goes-with-it"); !strings.Contains(got, "0 memberships") {
		t.Fatalf("the delete confirmation: %q", got)
	}
	shot("delete")

	// The application finds the same organization by its external ID through the API.
	status, got := rest("GET", "/api/v1/organizations:external/megasoft-7", "")
	org, _ := got["organization"].(map[string]any)
	if status != 200 || org["id"] != id || org["metadata"].(map[string]any)["plan"] != "enterprise" {
		t.Fatalf("GET by external ID: %d %v", status, got)
	}
	cancel() // close the tab first: a connection it opened ahead holds up a graceful stop
	srv.stop(t)
}
