package dashboard

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
)

// The Organizations screens (issue 14): the list with search and Add Organization, an
// organization's page (name, external ID, metadata, domains, members, connections,
// directories) and its delete confirmation. Every read and write is a directory.Service call
// the REST and gRPC handlers in api/ make, so the rules and messages are the API's.

// Page sizes: a list page shows orgListPageSize rows; a search page at most
// directory.MaxSearchPageSize (the wire rule of SearchOrganization, page_size <= 30).
const (
	orgListPageSize    = 50
	orgMembersPageSize = 50
)

func (h *Handler) registerOrganizations(m *http.ServeMux) {
	for _, p := range []string{"organizations", "organization", "organization-delete"} {
		h.pages[p] = h.parsePage(p)
	}
	m.HandleFunc("GET "+Prefix+"/organizations", h.session(h.organizations))
	m.HandleFunc("POST "+Prefix+"/organizations", h.session(h.createOrganization))
	m.HandleFunc("GET "+Prefix+"/organizations/{id}", h.session(h.organization))
	m.HandleFunc("POST "+Prefix+"/organizations/{id}", h.session(h.updateOrganization))
	m.HandleFunc("POST "+Prefix+"/organizations/{id}/metadata", h.session(h.setOrganizationMetadata))
	m.HandleFunc("POST "+Prefix+"/organizations/{id}/domains", h.session(h.addOrganizationDomain))
	m.HandleFunc("POST "+Prefix+"/organizations/{id}/domains/{domain}/delete", h.session(h.removeOrganizationDomain))
	m.HandleFunc("GET "+Prefix+"/organizations/{id}/delete", h.session(h.confirmDeleteOrganization))
	m.HandleFunc("POST "+Prefix+"/organizations/{id}/delete", h.session(h.deleteOrganization))
}

// The list.

// orgSearch is the list page's search: By "any" is SearchOrganization (a case-insensitive
// substring of the display name, ID or external ID, 3 to 100 characters); "external_id" is
// ListOrganization's exact external_id filter (any length).
type orgSearch struct {
	Q, By string
}

type orgForm struct {
	DisplayName, ExternalID string
}

type organizationsData struct {
	Search    orgSearch
	List      directory.List[roster.Organization]
	Searching bool
	Next      string // URL of the next page, or ""
	Prev      string
	Form      orgForm
}

func (h *Handler) organizationsPage(w http.ResponseWriter, r *http.Request, s request, status int, p page, form orgForm) {
	q := r.URL.Query()
	d := organizationsData{Search: orgSearch{Q: q.Get("q"), By: q.Get("by")}, Form: form}
	if d.Search.By != "external_id" {
		d.Search.By = "any"
	}
	in := directory.ListOrganizationsInput{PageInput: directory.PageInput{PageSize: orgListPageSize, PageToken: q.Get("page_token")}}
	if r.Method == http.MethodPost { // a failed create shows the first page
		in.PageToken = ""
		d.Search = orgSearch{By: "any"}
	}
	if d.Search.Q != "" {
		d.Searching = true
		qv := d.Search.Q
		if d.Search.By == "external_id" {
			in.ExternalID = &qv
		} else {
			in.Query, in.PageSize = &qv, directory.MaxSearchPageSize
		}
	}
	list, err := h.cfg.Directory.ListOrganizations(r.Context(), h.cfg.Environment, in)
	if err != nil {
		if roster.ErrorCode(err) != roster.EInvalid {
			h.fail(w, r, err)
			return
		}
		// A search the API refuses (too short a query, a stale page token): its message, beside
		// the search box.
		if status == http.StatusOK {
			status = http.StatusBadRequest
		}
		if p.Error == "" {
			p.Error = roster.ErrorMessage(err)
		}
		if p.Fields == nil {
			p.Fields = map[string]string{}
		}
		for _, v := range fieldErrors(err, "query", "page_token", "external_id") {
			p.Fields["q"] = v
		}
	}
	d.List = list
	link := func(token string) string {
		if token == "" {
			return ""
		}
		v := url.Values{"page_token": {token}}
		if d.Search.Q != "" {
			v.Set("q", d.Search.Q)
			v.Set("by", d.Search.By)
		}
		return Prefix + "/organizations?" + v.Encode()
	}
	d.Next, d.Prev = link(list.NextToken), link(list.PrevToken)
	p.Title, p.Nav, p.Operator, p.CSRF, p.Data = "Organizations", "organizations", &s.op, s.csrf, d
	h.render(w, status, "organizations", p)
}

