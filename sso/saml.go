package sso

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/oauth"
	"github.com/rosterhq/roster/samlauth"
)

// SAML endpoints of a connection: Roster's entity ID is its metadata URL.
const (
	samlMetadataPath = "/sso/saml/{id}/metadata"
	samlACSPath      = "/sso/saml/{id}/acs"
)

// SAMLEntityID is the service-provider entity ID (and metadata URL) of a SAML connection.
func SAMLEntityID(issuer, connectionID string) string {
	return strings.TrimSuffix(issuer, "/") + "/sso/saml/" + connectionID + "/metadata"
}

// SAMLACSURL is the assertion consumer service URL of a SAML connection.
func SAMLACSURL(issuer, connectionID string) string {
	return strings.TrimSuffix(issuer, "/") + "/sso/saml/" + connectionID + "/acs"
}

// spKeys caches the environment's parsed SAML key pair (it never changes once made).
type spKeys struct {
	mu   sync.Mutex
	pair map[string]samlauth.SP
}

// serviceProvider is Roster as the SP of a connection.
func (h *Handler) serviceProvider(ctx context.Context, env roster.Environment, c roster.Connection) (samlauth.SP, error) {
	h.sp.mu.Lock()
	base, ok := h.sp.pair[env.ID]
	h.sp.mu.Unlock()
	if !ok {
		host := h.issuer
		if u, err := url.Parse(h.issuer); err == nil {
			host = u.Hostname()
		}
		keyPEM, certPEM, err := h.dir.SAMLKeyPair(ctx, env, host, func() (string, string, error) {
			return samlauth.NewKeyPair(host, time.Now())
		})
		if err != nil {
			return samlauth.SP{}, err
		}
		key, cert, err := samlauth.ParseKeyPair(keyPEM, certPEM)
		if err != nil {
			return samlauth.SP{}, err
		}
		base = samlauth.SP{Key: key, Certificate: cert}
		h.sp.mu.Lock()
		h.sp.pair[env.ID] = base
		h.sp.mu.Unlock()
	}
	base.EntityID, base.ACSURL = SAMLEntityID(h.issuer, c.ID), SAMLACSURL(h.issuer, c.ID)
	return base, nil
}

// samlMetadata publishes a SAML connection's SP metadata for its IdP administrator.
func (h *Handler) samlMetadata(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	env, conn, ok := h.samlConnection(w, r)
	if !ok {
		return
	}
	sp, err := h.serviceProvider(ctx, env, conn)
	if err != nil {
		h.log.ErrorContext(ctx, "saml metadata", "connection_id", conn.ID, "err", err)
		errorPage(w, http.StatusServiceUnavailable, "The SAML metadata is unavailable right now.")
		return
	}
	xml, err := sp.Metadata(conn.SAML)
	if err != nil {
		h.log.ErrorContext(ctx, "saml metadata", "connection_id", conn.ID, "err", err)
		errorPage(w, http.StatusServiceUnavailable, "The SAML metadata is unavailable right now.")
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, _ = w.Write(xml)
}

func (h *Handler) samlConnection(w http.ResponseWriter, r *http.Request) (roster.Environment, roster.Connection, bool) {
	ctx := r.Context()
	env, err := h.dir.Store().GetEnvironment(ctx, h.envID)
	if err != nil {
		errorPage(w, http.StatusServiceUnavailable, "Sign-in is unavailable right now.")
		return env, roster.Connection{}, false
	}
	conn, err := h.dir.GetConnection(ctx, env, "", r.PathValue("id"))
	if err != nil || conn.Type != roster.ConnectionSAML {
		errorPage(w, http.StatusNotFound, "No SAML connection has this address.")
		return env, conn, false
	}
	return env, conn, true
}

// samlStart sends the person to the IdP with an AuthnRequest; the sign-in's ID travels as
// RelayState, the request's ID comes back as InResponseTo.
func (h *Handler) samlStart(w http.ResponseWriter, r *http.Request, env roster.Environment, conn roster.Connection, lr roster.LoginRequest,
	secret string, fail func(code, desc string)) {
	ctx := r.Context()
	sp, err := h.serviceProvider(ctx, env, conn)
	if err != nil {
		h.log.ErrorContext(ctx, "authorize: saml key", "err", err)
		fail("server_error", "the sign-in could not be started")
		return
	}
	req, err := sp.NewRequest(conn.SAML, lr.ID)
	if err != nil {
		h.log.ErrorContext(ctx, "authorize: saml request", "connection_id", conn.ID, "err", err)
		fail("server_error", "the sign-in could not be started")
		return
	}
	lr.UpstreamNonce = req.ID
	if err := h.dir.Store().CreateLoginRequest(ctx, lr); err != nil {
		h.log.ErrorContext(ctx, "authorize: store sign-in", "err", err)
		fail("server_error", "the sign-in could not be started")
		return
	}
	h.setBinding(w, secret, lr.ID)
	if req.PostForm != nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(req.PostForm)
		return
	}
	http.Redirect(w, r, req.RedirectURL, http.StatusFound)
}

