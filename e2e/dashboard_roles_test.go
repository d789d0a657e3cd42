package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDashboardRolesFlow drives Chromium through an organization's own roles on a live
// `roster serve` (SQLite and PostgreSQL): from the organization's page to its roles, a bad
// name with the REST API's message word for word, create a role (the REST API lists it), a
// member given it through the REST API, delete refused while held (the REST API's message
// beside the choice), then deleted with the holder moved to the environment's member role
// (the REST API shows the move), and the audit log's entry. Screenshots
// roles-<backend>-NN-<screen>.png.
func TestDashboardRolesFlow(t *testing.T) {
	allocCtx, shots := dashboardAllocator(t)
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { dashboardRolesFlow(t, allocCtx, backend, shots) })
	}
}

func dashboardRolesFlow(t *testing.T, allocCtx context.Context, backend, shots string) {
	srv, link := dashboardServer(t, backend)
	_, token := tokenRequest(t, srv.URL, bootstrapClientID, bootstrapClientSecret)
	rest := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		return restJSON(t, srv.URL, token, method, path, body)
	}
	must := func(method, path, body string) map[string]any {
		t.Helper()
		status, res := rest(method, path, body)
		if status != 200 {
			t.Fatalf("%s %s: %d %v", method, path, status, res)
		}
		return res
	}
	org := must("POST", "/api/v1/organizations", `{"display_name": "Megasoft Inc"}`)["organization"].(map[string]any)["id"].(string)
	john := must("POST", "/api/v1/organizations/"+org+"/users", `{"email": "john@megasoft.example"}`)["user"].(map[string]any)["id"].(string)
	rolesPath := "/dashboard/organizations/" + org + "/roles"

	b := openTab(t, allocCtx, 90*time.Second, shots, "roles-"+backend)
	b.setUpAndSignIn(link, srv.URL+"/dashboard/organizations/"+org, "the organization's page", "#org-roles-link")
	b.step("its roles", chromedp.Click(chromedp.CSS("#org-roles-link")), chromedp.WaitVisible(chromedp.CSS("#create-role")))
	if got := b.text("#env-roles"); !strings.Contains(got, "admin") || !strings.Contains(got, "member") {
		t.Fatalf("the environment's roles: %q", got)
	}
	b.shot("organization-roles")

	// A name the API refuses: its message beside the name, word for word.
	b.step("a bad role name",
		chromedp.SendKeys(chromedp.CSS("#name"), "billing team"),
		chromedp.Click(chromedp.CSS("#create-role button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#name-error .field-error")))
	status, apiErr := rest("POST", "/api/v1/organizations/"+org+"/roles", `{"name": "billing team"}`)
	violation := func() map[string]any {
		defer func() { _ = recover() }()
		return apiErr["details"].([]any)[0].(map[string]any)["validation_error_info"].(map[string]any)["field_violations"].([]any)[0].(map[string]any)
	}()
	if status != 400 || violation == nil {
		t.Fatalf("the API's answer to the same name: %d %v", status, apiErr)
	}
	if got := b.text("#name-error"); got != violation["description"] {
		t.Fatalf("beside the name: %q; the API says %q", got, violation["description"])
	}
	b.shot("name-error")
	b.step("create the role billing",
		chromedp.Clear(chromedp.CSS("#name")),
		chromedp.SendKeys(chromedp.CSS("#name"), "billing"),
		chromedp.SendKeys(chromedp.CSS("#display_name"), "Billing"),
		chromedp.SendKeys(chromedp.CSS("#description"), "Pays the bills"),
		chromedp.Click(chromedp.CSS("#create-role button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="`+rolesPath+`/billing"]`)))
	if got := must("GET", "/api/v1/organizations/"+org+"/roles/billing", ""); got["role"].(map[string]any)["display_name"] != "Billing" {
		t.Fatalf("the REST API's role: %v", got)
	}
	b.shot("role-created")

	// Held by John: the delete is refused with the API's message, then done with the move.
	must("PATCH", "/api/v1/memberships/organizations/"+org+"/users/"+john, `{"roles": [{"name": "billing"}]}`)
	b.step("delete it", chromedp.Click(chromedp.CSS(`a[href="`+rolesPath+`/billing/delete"]`)), chromedp.WaitVisible(chromedp.CSS("#delete-role")))
	if got := b.text("#holders"); got != "1 membership holds it." {
		t.Fatalf("holders: %q", got)
	}
	b.shot("role-delete")
	b.step("delete without moving its holder",
		chromedp.Click(chromedp.CSS("#delete-role button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#reassign_role_name-error .field-error")))
	status, apiErr = rest("DELETE", "/api/v1/organizations/"+org+"/roles/billing", "")
	if status != 400 {
		t.Fatalf("the REST API's delete of a held role: %d %v", status, apiErr)
	}
	if got := b.text("#reassign_role_name-error"); got != apiErr["message"] {
		t.Fatalf("beside the choice: %q; the API says %q", got, apiErr["message"])
	}
	b.shot("role-delete-refused")
	b.step("delete, moving the holder to member",
		chromedp.SetValue(chromedp.CSS("#reassign_role_name"), "member"),
		chromedp.Click(chromedp.CSS("#delete-role button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#org-roles-empty")))
	if got := b.text(".notice"); got != "Role billing deleted; its holders now hold member." {
		t.Fatalf("the notice: %q", got)
	}
	b.shot("role-deleted")
	if status, _ := rest("GET", "/api/v1/organizations/"+org+"/roles/billing", ""); status != 404 {
		t.Fatalf("the deleted role over REST: %d", status)
	}
	var roles []string
	for _, m := range must("GET", "/api/v1/users/"+john, "")["user"].(map[string]any)["memberships"].([]any) {
		for _, r := range m.(map[string]any)["roles"].([]any) {
			roles = append(roles, r.(map[string]any)["name"].(string))
		}
	}
	if strings.Join(roles, ",") != "member" {
		t.Fatalf("John's roles after the delete: %v", roles)
	}

	b.step("audit log", chromedp.Click(chromedp.CSS(`nav a[href="/dashboard/audit"]`)), chromedp.WaitVisible(chromedp.CSS("#audit")))
	log := strings.Join(strings.Fields(b.text("#audit tbody")), " ")
	for _, want := range []string{"organization-role.create " + org + "/billing", "organization-role.delete " + org + "/billing → member"} {
		if !strings.Contains(log, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, log)
		}
	}
	if strings.Count(log, "organization-role.delete") != 1 {
		t.Errorf("the refused delete is in the audit log:\n%s", log)
	}
	b.close()
	srv.stop(t)
}