func (h *Handler) organizations(w http.ResponseWriter, r *http.Request, s request) {
	notice := ""
	if q := r.URL.Query(); q.Get("done") == "deleted" {
		if _, ok := roster.IDNumber(q.Get("id"), roster.PrefixOrganization); ok { // only an ID, never other words
			notice = "Organization " + q.Get("id") + " deleted, with everything that belonged to it."
		}
	}
	h.organizationsPage(w, r, s, http.StatusOK, page{Notice: notice}, orgForm{})
}

// createOrganization is Add Organization (directory.CreateOrganization, as the API's create).
func (h *Handler) createOrganization(w http.ResponseWriter, r *http.Request, s request) {
	f := orgForm{DisplayName: r.PostFormValue("display_name"), ExternalID: strings.TrimSpace(r.PostFormValue("external_id"))}
	o, err := h.cfg.Directory.CreateOrganization(r.Context(), h.cfg.Environment, roster.NewOrganization{DisplayName: f.DisplayName, ExternalID: f.ExternalID})
	if err != nil {
		h.organizationsPage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: fieldErrors(err, "display_name", "external_id")}, f)
		return
	}
	http.Redirect(w, r, Prefix+"/organizations/"+url.PathEscape(o.ID)+"?done=created", http.StatusSeeOther)
}

// An organization's page.

// metadataPair is one key and value of a metadata map, as the organization and user pages
// list and edit them.
type metadataPair struct{ Key, Value string }

type member struct {
	User       roster.User
	Membership roster.Membership
}

type organizationData struct {
	Org         roster.Organization
	Form        orgForm // the name and external ID form's values
	formSet     bool    // Form holds what was typed (else the stored values)
	Metadata    []metadataPair
	MetaForm    metadataPair
	MetaFull    bool
	MetaMax     int
	Domains     []roster.Domain
	DomainForm  string
	DomainTypes []roster.DomainType
	DomainType  roster.DomainType
	Members     []member
	MemberTotal int
	MembersNext string
	MembersPrev string
	Connections []roster.Connection
	Directories []directory.DirectoryDetail
}

// orgRef is the organization a path names: by its ID.
func orgRef(r *http.Request) roster.OrganizationRef {
	return roster.OrganizationRef{ID: r.PathValue("id")}
}

var orgNotices = map[string]string{
	"created":        "Organization created.",
	"updated":        "Saved.",
	"metadata":       "Metadata saved.",
	"metadata-gone":  "Metadata key removed.",
	"domain":         "Domain added.",
	"domain-removed": "Domain removed.",
}

