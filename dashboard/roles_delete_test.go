package dashboard_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
)

// memberWithRoles adds a user to an organization holding the given roles (names resolved in
// the organization, as the API does).
func memberWithRoles(t *testing.T, c *console, orgID, email string, roles ...string) roster.User {
	t.Helper()
	no := false
	u, err := c.dir.CreateUserAndMembership(context.Background(), c.env, orgID, roster.NewUser{Email: email},
		directory.NewMembership{MembershipInput: roster.MembershipInput{Roles: roles}, SendInvitation: &no})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// membershipRoles are the names of the roles a user holds in an organization.
func membershipRoles(t *testing.T, c *console, userID, orgID string) []string {
	t.Helper()
	u, err := c.dir.GetUser(context.Background(), c.env, roster.UserRef{ID: userID})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range u.Memberships {
		if m.OrganizationID == orgID {
			for _, r := range m.Roles {
				out = append(out, r.Name)
			}
		}
	}
	return out
}

// An organization's own roles: list, create, edit, delete (refused while held, then with the
// holders moved), each POST refused without the CSRF token with nothing written, and another
// organization's role not found under this one.
func TestOrganizationRolesScreen(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *console) {
		ctx := context.Background()
		b := c.browser(t)
		b.signIn()
		acme, err := c.dir.CreateOrganization(ctx, c.env, roster.NewOrganization{DisplayName: "Acme"})
		if err != nil {
			t.Fatal(err)
		}
		globex, err := c.dir.CreateOrganization(ctx, c.env, roster.NewOrganization{DisplayName: "Globex"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.dir.CreatePermission(ctx, c.env, roster.Permission{Name: "invoices:read"}); err != nil {
			t.Fatal(err)
		}
		rolesPath := "/dashboard/organizations/" + acme.ID + "/roles"
		wantBody(t, "the organization's page", b.get("/dashboard/organizations/"+acme.ID), `<a href="`+rolesPath+`" id="org-roles-link">`)
		res := b.get(rolesPath)
		wantStatus(t, "org roles", res, 200)
		wantBody(t, "org roles", res, `id="org-roles-empty"`, `<code>admin</code>`, `<code>member</code>`, "default member role")
		wantStatus(t, "an unknown organization's roles", b.get("/dashboard/organizations/org_nosuch/roles"), 404)
		tok := b.csrf(rolesPath)

		// Create: CSRF, the API's messages beside the fields, then created in the organization.
		wantStatus(t, "create without CSRF", b.post(rolesPath, url.Values{"name": {"billing"}}), 403)
		wantStatus(t, "create with a forged CSRF", b.post(rolesPath, url.Values{"csrf": {"forged"}, "name": {"billing"}}), 403)
		if _, err := c.dir.GetRole(ctx, c.env, acme.ID, "billing"); roster.ErrorCode(err) != roster.ENotFound {
			t.Fatalf("a refused POST created the role: %v", err)
		}
		res = b.post(rolesPath, url.Values{"csrf": {tok}, "name": {"billing admin"}})
		wantStatus(t, "a bad name", res, 400)
		_, apiErr := c.dir.CreateRole(ctx, c.env, acme.ID, roster.Role{Name: "billing admin"})
		_, desc := violation(t, apiErr)
		wantBody(t, "a bad name", res, fieldError("name", desc))
		res = b.post(rolesPath, url.Values{"csrf": {tok}, "name": {"billing"}, "permissions": {"no:such"}})
		wantStatus(t, "an unknown permission", res, 400)
		_, apiErr = c.dir.CreateRole(ctx, c.env, acme.ID, roster.Role{Name: "billing", Permissions: []string{"no:such"}})
		_, desc = violation(t, apiErr)
		wantBody(t, "an unknown permission", res, fieldError("permissions", desc))
		wantRedirect(t, "create", b.post(rolesPath, url.Values{"csrf": {tok}, "name": {"billing"}, "display_name": {"Billing"},
			"description": {"Pays"}, "permissions": {"invoices:read"}}), rolesPath+"?done=role&name=billing")
		r, err := c.dir.GetRole(ctx, c.env, acme.ID, "billing")
		if err != nil || r.OrganizationID != acme.ID || r.DisplayName != "Billing" || strings.Join(r.Permissions, ",") != "invoices:read" {
			t.Fatalf("the organization's role: %+v, %v", r, err)
		}
		if _, err := c.dir.GetRole(ctx, c.env, "", "billing"); roster.ErrorCode(err) != roster.ENotFound {
			t.Fatalf("the role is an environment role too: %v", err)
		}
		res = b.get(rolesPath + "?done=role&name=billing")
		wantBody(t, "org roles", res, "Role billing created.", `<a href="`+rolesPath+`/billing">Billing</a>`, `href="`+rolesPath+`/billing/delete"`)
		res = b.post(rolesPath, url.Values{"csrf": {tok}, "name": {"billing"}})
		_, apiErr = c.dir.CreateRole(ctx, c.env, acme.ID, roster.Role{Name: "billing"})
		wantStatus(t, "a taken name", res, restStatus(t, apiErr))
		_, desc = violation(t, apiErr)
		wantBeside(t, res.body, "name", desc)
		// The same name is free in another organization and in the environment's list.
		if l, _ := c.dir.ListRoles(ctx, c.env, globex.ID); len(l) != 0 {
			t.Fatalf("Globex has roles: %+v", l)
		}

		// Edit.
		rolePath := rolesPath + "/billing"
		res = b.get(rolePath)
		wantStatus(t, "the role's page", res, 200)
		wantBody(t, "the role's page", res, `id="role-scope">the organization <a href="/dashboard/organizations/`+acme.ID+`">Acme</a> only`,
			`action="`+rolePath+`"`, `href="`+rolePath+`/delete"`)
		res = b.post(rolePath, url.Values{"csrf": {tok}, "display_name": {strings.Repeat("x", 101)}})
		wantStatus(t, "a long display name", res, 400)
		wantBeside(t, res.body, "display_name", "must be at most 100 characters")
		wantStatus(t, "edit without CSRF", b.post(rolePath, url.Values{"display_name": {"Changed"}}), 403)
		wantRedirect(t, "edit", b.post(rolePath, url.Values{"csrf": {tok}, "display_name": {"Billing team"}, "description": {"Pays bills"},
			"permissions": {""}}), rolePath+"?done=updated")
		if r, err := c.dir.GetRole(ctx, c.env, acme.ID, "billing"); err != nil || r.DisplayName != "Billing team" || r.Description != "Pays bills" || len(r.Permissions) != 0 {
			t.Fatalf("after edit: %+v, %v", r, err)
		}

		// Another organization's role, and the environment's path: not found, nothing written.
		globexRole := "/dashboard/organizations/" + globex.ID + "/roles/billing"
		wantStatus(t, "the role under another organization", b.get(globexRole), 404)
		wantStatus(t, "its delete page under another organization", b.get(globexRole+"/delete"), 404)
		wantStatus(t, "edit under another organization", b.post(globexRole, url.Values{"csrf": {tok}, "display_name": {"Hijacked"}}), 404)
		wantStatus(t, "delete under another organization", b.post(globexRole+"/delete", url.Values{"csrf": {tok}}), 404)
		wantStatus(t, "as an environment role", b.get("/dashboard/roles/billing"), 404)
		wantStatus(t, "delete as an environment role", b.post("/dashboard/roles/billing/delete", url.Values{"csrf": {tok}}), 404)
		if r, err := c.dir.GetRole(ctx, c.env, acme.ID, "billing"); err != nil || r.DisplayName != "Billing team" {
			t.Fatalf("after the other organization's POSTs: %+v, %v", r, err)
		}

		// Delete, held by a member: refused with the API's message beside the choice; then
		// with the holders moved to the environment's member role.
		u := memberWithRoles(t, c, acme.ID, "wile@acme.example", "billing")
		res = b.get(rolePath + "/delete")
		wantStatus(t, "the delete page", res, 200)
		wantBody(t, "the delete page", res, `<p id="holders">1 membership holds it.</p>`, `<option value="admin">Admin (admin), environment role</option>`,
			`<option value="member">`, `action="`+rolePath+`/delete"`)
		if strings.Contains(res.body, `<option value="billing"`) {
			t.Fatal("the role is offered as where its holders go")
		}
		apiErr = c.dir.DeleteRole(ctx, c.env, acme.ID, "billing", "")
		res = b.post(rolePath+"/delete", url.Values{"csrf": {tok}})
		wantStatus(t, "delete a held role", res, restStatus(t, apiErr))
		wantBeside(t, res.body, "reassign_role_name", roster.ErrorMessage(apiErr))
		wantPageError(t, res.body, roster.ErrorMessage(apiErr))
		wantStatus(t, "delete without CSRF", b.post(rolePath+"/delete", url.Values{"reassign_role_name": {"member"}}), 403)
		res = b.post(rolePath+"/delete", url.Values{"csrf": {tok}, "reassign_role_name": {"no_such_role"}})
		apiErr = c.dir.DeleteRole(ctx, c.env, acme.ID, "billing", "no_such_role")
		_, desc = violation(t, apiErr)
		wantStatus(t, "an unknown role to move to", res, 400)
		wantBeside(t, res.body, "reassign_role_name", desc)
		if _, err := c.dir.GetRole(ctx, c.env, acme.ID, "billing"); err != nil {
			t.Fatalf("a refused delete deleted the role: %v", err)
		}
		if got := membershipRoles(t, c, u.ID, acme.ID); strings.Join(got, ",") != "billing" {
			t.Fatalf("the member's roles after refused deletes: %v", got)
		}
		wantRedirect(t, "delete with reassign", b.post(rolePath+"/delete", url.Values{"csrf": {tok}, "reassign_role_name": {"member"}}),
			rolesPath+"?done=role-deleted&name=billing&reassigned=member")
		if _, err := c.dir.GetRole(ctx, c.env, acme.ID, "billing"); roster.ErrorCode(err) != roster.ENotFound {
			t.Fatalf("the role after delete: %v", err)
		}
		if got := membershipRoles(t, c, u.ID, acme.ID); strings.Join(got, ",") != "member" {
			t.Fatalf("the member's roles after the delete: %v", got)
		}
		wantBody(t, "deleted", b.get(rolesPath+"?done=role-deleted&name=billing&reassigned=member"), "Role billing deleted; its holders now hold member.", `id="org-roles-empty"`)

		// A role nobody holds goes without a choice.
		if _, err := c.dir.CreateRole(ctx, c.env, acme.ID, roster.Role{Name: "temp"}); err != nil {
			t.Fatal(err)
		}
		wantRedirect(t, "delete an unheld role", b.post(rolesPath+"/temp/delete", url.Values{"csrf": {tok}, "reassign_role_name": {""}}),
			rolesPath+"?done=role-deleted&name=temp")
		wantStatus(t, "a deleted role's page", b.get(rolesPath+"/temp"), 404)

		entries, text := auditText(t, c)
		for _, a := range [][2]string{{"organization-role.create", acme.ID + "/billing"}, {"organization-role.update", acme.ID + "/billing"},
			{"organization-role.delete", acme.ID + "/billing → member"}, {"organization-role.delete", acme.ID + "/temp"}} {
			if !hasEntry(entries, a[0], a[1]) {
				t.Errorf("no audit entry %s %s in:\n%s", a[0], a[1], text)
			}
		}
		if n := strings.Count(text, "organization-role.delete"); n != 2 {
			t.Errorf("%d organization-role.delete entries, want 2 (refused deletes are not recorded)", n)
		}
	})
}

// Deleting an environment role: the holders count, the API's refusal while held (400, as the
// REST API answers FAILED_PRECONDITION), the default member role, moving the holders.
func TestDeleteEnvironmentRole(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *console) {
		ctx := context.Background()
		b := c.browser(t)
		b.signIn()
		acme, err := c.dir.CreateOrganization(ctx, c.env, roster.NewOrganization{DisplayName: "Acme"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.dir.CreateRole(ctx, c.env, "", roster.Role{Name: "auditor", DisplayName: "Auditor"}); err != nil {
			t.Fatal(err)
		}
		u := memberWithRoles(t, c, acme.ID, "wile@acme.example", "auditor")
		memberWithRoles(t, c, acme.ID, "road@acme.example", "auditor", "admin")
		res := b.get("/dashboard/roles")
		wantBody(t, "roles", res, `href="/dashboard/roles/auditor/delete"`, `<code>member</code> <span class="help">(default member role)</span>`)
		tok := b.csrf("/dashboard/roles")

		res = b.get("/dashboard/roles/auditor/delete")
		wantStatus(t, "the delete page", res, 200)
		wantBody(t, "the delete page", res, `<p id="holders">2 memberships hold it.</p>`, `id="delete-role"`, `<option value="admin">`)
		apiErr := c.dir.DeleteRole(ctx, c.env, "", "auditor", "")
		if roster.ErrorCode(apiErr) != roster.EFailedPrecondition {
			t.Fatalf("the API's delete of a held role: %v", apiErr)
		}
		res = b.post("/dashboard/roles/auditor/delete", url.Values{"csrf": {tok}})
		wantStatus(t, "a held role", res, 400)
		wantBeside(t, res.body, "reassign_role_name", roster.ErrorMessage(apiErr))
		wantStatus(t, "delete without CSRF", b.post("/dashboard/roles/auditor/delete", url.Values{"reassign_role_name": {"admin"}}), 403)
		res = b.post("/dashboard/roles/auditor/delete", url.Values{"csrf": {tok}, "reassign_role_name": {"auditor"}})
		wantStatus(t, "moved to itself", res, 400)
		wantBeside(t, res.body, "reassign_role_name", roster.ErrorMessage(c.dir.DeleteRole(ctx, c.env, "", "auditor", "auditor")))
		if n, err := c.dir.CountRoleMembers(ctx, c.env, "", "auditor"); err != nil || n != 2 {
			t.Fatalf("after refused deletes: %d holders, %v", n, err)
		}
		wantRedirect(t, "delete with reassign", b.post("/dashboard/roles/auditor/delete", url.Values{"csrf": {tok}, "reassign_role_name": {"admin"}}),
			"/dashboard/roles?done=role-deleted&name=auditor&reassigned=admin")
		if _, err := c.dir.GetRole(ctx, c.env, "", "auditor"); roster.ErrorCode(err) != roster.ENotFound {
			t.Fatalf("the role after delete: %v", err)
		}
		if got := membershipRoles(t, c, u.ID, acme.ID); strings.Join(got, ",") != "admin" {
			t.Fatalf("the member's roles: %v", got)
		}
		if n, _ := c.dir.CountRoleMembers(ctx, c.env, "", "admin"); n != 2 {
			t.Fatalf("admin holders %d, want 2 (one already held it)", n)
		}

		// The default member role: the page says so and offers no delete; a POST is the API's
		// refusal.
		res = b.get("/dashboard/roles/member/delete")
		wantBody(t, "the default role", res, `id="default-role"`)
		if strings.Contains(res.body, `id="delete-role"`) {
			t.Fatal("the default member role's page offers the delete")
		}
		apiErr = c.dir.DeleteRole(ctx, c.env, "", "member", "")
		res = b.post("/dashboard/roles/member/delete", url.Values{"csrf": {tok}})
		wantStatus(t, "delete the default role", res, restStatus(t, apiErr))
		wantPageError(t, res.body, roster.ErrorMessage(apiErr))
		if _, err := c.dir.GetRole(ctx, c.env, "", "member"); err != nil {
			t.Fatal(err)
		}

		wantStatus(t, "an unknown role's delete page", b.get("/dashboard/roles/nosuch/delete"), 404)
		wantStatus(t, "delete an unknown role", b.post("/dashboard/roles/nosuch/delete", url.Values{"csrf": {tok}}), 404)
		entries, text := auditText(t, c)
		if !hasEntry(entries, "role.delete", "auditor → admin") || strings.Count(text, "role.delete") != 1 {
			t.Fatalf("audit:\n%s", text)
		}
	})
}

// Deleting a permission: the confirmation names the roles that list it; the delete takes it
// from every role, the environment's and an organization's.
func TestDeletePermission(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *console) {
		ctx := context.Background()
		b := c.browser(t)
		b.signIn()
		acme, err := c.dir.CreateOrganization(ctx, c.env, roster.NewOrganization{DisplayName: "Acme"})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"invoices:read", "invoices:write", ".."} {
			if _, err := c.dir.CreatePermission(ctx, c.env, roster.Permission{Name: p}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.dir.CreateRole(ctx, c.env, "", roster.Role{Name: "billing", DisplayName: "Billing", Permissions: []string{"invoices:read", "invoices:write"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.dir.CreateRole(ctx, c.env, acme.ID, roster.Role{Name: "clerk", Permissions: []string{"invoices:read"}}); err != nil {
			t.Fatal(err)
		}
		res := b.get("/dashboard/roles")
		wantBody(t, "roles", res, `href="/dashboard/permissions/delete?name=invoices%3aread"`)
		tok := b.csrf("/dashboard/roles")

		res = b.get("/dashboard/permissions/delete?name=invoices:read")
		wantStatus(t, "the delete page", res, 200)
		wantBody(t, "the delete page", res, `<a href="/dashboard/roles/billing">Billing</a> (<code>billing</code>)`, `name="name" value="invoices:read"`,
			"from every role that lists it")
		wantBody(t, "a permission no role lists", b.get("/dashboard/permissions/delete?name=.."), `id="permission-roles-none"`)

		for _, f := range []url.Values{{"name": {"invoices:read"}}, {"csrf": {"forged"}, "name": {"invoices:read"}}} {
			wantStatus(t, "delete without CSRF", b.post("/dashboard/permissions/delete", f), 403)
		}
		if _, err := c.dir.GetPermission(ctx, c.env, "invoices:read"); err != nil {
			t.Fatalf("a refused POST deleted the permission: %v", err)
		}
		wantRedirect(t, "delete", b.post("/dashboard/permissions/delete", url.Values{"csrf": {tok}, "name": {"invoices:read"}}),
			"/dashboard/roles?done=permission-deleted&name=invoices%3Aread")
		if _, err := c.dir.GetPermission(ctx, c.env, "invoices:read"); roster.ErrorCode(err) != roster.ENotFound {
			t.Fatalf("after delete: %v", err)
		}
		if r, _ := c.dir.GetRole(ctx, c.env, "", "billing"); strings.Join(r.Permissions, ",") != "invoices:write" {
			t.Fatalf("the environment role keeps %v", r.Permissions)
		}
		if r, _ := c.dir.GetRole(ctx, c.env, acme.ID, "clerk"); len(r.Permissions) != 0 {
			t.Fatalf("the organization's role keeps %v", r.Permissions)
		}
		// A name a path could not carry.
		wantRedirect(t, "delete ..", b.post("/dashboard/permissions/delete", url.Values{"csrf": {tok}, "name": {".."}}),
			"/dashboard/roles?done=permission-deleted&name=..")
		wantStatus(t, "an unknown permission's page", b.get("/dashboard/permissions/delete?name=invoices:read"), 404)
		wantStatus(t, "delete an unknown permission", b.post("/dashboard/permissions/delete", url.Values{"csrf": {tok}, "name": {"invoices:read"}}), 404)
		entries, text := auditText(t, c)
		if !hasEntry(entries, "permission.delete", "invoices:read") || !hasEntry(entries, "permission.delete", "..") || strings.Count(text, "permission.delete") != 2 {
			t.Fatalf("audit:\n%s", text)
		}
	})
}
