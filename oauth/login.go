package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/rosterhq/roster"
)

// CustomAttributesClaim is the ID token claim that carries the user's custom attributes, as
// an object of strings (docs/sso.md).
const CustomAttributesClaim = "custom_attributes"

// Error is an OAuth 2.0 error answer (RFC 6749 section 5.2).
type Error struct {
	Status      int
	Code        string // invalid_request, invalid_client, invalid_grant, ...
	Description string
	RetryAfter  time.Duration // sent as Retry-After (whole seconds) when set
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

func grantError(desc string) error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid_grant", Description: desc}
}

// UserTokens are what an application gets for a sign-in's code or a refresh token.
type UserTokens struct {
	AccessToken  string
	IDToken      string
	RefreshToken string
	ExpiresIn    int
	User         roster.User
	// Profile is the sign-in's provider profile, as the /sso API shows it (JSON); nil after a
	// refresh.
	Profile        []byte
	OrganizationID string
	ConnectionID   string
}

// UserClaims are what a user access token says.
type UserClaims struct {
	jwt.Claims
	ClientID       string `json:"client_id"`
	EnvironmentID  string `json:"eid"`
	OrganizationID string `json:"oid,omitempty"`
	ConnectionID   string `json:"cid,omitempty"`
	Scope          string `json:"scope,omitempty"`
	// Profile names the code whose profile /sso/profile shows (its hash).
	Profile string `json:"pid,omitempty"`
}

// IDClaims are an ID token's claims, shaped like Scalekit's (docs/sso.md).
type IDClaims struct {
	jwt.Claims
	AuthorizedParty   string            `json:"azp"`
	AMR               []string          `json:"amr"`
	OrganizationID    string            `json:"oid,omitempty"`
	AuthTime          *jwt.NumericDate  `json:"auth_time,omitempty"`
	Nonce             string            `json:"nonce,omitempty"`
	AtHash            string            `json:"at_hash,omitempty"`
	CHash             string            `json:"c_hash,omitempty"`
	Email             string            `json:"email"`
	EmailVerified     bool              `json:"email_verified"`
	Name              string            `json:"name,omitempty"`
	GivenName         string            `json:"given_name,omitempty"`
	FamilyName        string            `json:"family_name,omitempty"`
	Locale            string            `json:"locale,omitempty"`
	Picture           string            `json:"picture,omitempty"`
	PreferredUsername string            `json:"preferred_username,omitempty"`
	PhoneNumber       string            `json:"phone_number,omitempty"`
	Groups            []string          `json:"groups,omitempty"`
	CustomAttributes  map[string]string `json:"custom_attributes"`
}

// HashToken is how codes and refresh tokens are stored: SHA-256, hex. They are 256-bit
// random values, so a fast hash is enough (unlike passwords or client secrets).
func HashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// NewToken returns a random opaque token.
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// PKCEChallenge is the S256 challenge of a verifier (RFC 7636).
func PKCEChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// AuthenticateClient checks an API client's ID and secret. Every answer but a remembered
// secret costs one argon2id check, whether the client exists or not (an unknown ID is checked
// against a stand-in hash), so the time of an answer does not tell which IDs exist. Failures
// are throttled per client address (from WithClientAddr) and per client ID before any check
// runs, and the checks that run at once are bounded (Throttle).
func (s *Server) AuthenticateClient(ctx context.Context, clientID, secret string) (roster.APIClient, error) {
	if clientID == "" || secret == "" || len(clientID) > 128 || len(secret) > 256 {
		return roster.APIClient{}, errInvalidClient // by length alone: says nothing of the ID
	}
	c, err := s.store.GetClient(ctx, clientID)
	found := err == nil
	if err != nil && roster.ErrorCode(err) != roster.ENotFound {
		return roster.APIClient{}, err
	}
	hash := dummySecretHash()
	if found {
		hash = c.SecretHash
	}
	// A secret that passed argon2id a moment ago against this very hash is remembered as a
	// SHA-256 in memory, so an application that sends its secret with every token request
	// (the SDKs do, for each sign-in's code) does not pay argon2id each time.
	key := sha256.Sum256([]byte(c.ID + "\x00" + c.SecretHash + "\x00" + secret))
	now := s.now()
	if found && !c.Revoked() {
		s.mu.Lock()
		until, ok := s.checkedSecrets[key]
		s.mu.Unlock()
		if ok && now.Before(until) {
			return c, nil
		}
	}
	addr := clientAddr(ctx)
	g := &s.guard
	if err := g.admit(clientID, addr); err != nil {
		return roster.APIClient{}, err
	}
	if err := g.acquire(ctx); err != nil {
		return roster.APIClient{}, err
	}
	// Failures recorded while this one waited its turn count too.
	if err := g.admit(clientID, addr); err != nil {
		g.release()
		return roster.APIClient{}, err
	}
	g.hashes.Add(1)
	ok := CheckSecret(hash, secret)
	g.release()
	if !ok || !found || c.Revoked() {
		g.failed(clientID, addr)
		return roster.APIClient{}, errInvalidClient
	}
	s.mu.Lock()
	if len(s.checkedSecrets) >= maxCheckedSecrets {
		s.checkedSecrets = map[[32]byte]time.Time{}
	}
	s.checkedSecrets[key] = now.Add(checkedSecretTTL)
	s.mu.Unlock()
	return c, nil
}

