// Package sso signs users in through their organization's identity provider. It is the
// OpenID Connect relying party towards the provider (coreos/go-oidc) and serves the
// application's side of the login: GET /oauth/authorize (Scalekit's shape, ending in an ID
// token from POST /oauth/token) and GET /sso/authorize, POST /sso/token, GET /sso/profile
// (the profile-object shape of sso-profile-object.md). Every step's state lives in the
// database, so any Roster node can finish a sign-in that another started. See docs/sso.md.
package sso

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/oauth"
	"github.com/rosterhq/roster/outbound"
	"github.com/rosterhq/roster/samlauth"
	"golang.org/x/oauth2"
)

// CallbackPath is where identity providers send users back to Roster; administrators
// register {issuer}{CallbackPath} as the redirect URI at their provider.
const CallbackPath = "/sso/oidc/callback"

// Handler serves the sign-in endpoints of one environment.
type Handler struct {
	dir       *directory.Service
	tokens    *oauth.Server
	envID     string
	issuer    string
	log       *slog.Logger
	providers *providers
	sp        *spKeys
	now       func() time.Time
}

// Config is what the sign-in endpoints need. Outbound talks to identity providers (discovery,
// keys, tokens, userinfo); nil refuses private networks (outbound.Options{}).
type Config struct {
	Directory     *directory.Service
	Tokens        *oauth.Server
	EnvironmentID string
	Issuer        string
	Log           *slog.Logger
	Outbound      *outbound.Guard
}

// New returns the sign-in handler.
func New(cfg Config) *Handler {
	guard := cfg.Outbound
	if guard == nil {
		guard = outbound.New(outbound.Options{Log: cfg.Log})
	}
	return &Handler{dir: cfg.Directory, tokens: cfg.Tokens, envID: cfg.EnvironmentID, issuer: strings.TrimSuffix(cfg.Issuer, "/"),
		log: cfg.Log, providers: &providers{guard: guard, log: cfg.Log, now: time.Now, cache: map[string]cachedProvider{}},
		sp: &spKeys{pair: map[string]samlauth.SP{}}, now: time.Now}
}

// CallbackURL is the redirect URI to register at identity providers.
func (h *Handler) CallbackURL() string { return OIDCRedirectURI(h.issuer) }

// OIDCRedirectURI is the redirect URI of every OIDC connection of a deployment whose public
// URL is issuer: what administrators register at their provider (the API's redirect_uri, the
// dashboard's copy value, the callback of sign-ins).
func OIDCRedirectURI(issuer string) string { return strings.TrimSuffix(issuer, "/") + CallbackPath }

// Register adds the endpoints to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /oauth/authorize", func(w http.ResponseWriter, r *http.Request) { h.authorize(w, r, roster.FlavorOIDC) })
	mux.HandleFunc("GET /sso/authorize", func(w http.ResponseWriter, r *http.Request) { h.authorize(w, r, roster.FlavorWorkOS) })
	mux.HandleFunc("GET "+CallbackPath, h.callback)
	mux.HandleFunc("GET "+samlMetadataPath, h.samlMetadata)
	mux.HandleFunc("POST "+samlACSPath, h.samlACS)
	mux.HandleFunc("POST /sso/token", h.workosToken)
	mux.HandleFunc("GET /sso/profile", h.workosProfile)
}

var challengePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// authorize starts a sign-in. Until the client and redirect URI are known to be good, errors
// are shown as a page: an unregistered redirect URI is never followed.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request, flavor roster.LoginFlavor) {
	ctx := r.Context()
	q := r.URL.Query()
	env, err := h.dir.Store().GetEnvironment(ctx, h.envID)
	if err != nil {
		h.log.ErrorContext(ctx, "authorize: environment", "err", err)
		errorPage(w, http.StatusServiceUnavailable, "Sign-in is unavailable right now.")
		return
	}
	clientID, redirectURI := q.Get("client_id"), q.Get("redirect_uri")
	client, err := h.dir.Store().GetClient(ctx, clientID)
	if clientID == "" || err != nil || client.Revoked() || client.EnvironmentID != env.ID {
		errorPage(w, http.StatusBadRequest, "The application that sent you here is unknown (client_id).")
		return
	}
	if redirectURI == "" || !slices.Contains(client.RedirectURIs, redirectURI) {
		errorPage(w, http.StatusBadRequest, "The application's redirect_uri is not registered for it, so Roster will not send you there.")
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) { redirectError(w, r, redirectURI, state, code, desc) }
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "response_type must be code")
		return
	}
	scope := q.Get("scope")
	if flavor == roster.FlavorOIDC {
		if scope == "" {
			scope = "openid profile email"
		}
		if !slices.Contains(strings.Fields(scope), "openid") {
			fail("invalid_scope", "scope must include openid")
			return
		}
	}
	challenge, method := q.Get("code_challenge"), q.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		fail("invalid_request", "code_challenge_method without code_challenge")
		return
	case challenge != "" && method != "S256":
		fail("invalid_request", "code_challenge_method must be S256")
		return
	case challenge != "" && !challengePattern.MatchString(challenge):
		fail("invalid_request", "code_challenge must be 43 base64url characters (RFC 7636)")
		return
	case len(state) > 2048 || len(q.Get("nonce")) > 512 || len(q.Get("login_hint")) > 320:
		fail("invalid_request", "state, nonce or login_hint is too long")
		return
	}

	conn, code, desc := h.route(ctx, env, q, flavor)
	if code != "" {
		fail(code, desc)
		return
	}
	now := h.now().UTC().Truncate(time.Microsecond)
	secret, id := newBinding()
	lr := roster.LoginRequest{
		ID: id, EnvironmentID: env.ID, Flavor: flavor, ClientID: client.ID, RedirectURI: redirectURI, State: state,
		Nonce: q.Get("nonce"), Scope: scope, CodeChallenge: challenge, ConnectionID: conn.ID,
		CreateTime: now, ExpireTime: now.Add(roster.LoginRequestLifetime),
	}
	if conn.Type == roster.ConnectionSAML {
		h.samlStart(w, r, env, conn, lr, secret, fail)
		return
	}
	provider, err := h.providers.get(ctx, conn)
	if err != nil {
		h.log.WarnContext(ctx, "authorize: identity provider unreachable", "connection_id", conn.ID, "err", err)
		fail("temporarily_unavailable", "the organization's identity provider could not be reached")
		return
	}
	clientSecret, err := h.dir.ConnectionSecret(conn)
	if err != nil {
		h.log.ErrorContext(ctx, "authorize: connection secret", "connection_id", conn.ID, "err", err)
		fail("server_error", "the connection's client secret cannot be read")
		return
	}
	lr.UpstreamNonce = oauth.NewToken()
	opts := []oauth2.AuthCodeOption{oidc.Nonce(lr.UpstreamNonce)}
	if conn.OIDC.PKCE {
		lr.UpstreamVerifier = oauth2.GenerateVerifier()
		opts = append(opts, oauth2.S256ChallengeOption(lr.UpstreamVerifier))
	}
	if hint := q.Get("login_hint"); hint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", hint))
	}
	if err := h.dir.Store().CreateLoginRequest(ctx, lr); err != nil {
		h.log.ErrorContext(ctx, "authorize: store sign-in", "err", err)
		fail("server_error", "the sign-in could not be started")
		return
	}
	h.setBinding(w, secret, lr.ID)
	http.Redirect(w, r, oauthConfig(conn, provider, clientSecret, h.CallbackURL()).AuthCodeURL(lr.ID, opts...), http.StatusFound)
}

