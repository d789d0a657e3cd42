package sso

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/oauth"
	"golang.org/x/oauth2"
)

// An operator's test sign-in (the dashboard's "Test sign-in", docs/dashboard.md): a login
// request of flavor roster.FlavorDashboardTest, started by StartTest behind the dashboard's
// session and CSRF check, bound to the operator's browser like every sign-in, sent to the
// connection's provider (also when the connection is disabled: operators test before they
// enable). The callback or ACS verifies the answer exactly as for an application, and then,
// instead of directory.SignIn, stores the claims and what the mapping makes of them
// (directory.MapSignIn: no user, identity, membership or code) and sends the browser to the
// dashboard's result page; an error goes to the same page with the message the application
// would have got. The flavor is the stored login request's, never the browser's say: a test's
// state cannot finish an application's sign-in, nor an application's land on the test page.

// StartTest starts an operator's test sign-in through conn. resultPath is the dashboard path
// the result's ID is appended to (it is followed after the provider's answer, from the stored
// login request only). It sets the browser's binding cookie and returns the provider's URL
// for the caller to send the browser to (not a redirect of the dashboard's form POST: the
// dashboard's CSP, form-action 'self', forbids a form's redirect to another site). For the
// SAML POST binding it writes the auto-submitting form itself, and when the sign-in cannot
// start it redirects (303) to the result page with the error; both return "". An error is
// returned only when not even that could be stored.
func (h *Handler) StartTest(w http.ResponseWriter, r *http.Request, env roster.Environment, conn roster.Connection, operatorID, resultPath string) (string, error) {
	ctx := r.Context()
	if operatorID == "" || !strings.HasPrefix(resultPath, "/") || strings.HasPrefix(resultPath, "//") {
		return "", errors.New("sso: a test sign-in needs an operator and a result path")
	}
	now := h.now().UTC().Truncate(time.Microsecond)
	secret, id := newBinding()
	lr := roster.LoginRequest{ID: id, EnvironmentID: env.ID, Flavor: roster.FlavorDashboardTest, RedirectURI: resultPath, State: operatorID,
		Scope: "openid profile email", ConnectionID: conn.ID, CreateTime: now, ExpireTime: now.Add(roster.LoginRequestLifetime)}
	var failure string
	fail := func(_, desc string) { failure = desc }
	if conn.Type == roster.ConnectionSAML {
		rec := &startRecorder{ResponseWriter: w}
		h.samlStart(rec, r, env, conn, lr, secret, fail)
		if failure == "" {
			if rec.status == http.StatusFound {
				loc := rec.Header().Get("Location")
				rec.Header().Del("Location")
				return loc, nil
			}
			rec.flush()
			return "", nil
		}
		return "", h.testResult(w, r, env, conn, lr, nil, failure)
	}
	provider, err := h.providers.get(ctx, conn)
	if err != nil {
		h.log.WarnContext(ctx, "test sign-in: identity provider unreachable", "connection_id", conn.ID, "err", err)
		return "", h.testResult(w, r, env, conn, lr, nil, "the organization's identity provider could not be reached")
	}
	clientSecret, err := h.dir.ConnectionSecret(conn)
	if err != nil {
		return "", h.testResult(w, r, env, conn, lr, nil, "the connection's client secret cannot be read")
	}
	lr.UpstreamNonce = oauth.NewToken()
	opts := []oauth2.AuthCodeOption{oidc.Nonce(lr.UpstreamNonce)}
	if conn.OIDC.PKCE {
		lr.UpstreamVerifier = oauth2.GenerateVerifier()
		opts = append(opts, oauth2.S256ChallengeOption(lr.UpstreamVerifier))
	}
	if err := h.dir.Store().CreateLoginRequest(ctx, lr); err != nil {
		return "", err
	}
	h.setBinding(w, secret, lr.ID)
	return oauthConfig(conn, provider, clientSecret, h.CallbackURL()).AuthCodeURL(lr.ID, opts...), nil
}

// startRecorder holds samlStart's answer back until StartTest knows whether it failed; the
// POST binding's form is written through with its own CSP (the dashboard's forbids its
// inline script and its post to the provider).
type startRecorder struct {
	http.ResponseWriter
	status int
	body   []byte
}

func (s *startRecorder) WriteHeader(code int) { s.status = code }
func (s *startRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	s.body = append(s.body, b...)
	return len(b), nil
}
func (s *startRecorder) flush() {
	s.ResponseWriter.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; frame-ancestors 'none'")
	s.ResponseWriter.WriteHeader(s.status)
	_, _ = s.ResponseWriter.Write(s.body)
}

// testFailer is the fail of a test sign-in's callback or ACS: the error goes to the result
// page instead of the application.
func (h *Handler) testFailer(w http.ResponseWriter, r *http.Request, lr roster.LoginRequest) func(code, desc string) {
	return func(_, desc string) {
		ctx := r.Context()
		env, err := h.dir.Store().GetEnvironment(ctx, lr.EnvironmentID)
		if err != nil {
			errorPage(w, http.StatusServiceUnavailable, "The test sign-in could not be finished.")
			return
		}
		conn, err := h.dir.GetConnection(ctx, env, "", lr.ConnectionID)
		if err != nil {
			errorPage(w, http.StatusBadRequest, "The connection of this test sign-in was removed.")
			return
		}
		if err := h.testResult(w, r, env, conn, lr, nil, desc); err != nil {
			h.log.ErrorContext(ctx, "test sign-in: store result", "err", err)
			errorPage(w, http.StatusServiceUnavailable, "The test sign-in could not be finished.")
		}
	}
}

// finishTest maps a verified answer as a sign-in would, without storing a user, and shows
// the operator the result.
func (h *Handler) finishTest(w http.ResponseWriter, r *http.Request, env roster.Environment, conn roster.Connection, lr roster.LoginRequest,
	subject string, claims map[string]any, fail func(code, desc string)) {
	ctx := r.Context()
	m, err := h.dir.MapSignIn(ctx, env, conn, subject, claims)
	if err != nil {
		h.log.ErrorContext(ctx, "test sign-in: map", "connection_id", conn.ID, "err", err)
		fail("server_error", "the sign-in could not be stored")
		return
	}
	h.log.InfoContext(ctx, "test sign-in", "connection_id", conn.ID, "organization_id", conn.OrganizationID)
	if err := h.testResult(w, r, env, conn, lr, &m, ""); err != nil {
		h.log.ErrorContext(ctx, "test sign-in: store result", "err", err)
		errorPage(w, http.StatusServiceUnavailable, "The test sign-in could not be finished.")
	}
}

// testResult stores a test's result for its operator and sends the browser to it.
func (h *Handler) testResult(w http.ResponseWriter, r *http.Request, env roster.Environment, conn roster.Connection, lr roster.LoginRequest,
	m *directory.MappedSignIn, failure string) error {
	id, err := h.dir.SaveConnectionTest(context.WithoutCancel(r.Context()), env, conn, lr.State, m, failure)
	if err != nil {
		return err
	}
	http.Redirect(w, r, lr.RedirectURI+id, http.StatusSeeOther)
	return nil
}