// dummySecretHash is what the secret of an unknown client ID is checked against: a hash made
// like every client's (HashSecret), of a secret nobody knows.
var dummySecretHash = sync.OnceValue(func() string {
	h, err := HashSecret(NewSecret())
	if err != nil {
		panic("hash a stand-in secret: " + err.Error())
	}
	return h
})

// checkedSecretTTL is how long a verified client secret is remembered; revocation is checked
// on every request regardless (the client is read each time).
const (
	checkedSecretTTL  = 5 * time.Minute
	maxCheckedSecrets = 1000
)

// ExchangeCode redeems a sign-in's code for tokens (authorization_code grant). The code must
// be the client's, of this flavor, unexpired and unused; redirectURI must be the one of the
// authorization request (when given, as the WorkOS SDK does not send it), and verifier must
// match its PKCE challenge.
func (s *Server) ExchangeCode(ctx context.Context, client roster.APIClient, code, redirectURI, verifier string, flavor roster.LoginFlavor) (UserTokens, error) {
	if code == "" || len(code) > 256 {
		return UserTokens{}, &Error{Status: http.StatusBadRequest, Code: "invalid_request", Description: "code is required"}
	}
	now := s.now()
	c, err := s.store.RedeemAuthCode(ctx, HashToken(code), now)
	switch roster.ErrorCode(err) {
	case "":
	case roster.ENotFound:
		return UserTokens{}, grantError("the authorization code is unknown")
	case roster.EFailedPrecondition:
		return UserTokens{}, grantError("the authorization code was already used; the tokens issued for it are revoked")
	default:
		return UserTokens{}, err
	}
	switch {
	case c.ClientID != client.ID || c.EnvironmentID != client.EnvironmentID:
		return UserTokens{}, grantError("the authorization code was issued to another client")
	case c.Flavor != flavor:
		return UserTokens{}, grantError("the authorization code belongs to the other sign-in endpoint")
	case !now.Before(c.ExpireTime):
		return UserTokens{}, grantError("the authorization code has expired")
	case flavor == roster.FlavorOIDC && redirectURI != c.RedirectURI, flavor == roster.FlavorWorkOS && redirectURI != "" && redirectURI != c.RedirectURI:
		return UserTokens{}, grantError("redirect_uri differs from the authorization request's")
	}
	if c.CodeChallenge != "" {
		if verifier == "" {
			return UserTokens{}, grantError("code_verifier is required: the authorization request had a code_challenge")
		}
		if subtle.ConstantTimeCompare([]byte(PKCEChallenge(verifier)), []byte(c.CodeChallenge)) != 1 {
			return UserTokens{}, grantError("code_verifier does not match the code_challenge")
		}
	}
	u, err := s.store.GetUser(ctx, c.EnvironmentID, roster.UserRef{ID: c.UserID})
	if err != nil {
		return UserTokens{}, err
	}
	refresh := NewToken()
	if err := s.store.CreateRefreshToken(ctx, roster.RefreshToken{Hash: HashToken(refresh), EnvironmentID: c.EnvironmentID, ClientID: client.ID,
		UserID: u.ID, OrganizationID: c.OrganizationID, ConnectionID: c.ConnectionID, Scope: c.Scope, CodeHash: c.Hash,
		CreateTime: now, ExpireTime: now.Add(roster.RefreshTokenLifetime)}); err != nil {
		return UserTokens{}, err
	}
	t, err := s.userTokens(ctx, client, u, c.OrganizationID, c.ConnectionID, c.Scope, c.Nonce, code, c.Hash, c.CreateTime)
	if err != nil {
		return UserTokens{}, err
	}
	t.RefreshToken, t.Profile = refresh, c.Profile
	return t, nil
}

