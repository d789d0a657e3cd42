package dashboard

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
)

// Roles and permissions (issue 14): the environment's roles and an organization's own roles
// (list, create, edit display name, description and permissions, delete after a confirmation
// that offers to move the role's holders to another role), and the environment's permissions
// (list a page at a time, create, delete after a confirmation that names the roles listing
// it). Every read and write is the directory.Service call of the RolesService API (api/roles.go):
// CreateRole, GetRole, UpdateRole, ListRoles, DeleteRole, CountRoleMembers,
// DefaultMemberRole, CreatePermission, GetPermission, ListPermissions, DeletePermission; an
// organization's roles are the same calls with its ID, as /api/v1/organizations/{org}/roles.

func (h *Handler) registerRoles(m *http.ServeMux) {
	for _, p := range []string{"role", "role-delete", "permission-delete"} {
		h.pages[p] = h.parsePage(p)
	}
	for _, p := range []string{"roles", "organization-roles"} {
		h.pages[p] = h.parsePage(p, "role-create")
	}
	m.HandleFunc("GET "+Prefix+"/roles", h.session(h.roles))
	m.HandleFunc("POST "+Prefix+"/roles", h.session(h.createRole))
	m.HandleFunc("GET "+Prefix+"/roles/{name}", h.session(h.role))
	m.HandleFunc("POST "+Prefix+"/roles/{name}", h.session(h.updateRole))
	m.HandleFunc("GET "+Prefix+"/roles/{name}/delete", h.session(h.confirmDeleteRole))
	m.HandleFunc("POST "+Prefix+"/roles/{name}/delete", h.session(h.deleteRole))
	m.HandleFunc("POST "+Prefix+"/permissions", h.session(h.createPermission))
	// A permission's name may be "." or ".." (letters, digits, ':', '_', '-', '.'), which a
	// path segment cannot carry: it goes in the query (GET) or the form (POST).
	m.HandleFunc("GET "+Prefix+"/permissions/delete", h.session(h.confirmDeletePermission))
	m.HandleFunc("POST "+Prefix+"/permissions/delete", h.session(h.deletePermission))
	m.HandleFunc("GET "+Prefix+"/organizations/{id}/roles", h.session(h.orgRoles))
	m.HandleFunc("POST "+Prefix+"/organizations/{id}/roles", h.session(h.createRole))
	m.HandleFunc("GET "+Prefix+"/organizations/{id}/roles/{name}", h.session(h.role))
	m.HandleFunc("POST "+Prefix+"/organizations/{id}/roles/{name}", h.session(h.updateRole))
	m.HandleFunc("GET "+Prefix+"/organizations/{id}/roles/{name}/delete", h.session(h.confirmDeleteRole))
	m.HandleFunc("POST "+Prefix+"/organizations/{id}/roles/{name}/delete", h.session(h.deleteRole))
}

// rolePageSize is how many permissions a page of the roles screen lists.
const rolePageSize = 50

type roleForm struct {
	Name, DisplayName, Description, Permissions string
}

type permissionForm struct {
	Name, Description string
}

// roleScope is where the roles of a request live: the environment (Org nil: /dashboard/roles)
// or one organization (/dashboard/organizations/{id}/roles).
type roleScope struct {
	Org *roster.Organization
}

func (sc roleScope) orgID() string {
	if sc.Org == nil {
		return ""
	}
	return sc.Org.ID
}

// List is the path of the scope's roles screen.
func (sc roleScope) List() string {
	if sc.Org == nil {
		return Prefix + "/roles"
	}
	return Prefix + "/organizations/" + url.PathEscape(sc.Org.ID) + "/roles"
}

// Role is the path of one of the scope's roles.
func (sc roleScope) Role(name string) string { return sc.List() + "/" + url.PathEscape(name) }

// auditTarget names a role of the scope in the audit log.
func (sc roleScope) auditTarget(name string) string {
	if sc.Org == nil {
		return name
	}
	return sc.Org.ID + "/" + name
}

func (sc roleScope) action(what string) string {
	if sc.Org == nil {
		return "role." + what
	}
	return "organization-role." + what
}

// scope reads the organization of the request's path, if any: an organization that does not
// exist (in this environment) answers 404 before anything else is read.
func (h *Handler) scope(w http.ResponseWriter, r *http.Request) (roleScope, bool) {
	id := r.PathValue("id")
	if id == "" {
		return roleScope{}, true
	}
	o, err := h.cfg.Directory.GetOrganization(r.Context(), h.cfg.Environment, roster.OrganizationRef{ID: id})
	if err != nil {
		h.fail(w, r, err)
		return roleScope{}, false
	}
	return roleScope{Org: &o}, true
}