// route finds the connection a sign-in goes to: named, the organization's, or the one of
// the organization that owns the email domain. It returns an OAuth error code and
// description when there is none.
func (h *Handler) route(ctx context.Context, env roster.Environment, q url.Values, flavor roster.LoginFlavor) (roster.Connection, string, string) {
	connID, orgID := q.Get("connection_id"), q.Get("organization_id")
	domain := q.Get("domain_hint")
	if flavor == roster.FlavorWorkOS {
		connID, orgID = q.Get("connection"), q.Get("organization")
		if q.Get("provider") != "" && connID == "" && orgID == "" {
			return roster.Connection{}, "invalid_request", "Roster signs in through organization connections; provider sign-in is not served"
		}
	} else if domain == "" {
		domain = q.Get("domain")
	}
	if domain == "" && connID == "" && orgID == "" {
		domain = roster.EmailDomain(q.Get("login_hint"))
	}
	var candidates []roster.Connection
	switch {
	case connID != "":
		c, err := h.dir.GetConnection(ctx, env, orgID, connID)
		if err != nil {
			return c, "invalid_request", "no connection " + connID + " exists (in that organization)"
		}
		candidates = []roster.Connection{c}
	case orgID != "" || domain != "":
		list, err := h.dir.ListConnections(ctx, env, orgID, domain)
		if err != nil {
			return roster.Connection{}, "invalid_request", "the domain hint is not a domain name"
		}
		if len(list) == 0 && orgID == "" {
			return roster.Connection{}, "invalid_request", "no organization has the domain " + domain
		}
		if len(list) == 0 {
			return roster.Connection{}, "invalid_request", "the organization has no SSO connection"
		}
		candidates = list
	default:
		return roster.Connection{}, "invalid_request", "say where to sign in: connection_id, organization_id, domain_hint or an email login_hint"
	}
	for _, c := range candidates {
		if c.Enabled {
			return c, "", ""
		}
	}
	return roster.Connection{}, "access_denied", "the organization's SSO connection is disabled"
}

// failer ends a sign-in that failed after its login request was found: it records the
// failure (user.login_failed, with a roster.LoginFailed* reason) and sends the person back to
// the application with the OAuth error code and description.
type failer func(reason, code, desc string)

// loginFailer is the failer of a login request. An operator's dashboard test sign-in records
// nothing and shows the operator the failure (dashboardtest.go).
func (h *Handler) loginFailer(w http.ResponseWriter, r *http.Request, lr roster.LoginRequest) failer {
	if lr.Flavor == roster.FlavorDashboardTest {
		test := h.testFailer(w, r, lr)
		return func(_, code, desc string) { test(code, desc) }
	}
	return func(reason, code, desc string) {
		if err := h.dir.RecordLoginFailed(r.Context(), lr, "", "", reason, desc); err != nil {
			h.log.ErrorContext(r.Context(), "sign-in: record the failure", "connection_id", lr.ConnectionID, "err", err)
		}
		redirectError(w, r, lr.RedirectURI, lr.State, code, desc)
	}
}

// callback finishes a sign-in when the identity provider sends the user back.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" || len(state) > 128 {
		errorPage(w, http.StatusBadRequest, "This sign-in is unknown: the identity provider's answer carries no valid state.")
		return
	}
	lr, err := h.dir.Store().TakeLoginRequest(ctx, state)
	if err != nil || lr.EnvironmentID != h.envID {
		if err != nil && roster.ErrorCode(err) != roster.ENotFound {
			h.log.ErrorContext(ctx, "callback: load sign-in", "err", err)
		}
		errorPage(w, http.StatusBadRequest, "This sign-in is unknown, expired or already finished. Start again from the application.")
		return
	}
	fail := h.loginFailer(w, r, lr)
	if !h.bound(w, r, lr.ID) {
		h.log.WarnContext(ctx, "callback: sign-in not bound to this browser", "connection_id", lr.ConnectionID)
		fail(roster.LoginFailedBrowserBinding, "access_denied", bindingMessage)
		return
	}
	if !h.now().Before(lr.ExpireTime) {
		fail(roster.LoginFailedExpired, "access_denied", "the sign-in took too long; start again")
		return
	}
	if e := q.Get("error"); e != "" {
		fail(roster.LoginFailedIdPError, "access_denied", "the identity provider refused the sign-in: "+printable(e+" "+q.Get("error_description"), 200))
		return
	}
	env, err := h.dir.Store().GetEnvironment(ctx, lr.EnvironmentID)
	if err != nil {
		h.log.ErrorContext(ctx, "callback: environment", "err", err)
		fail(roster.LoginFailedServerError, "server_error", "the sign-in could not be finished")
		return
	}
	conn, err := h.dir.GetConnection(ctx, env, "", lr.ConnectionID)
	if err != nil || !conn.Enabled && lr.Flavor != roster.FlavorDashboardTest {
		fail(roster.LoginFailedConnectionDisabled, "access_denied", "the organization's SSO connection was disabled or removed during the sign-in")
		return
	}
	claims, subject, err := h.exchange(ctx, conn, lr, q.Get("code"))
	if err != nil {
		h.log.WarnContext(ctx, "callback: provider answer refused", "connection_id", conn.ID, "err", err)
		fail(roster.LoginFailedInvalidResponse, "access_denied", printable(err.Error(), 300))
		return
	}
	h.finish(w, r, env, conn, lr, subject, claims, fail)
}

