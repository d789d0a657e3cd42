package oauth

import (
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"

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
	switch grant := r.PostForm.Get("grant_type"); grant {
	case "client_credentials":
	case "":
		tokenError(w, http.StatusBadRequest, "invalid_request", "grant_type is required")
		return
	default:
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be client_credentials")
		return
	}
	// Credentials come in the body (as the Scalekit SDKs send them) or by HTTP Basic
	// (RFC 6749 section 2.3.1), not both.
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if bid, bsecret, ok := r.BasicAuth(); ok {
		if secret != "" {
			tokenError(w, http.StatusBadRequest, "invalid_request", "send client credentials in the body or by HTTP Basic, not both")
			return
		}
		id, secret = bid, bsecret
	}
	if id == "" || secret == "" {
		tokenError(w, http.StatusUnauthorized, "invalid_client", "client_id and client_secret are required")
		return
	}
	tok, err := h.Server.ClientCredentials(r.Context(), id, secret)
	if err != nil {
		if roster.ErrorCode(err) == roster.EUnauthenticated {
			tokenError(w, http.StatusUnauthorized, "invalid_client", roster.ErrorMessage(err))
			return
		}
		h.Log.ErrorContext(r.Context(), "token endpoint", "err", err)
		tokenError(w, http.StatusInternalServerError, "server_error", "the token could not be issued")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok.AccessToken,
		"token_type":   "Bearer",
		"expires_in":   tok.ExpiresIn,
		"scope":        "openid",
	})
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
		"grant_types_supported":                 []string{"client_credentials"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"id_token_signing_alg_values_supported": []string{string(SigningAlgorithm)},
		"response_types_supported":              []string{}, // no login flow yet
		"subject_types_supported":               []string{"public"},
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
