package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
)

// The attribute mapping editor of an SSO connection, with its preview (issue 14, "SSO
// connections", docs/dashboard.md "Mapping preview and test sign-in"). The mapping is saved
// with directory.UpdateConnection (ConnectionPatch.AttributeMapping), as PATCH
// /api/v1/organizations/{org}/connections/{id} does, so the rules and messages are the API's.
// The preview (directory.PreviewMapping) applies the edited mapping, unsaved, to the raw
// claims of the connection's latest sign-in through the code every sign-in runs.

// connectionBlankRows is how many empty rows the mapping form offers for new pairs.
const connectionBlankRows = 3

// connMappingField is the API's field of a mapping violation: the key after the prefix.
const connMappingField = "connection.attribute_mapping"

// TestSignIn starts an operator's test sign-in (sso.Handler.StartTest): it sets the
// browser's binding cookie and returns the identity provider's URL, or answers the browser
// itself and returns "".
type TestSignIn interface {
	StartTest(w http.ResponseWriter, r *http.Request, env roster.Environment, conn roster.Connection, operatorID, resultPath string) (string, error)
}

func (h *Handler) registerConnectionMapping(m *http.ServeMux) {
	for _, p := range []string{"connection-mapping", "connection-test"} {
		h.pages[p] = h.parsePage(p, "connection-mapped")
	}
	m.HandleFunc("GET "+Prefix+"/organizations/{org}/connections/{id}/mapping", h.session(h.connectionMapping))
	m.HandleFunc("POST "+Prefix+"/organizations/{org}/connections/{id}/mapping", h.session(h.postConnectionMapping))
	m.HandleFunc("POST "+Prefix+"/organizations/{org}/connections/{id}/test", h.session(h.startConnectionTest))
	m.HandleFunc("GET "+Prefix+"/organizations/{org}/connections/{id}/test/{result}", h.session(h.connectionTestResult))
}

type connMappingRow struct {
	Key, Claim string
	Index      int
}

// mappedView is a mapped sign-in as the templates show it.
type mappedView struct {
	Subject string
	Fields  [][2]string // profile field, value (only those with a value)
	Custom  [][2]string // custom attribute key, value
	Groups  []string
	Role    string
	Skipped []string
	Refusal string
	Claims  string // pretty JSON
}

func viewOf(m directory.MappedSignIn) mappedView {
	v := mappedView{Subject: m.Subject, Role: m.Role, Skipped: m.Skipped, Refusal: m.Refusal, Groups: m.Profile.Groups}
	p := m.Profile
	verified := ""
	if m.EmailVerified != nil {
		verified = "false"
		if *m.EmailVerified {
			verified = "true"
		}
	}
	for _, f := range [][2]string{{roster.FieldEmail, m.Email}, {roster.FieldEmailVerified, verified},
		{roster.FieldGivenName, p.GivenName}, {roster.FieldFamilyName, p.FamilyName}, {roster.FieldName, p.Name},
		{roster.FieldPhoneNumber, p.PhoneNumber}, {roster.FieldLocale, p.Locale}, {roster.FieldPicture, p.Picture},
		{roster.FieldPreferredUsername, p.PreferredUsername}} {
		if f[1] != "" {
			v.Fields = append(v.Fields, f)
		}
	}
	keys := make([]string, 0, len(p.CustomAttributes))
	for k := range p.CustomAttributes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v.Custom = append(v.Custom, [2]string{k, p.CustomAttributes[k]})
	}
	v.Claims = prettyJSON(m.Claims)
	return v
}