func newCode() (string, string) {
	c := oauth.NewToken()
	return c, oauth.HashToken(c)
}

// exchange trades the provider's code for its tokens and verifies the ID token: signature
// (the provider's published keys; "none" and unknown keys are refused), issuer, audience,
// expiry and nonce. It returns the claims of the ID token, completed by userinfo.
func (h *Handler) exchange(ctx context.Context, conn roster.Connection, lr roster.LoginRequest, code string) (map[string]any, string, error) {
	if code == "" {
		return nil, "", errors.New("the identity provider sent no code")
	}
	provider, err := h.providers.get(ctx, conn)
	if err != nil {
		return nil, "", err // the uniform outbound error, its detail logged
	}
	secret, err := h.dir.ConnectionSecret(conn)
	if err != nil {
		return nil, "", err
	}
	cfg := oauthConfig(conn, provider, secret, h.CallbackURL())
	pctx := h.providers.ctx(ctx)
	var opts []oauth2.AuthCodeOption
	if lr.UpstreamVerifier != "" {
		opts = append(opts, oauth2.VerifierOption(lr.UpstreamVerifier))
	}
	tok, err := cfg.Exchange(pctx, code, opts...)
	if err != nil {
		// The provider's own OAuth error is shown; anything else (network, status, size) is the
		// uniform error, so that the answer tells nothing of what is listening where.
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode != "" {
			return nil, "", fmt.Errorf("the identity provider refused the code: %s %s", re.ErrorCode, re.ErrorDescription)
		}
		h.log.WarnContext(ctx, "callback: token request failed", "connection_id", conn.ID, "err", outbound.DetailOf(err))
		return nil, "", outbound.Failed("the tokens", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, "", errors.New("the identity provider sent no ID token")
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: conn.OIDC.ClientID, Now: h.now}).Verify(pctx, raw)
	if err != nil {
		// go-oidc reports a failed key fetch only in its text ("fetching keys"): that one
		// gets the uniform error too.
		if strings.Contains(err.Error(), "fetching keys") {
			h.log.WarnContext(ctx, "callback: signing keys", "connection_id", conn.ID, "err", outbound.DetailOf(err))
			return nil, "", outbound.Failed("the signing keys", err)
		}
		return nil, "", fmt.Errorf("ID token rejected: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(lr.UpstreamNonce)) != 1 {
		return nil, "", errors.New("ID token rejected: its nonce is not this sign-in's")
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, "", fmt.Errorf("ID token rejected: %w", err)
		}
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, "", err
	}
	// Userinfo completes the ID token (some providers put little in it); the ID token's own
	// claims win, and a userinfo answer about another subject is ignored.
	var extra map[string]any
	if ui, err := provider.UserInfo(pctx, oauth2.StaticTokenSource(tok)); err == nil && ui.Subject == idt.Subject && ui.Claims(&extra) == nil {
		for k, v := range extra {
			if _, ok := claims[k]; !ok {
				claims[k] = v
			}
		}
	}
	for _, k := range []string{"iss", "aud", "exp", "iat", "nbf", "nonce", "at_hash", "c_hash", "auth_time", "azp", "sid", "jti"} {
		delete(claims, k) // token mechanics, not facts about the user
	}
	return claims, idt.Subject, nil
}

// redirectError sends the user back to the application with an OAuth error.
func redirectError(w http.ResponseWriter, r *http.Request, redirectURI, state, code, desc string) {
	target, err := url.Parse(redirectURI)
	if err != nil {
		errorPage(w, http.StatusBadRequest, desc)
		return
	}
	q := target.Query()
	q.Set("error", code)
	q.Set("error_description", desc)
	if state != "" {
		q.Set("state", state)
	}
	target.RawQuery = q.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

// errorPage shows an error to the person signing in when there is nowhere safe to send them.
func errorPage(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><title>Sign-in failed</title><h1>Sign-in failed</h1><p>%s</p>\n", html.EscapeString(msg))
}

// printable keeps an untrusted text short and free of control characters.
func printable(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, s)
	if len(s) > max {
		s = s[:max]
	}
	return strings.TrimSpace(s)
}
