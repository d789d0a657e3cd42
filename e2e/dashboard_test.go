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
	exe := chromium(t)
	shots := screenshotDir(t)
	rosterBinary(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("no-proxy-server", true), chromedp.WindowSize(1200, 900))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { dashboardSeedFlow(t, allocCtx, backend, shots) })
	}
}

func dashboardSeedFlow(t *testing.T, allocCtx context.Context, backend, shots string) {
	srv := startServer(t, backendArgs(t, backend),
		"ROSTER_BOOTSTRAP_CLIENT_ID="+bootstrapClientID, "ROSTER_BOOTSTRAP_CLIENT_SECRET="+bootstrapClientSecret)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !strings.Contains(srv.stdout.String(), "curl -s"); {
		time.Sleep(20 * time.Millisecond)
	}
	m := regexp.MustCompile(`(?m)^\s+(\S+/dashboard/setup\?token=\S+)$`).FindStringSubmatch(srv.stdout.String())
	if m == nil || !strings.HasPrefix(m[1], srv.URL+"/") {
		t.Fatalf("the first start printed no set-up link on %s:\n%s", srv.URL, srv.stdout.String())
	}
	link := m[1]

	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil { // starts the browser (no timeout on this first call)
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
		if err := os.WriteFile(filepath.Join(shots, fmt.Sprintf("dashboard-%s-%02d-%s.png", backend, n, name)), png, 0o644); err != nil {
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
	step("open the printed link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#setup")))
	shot("setup")
	step("set the password",
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#display_name"), "First Operator"),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS("#setup button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#sign-in")))
	shot("sign-in")
	step("sign in",
		chromedp.Clear(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), pw),
		chromedp.Click(chromedp.CSS("#sign-in button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#add-attribute")))
	if got := text("#operator"); got != email {
		t.Fatalf("the nav shows %q, want the operator's email", got)
	}
	shot("attributes")

	// A key the API refuses: its message, beside the key.
	step("add a bad key",
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
	if got := text("#key-error"); got != violation["description"] {
		t.Fatalf("beside the key: %q; the API says %q", got, violation["description"])
	}
	if got := text("#error"); got != apiErr["message"] {
		t.Fatalf("the page's message: %q; the API's: %q", got, apiErr["message"])
	}
	shot("form-error")
	step("Add Attribute Employee Number / employee_id",
		chromedp.Clear(chromedp.CSS("#key")),
		chromedp.SendKeys(chromedp.CSS("#key"), "employee_id"),
		chromedp.Click(chromedp.CSS("#add-attribute button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#custom")))
	if got := text("#custom tbody"); !strings.Contains(got, "Employee Number") || !strings.Contains(got, "employee_id") {
		t.Fatalf("the new attribute is not listed: %q", got)
	}
	shot("attribute-added")

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
	step("users", chromedp.Navigate(srv.URL+"/dashboard/users"), chromedp.WaitVisible(chromedp.CSS("#user-search")),
		chromedp.SendKeys(chromedp.CSS("#q"), "john@megasoft"), chromedp.Click(chromedp.CSS("#user-search button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#all-users")), chromedp.WaitVisible(chromedp.CSS("#users")))
	shot("users")
	step("the user's page", chromedp.Click(chromedp.CSS(`#users a[href="/dashboard/users/`+user+`"]`)), chromedp.WaitVisible(chromedp.CSS("#user-attributes")))
	if v, err := chromedp.Run(tctx, chromedp.Value(chromedp.CSS("#attr-employee_id"))); err != nil || v != "E-1042" {
		t.Fatalf("employee_id on the user's page: %q, %v", v, err)
	}
	shot("user")

	// Still listed after the reload; the edit and delete-confirmation screens.
	step("reload", chromedp.Navigate(srv.URL+"/dashboard"), chromedp.WaitVisible(chromedp.CSS("#custom")))
	step("edit", chromedp.Navigate(srv.URL+"/dashboard/attributes/employee_id"), chromedp.WaitVisible(chromedp.CSS("#edit-attribute")))
	shot("attribute-edit")
	step("confirm delete", chromedp.Navigate(srv.URL+"/dashboard/attributes/employee_id/delete"), chromedp.WaitVisible(chromedp.CSS("#delete-attribute")))
	if got := text("#consequence"); !strings.Contains(got, "also deletes every value of it stored on user profiles") {
		t.Fatalf("the delete confirmation: %q", got)
	}
	shot("attribute-delete")

	// Sign out: the dashboard asks for a sign-in again.
	step("sign out",
		chromedp.Navigate(srv.URL+"/dashboard/attributes"), chromedp.WaitVisible(chromedp.CSS("#operator")),
		chromedp.Click(chromedp.CSS(`form[action="/dashboard/sign-out"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#sign-in")),
		chromedp.Navigate(srv.URL+"/dashboard/attributes"), chromedp.WaitVisible(chromedp.CSS("#sign-in")))
	cancel() // close the browser's tab first: a connection it opened ahead holds up a graceful stop
	srv.stop(t)
	srv.checkLogsFree(t, "operator's password", pw)
}