type rolesData struct {
	Scope       roleScope
	Roles       []roster.Role
	Default     string // the environment's default member role
	EnvRoles    []roster.Role
	Permissions []roster.Permission
	NextPage    string
	Role        roleForm
	Permission  permissionForm
}

var roleInputs = []string{"name", "display_name", "description", "permissions"}

// rolesPage renders the roles screen of a scope: the environment's (with its permissions) or
// an organization's own roles (with the environment's roles that also apply there).
func (h *Handler) rolesPage(w http.ResponseWriter, r *http.Request, s request, sc roleScope, status int, p page, rf roleForm, pf permissionForm) {
	ctx, env := r.Context(), h.cfg.Environment
	roles, err := h.cfg.Directory.ListRoles(ctx, env, sc.orgID())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := rolesData{Scope: sc, Roles: roles, Role: rf, Permission: pf}
	if d.Default, err = h.cfg.Directory.DefaultMemberRole(ctx, env); err != nil {
		h.fail(w, r, err)
		return
	}
	if sc.Org != nil {
		if d.EnvRoles, err = h.cfg.Directory.ListRoles(ctx, env, ""); err != nil {
			h.fail(w, r, err)
			return
		}
		p.Title, p.Nav, p.Operator, p.CSRF, p.Data = "Roles of "+sc.Org.DisplayName, "organizations", &s.op, s.csrf, d
		h.render(w, status, "organization-roles", p)
		return
	}
	token := ""
	if r.Method == http.MethodGet {
		token = r.URL.Query().Get("permissions_page")
	}
	perms, err := h.cfg.Directory.ListPermissions(ctx, env, directory.PageInput{PageSize: rolePageSize, PageToken: token})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.Permissions = perms.Items
	if perms.NextToken != "" {
		d.NextPage = Prefix + "/roles?" + url.Values{"permissions_page": {perms.NextToken}}.Encode()
	}
	p.Title, p.Nav, p.Operator, p.CSRF, p.Data = "Roles and permissions", "roles", &s.op, s.csrf, d
	h.render(w, status, "roles", p)
}

// rolesNotice is the notice of a roles screen after a change (?done=...&name=...).
func rolesNotice(q url.Values) string {
	switch q.Get("done") {
	case "role":
		return "Role " + q.Get("name") + " created."
	case "role-deleted":
		if to := q.Get("reassigned"); to != "" {
			return "Role " + q.Get("name") + " deleted; its holders now hold " + to + "."
		}
		return "Role " + q.Get("name") + " deleted."
	case "permission":
		return "Permission " + q.Get("name") + " created."
	case "permission-deleted":
		return "Permission " + q.Get("name") + " deleted, and taken from every role that listed it."
	}
	return ""
}

func (h *Handler) roles(w http.ResponseWriter, r *http.Request, s request) {
	h.rolesPage(w, r, s, roleScope{}, http.StatusOK, page{Notice: rolesNotice(r.URL.Query())}, roleForm{}, permissionForm{})
}

func (h *Handler) orgRoles(w http.ResponseWriter, r *http.Request, s request) {
	sc, ok := h.scope(w, r)
	if !ok {
		return
	}
	h.rolesPage(w, r, s, sc, http.StatusOK, page{Notice: rolesNotice(r.URL.Query())}, roleForm{}, permissionForm{})
}

// names splits a list of permission names written one per line, or separated by spaces or
// commas.
func names(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// createRole is the API's CreateRole, or CreateOrganizationRole under an organization.
func (h *Handler) createRole(w http.ResponseWriter, r *http.Request, s request) {
	sc, ok := h.scope(w, r)
	if !ok {
		return
	}
	f := roleForm{Name: strings.TrimSpace(r.PostFormValue("name")), DisplayName: r.PostFormValue("display_name"),
		Description: r.PostFormValue("description"), Permissions: r.PostFormValue("permissions")}
	role, err := h.cfg.Directory.CreateRole(r.Context(), h.cfg.Environment, sc.orgID(), roster.Role{Name: f.Name, DisplayName: f.DisplayName,
		Description: f.Description, Permissions: names(f.Permissions)})
	if err != nil {
		if roster.ErrorCode(err) == roster.ENotFound && sc.Org != nil && len(fieldErrors(err, roleInputs...)) == 0 {
			h.fail(w, r, err) // the organization went meanwhile
			return
		}
		fields := fieldErrors(err, roleInputs...)
		if roster.ErrorCode(err) == roster.EConflict && len(fields) == 0 {
			fields = map[string]string{"name": roster.ErrorMessage(err)}
		}
		h.rolesPage(w, r, s, sc, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: fields}, f, permissionForm{})
		return
	}
	note(r, sc.action("create"), sc.auditTarget(role.Name))
	http.Redirect(w, r, sc.List()+"?"+url.Values{"done": {"role"}, "name": {role.Name}}.Encode(), http.StatusSeeOther)
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
		h.rolesPage(w, r, s, roleScope{}, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: fields}, roleForm{}, f)
		return
	}
	note(r, "permission.create", p.Name)
	http.Redirect(w, r, Prefix+"/roles?"+url.Values{"done": {"permission"}, "name": {p.Name}}.Encode(), http.StatusSeeOther)
}

