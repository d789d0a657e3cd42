package dashboard

import (
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/store"
)

// The SCIM directory screens (issue 14): an organization's directory with its SCIM endpoint,
// enabled state, bearer token (generated or regenerated, shown once), attribute mapping,
// group-to-role assignments, and the users and groups its identity provider provisioned; and
// Add Directory on the organization's page. Every read and write is the directory.Service call
// the DirectoryService handlers in api/directories.go make, so rules and messages are the
// API's. The latest provisioning requests are the directory's record of its SCIM endpoint's
// authenticated requests (directory.ListSCIMRequests; scimdir records them).

// mappingBlankRows is how many empty rows the attribute mapping form offers for new pairs.
const mappingBlankRows = 3

func (h *Handler) registerDirectories(m *http.ServeMux) {
	h.pages["directory"] = h.parsePage("directory")
	m.HandleFunc("POST "+Prefix+"/organizations/{id}/directories", h.session(h.createDirectory))
	m.HandleFunc("GET "+Prefix+"/organizations/{id}/directories/{dir}", h.session(h.directory))
	m.HandleFunc("POST "+Prefix+"/organizations/{id}/directories/{dir}/enabled", h.session(h.setDirectoryEnabled))
	m.HandleFunc("POST "+Prefix+"/organizations/{id}/directories/{dir}/secret", h.session(h.directorySecret))
	m.HandleFunc("POST "+Prefix+"/organizations/{id}/directories/{dir}/mapping", h.session(h.setDirectoryMapping))
	m.HandleFunc("POST "+Prefix+"/organizations/{id}/directories/{dir}/roles", h.session(h.setDirectoryRole))
}

type mappingRow struct {
	Key, MapTo string
	Index      int
}

type roleRow struct {
	roster.DirectoryRoleAssignment
	GroupName string
}

type directoryData struct {
	Org        roster.Organization
	Dir        directory.DirectoryDetail
	Endpoint   string
	Secret     *roster.DirectorySecret // the active one, if any
	NewToken   string                  // only in the answer to generate / regenerate
	Mapping    []mappingRow
	Mappable   []string // the profile fields a mapping key may name
	Custom     []string // the environment's custom attribute keys
	Roles      []roster.Role
	Assigned   []roleRow
	Users      directory.List[roster.DirectoryUser]
	UserGroups map[string][]roster.DirectoryGroup
	UsersNext  string
	UsersPrev  string
	Groups     directory.List[roster.DirectoryGroup]
	GroupsNext string
	GroupsPrev string
	Requests   []store.SCIMRequest // the latest, newest first
	Kept       int
}

func dirPath(orgID, dirID string) string {
	return Prefix + "/organizations/" + url.PathEscape(orgID) + "/directories/" + url.PathEscape(dirID)
}

var dirNotices = map[string]string{
	"created":  "Directory created. Generate its bearer token and give it, with the endpoint URL, to the identity provider.",
	"enabled":  "Directory enabled: its SCIM endpoint answers again.",
	"disabled": "Directory disabled: its SCIM endpoint answers 401 and writes nothing; its data stays.",
	"mapping":  "Attribute mapping saved.",
	"roles":    "Group roles saved; the group's members' roles follow.",
}

