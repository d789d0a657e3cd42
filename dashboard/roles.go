package dashboard

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
)

// Roles and permissions (issue 14): the environment's roles (list, create, edit display
// name, description and permissions) and its permissions (list a page at a time, create),
// through the directory.Service calls of the RoleService and PermissionService API:
// CreateRole, UpdateRole, ListRoles, CreatePermission, ListPermissions.

func (h *Handler) registerRoles(m *http.ServeMux) {
	for _, p := range []string{"roles", "role"} {
		h.pages[p] = h.parsePage(p)
	}
	m.HandleFunc("GET "+Prefix+"/roles", h.session(h.roles))
	m.HandleFunc("POST "+Prefix+"/roles", h.session(h.createRole))
	m.HandleFunc("POST "+Prefix+"/permissions", h.session(h.createPermission))
	m.HandleFunc("GET "+Prefix+"/roles/{name}", h.session(h.role))
	m.HandleFunc("POST "+Prefix+"/roles/{name}", h.session(h.updateRole))
}

// rolePageSize is how many permissions a page of the roles screen lists.
const rolePageSize = 50

type roleForm struct {
	Name, DisplayName, Description, Permissions string
}

type permissionForm struct {
	Name, Description string
}

type rolesData struct {
	Roles       []roster.Role
	Permissions []roster.Permission
	NextPage    string
	Role        roleForm
	Permission  permissionForm
}

var roleInputs = []string{"name", "display_name", "description", "permissions"}

func (h *Handler) rolesPage(w http.ResponseWriter, r *http.Request, s request, status int, p page, rf roleForm, pf permissionForm) {
	roles, err := h.cfg.Directory.ListRoles(r.Context(), h.cfg.Environment, "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	perms, err := h.cfg.Directory.ListPermissions(r.Context(), h.cfg.Environment, directory.PageInput{PageSize: rolePageSize,
		PageToken: r.URL.Query().Get("permissions_page")})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := rolesData{Roles: roles, Permissions: perms.Items, Role: rf, Permission: pf}
	if perms.NextToken != "" {
		d.NextPage = Prefix + "/roles?" + url.Values{"permissions_page": {perms.NextToken}}.Encode()
	}
	p.Title, p.Nav, p.Operator, p.CSRF, p.Data = "Roles and permissions", "roles", &s.op, s.csrf, d
	h.render(w, status, "roles", p)
}

func (h *Handler) roles(w http.ResponseWriter, r *http.Request, s request) {
	notice := ""
	switch q := r.URL.Query(); q.Get("done") {
	case "role":
		notice = "Role " + q.Get("name") + " created."
	case "permission":
		notice = "Permission " + q.Get("name") + " created."
	}
	h.rolesPage(w, r, s, http.StatusOK, page{Notice: notice}, roleForm{}, permissionForm{})
}

// names splits a list of permission names written one per line, or separated by spaces or
// commas.
func names(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

func (h *Handler) createRole(w http.ResponseWriter, r *http.Request, s request) {
	f := roleForm{Name: strings.TrimSpace(r.PostFormValue("name")), DisplayName: r.PostFormValue("display_name"),
		Description: r.PostFormValue("description"), Permissions: r.PostFormValue("permissions")}
	role, err := h.cfg.Directory.CreateRole(r.Context(), h.cfg.Environment, "", roster.Role{Name: f.Name, DisplayName: f.DisplayName,
		Description: f.Description, Permissions: names(f.Permissions)})
	if err != nil {
		fields := fieldErrors(err, roleInputs...)
		if roster.ErrorCode(err) == roster.EConflict && len(fields) == 0 {
			fields = map[string]string{"name": roster.ErrorMessage(err)}
		}
		h.rolesPage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: fields}, f, permissionForm{})
		return
	}
	note(r, "role.create", role.Name)
	http.Redirect(w, r, Prefix+"/roles?"+url.Values{"done": {"role"}, "name": {role.Name}}.Encode(), http.StatusSeeOther)
}

func (h *Handler) createPermission(w http.ResponseWriter, r *http.Request, s request) {
	f := permissionForm{Name: strings.TrimSpace(r.PostFormValue("permission_name")), Description: r.PostFormValue("permission_description")}
	p, err := h.cfg.Directory.CreatePermission(r.Context(), h.cfg.Environment, roster.Permission{Name: f.Name, Description: f.Description})
	if err != nil {
		fields := map[string]string{}
		for k, v := range fieldErrors(err, "name", "description") {
			fields["permission_"+k] = v
		}
		if roster.ErrorCode(err) == roster.EConflict && len(fields) == 0 {
			fields["permission_name"] = roster.ErrorMessage(err)
		}
		h.rolesPage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: fields}, roleForm{}, f)
		return
	}
	note(r, "permission.create", p.Name)
	http.Redirect(w, r, Prefix+"/roles?"+url.Values{"done": {"permission"}, "name": {p.Name}}.Encode(), http.StatusSeeOther)
}

type roleData struct {
	Role roster.Role
	Form roleForm
}

func (h *Handler) role(w http.ResponseWriter, r *http.Request, s request) {
	role, err := h.cfg.Directory.GetRole(r.Context(), h.cfg.Environment, "", r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	notice := ""
	if r.URL.Query().Get("done") == "updated" {
		notice = "Role saved."
	}
	h.render(w, http.StatusOK, "role", page{Title: role.DisplayName, Nav: "roles", Operator: &s.op, CSRF: s.csrf, Notice: notice,
		Data: roleData{Role: role, Form: roleForm{Name: role.Name, DisplayName: role.DisplayName, Description: role.Description,
			Permissions: strings.Join(role.Permissions, "\n")}}})
}

// updateRole saves display name, description and permissions (directory.UpdateRole, as the
// API's UpdateRole; the permissions replace the role's).
func (h *Handler) updateRole(w http.ResponseWriter, r *http.Request, s request) {
	name := r.PathValue("name")
	f := roleForm{Name: name, DisplayName: r.PostFormValue("display_name"), Description: r.PostFormValue("description"),
		Permissions: r.PostFormValue("permissions")}
	perms := names(f.Permissions)
	if perms == nil {
		perms = []string{}
	}
	role, err := h.cfg.Directory.UpdateRole(r.Context(), h.cfg.Environment, "", name, directory.RolePatch{DisplayName: &f.DisplayName,
		Description: &f.Description, Permissions: perms})
	if err != nil {
		cur, gerr := h.cfg.Directory.GetRole(r.Context(), h.cfg.Environment, "", name)
		if gerr != nil {
			h.fail(w, r, err)
			return
		}
		h.render(w, statusOf(err), "role", page{Title: cur.DisplayName, Nav: "roles", Operator: &s.op, CSRF: s.csrf,
			Error: roster.ErrorMessage(err), Fields: fieldErrors(err, roleInputs...), Data: roleData{Role: cur, Form: f}})
		return
	}
	note(r, "role.update", role.Name)
	http.Redirect(w, r, Prefix+"/roles/"+url.PathEscape(role.Name)+"?done=updated", http.StatusSeeOther)
}
