package oauth

import (
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/rosterhq/roster"
)

// Handler serves the OAuth2 endpoints of one environment: POST /oauth/token, GET /keys and
// GET /.well-known/openid-configuration.
type Handler struct {
	Server        *Server
	EnvironmentID string
	Log           *slog.Logger
}

// Register adds the endpoints to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /oauth/token", h.token)
	mux.HandleFunc("GET /keys", h.jwks)
	mux.HandleFunc("GET /.well-known/openid-configuration", h.discovery)
	mux.HandleFunc("GET /.well-known/jwks.json", h.jwks)
}

// maxFormBytes bounds a token request body.
const maxFormBytes = 16 << 10

// tokenError answers with an RFC 6749 section 5.2 error.
func tokenError(w http.ResponseWriter, status int, code, description string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="roster"`)
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		tokenError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "the form body could not be read")
		return
	}
	grant := r.PostForm.Get("grant_type")
	switch grant {
	case "client_credentials", "authorization_code", "refresh_token":
	case "":
		tokenError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
		return
	default:
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials, authorization_code or refresh_token")
		return
	}
	id, secret, ok := clientCredentials(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	if clientAddr(ctx) == "" {
		ctx = WithClientAddr(ctx, r.RemoteAddr)
	}
	if grant == "client_credentials" {
		tok, err := h.Server.ClientCredentials(ctx, id, secret)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"access_token": tok.AccessToken,
			"token_type":   "Bearer",
			"expires_in":   tok.ExpiresIn,
			"scope":        "openid",
		})
		return
	}
	client, err := h.Server.AuthenticateClient(ctx, id, secret)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var t UserTokens
	if grant == "authorization_code" {
		t, err = h.Server.ExchangeCode(ctx, client, r.PostForm.Get("code"), r.PostForm.Get("redirect_uri"), r.PostForm.Get("code_verifier"), roster.FlavorOIDC)
	} else {
		t, err = h.Server.Refresh(ctx, client, r.PostForm.Get("refresh_token"))
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":  t.AccessToken,
		"id_token":      t.IDToken,
		"refresh_token": t.RefreshToken,
		"token_type":    "Bearer",
		"expires_in":    t.ExpiresIn,
	})
}

// clientCredentials reads a client's credentials from the body (as the Scalekit SDKs send
// them) or HTTP Basic (RFC 6749 section 2.3.1), not both; it answers the request itself when
// they are missing or doubled.
func clientCredentials(w http.ResponseWriter, r *http.Request) (id, secret string, ok bool) {
	id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if bid, bsecret, basic := r.BasicAuth(); basic {
		if secret != "" {
			tokenError(w, http.StatusBadRequest, "invalid_request", "send client credentials in the body or by HTTP Basic, not both")
			return "", "", false
		}
		id, secret = bid, bsecret
	}
	if id == "" || secret == "" {
		tokenError(w, http.StatusUnauthorized, "invalid_client", "client_id and client_secret are required")
		return "", "", false
	}
	return id, secret, true
}

// fail answers a token request's error.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	WriteError(w, r, h.Log, err)
}

// WriteError answers a token request's error: OAuth errors as they are, a failed client
// authentication as invalid_client, anything else as server_error (logged, never shown).
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var oe *Error
	switch {
	case errors.As(err, &oe):
		if oe.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((oe.RetryAfter+time.Second-1)/time.Second)))
		}
		tokenError(w, oe.Status, oe.Code, oe.Description)
	case roster.ErrorCode(err) == roster.EUnauthenticated:
		tokenError(w, http.StatusUnauthorized, "invalid_client", roster.ErrorMessage(err))
	default:
		log.ErrorContext(r.Context(), "token endpoint", "path", r.URL.Path, "err", err)
		tokenError(w, http.StatusInternalServerError, "server_error", "the token could not be issued")
	}
}

func (h *Handler) jwks(w http.ResponseWriter, r *http.Request) {
	set, err := h.Server.JWKS(r.Context(), h.EnvironmentID)
	if err != nil {
		h.Log.ErrorContext(r.Context(), "jwks", "err", err)
		http.Error(w, "keys unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, set)
}

func (h *Handler) discovery(w http.ResponseWriter, r *http.Request) {
	iss := h.Server.Issuer()
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"token_endpoint":                        iss + "/oauth/token",
		"jwks_uri":                              iss + "/keys",
		"authorization_endpoint":                iss + "/oauth/authorize",
		"grant_types_supported":                 []string{"client_credentials", "authorization_code", "refresh_token"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"id_token_signing_alg_values_supported": []string{string(SigningAlgorithm)},
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"code_challenge_methods_supported":      []string{"S256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"subject_types_supported":               []string{"public"},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