// samlACS receives the IdP's answer (HTTP-POST binding) and finishes the sign-in.
func (h *Handler) samlACS(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	env, conn, ok := h.samlConnection(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 512<<10)
	if err := r.ParseForm(); err != nil {
		errorPage(w, http.StatusBadRequest, "The identity provider's answer could not be read.")
		return
	}
	relay := r.PostForm.Get("RelayState")
	// The IdP's POST is cross-site: the browser keeps the Lax binding cookie back. For an
	// answer to a sign-in of Roster's (its RelayState is a sign-in ID), the browser posts once
	// more from Roster's own page, which carries the cookie (binding.go).
	if signInIDPattern.MatchString(relay) && !hasBindingCookie(r, relay) && r.PostForm.Get(repostField) == "" {
		samlRepost(w, SAMLACSURL(h.issuer, conn.ID), r.PostForm)
		return
	}
	var lr roster.LoginRequest
	var err error = roster.Errorf(roster.ENotFound, "no sign-in")
	if relay != "" && len(relay) <= 128 {
		lr, err = h.dir.Store().TakeLoginRequest(ctx, relay)
	}
	if err != nil || lr.EnvironmentID != env.ID {
		if err != nil && roster.ErrorCode(err) != roster.ENotFound {
			h.log.ErrorContext(ctx, "acs: load sign-in", "err", err)
		}
		if conn.SAML.AllowIdPInitiated && conn.SAML.DefaultRedirectURI != "" && conn.Enabled {
			h.samlIdPInitiated(w, r, env, conn, relay)
			return
		}
		errorPage(w, http.StatusBadRequest, "This sign-in is unknown, expired or already finished, and IdP-initiated sign-in is not enabled. Start again from the application.")
		return
	}
	fail := h.loginFailer(w, r, lr)
	if !h.bound(w, r, lr.ID) {
		h.log.WarnContext(ctx, "acs: sign-in not bound to this browser", "connection_id", conn.ID)
		fail(roster.LoginFailedBrowserBinding, "access_denied", bindingMessage)
		return
	}
	if lr.ConnectionID != conn.ID {
		fail(roster.LoginFailedWrongConnection, "access_denied", "the identity provider's answer arrived at another connection than the sign-in's")
		return
	}
	if !h.now().Before(lr.ExpireTime) {
		fail(roster.LoginFailedExpired, "access_denied", "the sign-in took too long; start again")
		return
	}
	if !conn.Enabled && lr.Flavor != roster.FlavorDashboardTest {
		fail(roster.LoginFailedConnectionDisabled, "access_denied", "the organization's SSO connection was disabled during the sign-in")
		return
	}
	sp, err := h.serviceProvider(ctx, env, conn)
	if err != nil {
		h.log.ErrorContext(ctx, "acs: saml key", "err", err)
		fail(roster.LoginFailedServerError, "server_error", "the sign-in could not be finished")
		return
	}
	now := h.now()
	a, err := sp.Verify(conn.SAML, r.PostForm.Get("SAMLResponse"), []string{lr.UpstreamNonce}, false, now)
	if err != nil {
		h.log.WarnContext(ctx, "acs: SAML response refused", "connection_id", conn.ID, "err", err)
		fail(roster.LoginFailedInvalidResponse, "access_denied", printable(err.Error(), 300))
		return
	}
	if a.NameID == "" {
		fail(roster.LoginFailedNoSubject, "access_denied", "the SAML assertion names no subject (NameID)")
		return
	}
	switch err := h.dir.Store().RememberAssertion(ctx, conn.ID, a.ID, a.NotOnOrAfter, now); roster.ErrorCode(err) {
	case "":
	case roster.EConflict:
		fail(roster.LoginFailedReplay, "access_denied", "this SAML assertion was already used")
		return
	default:
		h.log.ErrorContext(ctx, "acs: remember assertion", "err", err)
		fail(roster.LoginFailedServerError, "server_error", "the sign-in could not be finished")
		return
	}
	claims := a.Claims
	claims[roster.SAMLNameIDClaim] = a.NameID
	h.finish(w, r, env, conn, lr, a.NameID, claims, fail)
}

