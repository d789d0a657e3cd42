package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// screenshotDir is where the dashboard's browser test writes a PNG of each screen:
// $ROSTER_TEST_SCREENSHOTS, or e2e/screenshots (ignored by git).
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("ROSTER_TEST_SCREENSHOTS")
	if dir == "" {
		dir = "screenshots"
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots of the dashboard in %s", dir)
	return dir
}

// TestDashboardSeedFlow drives Chromium through the dashboard of a live `roster serve` on
// SQLite and on PostgreSQL: the first operator sets a password through the link the first start printed, signs
// in, adds the seed's attribute ("Navigate to Dashboard > User Attributes and click Add
// Attribute": Employee Number / employee_id) after a form error that shows the API's message
// beside the field, and the attribute is then set on a user with the seed's REST PATCH.
func TestDashboardSeedFlow(t *testing.T) {
	allocCtx, shots := dashboardAllocator(t)
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { dashboardSeedFlow(t, allocCtx, backend, shots) })
	}
}

func dashboardSeedFlow(t *testing.T, allocCtx context.Context, backend, shots string) {
	srv, link := dashboardServer(t, backend)

	b := openTab(t, allocCtx, 90*time.Second, shots, "dashboard-"+backend)

	const email, pw = "first@example.com", "the first operator's password"
	b.step("open the printed link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#setup")))
	b.shot("setup")
	b.step("set the password",
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#display_name"), "First Operator"),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS("#setup button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#sign-in")))
	b.shot("sign-in")
	b.step("sign in",
		chromedp.Clear(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS("#sign-in button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#add-attribute")))
	if got := b.text("#operator"); got != email {
		t.Fatalf("the nav shows %q, want the operator's email", got)
	}
	b.shot("attributes")

	// A key the API refuses: its message, beside the key.
	b.step("add a bad key",
		chromedp.SendKeys(chromedp.CSS("#display_name"), "Employee Number"),
		chromedp.SendKeys(chromedp.CSS("#key"), "Employee ID"),
		chromedp.Click(chromedp.CSS("#add-attribute button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#key-error .field-error")))
	_, token := tokenRequest(t, srv.URL, bootstrapClientID, bootstrapClientSecret)
	status, apiErr := restJSON(t, srv.URL, token, "POST", "/api/v1/user-attributes", `{"key": "Employee ID", "display_name": "Employee Number"}`)
	violation := func() map[string]any {
		defer func() { _ = recover() }()
		return apiErr["details"].([]any)[0].(map[string]any)["validation_error_info"].(map[string]any)["field_violations"].([]any)[0].(map[string]any)
	}()
	if status != 400 || violation == nil || violation["field"] != "key" {
		t.Fatalf("the API's answer to the same key: %d %v", status, apiErr)
	}
	if got := b.text("#key-error"); got != violation["description"] {
		t.Fatalf("beside the key: %q; the API says %q", got, violation["description"])
	}
	if got := b.text("#error"); got != apiErr["message"] {
		t.Fatalf("the page's message: %q; the API's: %q", got, apiErr["message"])
	}
	b.shot("form-error")
	b.step("Add Attribute Employee Number / employee_id",
		chromedp.Clear(chromedp.CSS("#key")),
		chromedp.SendKeys(chromedp.CSS("#key"), "employee_id"),
		chromedp.Click(chromedp.CSS("#add-attribute button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#custom")))
	if got := b.text("#custom tbody"); !strings.Contains(got, "Employee Number") || !strings.Contains(got, "employee_id") {
		t.Fatalf("the new attribute is not listed: %q", got)
	}
	b.shot("attribute-added")

	// The application sets it on a user through the API, with the seed's PATCH shape.
	rest := func(method, path, body string) map[string]any {
		t.Helper()
		status, res := restJSON(t, srv.URL, token, method, path, body)
		if status != 200 {
			t.Fatalf("%s %s: %d %v", method, path, status, res)
		}
		return res
	}
	org := rest("POST", "/api/v1/organizations", `{"display_name": "Megasoft Inc"}`)["organization"].(map[string]any)["id"].(string)
	user := rest("POST", "/api/v1/organizations/"+org+"/users", `{"email": "john@megasoft.example"}`)["user"].(map[string]any)["id"].(string)
	rest("PATCH", "/api/v1/users/"+user, `{"user_profile": {"custom_attributes": {"employee_id": "E-1042"}}}`)
	got := rest("GET", "/api/v1/users/"+user, "")["user"].(map[string]any)["user_profile"].(map[string]any)["custom_attributes"].(map[string]any)
	if got["employee_id"] != "E-1042" {
		t.Fatalf("the user's custom attributes: %v", got)
	}
	// An undefined key is refused: the dashboard's definition is the one the API checks.
	if status, res := restJSON(t, srv.URL, token, "PATCH", "/api/v1/users/"+user, `{"user_profile": {"custom_attributes": {"employee_no": "1"}}}`); status != 400 {
		t.Fatalf("an undefined attribute: %d %v", status, res)
	}

	// The seed's flow ends on the user's page: found by email on Users, the value the PATCH set.
	b.step("users", chromedp.Navigate(srv.URL+"/dashboard/users"), chromedp.WaitVisible(chromedp.CSS("#user-search")),
		chromedp.SendKeys(chromedp.CSS("#q"), "john@megasoft"), chromedp.Click(chromedp.CSS("#user-search button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#all-users")), chromedp.WaitVisible(chromedp.CSS("#users")))
	b.shot("users")
	b.step("the user's page", chromedp.Click(chromedp.CSS(`#users a[href="/dashboard/users/`+user+`"]`)), chromedp.WaitVisible(chromedp.CSS("#user-attributes")))
	if v, err := chromedp.Run(b.tctx, chromedp.Value(chromedp.CSS("#attr-employee_id"))); err != nil || v != "E-1042" {
		t.Fatalf("employee_id on the user's page: %q, %v", v, err)
	}
	b.shot("user")

	// Still listed after the reload; the edit and delete-confirmation screens.
	b.step("reload", chromedp.Navigate(srv.URL+"/dashboard"), chromedp.WaitVisible(chromedp.CSS("#custom")))
	b.step("edit", chromedp.Navigate(srv.URL+"/dashboard/attributes/employee_id"), chromedp.WaitVisible(chromedp.CSS("#edit-attribute")))
	b.shot("attribute-edit")
	b.step("confirm delete", chromedp.Navigate(srv.URL+"/dashboard/attributes/employee_id/delete"), chromedp.WaitVisible(chromedp.CSS("#delete-attribute")))
	if got := b.text("#consequence"); !strings.Contains(got, "also deletes every value of it stored on user profiles") {
		t.Fatalf("the delete confirmation: %q", got)
	}
	b.shot("attribute-delete")

	// Sign out: the dashboard asks for a sign-in again.
	b.step("sign out",
		chromedp.Navigate(srv.URL+"/dashboard/attributes"), chromedp.WaitVisible(chromedp.CSS("#operator")),
		chromedp.Click(chromedp.CSS(`form[action="/dashboard/sign-out"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#sign-in")),
		chromedp.Navigate(srv.URL+"/dashboard/attributes"), chromedp.WaitVisible(chromedp.CSS("#sign-in")))
	b.close() // close the browser's tab first: a connection it opened ahead holds up a graceful stop
	srv.stop(t)
	srv.checkLogsFree(t, "operator's password", pw)
}
