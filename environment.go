package roster

import (
	"net"
	"net/url"
	"strings"
	"time"
)

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
	// PrivateKeySealed is the PKCS#8 PEM sealed with the encryption key (package secretbox,
	// context "signing-key:" + ID). Databases written before keys were sealed hold the PEM
	// itself until the next start seals it (oauth.EnsureSigningKey).
	PrivateKeySealed string
	CreateTime       time.Time
	RetireTime       *time.Time
}

// RedirectURIsMax bounds the redirect URIs of one client.
const RedirectURIsMax = 20

// CheckRedirectURIs checks the redirect URIs of a client: absolute https URLs without a
// fragment, or http only on a loopback host (an application in development), as OAuth 2.0
// Security Best Current Practice asks.
func CheckRedirectURIs(uris []string) error {
	var v Violations
	if len(uris) > RedirectURIsMax {
		v.Add("redirect_uris", "repeated.max_items=20", "at most %d redirect URIs", RedirectURIsMax)
	}
	for _, s := range uris {
		u, err := url.Parse(s)
		switch {
		case err != nil || !u.IsAbs() || u.Host == "" || len(s) > URLMax:
			v.Add("redirect_uris", "uri", "%q is not an absolute URL", s)
		case u.Fragment != "" || strings.Contains(s, "#"):
			v.Add("redirect_uris", "uri.no_fragment", "%q must not have a fragment", s)
		case u.Scheme == "https":
		case u.Scheme == "http" && isLoopback(u.Hostname()):
		default:
			v.Add("redirect_uris", "uri.https", "%q must use https (http is allowed only for localhost)", s)
		}
	}
	return v.Err()
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
