package dashboard

import (
	"net/http"
	"net/url"
	"time"

	"github.com/rosterhq/roster"
)

// The test sign-in of an SSO connection (docs/dashboard.md, "Mapping preview and test
// sign-in"): a POST behind the session and CSRF starts it through Config.TestSignIn (the sso
// package: a login request of flavor roster.FlavorDashboardTest, bound to this browser); the
// provider's answer is verified as for an application and mapped, without storing a user,
// and the result page shows it to the operator who started it, for
// roster.ConnectionTestLifetime.

type connTestData struct {
	Org      roster.Organization
	Conn     roster.Connection
	Path     string
	Redirect string // the identity provider's URL, while starting
	Error    string // the sign-in's error, as the application would get it
	Created  time.Time
	Expires  time.Time
	Mapped   *mappedView
}

// startConnectionTest sends the operator's browser to the connection's identity provider.
// Not a redirect: the page's CSP (form-action 'self') forbids a form's redirect to another
// site, so the answer is a page that goes on by a meta refresh, or a link.
func (h *Handler) startConnectionTest(w http.ResponseWriter, r *http.Request, s request) {
	ctx, env := r.Context(), h.cfg.Environment
	c, err := h.cfg.Directory.GetConnection(ctx, env, r.PathValue("org"), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if h.cfg.TestSignIn == nil {
		h.message(w, r, http.StatusServiceUnavailable, "Unavailable", "Test sign-ins are not served by this deployment.")
		return
	}
	note(r, "connection.test", c.ID)
	target, err := h.cfg.TestSignIn.StartTest(w, r, env, c, s.op.ID, connPath(c.OrganizationID, c.ID)+"/test/")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if target == "" { // answered already: the SAML POST form, or the result page with an error
		return
	}
	if u, err := url.Parse(target); err != nil || u.Scheme != "https" && u.Scheme != "http" {
		h.message(w, r, http.StatusBadGateway, "Error", "The identity provider's sign-in address is not an http(s) URL.")
		return
	}
	o, err := h.cfg.Directory.GetOrganization(ctx, env, roster.OrganizationRef{ID: c.OrganizationID})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, http.StatusOK, "connection-test", page{Title: "Test sign-in", Nav: "organizations", Operator: &s.op, CSRF: s.csrf,
		Data: &connTestData{Org: o, Conn: c, Path: connPath(c.OrganizationID, c.ID), Redirect: target}})
}

// connectionTestResult shows a test sign-in's result to the operator who started it.
func (h *Handler) connectionTestResult(w http.ResponseWriter, r *http.Request, s request) {
	ctx, env, orgID, id := r.Context(), h.cfg.Environment, r.PathValue("org"), r.PathValue("id")
	c, err := h.cfg.Directory.GetConnection(ctx, env, orgID, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	t, m, err := h.cfg.Directory.ConnectionTestResult(ctx, env, orgID, id, r.PathValue("result"), s.op.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	o, err := h.cfg.Directory.GetOrganization(ctx, env, roster.OrganizationRef{ID: orgID})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := &connTestData{Org: o, Conn: c, Path: connPath(orgID, id), Error: t.Error, Created: t.CreateTime, Expires: t.ExpireTime}
	if m != nil {
		v := viewOf(*m)
		d.Mapped = &v
	}
	h.render(w, http.StatusOK, "connection-test", page{Title: "Test sign-in", Nav: "organizations", Operator: &s.op, CSRF: s.csrf, Data: d})
}