type roleData struct {
	Scope roleScope
	Role  roster.Role
	Form  roleForm
}

func (h *Handler) rolePage(w http.ResponseWriter, s request, sc roleScope, status int, p page, role roster.Role, f roleForm) {
	p.Title, p.Operator, p.CSRF, p.Data = role.DisplayName, &s.op, s.csrf, roleData{Scope: sc, Role: role, Form: f}
	p.Nav = "roles"
	if sc.Org != nil {
		p.Nav = "organizations"
	}
	h.render(w, status, "role", p)
}

func (h *Handler) role(w http.ResponseWriter, r *http.Request, s request) {
	sc, ok := h.scope(w, r)
	if !ok {
		return
	}
	role, err := h.cfg.Directory.GetRole(r.Context(), h.cfg.Environment, sc.orgID(), r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	notice := ""
	if r.URL.Query().Get("done") == "updated" {
		notice = "Role saved."
	}
	h.rolePage(w, s, sc, http.StatusOK, page{Notice: notice}, role, roleForm{Name: role.Name, DisplayName: role.DisplayName,
		Description: role.Description, Permissions: strings.Join(role.Permissions, "\n")})
}

// updateRole saves display name, description and permissions (directory.UpdateRole, as the
// API's UpdateRole and UpdateOrganizationRole; the permissions replace the role's).
func (h *Handler) updateRole(w http.ResponseWriter, r *http.Request, s request) {
	sc, ok := h.scope(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	f := roleForm{Name: name, DisplayName: r.PostFormValue("display_name"), Description: r.PostFormValue("description"),
		Permissions: r.PostFormValue("permissions")}
	perms := names(f.Permissions)
	if perms == nil {
		perms = []string{}
	}
	role, err := h.cfg.Directory.UpdateRole(r.Context(), h.cfg.Environment, sc.orgID(), name, directory.RolePatch{DisplayName: &f.DisplayName,
		Description: &f.Description, Permissions: perms})
	if err != nil {
		cur, gerr := h.cfg.Directory.GetRole(r.Context(), h.cfg.Environment, sc.orgID(), name)
		if gerr != nil {
			h.fail(w, r, err)
			return
		}
		h.rolePage(w, s, sc, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: fieldErrors(err, roleInputs...)}, cur, f)
		return
	}
	note(r, sc.action("update"), sc.auditTarget(role.Name))
	http.Redirect(w, r, sc.Role(role.Name)+"?done=updated", http.StatusSeeOther)
}

// Deletes.

// reassignChoice is a role a deleted role's holders may move to.
type reassignChoice struct {
	roster.Role
	Scope string // "organization" or "environment"
}

type roleDeleteData struct {
	Scope    roleScope
	Role     roster.Role
	Holders  int  // memberships holding the role
	Default  bool // the environment's default member role: the API refuses to delete it
	Choices  []reassignChoice
	Reassign string
}

// roleDeletePage renders the confirmation of a role's delete: how many memberships hold it,
// the API's rule (refused while held, unless reassign_role_name moves them), and the roles
// they may move to: in an organization, its own roles and the environment's that its own do
// not hide (the names DeleteRole resolves there); the role's own name resolves to itself.
func (h *Handler) roleDeletePage(w http.ResponseWriter, r *http.Request, s request, status int, p page, reassign string) {
	ctx, env := r.Context(), h.cfg.Environment
	sc, ok := h.scope(w, r)
	if !ok {
		return
	}
	role, err := h.cfg.Directory.GetRole(ctx, env, sc.orgID(), r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := roleDeleteData{Scope: sc, Role: role, Reassign: reassign}
	if d.Holders, err = h.cfg.Directory.CountRoleMembers(ctx, env, sc.orgID(), role.Name); err != nil {
		h.fail(w, r, err)
		return
	}
	def, err := h.cfg.Directory.DefaultMemberRole(ctx, env)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.Default = sc.Org == nil && role.Name == def
	taken := map[string]bool{role.Name: true}
	if sc.Org != nil {
		own, err := h.cfg.Directory.ListRoles(ctx, env, sc.Org.ID)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		for _, o := range own {
			if !taken[o.Name] {
				d.Choices = append(d.Choices, reassignChoice{Role: o, Scope: "organization"})
			}
			taken[o.Name] = true
		}
	}
	envRoles, err := h.cfg.Directory.ListRoles(ctx, env, "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, e := range envRoles {
		if !taken[e.Name] {
			d.Choices = append(d.Choices, reassignChoice{Role: e, Scope: "environment"})
		}
	}
	p.Title, p.Operator, p.CSRF, p.Data = "Delete role "+role.DisplayName, &s.op, s.csrf, d
	p.Nav = "roles"
	if sc.Org != nil {
		p.Nav = "organizations"
	}
	h.render(w, status, "role-delete", p)
}

func (h *Handler) confirmDeleteRole(w http.ResponseWriter, r *http.Request, s request) {
	h.roleDeletePage(w, r, s, http.StatusOK, page{}, "")
}

// deleteRole is the API's DeleteRole (DeleteOrganizationRole under an organization) with its
// reassign_role_name; the API's refusal (held, the default member role, an unknown role to
// move to) is shown beside the choice.
func (h *Handler) deleteRole(w http.ResponseWriter, r *http.Request, s request) {
	sc, ok := h.scope(w, r)
	if !ok {
		return
	}
	name, reassign := r.PathValue("name"), strings.TrimSpace(r.PostFormValue("reassign_role_name"))
	if err := h.cfg.Directory.DeleteRole(r.Context(), h.cfg.Environment, sc.orgID(), name, reassign); err != nil {
		fields := fieldErrors(err, "reassign_role_name")
		if len(fields) == 0 {
			if roster.ErrorCode(err) == roster.ENotFound || roster.ErrorCode(err) == roster.EInternal {
				h.fail(w, r, err)
				return
			}
			fields = map[string]string{"reassign_role_name": roster.ErrorMessage(err)}
		}
		h.roleDeletePage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: fields}, reassign)
		return
	}
	target := sc.auditTarget(name)
	if reassign != "" {
		target += " → " + reassign
	}
	note(r, sc.action("delete"), target)
	q := url.Values{"done": {"role-deleted"}, "name": {name}}
	if reassign != "" {
		q.Set("reassigned", reassign)
	}
	http.Redirect(w, r, sc.List()+"?"+q.Encode(), http.StatusSeeOther)
}

