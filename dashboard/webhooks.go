package dashboard

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/webhooks"
)

// Webhooks (issue 15, docs/webhooks.md): endpoints, their delivery log and redelivery,
// through webhooks.Service, the calls of roster.v1 WebhookService, so the rules and messages
// are the API's. A signing secret is shown once, on the endpoint's page the create (or a
// rotation) leads to, by the sealed one-time cookie of the API clients' screen (clients.go).

// deliveryPage is how many delivery records the endpoint's page shows at a time.
const deliveryPage = 50

func (h *Handler) registerWebhooks(m *http.ServeMux) {
	h.pages["webhooks"] = h.parsePage("webhooks", "event-types", "webhook-parts")
	h.pages["webhook"] = h.parsePage("webhook", "event-types", "webhook-parts")
	h.pages["webhook-delete"] = h.parsePage("webhook-delete")
	m.HandleFunc("GET "+Prefix+"/webhooks", h.session(h.hooks(h.webhookList)))
	m.HandleFunc("POST "+Prefix+"/webhooks", h.session(h.hooks(h.createWebhook)))
	m.HandleFunc("GET "+Prefix+"/webhooks/{id}", h.session(h.hooks(h.webhook)))
	m.HandleFunc("POST "+Prefix+"/webhooks/{id}", h.session(h.hooks(h.updateWebhook)))
	m.HandleFunc("POST "+Prefix+"/webhooks/{id}/enable", h.session(h.hooks(h.enableWebhook)))
	m.HandleFunc("POST "+Prefix+"/webhooks/{id}/disable", h.session(h.hooks(h.disableWebhook)))
	m.HandleFunc("POST "+Prefix+"/webhooks/{id}/rotate-secret", h.session(h.hooks(h.rotateWebhookSecret)))
	m.HandleFunc("POST "+Prefix+"/webhooks/{id}/redeliver", h.session(h.hooks(h.redeliverWebhook)))
	m.HandleFunc("GET "+Prefix+"/webhooks/{id}/delete", h.session(h.hooks(h.confirmDeleteWebhook)))
	m.HandleFunc("POST "+Prefix+"/webhooks/{id}/delete", h.session(h.hooks(h.deleteWebhook)))
}

// hooks answers 501 when the server gave the dashboard no webhook service.
func (h *Handler) hooks(next sessionHandler) sessionHandler {
	return func(w http.ResponseWriter, r *http.Request, s request) {
		if h.cfg.Webhooks == nil {
			h.message(w, r, http.StatusNotImplemented, "Webhooks", "This server manages no webhooks.")
			return
		}
		next(w, r, s)
	}
}

// typeOption is a checkbox of an event type selector.
type typeOption struct {
	Value, ID string
	Prefix    bool
	Checked   bool
}

// typeOptions lists the prefixes ("organization.*", "organization.directory.*") and then the
// types of the catalog, those in selected checked; then any other selector of selected (the
// API also takes "*" or "user.organization_*"), checked, so that saving the form keeps it.
func typeOptions(selected []string) []typeOption {
	types := roster.EventTypes()
	var prefixes []string
	for _, t := range types {
		for i, c := range t {
			if c == '.' {
				if p := t[:i+1] + "*"; !slices.Contains(prefixes, p) {
					prefixes = append(prefixes, p)
				}
			}
		}
	}
	slices.Sort(prefixes)
	out := make([]typeOption, 0, len(prefixes)+len(types))
	ids := map[string]bool{}
	add := func(v string, prefix bool) {
		id := "type-" + strings.NewReplacer(".", "-", "*", "all", "_", "-").Replace(v)
		if ids[id] { // "a.b" and "a_b" would share one
			id += "-" + strconv.Itoa(len(out))
		}
		ids[id] = true
		out = append(out, typeOption{Value: v, ID: id, Prefix: prefix, Checked: slices.Contains(selected, v)})
	}
	for _, p := range prefixes {
		add(p, true)
	}
	for _, t := range types {
		add(t, false)
	}
	for _, s := range selected {
		if !slices.Contains(prefixes, s) && !slices.Contains(types, s) {
			add(s, strings.HasSuffix(s, "*"))
		}
	}
	return out
}

type webhookForm struct {
	URL, Description string
	Disabled         bool
	Types            []typeOption
}

func formOf(e roster.WebhookEndpoint) webhookForm {
	return webhookForm{URL: e.URL, Description: e.Description, Disabled: !e.Enabled, Types: typeOptions(e.EventTypes)}
}

type webhookRow struct {
	Endpoint roster.WebhookEndpoint
	Last     *roster.WebhookDelivery
}

