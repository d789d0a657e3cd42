package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
)

// The Users screens (issue 14): the list and search, and a user's page with the profile,
// custom attributes, metadata, memberships and identities. Everything goes through
// directory.Service, with the calls the API's users handlers make.

// usersPageSize is the list's page; a search's page is the API's search maximum.
const usersPageSize = 50

func (h *Handler) registerUsers(m *http.ServeMux) {
	for _, p := range []string{"users", "user"} {
		h.pages[p] = h.parsePage(p)
	}
	m.HandleFunc("GET "+Prefix+"/users", h.session(h.users))
	m.HandleFunc("GET "+Prefix+"/users/{id}", h.session(h.user))
	m.HandleFunc("POST "+Prefix+"/users/{id}/profile", h.session(h.updateUserProfile))
	m.HandleFunc("POST "+Prefix+"/users/{id}/attributes", h.session(h.updateUserAttributes))
	m.HandleFunc("POST "+Prefix+"/users/{id}/metadata", h.session(h.updateUserMetadata))
}

type usersData struct {
	Query            string
	Users            []roster.User
	Total            int
	AtLeast          bool   // the search's count stopped at usersSearchCountUpTo
	Next, Prev       string // page links
	Searched, Lookup bool
}

// usersSearchCountUpTo is where a search's count stops ("1,000+ matching users"): counting
// every match of a search that most users match (a company's domain) cost 70-150 ms on SQLite
// at 100,000 users after each write, past the page's 50 ms; the first 1,001 cost about as much
// as the page (docs/dashboard.md "Users").
const usersSearchCountUpTo = 1000

// users lists the environment's users page by page (ListUsers, as ListUsers of the API), or
// searches them by email, user ID or external ID (as SearchUsers). A query too short for the
// search (the API's rule) is still looked up as a whole external ID (GetUser by external_id).
func (h *Handler) users(w http.ResponseWriter, r *http.Request, s request) {
	q := r.URL.Query()
	query := strings.TrimSpace(q.Get("q"))
	in := directory.ListUsersInput{PageInput: directory.PageInput{PageSize: usersPageSize, PageToken: q.Get("page_token")}}
	d := usersData{Query: query}
	p := page{Title: "Users", Nav: "users", Operator: &s.op, CSRF: s.csrf, Data: &d}
	if query != "" {
		in.Query, in.PageSize, d.Searched = &query, directory.MaxSearchPageSize, true
		in.CountUpTo = h.searchCountUpTo
		if n := utf8.RuneCountInString(query); n < directory.SearchQueryMin && q.Get("page_token") == "" {
			u, err := h.cfg.Directory.GetUser(r.Context(), h.cfg.Environment, roster.UserRef{ExternalID: query})
			if err == nil {
				d.Users, d.Total, d.Lookup = []roster.User{u}, 1, true
				h.render(w, http.StatusOK, "users", p)
				return
			}
			if roster.ErrorCode(err) != roster.ENotFound {
				h.fail(w, r, err)
				return
			}
		}
	}
	l, err := h.cfg.Directory.ListUsers(r.Context(), h.cfg.Environment, in)
	if err != nil {
		if roster.ErrorCode(err) != roster.EInvalid {
			h.fail(w, r, err)
			return
		}
		p.Error, p.Fields = roster.ErrorMessage(err), fieldErrors(err, "query", "page_token")
		if f := p.Fields["page_token"]; f != "" {
			p.Fields["query"] = f
		}
		h.render(w, http.StatusBadRequest, "users", p)
		return
	}
	d.Users, d.Total, d.AtLeast = l.Items, l.Total, l.TotalAtLeast
	link := func(tok string) string {
		if tok == "" {
			return ""
		}
		v := url.Values{"page_token": {tok}}
		if query != "" {
			v.Set("q", query)
		}
		return Prefix + "/users?" + v.Encode()
	}
	d.Next, d.Prev = link(l.NextToken), link(l.PrevToken)
	h.render(w, http.StatusOK, "users", p)
}

// attributeField is a custom attribute on a user's page: its definition decides the input.
type attributeField struct {
	Def   roster.AttributeDefinition
	Value string
	Error string
}

// Input is the HTML input type of the attribute's type (the API still checks the value).
func (f attributeField) Input() string {
	switch f.Def.Type {
	case roster.AttributeInteger:
		return "number"
	case roster.AttributeDate:
		return "date"
	}
	return "text"
}

// identityView is an identity with its raw claims, indented for reading.
type identityView struct {
	roster.Identity
	Claims string
}

type membershipView struct {
	roster.Membership
	Effective roster.MembershipStatus
}

type userData struct {
	User          roster.User
	Attributes    []attributeField
	Undefined     []metadataPair // stored values without a definition (none, normally)
	Metadata      []metadataPair
	Profile       []metadataPair // the profile's metadata (the application's map)
	Memberships   []membershipView
	Identities    []identityView
	NewKey        string
	NewValue      string
	ProfileValues map[string]string // the profile form's values, by input name
	ProfileInputs []string
}