// Refresh rotates a refresh token and issues fresh tokens with the user's current profile.
func (s *Server) Refresh(ctx context.Context, client roster.APIClient, refresh string) (UserTokens, error) {
	if refresh == "" || len(refresh) > 256 {
		return UserTokens{}, &Error{Status: http.StatusBadRequest, Code: "invalid_request", Description: "refresh_token is required"}
	}
	now := s.now()
	next := NewToken()
	old, err := s.store.RotateRefreshToken(ctx, HashToken(refresh), roster.RefreshToken{Hash: HashToken(next),
		EnvironmentID: client.EnvironmentID, ClientID: client.ID, CreateTime: now, ExpireTime: now.Add(roster.RefreshTokenLifetime)}, now)
	switch roster.ErrorCode(err) {
	case "":
	case roster.ENotFound:
		return UserTokens{}, grantError("the refresh token is unknown")
	case roster.EFailedPrecondition:
		return UserTokens{}, grantError(roster.ErrorMessage(err))
	default:
		return UserTokens{}, err
	}
	if old.ClientID != client.ID {
		return UserTokens{}, grantError("the refresh token was issued to another client")
	}
	u, err := s.store.GetUser(ctx, old.EnvironmentID, roster.UserRef{ID: old.UserID})
	if err != nil {
		return UserTokens{}, err
	}
	// The sign-in's time is not kept with refresh tokens, so a refreshed ID token has no auth_time.
	t, err := s.userTokens(ctx, client, u, old.OrganizationID, old.ConnectionID, old.Scope, "", "", "", time.Time{})
	if err != nil {
		return UserTokens{}, err
	}
	t.RefreshToken = next
	return t, nil
}

// userTokens signs a user's access token and ID token.
func (s *Server) userTokens(ctx context.Context, client roster.APIClient, u roster.User, orgID, connID, scope, nonce, code, profile string, authTime time.Time) (UserTokens, error) {
	signer, err := s.signer(ctx, client.EnvironmentID)
	if err != nil {
		return UserTokens{}, err
	}
	now := s.now()
	exp := now.Add(s.ttl)
	access, err := jwt.Signed(signer).Claims(UserClaims{
		Claims: jwt.Claims{Issuer: s.issuer, Subject: u.ID, Audience: jwt.Audience{client.ID}, IssuedAt: jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(exp), ID: NewToken()[:22]},
		ClientID: client.ID, EnvironmentID: client.EnvironmentID, OrganizationID: orgID, ConnectionID: connID, Scope: scope, Profile: profile,
	}).Serialize()
	if err != nil {
		return UserTokens{}, err
	}
	p := u.Profile
	attrs := p.CustomAttributes
	if attrs == nil {
		attrs = map[string]string{}
	}
	id := IDClaims{
		Claims: jwt.Claims{Issuer: s.issuer, Subject: u.ID, Audience: jwt.Audience{client.ID}, IssuedAt: jwt.NewNumericDate(now),
			Expiry: jwt.NewNumericDate(exp)},
		AuthorizedParty: client.ID, AMR: []string{connID}, OrganizationID: orgID,
		Nonce: nonce, AtHash: halfHash(access), Email: u.Email, EmailVerified: p.EmailVerified, Name: p.Name, GivenName: p.GivenName,
		FamilyName: p.FamilyName, Locale: p.Locale, Picture: p.Picture, PreferredUsername: p.PreferredUsername,
		PhoneNumber: p.PhoneNumber, Groups: p.Groups, CustomAttributes: attrs,
	}
	if code != "" {
		id.CHash = halfHash(code)
	}
	if !authTime.IsZero() {
		id.AuthTime = jwt.NewNumericDate(authTime)
	}
	idToken, err := jwt.Signed(signer).Claims(id).Serialize()
	if err != nil {
		return UserTokens{}, err
	}
	return UserTokens{AccessToken: access, IDToken: idToken, ExpiresIn: int(s.ttl / time.Second), User: u, OrganizationID: orgID, ConnectionID: connID}, nil
}