// prettyJSON indents a JSON value for reading, with <, > and & as themselves (the template
// escapes the page, not the JSON).
func prettyJSON(raw []byte) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var val any
	if dec.Decode(&val) != nil {
		return string(raw)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if enc.Encode(val) != nil {
		return string(raw)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

type connMappingData struct {
	Org       roster.Organization
	Conn      roster.Connection
	Path      string
	Rows      []connMappingRow
	Fields    []string // the profile fields a key may name
	Custom    []string // the environment's custom attribute keys
	Previewed bool     // the preview is of the edited, unsaved mapping
	Found     bool     // someone has signed in through the connection
	LastLogin time.Time
	Mapped    *mappedView
	TestOn    bool // the test sign-in is available
}

var connMappingNotices = map[string]string{"saved": "Attribute mapping saved: the next sign-in through the connection uses it."}

// connectionMapping shows the mapping form and what the saved mapping makes of the latest
// sign-in.
func (h *Handler) connectionMapping(w http.ResponseWriter, r *http.Request, s request) {
	ctx, env := r.Context(), h.cfg.Environment
	c, err := h.cfg.Directory.GetConnection(ctx, env, r.PathValue("org"), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := &connMappingData{}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range c.AttributeMapping {
			if !yield(k) {
				return
			}
		}
	}) {
		d.Rows = append(d.Rows, connMappingRow{Key: k, Claim: c.AttributeMapping[k], Index: len(d.Rows)})
	}
	p := page{Notice: connMappingNotices[r.URL.Query().Get("done")]}
	pv, err := h.cfg.Directory.PreviewMapping(ctx, env, c.OrganizationID, c.ID, c.AttributeMapping)
	if err != nil {
		// The saved mapping no longer passes (an attribute was deleted since): say so beside
		// its key; sign-ins skip that entry.
		if roster.ErrorCode(err) != roster.EInvalid {
			h.fail(w, r, err)
			return
		}
		p.Error, p.Fields = roster.ErrorMessage(err), connMappingErrors(err, d.Rows)
	} else {
		d.Found, d.LastLogin = pv.Found, pv.LastLogin
		if pv.Found {
			v := viewOf(pv.Mapped)
			d.Mapped = &v
		}
	}
	h.connectionMappingPage(w, r, s, http.StatusOK, p, c, d)
}

func (h *Handler) connectionMappingPage(w http.ResponseWriter, r *http.Request, s request, status int, p page, c roster.Connection, d *connMappingData) {
	ctx, env := r.Context(), h.cfg.Environment
	o, err := h.cfg.Directory.GetOrganization(ctx, env, roster.OrganizationRef{ID: c.OrganizationID})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d.Org, d.Conn, d.Path, d.TestOn = o, c, connPath(c.OrganizationID, c.ID), h.cfg.TestSignIn != nil
	for i := range connectionBlankRows {
		d.Rows = append(d.Rows, connMappingRow{Index: len(d.Rows) + i})
	}
	d.Fields = roster.StandardFields
	attrs, err := h.cfg.Directory.ListAttributes(ctx, env)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, a := range attrs {
		d.Custom = append(d.Custom, a.Key)
	}
	p.Title, p.Nav, p.Operator, p.CSRF, p.Data = "Attribute mapping", "organizations", &s.op, s.csrf, d
	h.render(w, status, "connection-mapping", p)
}

// connMappingErrors puts each violation of connection.attribute_mapping.<key> beside the row
// of that key ("key-<index>"), the others beside the table ("mapping").
func connMappingErrors(err error, rows []connMappingRow) map[string]string {
	out := map[string]string{}
	var e *roster.Error
	if !errors.As(err, &e) {
		return out
	}
	for _, v := range e.Violations {
		f := "mapping"
		if key, ok := strings.CutPrefix(v.Field, connMappingField+"."); ok {
			for _, row := range rows {
				if row.Key == key {
					f = "key-" + strconv.Itoa(row.Index)
					break
				}
			}
		}
		if out[f] != "" {
			out[f] += "; "
		}
		out[f] += v.Description
	}
	return out
}

// postConnectionMapping saves the edited mapping (action=save) or previews it (action=preview:
// nothing is written; the answer is the page with the preview, not a redirect).
func (h *Handler) postConnectionMapping(w http.ResponseWriter, r *http.Request, s request) {
	ctx, env, orgID, id := r.Context(), h.cfg.Environment, r.PathValue("org"), r.PathValue("id")
	c, err := h.cfg.Directory.GetConnection(ctx, env, orgID, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	_ = r.ParseForm()
	keys, claims := r.PostForm["key"], r.PostForm["claim"]
	m := map[string]string{}
	var rows []connMappingRow
	fields := map[string]string{}
	for i := range keys {
		k, v := strings.TrimSpace(keys[i]), ""
		if i < len(claims) {
			v = strings.TrimSpace(claims[i])
		}
		if k == "" && v == "" {
			continue
		}
		row := connMappingRow{Key: k, Claim: v, Index: len(rows)}
		rows = append(rows, row)
		if _, dup := m[k]; dup {
			fields["key-"+strconv.Itoa(row.Index)] = "this key is given twice: a mapping has one claim per key"
			continue
		}
		m[k] = v
	}
	preview := r.PostFormValue("action") == "preview"
	d := &connMappingData{Rows: rows, Previewed: preview}
	if len(fields) > 0 {
		h.connectionMappingPage(w, r, s, http.StatusBadRequest, page{Error: "Each key may appear once.", Fields: fields}, c, d)
		return
	}
	if preview {
		note(r, "connection.mapping.preview", id)
		pv, err := h.cfg.Directory.PreviewMapping(ctx, env, orgID, id, m)
		if err != nil {
			if roster.ErrorCode(err) == roster.ENotFound {
				h.fail(w, r, err)
				return
			}
			h.connectionMappingPage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: connMappingErrors(err, rows)}, c, d)
			return
		}
		d.Found, d.LastLogin = pv.Found, pv.LastLogin
		if pv.Found {
			v := viewOf(pv.Mapped)
			d.Mapped = &v
		}
		h.connectionMappingPage(w, r, s, http.StatusOK, page{Notice: "Preview of the edited mapping: nothing was saved."}, c, d)
		return
	}
	note(r, "connection.mapping", id)
	if _, err := h.cfg.Directory.UpdateConnection(ctx, env, orgID, id, roster.ConnectionPatch{AttributeMapping: m}); err != nil {
		if roster.ErrorCode(err) == roster.ENotFound {
			h.fail(w, r, err)
			return
		}
		h.connectionMappingPage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: connMappingErrors(err, rows)}, c, d)
		return
	}
	http.Redirect(w, r, connPath(orgID, id)+"/mapping?done=saved", http.StatusSeeOther)
}