// samlIdPInitiated accepts a response the IdP sent unasked, the way Scalekit does: the
// person is not signed in here; they go to the connection's default redirect URI with a
// short-lived idp_initiated_login token naming the connection and themselves, and the
// application starts an ordinary sign-in from it (with its own state, nonce and PKCE).
func (h *Handler) samlIdPInitiated(w http.ResponseWriter, r *http.Request, env roster.Environment, conn roster.Connection, relay string) {
	ctx := r.Context()
	sp, err := h.serviceProvider(ctx, env, conn)
	if err != nil {
		h.log.ErrorContext(ctx, "acs: saml key", "err", err)
		errorPage(w, http.StatusServiceUnavailable, "Sign-in is unavailable right now.")
		return
	}
	now := h.now()
	a, err := sp.Verify(conn.SAML, r.PostForm.Get("SAMLResponse"), nil, true, now)
	if err != nil {
		h.log.WarnContext(ctx, "acs: IdP-initiated response refused", "connection_id", conn.ID, "err", err)
		errorPage(w, http.StatusBadRequest, "The identity provider's answer was refused: "+printable(err.Error(), 300))
		return
	}
	switch err := h.dir.Store().RememberAssertion(ctx, conn.ID, a.ID, a.NotOnOrAfter, now); roster.ErrorCode(err) {
	case "":
	case roster.EConflict:
		errorPage(w, http.StatusBadRequest, "This SAML assertion was already used.")
		return
	default:
		h.log.ErrorContext(ctx, "acs: remember assertion", "err", err)
		errorPage(w, http.StatusServiceUnavailable, "Sign-in is unavailable right now.")
		return
	}
	hint := a.NameID
	for _, k := range roster.DefaultClaims(roster.FieldEmail) {
		if v, ok := a.Claims[k].(string); ok && roster.IsEmailAddress(v) {
			hint = v
			break
		}
	}
	tok, err := h.tokens.SignIdPInitiated(ctx, oauth.IdPInitiatedClaims{EnvironmentID: env.ID, ConnectionID: conn.ID,
		OrganizationID: conn.OrganizationID, LoginHint: hint, RelayState: printable(relay, 1024)})
	if err != nil {
		h.log.ErrorContext(ctx, "acs: sign token", "err", err)
		errorPage(w, http.StatusServiceUnavailable, "Sign-in is unavailable right now.")
		return
	}
	target, _ := url.Parse(conn.SAML.DefaultRedirectURI)
	q := target.Query()
	q.Set("idp_initiated_login", tok)
	target.RawQuery = q.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

// finish stores a verified sign-in and sends the person back to the application with a code.
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, env roster.Environment, conn roster.Connection, lr roster.LoginRequest,
	subject string, claims map[string]any, fail failer) {
	ctx := r.Context()
	if lr.Flavor == roster.FlavorDashboardTest {
		h.finishTest(w, r, env, conn, lr, subject, claims, func(code, desc string) { fail(roster.LoginFailedServerError, code, desc) })
		return
	}
	res, err := h.dir.SignIn(ctx, env, directory.SignInInput{Request: lr, Connection: conn, Subject: subject, Claims: claims}, newCode)
	switch roster.ErrorCode(err) {
	case "":
	case roster.EFailedPrecondition, roster.EPermissionDenied, roster.EInvalid:
		// A refusal by the linking rule may be another organization's provider reaching for
		// users that are not its own: the operator sees it.
		h.log.WarnContext(ctx, "sign-in refused", "connection_id", conn.ID, "organization_id", conn.OrganizationID,
			"reason", roster.ErrorMessage(err))
		fail(directory.SignInFailure(err), "access_denied", roster.ErrorMessage(err))
		return
	default:
		h.log.ErrorContext(ctx, "sign-in", "connection_id", conn.ID, "err", err)
		fail(roster.LoginFailedServerError, "server_error", "the sign-in could not be stored")
		return
	}
	h.log.InfoContext(ctx, "sign-in", "connection_id", conn.ID, "organization_id", conn.OrganizationID, "user_id", res.User.ID)
	target, _ := url.Parse(lr.RedirectURI)
	tq := target.Query()
	tq.Set("code", res.Code)
	if lr.State != "" {
		tq.Set("state", lr.State)
	}
	target.RawQuery = tq.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}
