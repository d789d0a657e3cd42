package sso

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/oauth"
)

// Profile is the profile object of sso-profile-object.md.
type Profile struct {
	Object           string            `json:"object"`
	ID               string            `json:"id"`
	ConnectionID     string            `json:"connection_id"`
	ConnectionType   string            `json:"connection_type"`
	OrganizationID   string            `json:"organization_id"`
	Email            string            `json:"email"`
	FirstName        string            `json:"first_name"`
	LastName         string            `json:"last_name"`
	IdpID            string            `json:"idp_id"`
	Role             *RoleSlug         `json:"role,omitempty"`
	Roles            []RoleSlug        `json:"roles"`
	Groups           []string          `json:"groups"`
	CustomAttributes map[string]string `json:"custom_attributes"`
	RawAttributes    json.RawMessage   `json:"raw_attributes"`
}

// RoleSlug names a role in a profile.
type RoleSlug struct {
	Slug string `json:"slug"`
}

// connectionTypes are the profile's connection_type values: WorkOS's ConnectionType names
// (@workos-inc/node 8.13.0) for Roster's connection providers and types. A provider WorkOS
// has no name for, in that protocol, gets the generic name (docs/sso.md "The profile
// object").
var connectionTypes = map[roster.ConnectionType]map[string]string{
	roster.ConnectionSAML: {
		"":              "GenericSAML",
		"CUSTOM":        "GenericSAML",
		"OKTA":          "OktaSAML",
		"GOOGLE":        "GoogleSAML",
		"MICROSOFT_AD":  "AzureSAML", // Microsoft Entra ID (Azure AD)
		"MICROSOFT":     "AzureSAML",
		"AUTH0":         "Auth0SAML",
		"ONELOGIN":      "OneLoginSAML",
		"PING_IDENTITY": "PingOneSAML", // Ping's cloud directory; PingFederate has its own name WorkOS lists
		"JUMPCLOUD":     "JumpCloudSAML",
		"ADFS":          "ADFSSAML",
	},
	roster.ConnectionOIDC: {
		"":             "GenericOIDC",
		"GOOGLE":       "GoogleOAuth",
		"MICROSOFT_AD": "MicrosoftOAuth",
		"MICROSOFT":    "MicrosoftOAuth",
	},
}

// workosConnectionType is a connection's connection_type in the profile.
func workosConnectionType(typ roster.ConnectionType, provider string) string {
	byProvider := connectionTypes[typ]
	if name, ok := byProvider[provider]; ok {
		return name
	}
	if typ == roster.ConnectionSAML {
		return "GenericSAML"
	}
	return "GenericOIDC"
}

// workosToken redeems a /sso/authorize code: the API key (the client secret) comes in the
// body as client_secret or as a bearer token, as the WorkOS SDK sends both.
func (h *Handler) workosToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the form body could not be read")
		return
	}
	if g := r.PostForm.Get("grant_type"); g != "authorization_code" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant_type must be authorization_code")
		return
	}
	secret := r.PostForm.Get("client_secret")
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && secret == "" {
		secret = bearer
	}
	ctx := r.Context()
	client, err := h.tokens.AuthenticateClient(ctx, r.PostForm.Get("client_id"), secret)
	if err != nil {
		h.tokenFailure(w, r, err)
		return
	}
	t, err := h.tokens.ExchangeCode(ctx, client, r.PostForm.Get("code"), r.PostForm.Get("redirect_uri"), r.PostForm.Get("code_verifier"), roster.FlavorWorkOS)
	if err != nil {
		h.tokenFailure(w, r, err)
		return
	}
	var snap directory.SignInProfile
	if err := json.Unmarshal(t.Profile, &snap); err != nil {
		h.tokenFailure(w, r, err)
		return
	}
	p, err := h.profile(ctx, t.User, t.OrganizationID, t.ConnectionID, snap.IdpID, snap.RawAttributes)
	if err != nil {
		h.tokenFailure(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": t.AccessToken, "profile": p})
}

// workosProfile answers the profile of a user access token's sign-in, with the user's
// current profile and the raw claims of their last sign-in through that connection.
func (h *Handler) workosProfile(w http.ResponseWriter, r *http.Request) {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || raw == "" {
		oauthError(w, http.StatusUnauthorized, "invalid_token", "a bearer access token is required")
		return
	}
	ctx := r.Context()
	claims, err := h.tokens.VerifyUserToken(ctx, raw)
	if err != nil {
		oauthError(w, http.StatusUnauthorized, "invalid_token", roster.ErrorMessage(err))
		return
	}
	u, err := h.dir.Store().GetUser(ctx, claims.EnvironmentID, roster.UserRef{ID: claims.Subject})
	if err != nil {
		if roster.ErrorCode(err) == roster.ENotFound {
			oauthError(w, http.StatusUnauthorized, "invalid_token", "the user of this token no longer exists")
			return
		}
		h.tokenFailure(w, r, err)
		return
	}
	ids, err := h.dir.Store().ListIdentities(ctx, u.ID)
	if err != nil {
		h.tokenFailure(w, r, err)
		return
	}
	idpID, rawAttrs := "", json.RawMessage(`{}`)
	for _, id := range ids {
		if id.ConnectionID == claims.ConnectionID {
			idpID, rawAttrs = id.Subject, id.RawClaims
		}
	}
	p, err := h.profile(ctx, u, claims.OrganizationID, claims.ConnectionID, idpID, rawAttrs)
	if err != nil {
		h.tokenFailure(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (h *Handler) profile(ctx context.Context, u roster.User, orgID, connID, idpID string, raw json.RawMessage) (Profile, error) {
	typ := "GenericOIDC"
	if c, err := h.dir.Store().GetConnection(ctx, u.EnvironmentID, connID); err == nil {
		typ = workosConnectionType(c.Type, c.Provider)
	}
	p := Profile{
		Object: "profile", ID: u.ID, ConnectionID: connID, ConnectionType: typ, OrganizationID: orgID, Email: u.Email,
		FirstName: u.Profile.GivenName, LastName: u.Profile.FamilyName, IdpID: idpID, Roles: []RoleSlug{},
		Groups: u.Profile.Groups, CustomAttributes: u.Profile.CustomAttributes, RawAttributes: raw,
	}
	if p.Groups == nil {
		p.Groups = []string{}
	}
	if p.CustomAttributes == nil {
		p.CustomAttributes = map[string]string{}
	}
	if len(p.RawAttributes) == 0 {
		p.RawAttributes = json.RawMessage(`{}`)
	}
	for _, r := range u.MembershipRoles(orgID) {
		p.Roles = append(p.Roles, RoleSlug{Slug: r.Name})
	}
	if len(p.Roles) > 0 {
		p.Role = &p.Roles[0]
	}
	return p, nil
}

func (h *Handler) tokenFailure(w http.ResponseWriter, r *http.Request, err error) {
	oauth.WriteError(w, r, h.log, err)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