// directoryPage renders a directory's page; d carries a failed form's values or the new token
// (nil: the stored values).
func (h *Handler) directoryPage(w http.ResponseWriter, r *http.Request, s request, status int, p page, d *directoryData) {
	ctx, env := r.Context(), h.cfg.Environment
	orgID, dirID := r.PathValue("id"), r.PathValue("dir")
	o, err := h.cfg.Directory.GetOrganization(ctx, env, roster.OrganizationRef{ID: orgID})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	dd, err := h.cfg.Directory.GetDirectory(ctx, env, orgID, dirID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if d == nil {
		d = &directoryData{}
	}
	d.Org, d.Dir = o, dd
	d.Endpoint = directory.SCIMEndpoint(h.issuer(r), dd.ID)
	for i := range dd.Secrets {
		if dd.Secrets[i].Active {
			d.Secret = &dd.Secrets[i]
		}
	}
	if d.Mapping == nil {
		for i, m := range dd.Mappings {
			d.Mapping = append(d.Mapping, mappingRow{Key: m.Key, MapTo: m.MapTo, Index: i})
		}
		for i := range mappingBlankRows {
			d.Mapping = append(d.Mapping, mappingRow{Index: len(dd.Mappings) + i})
		}
	}
	for _, f := range roster.StandardFields {
		if f != roster.FieldGroups && f != roster.FieldEmailVerified { // the API refuses these as keys
			d.Mappable = append(d.Mappable, f)
		}
	}
	attrs, err := h.cfg.Directory.ListAttributes(ctx, env)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, a := range attrs {
		d.Custom = append(d.Custom, a.Key)
	}
	// The roles a group may give: the organization's own and the environment's (an own role
	// wins over the environment's of the same name, as AssignDirectoryRoles resolves names).
	own := map[string]bool{}
	for _, scope := range []string{orgID, ""} {
		list, err := h.cfg.Directory.ListRoles(ctx, env, scope)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		for _, rl := range list {
			if !own[rl.Name] {
				own[rl.Name] = true
				d.Roles = append(d.Roles, rl)
			}
		}
	}
	q := r.URL.Query()
	if r.Method != http.MethodGet {
		q = url.Values{}
	}
	in := directory.DirectoryListInput{PageInput: directory.PageInput{PageSize: roster.MaxDirectoryPageSize, PageToken: q.Get("users_page")}}
	if d.Users, err = h.cfg.Directory.ListDirectoryUsers(ctx, env, orgID, dirID, in); err != nil {
		h.fail(w, r, err)
		return
	}
	if d.UserGroups, err = h.cfg.Directory.DirectoryUserGroups(ctx, env, dirID, d.Users.Items); err != nil {
		h.fail(w, r, err)
		return
	}
	in = directory.DirectoryListInput{PageInput: directory.PageInput{PageSize: roster.MaxDirectoryPageSize, PageToken: q.Get("groups_page")}}
	if d.Groups, err = h.cfg.Directory.ListDirectoryGroups(ctx, env, orgID, dirID, in); err != nil {
		h.fail(w, r, err)
		return
	}
	if d.Requests, err = h.cfg.Directory.ListSCIMRequests(ctx, env, orgID, dirID); err != nil {
		h.fail(w, r, err)
		return
	}
	d.Kept = directory.SCIMRequestsKept
	names := map[string]string{}
	for _, g := range d.Groups.Items {
		names[g.ID] = g.DisplayName
	}
	for _, a := range dd.RoleAssignments {
		d.Assigned = append(d.Assigned, roleRow{DirectoryRoleAssignment: a, GroupName: names[a.GroupID]})
	}
	link := func(param, token, anchor string) string {
		if token == "" {
			return ""
		}
		v := url.Values{param: {token}}
		// keep the other list's page
		if param == "users_page" && q.Get("groups_page") != "" {
			v.Set("groups_page", q.Get("groups_page"))
		}
		if param == "groups_page" && q.Get("users_page") != "" {
			v.Set("users_page", q.Get("users_page"))
		}
		return dirPath(orgID, dirID) + "?" + v.Encode() + "#" + anchor
	}
	d.UsersNext, d.UsersPrev = link("users_page", d.Users.NextToken, "users-heading"), link("users_page", d.Users.PrevToken, "users-heading")
	d.GroupsNext, d.GroupsPrev = link("groups_page", d.Groups.NextToken, "groups-heading"), link("groups_page", d.Groups.PrevToken, "groups-heading")
	p.Title, p.Nav, p.Operator, p.CSRF, p.Data = dd.Name, "organizations", &s.op, s.csrf, d
	h.render(w, status, "directory", p)
}

// issuer is Roster's public URL, the base of SCIM endpoints (as the API's directory_endpoint);
// without one configured, the URL the browser used.
func (h *Handler) issuer(r *http.Request) string {
	if h.cfg.Issuer != "" {
		return h.cfg.Issuer
	}
	scheme := "http"
	if r.TLS != nil || h.cfg.Secure {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (h *Handler) directory(w http.ResponseWriter, r *http.Request, s request) {
	h.directoryPage(w, r, s, http.StatusOK, page{Notice: dirNotices[r.URL.Query().Get("done")]}, nil)
}

func (h *Handler) dirDone(w http.ResponseWriter, r *http.Request, done string) {
	http.Redirect(w, r, dirPath(r.PathValue("id"), r.PathValue("dir"))+"?done="+done, http.StatusSeeOther)
}

// createDirectory is Add Directory on the organization's page (directory.CreateDirectory, as
// the API's CreateDirectory: a SCIM directory, one per organization and provider).
func (h *Handler) createDirectory(w http.ResponseWriter, r *http.Request, s request) {
	provider := r.PostFormValue("provider")
	d, err := h.cfg.Directory.CreateDirectory(r.Context(), h.cfg.Environment, r.PathValue("id"), roster.DirectorySCIM, provider)
	if err != nil {
		if roster.ErrorCode(err) == roster.ENotFound {
			h.fail(w, r, err)
			return
		}
		fields := map[string]string{"provider": roster.ErrorMessage(err)}
		for _, v := range fieldErrors(err, "directory_provider") {
			fields["provider"] = v
		}
		h.organizationPage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: fields}, nil)
		return
	}
	http.Redirect(w, r, dirPath(d.OrganizationID, d.ID)+"?done=created", http.StatusSeeOther)
}

// setDirectoryEnabled is the API's EnableDirectory / DisableDirectory.
func (h *Handler) setDirectoryEnabled(w http.ResponseWriter, r *http.Request, s request) {
	on := r.PostFormValue("enabled") == "1"
	if _, err := h.cfg.Directory.SetDirectoryEnabled(r.Context(), h.cfg.Environment, r.PathValue("id"), r.PathValue("dir"), on); err != nil {
		h.fail(w, r, err)
		return
	}
	if on {
		h.dirDone(w, r, "enabled")
	} else {
		h.dirDone(w, r, "disabled")
	}
}

// directorySecret is the API's CreateDirectorySecret (no token yet) or
// RegenerateDirectorySecret (regenerate=1: the old token stops working at once). The new
// token is in this answer only — not a redirect, so that it is never in a URL and never shown
// again; the response is no-store like every dashboard page.
func (h *Handler) directorySecret(w http.ResponseWriter, r *http.Request, s request) {
	regenerate := r.PostFormValue("regenerate") == "1"
	_, token, err := h.cfg.Directory.CreateDirectorySecret(r.Context(), h.cfg.Environment, r.PathValue("id"), r.PathValue("dir"), regenerate)
	if err != nil {
		if roster.ErrorCode(err) == roster.ENotFound {
			h.fail(w, r, err)
			return
		}
		h.directoryPage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err)}, nil)
		return
	}
	notice := "Bearer token generated."
	if regenerate {
		notice = "Bearer token regenerated: the previous one no longer works."
	}
	h.directoryPage(w, r, s, http.StatusOK, page{Notice: notice}, &directoryData{NewToken: token})
}

