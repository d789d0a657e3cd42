package dashboard_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

func TestRolesScreen(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *console) {
		ctx := context.Background()
		b := c.browser(t)
		b.signIn()
		res := b.get("/dashboard/roles")
		wantStatus(t, "roles", res, 200)
		for _, s := range []string{`<code>admin</code>`, `<code>member</code>`, `id="permissions-empty"`} {
			if !strings.Contains(res.body, s) {
				t.Fatalf("roles page lacks %s:\n%s", s, res.body)
			}
		}
		tok := b.csrf("/dashboard/roles")

		// Permissions.
		wantRedirect(t, "create permission", b.post("/dashboard/permissions", url.Values{"csrf": {tok}, "permission_name": {"invoices:read"},
			"permission_description": {"Read invoices"}}), "/dashboard/roles?done=permission&name=invoices%3Aread")
		wantStatus(t, "permission without CSRF", b.post("/dashboard/permissions", url.Values{"permission_name": {"invoices:write"}}), 403)
		if _, err := c.dir.GetPermission(ctx, c.env, "invoices:write"); roster.ErrorCode(err) != roster.ENotFound {
			t.Fatalf("a refused POST created the permission: %v", err)
		}
		res = b.post("/dashboard/permissions", url.Values{"csrf": {tok}, "permission_name": {"bad name"}})
		wantStatus(t, "bad permission name", res, 400)
		_, apiErr := c.dir.CreatePermission(ctx, c.env, roster.Permission{Name: "bad name"})
		if got := shownFieldError(res.body, "permission_name"); got == "" || !strings.Contains(template(roster.ErrorMessage(apiErr)), got) {
			t.Fatalf("permission_name error %q, API says %q", got, roster.ErrorMessage(apiErr))
		}

		// Create a role: the API's message beside the name.
		res = b.post("/dashboard/roles", url.Values{"csrf": {tok}, "name": {"billing admin"}})
		wantStatus(t, "bad role name", res, 400)
		if got := shownFieldError(res.body, "name"); got != template("must be 1 to 64 letters, digits or '_'") {
			t.Fatalf("name error %q\n%s", got, res.body)
		}
		wantStatus(t, "create role without CSRF", b.post("/dashboard/roles", url.Values{"name": {"billing_admin"}}), 403)
		if _, err := c.dir.GetRole(ctx, c.env, "", "billing_admin"); roster.ErrorCode(err) != roster.ENotFound {
			t.Fatalf("a refused POST created the role: %v", err)
		}
		wantRedirect(t, "create role", b.post("/dashboard/roles", url.Values{"csrf": {tok}, "name": {"billing_admin"},
			"display_name": {"Billing admin"}, "description": {"Runs billing"}, "permissions": {"invoices:read"}}),
			"/dashboard/roles?done=role&name=billing_admin")
		r, err := c.dir.GetRole(ctx, c.env, "", "billing_admin")
		if err != nil || r.DisplayName != "Billing admin" || r.Description != "Runs billing" || strings.Join(r.Permissions, ",") != "invoices:read" {
			t.Fatalf("role %+v, %v", r, err)
		}
		res = b.post("/dashboard/roles", url.Values{"csrf": {tok}, "name": {"billing_admin"}})
		if res.status != 409 || shownFieldError(res.body, "name") == "" {
			t.Fatalf("duplicate role: %d, name error %q", res.status, shownFieldError(res.body, "name"))
		}

		// Edit: the API's limits, then saved.
		wantStatus(t, "role page", b.get("/dashboard/roles/billing_admin"), 200)
		res = b.post("/dashboard/roles/billing_admin", url.Values{"csrf": {tok}, "display_name": {strings.Repeat("x", 101)}})
		wantStatus(t, "long display name", res, 400)
		if got := shownFieldError(res.body, "display_name"); got != "must be at most 100 characters" {
			t.Fatalf("display_name error %q", got)
		}
		wantStatus(t, "edit without CSRF", b.post("/dashboard/roles/billing_admin", url.Values{"display_name": {"Changed"}}), 403)
		wantRedirect(t, "edit role", b.post("/dashboard/roles/billing_admin", url.Values{"csrf": {tok}, "display_name": {"Billing"},
			"description": {""}, "permissions": {""}}), "/dashboard/roles/billing_admin?done=updated")
		if r, err := c.dir.GetRole(ctx, c.env, "", "billing_admin"); err != nil || r.DisplayName != "Billing" || r.Description != "" || len(r.Permissions) != 0 {
			t.Fatalf("role after edit %+v, %v", r, err)
		}

		entries, text := auditText(t, c)
		for _, a := range [][2]string{{"permission.create", "invoices:read"}, {"role.create", "billing_admin"}, {"role.update", "billing_admin"}} {
			if !hasEntry(entries, a[0], a[1]) {
				t.Errorf("no audit entry %s %s in:\n%s", a[0], a[1], text)
			}
		}
		if n := strings.Count(text, "role.update"); n != 1 {
			t.Errorf("%d role.update entries, want 1 (failed and refused edits are not recorded)", n)
		}
	})
}