// organizationPage renders an organization with everything on its page; d carries what a
// failed form should show again (nil: the stored values).
func (h *Handler) organizationPage(w http.ResponseWriter, r *http.Request, s request, status int, p page, d *organizationData) {
	ctx, env := r.Context(), h.cfg.Environment
	o, err := h.cfg.Directory.GetOrganization(ctx, env, orgRef(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if d == nil {
		d = &organizationData{}
	}
	if !d.formSet {
		d.Form = orgForm{DisplayName: o.DisplayName, ExternalID: deref(o.ExternalID)}
	}
	d.Org = o
	d.MetaMax = roster.OrganizationMetadataMaxPairs
	d.MetaFull = len(o.Metadata) >= roster.OrganizationMetadataMaxPairs
	for _, k := range slices.Sorted(maps.Keys(o.Metadata)) {
		d.Metadata = append(d.Metadata, metadataPair{k, o.Metadata[k]})
	}
	d.DomainTypes = []roster.DomainType{roster.DomainOrganization, roster.DomainAllowedEmail}
	if d.DomainType == "" {
		d.DomainType = roster.DomainOrganization
	}
	if d.Domains, err = h.cfg.Directory.ListDomains(ctx, env, roster.OrganizationRef{ID: o.ID}, ""); err != nil {
		h.fail(w, r, err)
		return
	}
	token := ""
	if r.Method == http.MethodGet {
		token = r.URL.Query().Get("members_page")
	}
	members, err := h.cfg.Directory.ListUsers(ctx, env, directory.ListUsersInput{OrganizationID: o.ID,
		PageInput: directory.PageInput{PageSize: orgMembersPageSize, PageToken: token}})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, u := range members.Items {
		m := member{User: u}
		for _, ms := range u.Memberships {
			if ms.OrganizationID == o.ID {
				m.Membership = ms
			}
		}
		d.Members = append(d.Members, m)
	}
	d.MemberTotal = members.Total
	link := func(t string) string {
		if t == "" {
			return ""
		}
		return Prefix + "/organizations/" + url.PathEscape(o.ID) + "?" + url.Values{"members_page": {t}}.Encode() + "#members-heading"
	}
	d.MembersNext, d.MembersPrev = link(members.NextToken), link(members.PrevToken)
	if d.Connections, err = h.cfg.Directory.ListConnections(ctx, env, o.ID, ""); err != nil {
		h.fail(w, r, err)
		return
	}
	if d.Directories, err = h.cfg.Directory.ListDirectories(ctx, env, o.ID); err != nil {
		h.fail(w, r, err)
		return
	}
	p.Title, p.Nav, p.Operator, p.CSRF, p.Data = o.DisplayName, "organizations", &s.op, s.csrf, d
	h.render(w, status, "organization", p)
}

func (h *Handler) organization(w http.ResponseWriter, r *http.Request, s request) {
	h.organizationPage(w, r, s, http.StatusOK, page{Notice: orgNotices[r.URL.Query().Get("done")]}, nil)
}

func (h *Handler) orgDone(w http.ResponseWriter, r *http.Request, id, done string) {
	http.Redirect(w, r, Prefix+"/organizations/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
}

// updateOrganization saves the display name and external ID (directory.UpdateOrganization,
// as the API's PATCH; an empty external ID clears it).
func (h *Handler) updateOrganization(w http.ResponseWriter, r *http.Request, s request) {
	f := orgForm{DisplayName: r.PostFormValue("display_name"), ExternalID: strings.TrimSpace(r.PostFormValue("external_id"))}
	o, err := h.cfg.Directory.UpdateOrganization(r.Context(), h.cfg.Environment, orgRef(r),
		roster.OrganizationPatch{DisplayName: &f.DisplayName, ExternalID: &f.ExternalID})
	if err != nil {
		h.organizationPage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: fieldErrors(err, "display_name", "external_id")},
			&organizationData{Form: f, formSet: true})
		return
	}
	h.orgDone(w, r, o.ID, "updated")
}

// setOrganizationMetadata adds or changes one pair, or removes a key (remove=1): a metadata
// merge as the API's PATCH does it, where an empty value removes the key (docs/metadata.md).
func (h *Handler) setOrganizationMetadata(w http.ResponseWriter, r *http.Request, s request) {
	pair := metadataPair{Key: strings.TrimSpace(r.PostFormValue("key")), Value: r.PostFormValue("value")}
	remove := r.PostFormValue("remove") != ""
	val := pair.Value
	if remove {
		val = ""
	}
	_, err := h.cfg.Directory.UpdateOrganization(r.Context(), h.cfg.Environment, orgRef(r),
		roster.OrganizationPatch{Metadata: map[string]string{pair.Key: val}})
	if err != nil {
		d := &organizationData{}
		if !remove {
			d.MetaForm = pair
		}
		fields := fieldErrors(err, "metadata")
		h.organizationPage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: fields}, d)
		return
	}
	if remove || pair.Value == "" {
		h.orgDone(w, r, r.PathValue("id"), "metadata-gone")
		return
	}
	h.orgDone(w, r, r.PathValue("id"), "metadata")
}

