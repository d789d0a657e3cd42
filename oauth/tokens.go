// Package oauth is Roster's OAuth2 authorization server: API clients exchange their
// credentials for signed JWT access tokens (client_credentials), and every API call's token is
// verified here. Keys are published as a JWKS.
package oauth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/secretbox"
	"github.com/rosterhq/roster/store"
)

// DefaultTokenTTL is the lifetime of an access token (docs/tokens.md). The Scalekit SDKs do not
// track expiry: they fetch a new token when a call answers UNAUTHENTICATED.
const DefaultTokenTTL = time.Hour

// revocationCacheTTL bounds how long a node trusts its memory of a client being active: a
// revoked client's tokens stop working within this time on every node.
const revocationCacheTTL = time.Second

// Claims are what an access token says.
type Claims struct {
	jwt.Claims
	ClientID      string   `json:"client_id"`
	EnvironmentID string   `json:"eid"`
	Scopes        []string `json:"scopes,omitempty"`
}

// Principal is the authenticated caller of an API request.
type Principal struct {
	ClientID      string
	EnvironmentID string
}

// Token is an issued access token.
type Token struct {
	AccessToken string
	ExpiresIn   int // seconds
}

// Server issues and verifies tokens.
type Server struct {
	store  store.Store
	issuer string
	ttl    time.Duration
	keys   *keyring
	now    func() time.Time

	mu      sync.Mutex
	clients map[string]clientState
	// verified remembers tokens whose signature and claims checked out, until they expire,
	// so that a client reusing its token (as the SDKs do) costs one map lookup, not an RSA
	// verification. Revocation is still checked on every call (clientActive).
	verified map[string]verifiedToken
	// checkedSecrets remembers client secrets that passed argon2id (AuthenticateClient).
	checkedSecrets map[[32]byte]time.Time
	guard          guard // throttles failed client authentications, bounds argon2id (throttle.go)
}

type verifiedToken struct {
	principal Principal
	expiry    time.Time
}

// maxVerifiedTokens bounds the verified-token cache; when full it starts over.
const maxVerifiedTokens = 10000

type clientState struct {
	active  bool
	checked time.Time
}

// Option configures a Server.
type Option func(*options)

type options struct{ box *secretbox.Box }

// WithSecretBox opens the signing keys, which are stored sealed, with b (the box that seals
// connection secrets; docs/encryption.md). A server without it can neither sign nor verify.
func WithSecretBox(b *secretbox.Box) Option { return func(o *options) { o.box = b } }

// NewServer returns a token server for the given public issuer URL. ttl is the lifetime of
// the tokens it issues and the longest it accepts.
func NewServer(s store.Store, issuer string, ttl time.Duration, opts ...Option) *Server {
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	return &Server{
		store: s, issuer: strings.TrimSuffix(issuer, "/"), ttl: ttl, keys: newKeyring(s, o.box),
		now:     time.Now,
		clients: map[string]clientState{}, verified: map[string]verifiedToken{}, checkedSecrets: map[[32]byte]time.Time{},
	}
}

// leeway is the clock skew that token validation allows.
const leeway = 30 * time.Second

// lifetimeOK reports whether a token lives no longer than this server issues tokens for:
// from its issue time, and from now. A token minted with a copied key for days or years is
// refused even though its signature checks out.
func (s *Server) lifetimeOK(c jwt.Claims) bool {
	if c.IssuedAt == nil || c.Expiry == nil {
		return false
	}
	exp := c.Expiry.Time()
	return exp.Sub(c.IssuedAt.Time()) <= s.ttl && exp.Sub(s.now()) <= s.ttl+leeway
}

// Issuer returns the issuer URL.
func (s *Server) Issuer() string { return s.issuer }

// TTL returns the access token lifetime.
func (s *Server) TTL() time.Duration { return s.ttl }

// errInvalidClient is the one answer to every credential failure, so callers cannot tell an
// unknown client from a wrong secret or a revoked client.
var errInvalidClient = roster.Errorf(roster.EUnauthenticated, "client authentication failed")

// ClientCredentials checks a client's ID and secret and issues an access token.
func (s *Server) ClientCredentials(ctx context.Context, clientID, secret string) (Token, error) {
	c, err := s.AuthenticateClient(ctx, clientID, secret)
	if err != nil {
		return Token{}, err
	}
	return s.issue(ctx, c)
}

func (s *Server) issue(ctx context.Context, c roster.APIClient) (Token, error) {
	signer, err := s.signer(ctx, c.EnvironmentID)
	if err != nil {
		return Token{}, err
	}
	now := s.now()
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	claims := Claims{
		Claims: jwt.Claims{
			Issuer:    s.issuer,
			Subject:   c.ID,
			Audience:  jwt.Audience{s.issuer},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			Expiry:    jwt.NewNumericDate(now.Add(s.ttl)),
			ID:        hex.EncodeToString(jti),
		},
		ClientID:      c.ID,
		EnvironmentID: c.EnvironmentID,
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return Token{}, err
	}
	return Token{AccessToken: raw, ExpiresIn: int(s.ttl / time.Second)}, nil
}

