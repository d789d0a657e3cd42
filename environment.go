package roster

import "time"

// Environment is one isolated directory (a deployment starts with one, named "default"). Every
// other record belongs to exactly one environment.
type Environment struct {
	ID         string
	Name       string
	CursorKey  []byte // HMAC key that makes page tokens tamper-evident
	CreateTime time.Time
}

// APIClient is an application's credential for the API (OAuth2 client credentials). Only a
// hash of its secret is stored; see docs/api-clients.md.
type APIClient struct {
	ID            string
	EnvironmentID string
	Name          string
	SecretHash    string
	// RedirectURIs are where a sign-in may send the user back with a code; any other
	// redirect_uri is refused (docs/sso.md).
	RedirectURIs []string
	CreateTime   time.Time
	RevokeTime   *time.Time
}

// Revoked reports whether the client may no longer obtain or use tokens.
func (c APIClient) Revoked() bool { return c.RevokeTime != nil }

// SigningKey is a private key that signs an environment's tokens. A retired key signs nothing
// new but stays published in the JWKS until the tokens it signed have expired.
type SigningKey struct {
	ID            string // the JWK "kid"
	EnvironmentID string
	Algorithm     string // e.g. "RS256"
	PrivateKeyPEM string
	CreateTime    time.Time
	RetireTime    *time.Time
}