// addOrganizationDomain is the API's CreateDomain (its normalization, public-provider rule,
// one organization per domain and MaxDomainsPerOrganization).
func (h *Handler) addOrganizationDomain(w http.ResponseWriter, r *http.Request, s request) {
	name, typ := strings.TrimSpace(r.PostFormValue("domain")), roster.DomainType(r.PostFormValue("domain_type"))
	if typ != roster.DomainOrganization && typ != roster.DomainAllowedEmail {
		typ = ""
	}
	if _, err := h.cfg.Directory.CreateDomain(r.Context(), h.cfg.Environment, orgRef(r), name, typ); err != nil {
		fields := fieldErrors(err, "domain")
		if len(fields) == 0 && roster.ErrorCode(err) != roster.ENotFound {
			fields = map[string]string{"domain": roster.ErrorMessage(err)}
		}
		h.organizationPage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: fields},
			&organizationData{DomainForm: name, DomainType: typ})
		return
	}
	h.orgDone(w, r, r.PathValue("id"), "domain")
}

func (h *Handler) removeOrganizationDomain(w http.ResponseWriter, r *http.Request, s request) {
	if err := h.cfg.Directory.DeleteDomain(r.Context(), h.cfg.Environment, orgRef(r), r.PathValue("domain")); err != nil {
		h.fail(w, r, err)
		return
	}
	h.orgDone(w, r, r.PathValue("id"), "domain-removed")
}

// Delete.

type orgDeleteData struct {
	Org         roster.Organization
	Members     int
	Connections int
	Directories int
	Domains     int
	Roles       int // the organization's own roles
}

// confirmDeleteOrganization lists what goes with the organization (docs/users.md,
// docs/directories.md): counts from the same list calls the API has.
func (h *Handler) confirmDeleteOrganization(w http.ResponseWriter, r *http.Request, s request) {
	ctx, env := r.Context(), h.cfg.Environment
	o, err := h.cfg.Directory.GetOrganization(ctx, env, orgRef(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := orgDeleteData{Org: o}
	members, err := h.cfg.Directory.ListUsers(ctx, env, directory.ListUsersInput{OrganizationID: o.ID, PageInput: directory.PageInput{PageSize: 1}})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.Members = members.Total
	conns, err := h.cfg.Directory.ListConnections(ctx, env, o.ID, "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.Connections = len(conns)
	dirs, err := h.cfg.Directory.ListDirectories(ctx, env, o.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.Directories = len(dirs)
	domains, err := h.cfg.Directory.ListDomains(ctx, env, roster.OrganizationRef{ID: o.ID}, "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.Domains = len(domains)
	roles, err := h.cfg.Directory.ListRoles(ctx, env, o.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, rl := range roles {
		if rl.OrganizationID == o.ID {
			d.Roles++
		}
	}
	h.render(w, http.StatusOK, "organization-delete", page{Title: "Delete " + o.DisplayName, Nav: "organizations", Operator: &s.op, CSRF: s.csrf, Data: d})
}

func (h *Handler) deleteOrganization(w http.ResponseWriter, r *http.Request, s request) {
	ref := orgRef(r)
	if err := h.cfg.Directory.DeleteOrganization(r.Context(), h.cfg.Environment, ref); err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"/organizations?"+url.Values{"done": {"deleted"}, "id": {ref.ID}}.Encode(), http.StatusSeeOther)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