type permissionDeleteData struct {
	Permission roster.Permission
	Roles      []roster.Role // the environment's roles that list it
}

// confirmDeletePermission names what the API's DeletePermission does: the permission goes,
// and with it every role's grant of it (the environment's roles that list it are named; an
// organization's roles lose it too); the roles and their holders stay.
func (h *Handler) confirmDeletePermission(w http.ResponseWriter, r *http.Request, s request) {
	h.permissionDeletePage(w, r, s, http.StatusOK, page{}, r.URL.Query().Get("name"))
}

func (h *Handler) permissionDeletePage(w http.ResponseWriter, r *http.Request, s request, status int, p page, name string) {
	ctx, env := r.Context(), h.cfg.Environment
	perm, err := h.cfg.Directory.GetPermission(ctx, env, name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := permissionDeleteData{Permission: perm}
	roles, err := h.cfg.Directory.ListRoles(ctx, env, "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, rl := range roles {
		if slices.Contains(rl.Permissions, perm.Name) {
			d.Roles = append(d.Roles, rl)
		}
	}
	p.Title, p.Nav, p.Operator, p.CSRF, p.Data = "Delete permission "+perm.Name, "roles", &s.op, s.csrf, d
	h.render(w, status, "permission-delete", p)
}

// deletePermission is the API's DeletePermission.
func (h *Handler) deletePermission(w http.ResponseWriter, r *http.Request, s request) {
	name := r.PostFormValue("name")
	if err := h.cfg.Directory.DeletePermission(r.Context(), h.cfg.Environment, name); err != nil {
		h.fail(w, r, err)
		return
	}
	note(r, "permission.delete", name)
	http.Redirect(w, r, Prefix+"/roles?"+url.Values{"done": {"permission-deleted"}, "name": {name}}.Encode(), http.StatusSeeOther)
}