func sortedPairs(m map[string]string) []metadataPair {
	out := make([]metadataPair, 0, len(m))
	for k, v := range m {
		out = append(out, metadataPair{k, v})
	}
	slices.SortFunc(out, func(a, b metadataPair) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// userForm is what a refused edit sent, shown again instead of what is stored.
type userForm struct {
	Values, AttrErrors map[string]string // custom attributes, by key
	NewPair            metadataPair
	Profile            map[string]string // standard fields, by input name
}

// profileInputs are the editable standard fields, by the API's field names.
var profileInputs = []string{"external_id", "given_name", "family_name", "name", "preferred_username", "phone_number", "locale", "picture", "gender"}

func profileValues(u roster.User) map[string]string {
	ext := ""
	if u.ExternalID != nil {
		ext = *u.ExternalID
	}
	p := u.Profile
	return map[string]string{"external_id": ext, "given_name": p.GivenName, "family_name": p.FamilyName, "name": p.Name,
		"preferred_username": p.PreferredUsername, "phone_number": p.PhoneNumber, "locale": p.Locale, "picture": p.Picture, "gender": p.Gender}
}

// userPage renders a user's page; form holds what a refused edit sent.
func (h *Handler) userPage(w http.ResponseWriter, r *http.Request, s request, status int, p page, form userForm) {
	values, attrErrors, newPair := form.Values, form.AttrErrors, form.NewPair
	ctx, env := r.Context(), h.cfg.Environment
	ref := roster.UserRef{ID: r.PathValue("id")}
	u, err := h.cfg.Directory.GetUser(ctx, env, ref)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defs, err := h.cfg.Directory.ListAttributes(ctx, env)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ids, err := h.cfg.Directory.UserIdentities(ctx, env, ref)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := userData{User: u, Metadata: sortedPairs(u.Metadata), Profile: sortedPairs(u.Profile.Metadata), NewKey: newPair.Key, NewValue: newPair.Value,
		ProfileValues: profileValues(u), ProfileInputs: profileInputs}
	for k, v := range form.Profile {
		d.ProfileValues[k] = v
	}
	defined := map[string]bool{}
	for _, def := range defs {
		defined[def.Key] = true
		v, ok := values[def.Key]
		if !ok {
			v = u.Profile.CustomAttributes[def.Key]
		}
		d.Attributes = append(d.Attributes, attributeField{Def: def, Value: v, Error: attrErrors[def.Key]})
	}
	for _, kv := range sortedPairs(u.Profile.CustomAttributes) {
		if !defined[kv.Key] {
			d.Undefined = append(d.Undefined, kv)
		}
	}
	now := time.Now()
	for _, m := range u.Memberships {
		d.Memberships = append(d.Memberships, membershipView{Membership: m, Effective: m.EffectiveStatus(now)})
	}
	for _, id := range ids {
		var b bytes.Buffer
		if json.Indent(&b, id.RawClaims, "", "  ") != nil {
			b.Reset()
			b.Write(id.RawClaims)
		}
		d.Identities = append(d.Identities, identityView{Identity: id, Claims: b.String()})
	}
	p.Title, p.Nav, p.Operator, p.CSRF, p.Data = u.Email, "users", &s.op, s.csrf, d
	h.render(w, status, "user", p)
}

func (h *Handler) user(w http.ResponseWriter, r *http.Request, s request) {
	notice := ""
	switch r.URL.Query().Get("done") {
	case "attributes":
		notice = "Custom attributes saved."
	case "metadata":
		notice = "Metadata saved."
	case "profile":
		notice = "Profile saved."
	}
	h.userPage(w, r, s, http.StatusOK, page{Notice: notice}, userForm{})
}

// updateUserAttributes sets the custom attributes whose values changed, in one UpdateUser
// (the API's PATCH of user_profile.custom_attributes: an empty value removes one). The
// attribute definitions check the values there, and their messages are shown beside the
// inputs.
func (h *Handler) updateUserAttributes(w http.ResponseWriter, r *http.Request, s request) {
	ctx, env := r.Context(), h.cfg.Environment
	ref := roster.UserRef{ID: r.PathValue("id")}
	u, err := h.cfg.Directory.GetUser(ctx, env, ref)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	defs, err := h.cfg.Directory.ListAttributes(ctx, env)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	values, patch := map[string]string{}, map[string]string{}
	for _, def := range defs {
		name := "attr." + def.Key
		if _, sent := r.PostForm[name]; !sent {
			continue
		}
		v := strings.TrimSpace(r.PostFormValue(name))
		values[def.Key] = v
		if v != u.Profile.CustomAttributes[def.Key] {
			patch[def.Key] = v
		}
	}
	if len(patch) > 0 {
		_, err = h.cfg.Directory.UpdateUser(ctx, env, ref, roster.UserPatch{Profile: roster.ProfilePatch{CustomAttributes: patch}})
		if err != nil {
			h.userPage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err)}, userForm{Values: values, AttrErrors: attributeErrors(err, defs)})
			return
		}
	}
	http.Redirect(w, r, Prefix+"/users/"+url.PathEscape(u.ID)+"?done=attributes", http.StatusSeeOther)
}