// TestAuditLog checks the generic recording (a screen that names nothing is recorded by its
// route), sign-out, and the audit page's paging.
func TestAuditLog(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *console) {
		ctx := context.Background()
		b := c.browser(t)
		b.signIn()
		tok := b.csrf("/dashboard/attributes")
		wantStatus(t, "add attribute", b.post("/dashboard/attributes", url.Values{"csrf": {tok}, "key": {"employee_id"},
			"display_name": {"Employee Number"}, "type": {"string"}}), 303)
		wantStatus(t, "delete attribute", b.post("/dashboard/attributes/employee_id/delete", url.Values{"csrf": {tok}}), 303)
		wantStatus(t, "sign out", b.post("/dashboard/sign-out", url.Values{"csrf": {tok}}), 303)
		entries, text := auditText(t, c)
		for _, a := range [][2]string{{"attribute.create", "employee_id"}, {"attribute.delete", "employee_id"}, {"sign-out", ""}} {
			if !hasEntry(entries, a[0], a[1]) {
				t.Errorf("no audit entry %s %s in:\n%s", a[0], a[1], text)
			}
		}
		if strings.Contains(text, adaPassword) {
			t.Fatal("the audit log holds the password")
		}
		// A password typed into the email box is not recorded either.
		fresh := c.browser(t)
		stok := fresh.csrf("/dashboard/sign-in")
		wantStatus(t, "password as email", fresh.post("/dashboard/sign-in", url.Values{"csrf": {stok}, "email": {adaPassword}, "password": {"x"}}), 401)
		if entries, text := auditText(t, c); strings.Contains(text, adaPassword) || !hasEntry(entries, "sign-in.failure", "") {
			t.Fatalf("a failed sign-in with the password as email:\n%s", text)
		}

		// Paging: 50 a page, newest first, then older.
		for i := 0; i < 60; i++ {
			if err := c.ops.Record(ctx, roster.OperatorAuditEntry{Email: adaEmail, Action: "test.action", Target: fmt.Sprintf("n%02d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		b.signIn()
		res := b.get("/dashboard/audit")
		wantStatus(t, "audit page", res, 200)
		rows := strings.Count(res.body, "<tr>\n  <td>")
		if rows != 50 || !strings.Contains(res.body, `id="older"`) {
			t.Fatalf("first page: %d rows, older link %v", rows, strings.Contains(res.body, `id="older"`))
		}
		if strings.Index(res.body, "n59") < 0 || strings.Contains(res.body, "n00") {
			t.Fatal("the first page is not the newest entries")
		}
		older := regexpOlder.FindStringSubmatch(res.body)
		if older == nil {
			t.Fatal("no older link")
		}
		res = b.get(strings.ReplaceAll(older[1], "&amp;", "&"))
		wantStatus(t, "older page", res, 200)
		if !strings.Contains(res.body, "n00") || strings.Contains(res.body, "n59") || strings.Contains(res.body, `id="older"`) {
			t.Fatalf("older page is wrong:\n%s", res.body)
		}
		wantStatus(t, "forged page token", b.get("/dashboard/audit?page=zzz"), 400)
	})
}

var regexpOlder = regexp.MustCompile(`href="([^"]+)" id="older"`)
