package dashboard

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/rosterhq/roster"
)

// standardAttribute is a profile field every user has (read-only here).
type standardAttribute struct {
	Key, Description string
}

var standardAttributes = []standardAttribute{
	{roster.FieldEmail, "Email address"},
	{roster.FieldEmailVerified, "Whether the email address is verified"},
	{roster.FieldGivenName, "Given (first) name"},
	{roster.FieldFamilyName, "Family (last) name"},
	{roster.FieldName, "Full name"},
	{roster.FieldPreferredUsername, "Preferred username"},
	{roster.FieldPhoneNumber, "Phone number (E.164)"},
	{roster.FieldLocale, "Locale (e.g. en-US)"},
	{roster.FieldPicture, "Picture URL"},
	{roster.FieldGroups, "Groups sent by the identity provider"},
}

var attributeTypes = []roster.AttributeType{roster.AttributeString, roster.AttributeInteger, roster.AttributeBoolean,
	roster.AttributeDate, roster.AttributeEnum}

// attributeForm is the Add Attribute form's values.
type attributeForm struct {
	Key, DisplayName, Type, EnumValues, Pattern, MaxLength string
	Required, Unique                                       bool
}

type attributesData struct {
	Standard []standardAttribute
	Custom   []roster.AttributeDefinition
	Types    []roster.AttributeType
	Form     attributeForm
}

var attributeInputs = []string{"key", "display_name", "type", "enum_values", "pattern", "max_length"}

func (h *Handler) attributesPage(w http.ResponseWriter, r *http.Request, s request, status int, p page, form attributeForm) {
	list, err := h.cfg.Directory.ListAttributes(r.Context(), h.cfg.Environment)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p.Title, p.Nav, p.Operator, p.CSRF = "User Attributes", "attributes", &s.op, s.csrf
	p.Data = attributesData{Standard: standardAttributes, Custom: list, Types: attributeTypes, Form: form}
	h.render(w, status, "attributes", p)
}

func (h *Handler) attributes(w http.ResponseWriter, r *http.Request, s request) {
	q := r.URL.Query()
	notice := ""
	switch key := q.Get("key"); q.Get("done") {
	case "created":
		notice = "Attribute " + key + " added."
	case "updated":
		notice = "Attribute " + key + " saved."
	case "deleted":
		notice = "Attribute " + key + " and its stored values deleted."
	}
	h.attributesPage(w, r, s, http.StatusOK, page{Notice: notice}, attributeForm{Type: string(roster.AttributeString)})
}

// createAttribute is Add Attribute: directory.CreateAttribute checks it as the API does.
func (h *Handler) createAttribute(w http.ResponseWriter, r *http.Request, s request) {
	f := attributeForm{Key: strings.TrimSpace(r.PostFormValue("key")), DisplayName: r.PostFormValue("display_name"),
		Type: r.PostFormValue("type"), EnumValues: r.PostFormValue("enum_values"), Pattern: r.PostFormValue("pattern"),
		MaxLength: strings.TrimSpace(r.PostFormValue("max_length")), Required: r.PostFormValue("required") != "",
		Unique: r.PostFormValue("unique") != ""}
	d := roster.AttributeDefinition{Key: f.Key, DisplayName: f.DisplayName, Type: roster.AttributeType(f.Type), Pattern: f.Pattern,
		Required: f.Required, Unique: f.Unique}
	for _, line := range strings.Split(f.EnumValues, "\n") {
		if v := strings.TrimSpace(line); v != "" {
			d.EnumValues = append(d.EnumValues, v)
		}
	}
	if f.MaxLength != "" {
		n, err := strconv.Atoi(f.MaxLength)
		if err != nil {
			h.attributesPage(w, r, s, http.StatusBadRequest, page{Error: "invalid request: max_length: must be a whole number",
				Fields: map[string]string{"max_length": "must be a whole number"}}, f)
			return
		}
		d.MaxLength = n
	}
	if _, err := h.cfg.Directory.CreateAttribute(r.Context(), h.cfg.Environment, d); err != nil {
		fields := fieldErrors(err, attributeInputs...)
		if roster.ErrorCode(err) == roster.EConflict && len(fields) == 0 {
			fields = map[string]string{"key": roster.ErrorMessage(err)}
		}
		h.attributesPage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: fields}, f)
		return
	}
	note(r, "attribute.create", d.Key)
	http.Redirect(w, r, Prefix+"/attributes?"+url.Values{"done": {"created"}, "key": {d.Key}}.Encode(), http.StatusSeeOther)
}

type attributeData struct {
	Attribute   roster.AttributeDefinition
	DisplayName string
}

func (h *Handler) attribute(w http.ResponseWriter, r *http.Request, s request) {
	d, err := h.cfg.Directory.GetAttribute(r.Context(), h.cfg.Environment, r.PathValue("key"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, http.StatusOK, "attribute", page{Title: d.DisplayName, Nav: "attributes", Operator: &s.op, CSRF: s.csrf,
		Data: attributeData{Attribute: d, DisplayName: d.DisplayName}})
}

// updateAttribute edits the display name (directory.UpdateAttribute, as the API's PATCH).
func (h *Handler) updateAttribute(w http.ResponseWriter, r *http.Request, s request) {
	key, name := r.PathValue("key"), r.PostFormValue("display_name")
	d, err := h.cfg.Directory.UpdateAttribute(r.Context(), h.cfg.Environment, key, roster.AttributePatch{DisplayName: &name})
	if err != nil {
		cur, gerr := h.cfg.Directory.GetAttribute(r.Context(), h.cfg.Environment, key)
		if gerr != nil {
			h.fail(w, r, err)
			return
		}
		h.render(w, statusOf(err), "attribute", page{Title: cur.DisplayName, Nav: "attributes", Operator: &s.op, CSRF: s.csrf,
			Error: roster.ErrorMessage(err), Fields: fieldErrors(err, "display_name"), Data: attributeData{Attribute: cur, DisplayName: name}})
		return
	}
	note(r, "attribute.update", d.Key)
	http.Redirect(w, r, Prefix+"/attributes?"+url.Values{"done": {"updated"}, "key": {d.Key}}.Encode(), http.StatusSeeOther)
}

// confirmDelete says what deleting does (docs/custom-attributes.md) before it is done.
func (h *Handler) confirmDelete(w http.ResponseWriter, r *http.Request, s request) {
	d, err := h.cfg.Directory.GetAttribute(r.Context(), h.cfg.Environment, r.PathValue("key"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, http.StatusOK, "delete", page{Title: "Delete " + d.DisplayName, Nav: "attributes", Operator: &s.op, CSRF: s.csrf,
		Data: attributeData{Attribute: d}})
}

func (h *Handler) deleteAttribute(w http.ResponseWriter, r *http.Request, s request) {
	key := r.PathValue("key")
	if err := h.cfg.Directory.DeleteAttribute(r.Context(), h.cfg.Environment, key); err != nil {
		h.fail(w, r, err)
		return
	}
	note(r, "attribute.delete", key)
	http.Redirect(w, r, Prefix+"/attributes?"+url.Values{"done": {"deleted"}, "key": {key}}.Encode(), http.StatusSeeOther)
}