// mappingField matches a violation's field of UpdateAttributes
// ("attribute_mapping.attributes[2].key").
var mappingField = regexp.MustCompile(`\[(\d+)\]\.(key|map_to)$`)

// setDirectoryMapping replaces the attribute mapping (directory.UpdateDirectoryAttributes, as
// the API's UpdateAttributes): the rows with a key or a value, in order; the API's messages
// beside the row's field.
func (h *Handler) setDirectoryMapping(w http.ResponseWriter, r *http.Request, s request) {
	_ = r.ParseForm()
	keys, values := r.PostForm["key"], r.PostForm["map_to"]
	var m []roster.DirectoryMapping
	var rows []mappingRow
	for i := range keys {
		k, v := strings.TrimSpace(keys[i]), ""
		if i < len(values) {
			v = strings.TrimSpace(values[i])
		}
		if k == "" && v == "" {
			continue
		}
		rows = append(rows, mappingRow{Key: k, MapTo: v, Index: len(m)})
		m = append(m, roster.DirectoryMapping{Key: k, MapTo: v})
	}
	if m == nil {
		m = []roster.DirectoryMapping{}
	}
	if _, err := h.cfg.Directory.UpdateDirectoryAttributes(r.Context(), h.cfg.Environment, r.PathValue("id"), r.PathValue("dir"), m); err != nil {
		if roster.ErrorCode(err) == roster.ENotFound {
			h.fail(w, r, err)
			return
		}
		fields := map[string]string{}
		var e *roster.Error
		if errors.As(err, &e) {
			for _, v := range e.Violations {
				f := "mapping"
				if mm := mappingField.FindStringSubmatch(v.Field); mm != nil {
					f = mm[2] + "-" + mm[1]
				}
				if fields[f] != "" {
					fields[f] += "; "
				}
				fields[f] += v.Description
			}
		}
		for i := range mappingBlankRows {
			rows = append(rows, mappingRow{Index: len(m) + i})
		}
		h.directoryPage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: fields}, &directoryData{Mapping: rows})
		return
	}
	h.dirDone(w, r, "mapping")
}

// setDirectoryRole gives a group a role, or takes it away (role empty): the directory's whole
// assignment list goes to directory.AssignDirectoryRoles (the API's AssignRoles replaces it),
// so the other groups' roles stay.
func (h *Handler) setDirectoryRole(w http.ResponseWriter, r *http.Request, s request) {
	ctx, env, orgID, dirID := r.Context(), h.cfg.Environment, r.PathValue("id"), r.PathValue("dir")
	group, role := strings.TrimSpace(r.PostFormValue("group_id")), strings.TrimSpace(r.PostFormValue("role_name"))
	// One group's role, written beside the others as they are then: two operators changing
	// two groups at once keep both changes (re-sending the list read for the page lost one).
	if _, err := h.cfg.Directory.AssignDirectoryGroupRole(ctx, env, orgID, dirID, group, role); err != nil {
		if roster.ErrorCode(err) == roster.ENotFound || roster.ErrorCode(err) == roster.EInternal {
			h.fail(w, r, err)
			return
		}
		msg := roster.ErrorMessage(err)
		var e *roster.Error
		if errors.As(err, &e) && len(e.Violations) > 0 {
			msg = ""
			for _, v := range e.Violations {
				if msg != "" {
					msg += "; "
				}
				msg += v.Description
			}
		}
		h.directoryPage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: map[string]string{"role-" + group: msg}}, nil)
		return
	}
	h.dirDone(w, r, "roles")
}

func init() {
	// Add Directory's provider choice on the organization's page: the API's enum.
	funcs["directoryProviders"] = func() []string { return roster.DirectoryProviders }
}