type webhooksData struct {
	Endpoints []webhookRow
	Form      webhookForm
}

func (h *Handler) webhooksPage(w http.ResponseWriter, r *http.Request, s request, status int, p page, f webhookForm) {
	env := h.cfg.Environment.ID
	list, err := h.cfg.Webhooks.List(r.Context(), env)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rows := make([]webhookRow, len(list))
	for i, e := range list { // at most roster.MaxWebhooksPerEnvironment
		rows[i].Endpoint = e
		last, err := h.cfg.Webhooks.Deliveries(r.Context(), env, e.ID, store.WebhookDeliveryQuery{Limit: 1})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if len(last) > 0 {
			rows[i].Last = &last[0]
		}
	}
	p.Title, p.Nav, p.Operator, p.CSRF = "Webhooks", "webhooks", &s.op, s.csrf
	p.Data = webhooksData{Endpoints: rows, Form: f}
	h.render(w, status, "webhooks", p)
}

func (h *Handler) webhookList(w http.ResponseWriter, r *http.Request, s request) {
	notice := ""
	if q := r.URL.Query(); q.Get("done") == "deleted" {
		notice = "Webhook endpoint " + q.Get("id") + " deleted, with its delivery log."
	}
	h.webhooksPage(w, r, s, http.StatusOK, page{Notice: notice}, webhookForm{Types: typeOptions(nil)})
}

// selectedTypes reads the checked event types of a form (none: every type).
func selectedTypes(r *http.Request) []string {
	var out []string
	for _, t := range r.PostForm["event_types"] {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

var webhookInputs = []string{"url", "description", "event_types"}

func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request, s request) {
	in := webhooks.NewEndpoint{URL: strings.TrimSpace(r.PostFormValue("url")), Description: r.PostFormValue("description"),
		EventTypes: selectedTypes(r), Disabled: r.PostFormValue("disabled") != ""}
	e, secret, err := h.cfg.Webhooks.Create(r.Context(), h.cfg.Environment.ID, in)
	if err != nil {
		f := webhookForm{URL: in.URL, Description: in.Description, Disabled: in.Disabled, Types: typeOptions(in.EventTypes)}
		h.webhooksPage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: fieldErrors(err, webhookInputs...)}, f)
		return
	}
	note(r, "webhook.create", e.ID)
	h.showSecretOnce(w, r, s, e.ID, secret, "created")
}

// showSecretOnce sends the browser to the endpoint's page with the secret in the sealed
// one-time cookie, which that page clears.
func (h *Handler) showSecretOnce(w http.ResponseWriter, r *http.Request, s request, id, secret, done string) {
	http.SetCookie(w, h.cookie(h.secretCookieName(), h.sealSecret(s.token, id, secret), time.Now().Add(5*time.Minute)))
	http.Redirect(w, r, Prefix+"/webhooks/"+url.PathEscape(id)+"?done="+done, http.StatusSeeOther)
}

type webhookData struct {
	Endpoint   roster.WebhookEndpoint
	Secret     string // only on the page right after a create or rotation
	Form       webhookForm
	Deliveries []roster.WebhookDelivery
	Older      string // the next page of the log
	Newest     string // the log's first page, when this is not it
}

func (h *Handler) webhookPage(w http.ResponseWriter, r *http.Request, s request, status int, p page, e roster.WebhookEndpoint, f webhookForm, secret string) {
	d := webhookData{Endpoint: e, Secret: secret, Form: f}
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	if before < 0 || r.Method != http.MethodGet {
		before = 0
	}
	log, err := h.cfg.Webhooks.Deliveries(r.Context(), h.cfg.Environment.ID, e.ID, store.WebhookDeliveryQuery{Before: before, Limit: deliveryPage + 1})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if len(log) > deliveryPage {
		log = log[:deliveryPage]
		d.Older = Prefix + "/webhooks/" + url.PathEscape(e.ID) + "?before=" + strconv.FormatInt(log[len(log)-1].Seq, 10) + "#log"
	}
	if before > 0 {
		d.Newest = Prefix + "/webhooks/" + url.PathEscape(e.ID) + "#log"
	}
	d.Deliveries = log
	p.Title, p.Nav, p.Operator, p.CSRF = "Webhook endpoint", "webhooks", &s.op, s.csrf
	p.Data = d
	h.render(w, status, "webhook", p)
}

var webhookNotices = map[string]string{
	"saved":       "Settings saved.",
	"enabled":     "Endpoint enabled: it resumes from the first event it had not delivered.",
	"disabled":    "Endpoint disabled: nothing is sent to it until it is enabled; events wait in the feed.",
	"redelivered": "Event queued for redelivery: it is sent again shortly, with the same webhook-id.",
}

