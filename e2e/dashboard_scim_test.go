package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDashboardDirectories drives Chromium through the SCIM directory screens of a live
// `roster serve` on SQLite (one backend: the httptest tests cover PostgreSQL): Add Directory on
// an organization's page, the directory's page with its endpoint URL, Generate token (shown
// once; the live SCIM endpoint at that URL accepts it), Regenerate (the old token is refused
// at once, the new one accepted; a reload shows neither), and an attribute mapping key the API
// refuses, its message beside the field. Screenshots directories-sqlite-NN-<screen>.png.
func TestDashboardDirectories(t *testing.T) {
	exe := chromium(t)
	shots := screenshotDir(t)
	rosterBinary(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("no-proxy-server", true), chromedp.WindowSize(1200, 900))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	const backend = "sqlite"
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
	status, res := restJSON(t, srv.URL, token, "POST", "/api/v1/organizations", `{"display_name": "Megasoft Inc"}`)
	if status != 200 {
		t.Fatalf("create organization: %d %v", status, res)
	}
	org := res["organization"].(map[string]any)["id"].(string)

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
		if err := os.WriteFile(filepath.Join(shots, fmt.Sprintf("directories-%s-%02d-%s.png", backend, n, name)), png, 0o644); err != nil {
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
	scimStatus := func(endpoint, bearer string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", endpoint+"/Users", nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	const email, pw = "first@example.com", "the first operator's password"
	step("set up the first operator",
		chromedp.Navigate(m[1]), chromedp.WaitVisible(chromedp.CSS("#setup")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS("#setup button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#sign-in")))
	step("sign in, to the organization's page",
		chromedp.Navigate(srv.URL+"/dashboard/organizations/"+org), chromedp.WaitVisible(chromedp.CSS("#sign-in")),
		chromedp.Clear(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS("#sign-in button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#add-directory")))
	step("Add Directory (Okta)",
		chromedp.SetValue(chromedp.CSS("#provider"), "OKTA"),
		chromedp.Click(chromedp.CSS("#add-directory button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#generate-token")))
	endpoint := text("#endpoint")
	dirID := text("#dir-id")
	if endpoint != srv.URL+"/scim/v2/"+dirID {
		t.Fatalf("endpoint %q, want %q", endpoint, srv.URL+"/scim/v2/"+dirID)
	}
	shot("directory")

	step("Generate token", chromedp.Click(chromedp.CSS("#generate-token button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#new-token")))
	first := text("#new-token")
	shot("token-shown-once")
	if st := scimStatus(endpoint, first); st != 200 {
		t.Fatalf("the live SCIM endpoint with the new token: %d", st)
	}
	// Reload first (no token shown), so that #new-token below is the regenerate's answer.
	step("reload", chromedp.Navigate(srv.URL+"/dashboard/organizations/"+org+"/directories/"+dirID), chromedp.WaitVisible(chromedp.CSS("#token-current")))
	if strings.Contains(html(), first) {
		t.Fatal("a reload shows the token")
	}
	step("Regenerate token", chromedp.Click(chromedp.CSS("#regenerate-token button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#new-token")))
	second := text("#new-token")
	if second == first {
		t.Fatal("regenerate showed the same token")
	}
	if st := scimStatus(endpoint, first); st != 401 {
		t.Fatalf("the old token after regenerate: %d, want 401", st)
	}
	if st := scimStatus(endpoint, second); st != 200 {
		t.Fatalf("the regenerated token: %d", st)
	}
	step("reload", chromedp.Navigate(srv.URL+"/dashboard/organizations/"+org+"/directories/"+dirID), chromedp.WaitVisible(chromedp.CSS("#token-current")))
	if h := html(); strings.Contains(h, second) || strings.Contains(h, first) {
		t.Fatal("a reload shows a token")
	}

	step("a mapping key the API refuses",
		chromedp.SendKeys(chromedp.CSS("#key-0"), "employee_no"),
		chromedp.SendKeys(chromedp.CSS("#map_to-0"), "employeeNumber"),
		chromedp.Click(chromedp.CSS("#mapping button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#key-0-error .field-error")))
	if got := text("#key-0-error"); !strings.Contains(got, `"employee_no" is neither a profile field`) {
		t.Fatalf("beside the key: %q", got)
	}
	shot("mapping-error")
	step("a mapping", chromedp.Clear(chromedp.CSS("#key-0")), chromedp.SendKeys(chromedp.CSS("#key-0"), "locale"),
		chromedp.Clear(chromedp.CSS("#map_to-0")), chromedp.SendKeys(chromedp.CSS("#map_to-0"), "locale"),
		chromedp.Click(chromedp.CSS("#mapping button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	shot("mapping-saved")
	cancel()
	srv.stop(t)
}