func (s *Server) signer(ctx context.Context, envID string) (jose.Signer, error) {
	ek, err := s.keys.get(ctx, envID, false)
	if err != nil {
		return nil, err
	}
	return jose.NewSigner(jose.SigningKey{Algorithm: SigningAlgorithm, Key: ek.private[ek.signing.ID]},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", ek.signing.ID))
}

// halfHash is the at_hash / c_hash of a value for RS256: the left half of its SHA-256,
// base64url (OpenID Connect Core 3.1.3.6).
func halfHash(v string) string {
	sum := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// VerifyUserToken checks a user access token issued by ExchangeCode or Refresh.
func (s *Server) VerifyUserToken(ctx context.Context, raw string) (UserClaims, error) {
	var claims UserClaims
	bad := roster.Errorf(roster.EUnauthenticated, "invalid access token")
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{SigningAlgorithm})
	if err != nil || len(tok.Headers) != 1 {
		return claims, bad
	}
	var unverified UserClaims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil || unverified.EnvironmentID == "" {
		return claims, bad
	}
	ek, err := s.keys.get(ctx, unverified.EnvironmentID, false)
	kid := tok.Headers[0].KeyID
	if err != nil || ek.private[kid] == nil {
		return claims, bad
	}
	if err := tok.Claims(&ek.private[kid].PublicKey, &claims); err != nil {
		return claims, bad
	}
	if err := claims.ValidateWithLeeway(jwt.Expected{Issuer: s.issuer, Time: s.now()}, 30*time.Second); err != nil {
		if errors.Is(err, jwt.ErrExpired) {
			return claims, roster.Errorf(roster.EUnauthenticated, "access token expired")
		}
		return claims, bad
	}
	if !s.lifetimeOK(claims.Claims) {
		return claims, bad
	}
	// An API client's token has the client as subject; a user's has the user.
	if !strings.HasPrefix(claims.Subject, roster.PrefixUser) || !claims.Audience.Contains(claims.ClientID) {
		return claims, bad
	}
	return claims, nil
}

// IdPInitiatedLifetime bounds the time between an IdP-initiated sign-in reaching Roster and
// the application starting its own sign-in from it.
const IdPInitiatedLifetime = 5 * time.Minute

// IdPInitiatedClaims are what an idp_initiated_login token says: which connection and person
// the application should start a sign-in for (Scalekit's getIdpInitiatedLoginClaims).
type IdPInitiatedClaims struct {
	jwt.Claims
	EnvironmentID  string `json:"eid"`
	ConnectionID   string `json:"connection_id"`
	OrganizationID string `json:"organization_id"`
	LoginHint      string `json:"login_hint"`
	RelayState     string `json:"relay_state,omitempty"`
}

// SignIdPInitiated signs an idp_initiated_login token with the environment's key.
func (s *Server) SignIdPInitiated(ctx context.Context, c IdPInitiatedClaims) (string, error) {
	signer, err := s.signer(ctx, c.EnvironmentID)
	if err != nil {
		return "", err
	}
	now := s.now()
	c.Claims = jwt.Claims{Issuer: s.issuer, IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
		Expiry: jwt.NewNumericDate(now.Add(IdPInitiatedLifetime)), ID: NewToken()[:22]}
	return jwt.Signed(signer).Claims(c).Serialize()
}