// attributeErrors puts the API's violations of user_profile.custom_attributes beside the
// attribute they name (their description starts with the quoted key).
func attributeErrors(err error, defs []roster.AttributeDefinition) map[string]string {
	var e *roster.Error
	if !errors.As(err, &e) {
		return nil
	}
	out := map[string]string{}
	for _, v := range e.Violations {
		if !strings.HasSuffix(v.Field, "custom_attributes") {
			continue
		}
		for _, def := range defs {
			if strings.HasPrefix(v.Description, `"`+def.Key+`"`) {
				if out[def.Key] != "" {
					out[def.Key] += "; "
				}
				out[def.Key] += v.Description
			}
		}
	}
	return out
}

// updateUserMetadata merges the user's metadata as the API's PATCH does: the edited values,
// an empty value (or "remove") deleting a key, and one new pair. The limits (20 pairs, keys of
// 3 to 25 characters, values up to 256) and their messages are the API's.
func (h *Handler) updateUserMetadata(w http.ResponseWriter, r *http.Request, s request) {
	ctx, env := r.Context(), h.cfg.Environment
	ref := roster.UserRef{ID: r.PathValue("id")}
	u, err := h.cfg.Directory.GetUser(ctx, env, ref)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	patch := map[string]string{}
	for k, old := range u.Metadata {
		name := "meta." + k
		if _, sent := r.PostForm[name]; !sent {
			continue
		}
		v := r.PostFormValue(name)
		if r.PostFormValue("remove."+k) != "" {
			v = ""
		}
		if v != old {
			patch[k] = v
		}
	}
	newPair := metadataPair{Key: strings.TrimSpace(r.PostFormValue("new_key")), Value: r.PostFormValue("new_value")}
	if newPair.Key != "" || newPair.Value != "" {
		patch[newPair.Key] = newPair.Value
	}
	if len(patch) > 0 {
		if _, err := h.cfg.Directory.UpdateUser(ctx, env, ref, roster.UserPatch{Metadata: patch}); err != nil {
			fields := fieldErrors(err, "metadata")
			h.userPage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: fields}, userForm{NewPair: newPair})
			return
		}
	}
	http.Redirect(w, r, Prefix+"/users/"+url.PathEscape(u.ID)+"?done=metadata", http.StatusSeeOther)
}

// updateUserProfile changes the standard fields that were edited, in one UpdateUser (the
// API's PATCH: its rules, such as E.164 phone numbers and BCP 47 locales, and its messages
// beside the field they name). An emptied field is cleared.
func (h *Handler) updateUserProfile(w http.ResponseWriter, r *http.Request, s request) {
	ctx, env := r.Context(), h.cfg.Environment
	ref := roster.UserRef{ID: r.PathValue("id")}
	u, err := h.cfg.Directory.GetUser(ctx, env, ref)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	cur, sent, edits := profileValues(u), map[string]string{}, 0
	var patch roster.UserPatch
	changed := func(name string) *string {
		if _, ok := r.PostForm[name]; !ok {
			return nil
		}
		v := r.PostFormValue(name)
		sent[name] = v
		if v == cur[name] {
			return nil
		}
		edits++
		return &v
	}
	p := &patch.Profile
	patch.ExternalID = changed("external_id")
	p.GivenName, p.FamilyName, p.Name = changed("given_name"), changed("family_name"), changed("name")
	p.PreferredUsername, p.PhoneNumber, p.Locale = changed("preferred_username"), changed("phone_number"), changed("locale")
	p.Picture, p.Gender = changed("picture"), changed("gender")
	if edits == 0 {
		http.Redirect(w, r, Prefix+"/users/"+url.PathEscape(u.ID)+"?done=profile", http.StatusSeeOther)
		return
	}
	if _, err := h.cfg.Directory.UpdateUser(ctx, env, ref, patch); err != nil {
		fields := fieldErrors(err, profileInputs...)
		if roster.ErrorCode(err) == roster.EConflict && len(fields) == 0 {
			fields = map[string]string{"external_id": roster.ErrorMessage(err)} // the only unique field of this form
		}
		h.userPage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: fields}, userForm{Profile: sent})
		return
	}
	http.Redirect(w, r, Prefix+"/users/"+url.PathEscape(u.ID)+"?done=profile", http.StatusSeeOther)
}
