package dashboard

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// The audit log (issue 14: "every operator action recorded with who did it and when"). Every
// POST of a signed-in operator that succeeds (a 303 redirect or a 2xx) is recorded by the
// session wrapper, whichever screen it belongs to: the action is the route's pattern
// ("attributes/{key}/delete") and the target its path values, unless the handler names them
// (note). Sign-in (success and failure) and set-up, made before a session exists, are
// recorded by their handlers. Only names and IDs are recorded: never a form's values, so
// never a password or a secret.

type auditKey struct{}

// auditNote is what a handler may say about its action: a name ("client.create") and its
// target (the ID it made).
type auditNote struct{ action, target string }

// note names the action and target of the request being recorded.
func note(r *http.Request, action, target string) {
	if n, ok := r.Context().Value(auditKey{}).(*auditNote); ok {
		n.action, n.target = action, target
	}
}

// statusWriter remembers the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// audited runs a POST handler and records it when it succeeded.
func (h *Handler) audited(w http.ResponseWriter, r *http.Request, s request, next sessionHandler) {
	n := &auditNote{}
	r = r.WithContext(context.WithValue(r.Context(), auditKey{}, n))
	sw := &statusWriter{ResponseWriter: w}
	next(sw, r, s)
	if sw.status != http.StatusSeeOther && (sw.status < 200 || sw.status > 299) {
		return
	}
	action, target := n.action, n.target
	if action == "" {
		action, target = routeAction(r)
		// Where a 303 leads names what was made ("/dashboard/organizations/org_1"); only its
		// path is kept, never its query.
		if loc, err := url.Parse(sw.Header().Get("Location")); err == nil && sw.status == http.StatusSeeOther && loc.Path != "" && loc.Path != r.URL.Path {
			target = strings.TrimSpace(target + " → " + loc.Path)
		}
	}
	h.record(r, s.op.ID, s.op.Email, action, target)
}

var wildcard = regexp.MustCompile(`\{([^}.]+)(\.\.\.)?\}`)

// routeAction names a request by its route: "POST /dashboard/attributes/{key}/delete" is
// action "attributes/{key}/delete", target "key=employee_id".
func routeAction(r *http.Request) (action, target string) {
	pattern := r.Pattern
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = pattern[i+1:]
	}
	action = strings.TrimPrefix(strings.TrimPrefix(pattern, Prefix), "/")
	var parts []string
	for _, m := range wildcard.FindAllStringSubmatch(pattern, -1) {
		parts = append(parts, m[1]+"="+r.PathValue(m[1]))
	}
	return action, strings.Join(parts, " ")
}

// record appends to the audit log; a failure to record is logged (the action is done).
func (h *Handler) record(r *http.Request, operatorID, email, action, target string) {
	err := h.cfg.Operators.Record(r.Context(), roster.OperatorAuditEntry{OperatorID: operatorID, Email: email, Action: action,
		Target: target, RemoteAddr: r.RemoteAddr})
	if err != nil {
		h.cfg.Log.ErrorContext(r.Context(), "dashboard: audit log", "action", action, "err", err)
	}
}

type auditData struct {
	Entries []auditRow
	Next    string
}

type auditRow struct {
	When                                    string
	OperatorID, Email, Action, Target, From string
}

func (h *Handler) registerAudit(m *http.ServeMux) {
	m.HandleFunc("GET "+Prefix+"/audit", h.session(h.auditLog))
	h.pages["audit"] = h.parsePage("audit")
}

// auditLog shows a page of the audit log, newest first.
func (h *Handler) auditLog(w http.ResponseWriter, r *http.Request, s request) {
	p, err := h.cfg.Operators.ListAudit(r.Context(), r.URL.Query().Get("page"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := auditData{}
	if p.Next != "" {
		d.Next = Prefix + "/audit?" + url.Values{"page": {p.Next}}.Encode()
	}
	for _, e := range p.Entries {
		d.Entries = append(d.Entries, auditRow{When: e.CreateTime.UTC().Format(time.RFC3339), OperatorID: e.OperatorID,
			Email: e.Email, Action: e.Action, Target: e.Target, From: e.RemoteAddr})
	}
	h.render(w, http.StatusOK, "audit", page{Title: "Audit log", Nav: "audit", Operator: &s.op, CSRF: s.csrf, Data: d})
}

// parsePage parses a page's template with the layout and the partial templates it uses (files
// of templates/ without .html).
func (h *Handler) parsePage(name string, partials ...string) *template.Template {
	files := []string{"templates/layout.html", "templates/" + name + ".html"}
	for _, p := range partials {
		files = append(files, "templates/"+p+".html")
	}
	return template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, files...))
}