func (h *Handler) webhook(w http.ResponseWriter, r *http.Request, s request) {
	e, err := h.cfg.Webhooks.Get(r.Context(), h.cfg.Environment.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, secret := page{Notice: webhookNotices[r.URL.Query().Get("done")]}, ""
	if ck, err := r.Cookie(h.secretCookieName()); err == nil {
		h.clearCookie(w, h.secretCookieName()) // shown once
		if id, sec, ok := h.openSecret(s.token, ck.Value); ok && id == e.ID {
			secret = sec
			p.Notice = "Copy the signing secret now: it is shown only this once."
		}
	}
	h.webhookPage(w, r, s, http.StatusOK, p, e, formOf(e), secret)
}

func (h *Handler) updateWebhook(w http.ResponseWriter, r *http.Request, s request) {
	env, id := h.cfg.Environment.ID, r.PathValue("id")
	e, err := h.cfg.Webhooks.Get(r.Context(), env, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	u, desc, types := strings.TrimSpace(r.PostFormValue("url")), r.PostFormValue("description"), selectedTypes(r)
	if types == nil {
		types = []string{} // none checked: every type
	}
	if _, err := h.cfg.Webhooks.Update(r.Context(), env, id, webhooks.EndpointUpdate{URL: &u, Description: &desc, EventTypes: &types}); err != nil {
		f := webhookForm{URL: u, Description: desc, Types: typeOptions(types)}
		h.webhookPage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: fieldErrors(err, webhookInputs...)}, e, f, "")
		return
	}
	note(r, "webhook.update", id)
	http.Redirect(w, r, Prefix+"/webhooks/"+url.PathEscape(id)+"?done=saved", http.StatusSeeOther)
}

func (h *Handler) enableWebhook(w http.ResponseWriter, r *http.Request, s request) {
	id := r.PathValue("id")
	if _, err := h.cfg.Webhooks.Enable(r.Context(), h.cfg.Environment.ID, id); err != nil {
		h.fail(w, r, err)
		return
	}
	note(r, "webhook.enable", id)
	http.Redirect(w, r, Prefix+"/webhooks/"+url.PathEscape(id)+"?done=enabled", http.StatusSeeOther)
}

func (h *Handler) disableWebhook(w http.ResponseWriter, r *http.Request, s request) {
	id, off := r.PathValue("id"), false
	if _, err := h.cfg.Webhooks.Update(r.Context(), h.cfg.Environment.ID, id, webhooks.EndpointUpdate{Enabled: &off}); err != nil {
		h.fail(w, r, err)
		return
	}
	note(r, "webhook.disable", id)
	http.Redirect(w, r, Prefix+"/webhooks/"+url.PathEscape(id)+"?done=disabled", http.StatusSeeOther)
}

func (h *Handler) rotateWebhookSecret(w http.ResponseWriter, r *http.Request, s request) {
	e, secret, err := h.cfg.Webhooks.RotateSecret(r.Context(), h.cfg.Environment.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	note(r, "webhook.rotate_secret", e.ID)
	h.showSecretOnce(w, r, s, e.ID, secret, "rotated")
}

func (h *Handler) redeliverWebhook(w http.ResponseWriter, r *http.Request, s request) {
	id, event := r.PathValue("id"), r.PostFormValue("event_id")
	if err := h.cfg.Webhooks.Redeliver(r.Context(), h.cfg.Environment.ID, id, event); err != nil {
		h.fail(w, r, err)
		return
	}
	note(r, "webhook.redeliver", id+" "+event)
	http.Redirect(w, r, Prefix+"/webhooks/"+url.PathEscape(id)+"?done=redelivered", http.StatusSeeOther)
}

func (h *Handler) confirmDeleteWebhook(w http.ResponseWriter, r *http.Request, s request) {
	e, err := h.cfg.Webhooks.Get(r.Context(), h.cfg.Environment.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, http.StatusOK, "webhook-delete", page{Title: "Delete webhook endpoint", Nav: "webhooks", Operator: &s.op, CSRF: s.csrf,
		Data: webhookData{Endpoint: e}})
}

func (h *Handler) deleteWebhook(w http.ResponseWriter, r *http.Request, s request) {
	id := r.PathValue("id")
	if err := h.cfg.Webhooks.Delete(r.Context(), h.cfg.Environment.ID, id); err != nil {
		h.fail(w, r, err)
		return
	}
	note(r, "webhook.delete", id)
	http.Redirect(w, r, Prefix+"/webhooks?"+url.Values{"done": {"deleted"}, "id": {id}}.Encode(), http.StatusSeeOther)
}
