package e2e

import (
	"net/http"
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
	allocCtx, shots := dashboardAllocator(t)
	const backend = "sqlite"
	srv, link := dashboardServer(t, backend)
	_, token := tokenRequest(t, srv.URL, bootstrapClientID, bootstrapClientSecret)
	status, res := restJSON(t, srv.URL, token, "POST", "/api/v1/organizations", `{"display_name": "Megasoft Inc"}`)
	if status != 200 {
		t.Fatalf("create organization: %d %v", status, res)
	}
	org := res["organization"].(map[string]any)["id"].(string)

	b := openTab(t, allocCtx, 90*time.Second, shots, "directories-"+backend)
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

	b.setUpAndSignIn(link, srv.URL+"/dashboard/organizations/"+org, "the organization's page", "#add-directory")
	b.step("Add Directory (Okta)",
		chromedp.SetValue(chromedp.CSS("#provider"), "OKTA"),
		chromedp.Click(chromedp.CSS("#add-directory button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#generate-token")))
	endpoint := b.text("#endpoint")
	dirID := b.text("#dir-id")
	if endpoint != srv.URL+"/scim/v2/"+dirID {
		t.Fatalf("endpoint %q, want %q", endpoint, srv.URL+"/scim/v2/"+dirID)
	}
	b.shot("directory")

	b.step("Generate token", chromedp.Click(chromedp.CSS("#generate-token button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#new-token")))
	first := b.text("#new-token")
	b.shot("token-shown-once")
	if st := scimStatus(endpoint, first); st != 200 {
		t.Fatalf("the live SCIM endpoint with the new token: %d", st)
	}
	// Reload first (no token shown), so that #new-token below is the regenerate's answer.
	b.step("reload", chromedp.Navigate(srv.URL+"/dashboard/organizations/"+org+"/directories/"+dirID), chromedp.WaitVisible(chromedp.CSS("#token-current")))
	if strings.Contains(b.html(), first) {
		t.Fatal("a reload shows the token")
	}
	b.step("Regenerate token", chromedp.Click(chromedp.CSS("#regenerate-token button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("#new-token")))
	second := b.text("#new-token")
	if second == first {
		t.Fatal("regenerate showed the same token")
	}
	if st := scimStatus(endpoint, first); st != 401 {
		t.Fatalf("the old token after regenerate: %d, want 401", st)
	}
	if st := scimStatus(endpoint, second); st != 200 {
		t.Fatalf("the regenerated token: %d", st)
	}
	b.step("reload", chromedp.Navigate(srv.URL+"/dashboard/organizations/"+org+"/directories/"+dirID), chromedp.WaitVisible(chromedp.CSS("#token-current")))
	if h := b.html(); strings.Contains(h, second) || strings.Contains(h, first) {
		t.Fatal("a reload shows a token")
	}

	b.step("a mapping key the API refuses",
		chromedp.SendKeys(chromedp.CSS("#key-0"), "employee_no"),
		chromedp.SendKeys(chromedp.CSS("#map_to-0"), "employeeNumber"),
		chromedp.Click(chromedp.CSS("#mapping button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#key-0-error .field-error")))
	if got := b.text("#key-0-error"); !strings.Contains(got, `"employee_no" is neither a profile field`) {
		t.Fatalf("beside the key: %q", got)
	}
	b.shot("mapping-error")
	b.step("a mapping", chromedp.Clear(chromedp.CSS("#key-0")), chromedp.SendKeys(chromedp.CSS("#key-0"), "locale"),
		chromedp.Clear(chromedp.CSS("#map_to-0")), chromedp.SendKeys(chromedp.CSS("#map_to-0"), "locale"),
		chromedp.Click(chromedp.CSS("#mapping button[type=submit]")), chromedp.WaitVisible(chromedp.CSS(".notice")))
	b.shot("mapping-saved")
	b.close()
	srv.stop(t)
}