// Verify checks an access token (signature, issuer, audience, time) and that its client is
// still active, and returns the caller.
func (s *Server) Verify(ctx context.Context, raw string) (Principal, error) {
	s.mu.Lock()
	v, ok := s.verified[raw]
	s.mu.Unlock()
	if ok && s.now().Before(v.expiry) {
		return s.checkActive(ctx, v.principal)
	}
	p, expiry, err := s.verify(ctx, raw)
	if err != nil {
		return Principal{}, err
	}
	s.mu.Lock()
	if len(s.verified) >= maxVerifiedTokens {
		s.verified = map[string]verifiedToken{}
	}
	s.verified[raw] = verifiedToken{principal: p, expiry: expiry}
	s.mu.Unlock()
	return s.checkActive(ctx, p)
}

func (s *Server) checkActive(ctx context.Context, p Principal) (Principal, error) {
	active, err := s.clientActive(ctx, p.ClientID)
	if err != nil {
		return Principal{}, err
	}
	if !active {
		return Principal{}, roster.Errorf(roster.EUnauthenticated, "the API client of this token was revoked")
	}
	return p, nil
}

// verify checks a token's signature and claims and returns its caller and expiry.
func (s *Server) verify(ctx context.Context, raw string) (Principal, time.Time, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{SigningAlgorithm})
	if err != nil || len(tok.Headers) != 1 {
		return Principal{}, time.Time{}, roster.Errorf(roster.EUnauthenticated, "malformed access token")
	}
	// The environment is read unverified to pick the key; the signature check below makes it
	// trustworthy.
	var unverified Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil || unverified.EnvironmentID == "" {
		return Principal{}, time.Time{}, roster.Errorf(roster.EUnauthenticated, "malformed access token")
	}
	kid := tok.Headers[0].KeyID
	ek, err := s.keys.get(ctx, unverified.EnvironmentID, false)
	if err == nil && ek.private[kid] == nil {
		ek, err = s.keys.get(ctx, unverified.EnvironmentID, true)
	}
	if err != nil || ek.private[kid] == nil {
		return Principal{}, time.Time{}, roster.Errorf(roster.EUnauthenticated, "access token signed by an unknown key")
	}
	var claims Claims
	if err := tok.Claims(&ek.private[kid].PublicKey, &claims); err != nil {
		return Principal{}, time.Time{}, roster.Errorf(roster.EUnauthenticated, "access token signature is invalid")
	}
	err = claims.ValidateWithLeeway(jwt.Expected{Issuer: s.issuer, AnyAudience: jwt.Audience{s.issuer}, Time: s.now()}, leeway)
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return Principal{}, time.Time{}, roster.Errorf(roster.EUnauthenticated, "access token expired")
	case err != nil:
		return Principal{}, time.Time{}, roster.Errorf(roster.EUnauthenticated, "access token rejected: %v", err)
	case !s.lifetimeOK(claims.Claims):
		return Principal{}, time.Time{}, roster.Errorf(roster.EUnauthenticated, "access token lives longer than this server's access token lifetime")
	case claims.Subject != claims.ClientID:
		// A user's access token (its subject is the user) does not call the API.
		return Principal{}, time.Time{}, roster.Errorf(roster.EUnauthenticated, "this is not an API client's access token")
	}
	// A cached verification ends at expiry plus the leeway that validation allows: exactly
	// when validation would start refusing the token.
	return Principal{ClientID: claims.ClientID, EnvironmentID: claims.EnvironmentID}, claims.Expiry.Time().Add(leeway), nil
}

func (s *Server) clientActive(ctx context.Context, id string) (bool, error) {
	s.mu.Lock()
	st, ok := s.clients[id]
	s.mu.Unlock()
	if ok && time.Since(st.checked) < revocationCacheTTL {
		return st.active, nil
	}
	c, err := s.store.GetClient(ctx, id)
	if err != nil && roster.ErrorCode(err) != roster.ENotFound {
		return false, fmt.Errorf("check client: %w", err)
	}
	active := err == nil && !c.Revoked()
	s.mu.Lock()
	s.clients[id] = clientState{active: active, checked: time.Now()}
	s.mu.Unlock()
	return active, nil
}

// JWKS returns the public keys of an environment.
func (s *Server) JWKS(ctx context.Context, envID string) (jose.JSONWebKeySet, error) {
	return s.keys.publicKeys(ctx, envID, s.ttl)
}
