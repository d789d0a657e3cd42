package roster

import "time"

// Login lifetimes (docs/sso.md).
const (
	// LoginRequestLifetime bounds the time a person may spend at their identity provider.
	LoginRequestLifetime = 10 * time.Minute
	// AuthCodeLifetime bounds the time between the redirect to the application and its code
	// exchange; OAuth 2.0 recommends at most ten minutes, one is plenty for a back end.
	AuthCodeLifetime = time.Minute
	// RefreshTokenLifetime is how long an unused refresh token stays valid; each use
	// rotates it.
	RefreshTokenLifetime = 30 * 24 * time.Hour
)

// LoginFlavor is the shape of the login the application asked for.
type LoginFlavor string

const (
	FlavorOIDC   LoginFlavor = "oidc"   // /oauth/authorize: an ID token (Scalekit)
	FlavorWorkOS LoginFlavor = "workos" // /sso/authorize: a profile object
	// FlavorDashboardTest is an operator's test sign-in from the dashboard: a dry run that
	// stores a ConnectionTest and never a user, an identity, a membership or a code. Its
	// RedirectURI is the dashboard's result path (the result ID is appended) and its State the
	// operator's ID; it has no ClientID.
	FlavorDashboardTest LoginFlavor = "dashboard_test"
)

// ConnectionTestLifetime bounds how long a test sign-in's result can be read.
const ConnectionTestLifetime = 15 * time.Minute

// ConnectionTest is the result of an operator's test sign-in through a connection
// (docs/dashboard.md, "Mapping preview and test sign-in"): what the identity provider sent and
// what the connection's mapping makes of it, or the error the application would have got.
// Only the operator who started it reads it, until ExpireTime.
type ConnectionTest struct {
	ID             string
	EnvironmentID  string
	OrganizationID string
	ConnectionID   string
	OperatorID     string
	Result         []byte // JSON (directory.MappedSignIn), bounded by ConnectionTestMax
	Error          string // the sign-in's error, as the application would get it; "" on success
	CreateTime     time.Time
	ExpireTime     time.Time
}

// ConnectionTestMax bounds a stored test result.
const ConnectionTestMax = 64 << 10

// LoginRequest is a sign-in in progress, between Roster's redirect to the identity provider
// and the provider's callback. It lives in the database, so that any node can finish it.
type LoginRequest struct {
	ID            string // also the state sent to the provider
	EnvironmentID string
	Flavor        LoginFlavor
	ClientID      string // the application's API client
	RedirectURI   string
	State         string // the application's state, returned to it unchanged
	Nonce         string // the application's nonce, put into its ID token
	Scope         string
	CodeChallenge string // the application's PKCE challenge (S256) or ""
	ConnectionID  string
	// UpstreamNonce and UpstreamVerifier protect the hop to the provider.
	UpstreamNonce    string
	UpstreamVerifier string
	CreateTime       time.Time
	ExpireTime       time.Time
}

// AuthCode is the one-time code that an application exchanges for tokens. Only its hash is
// stored.
type AuthCode struct {
	Hash           string
	EnvironmentID  string
	ClientID       string
	RedirectURI    string
	UserID         string
	OrganizationID string
	ConnectionID   string
	Flavor         LoginFlavor
	Nonce          string
	Scope          string
	CodeChallenge  string
	// Profile is the sign-in's provider profile as the /sso API shows it (JSON).
	Profile    []byte
	CreateTime time.Time
	ExpireTime time.Time
	UseTime    *time.Time
}

// RefreshToken lets an application renew a user's tokens. Only its hash is stored; each use
// replaces it with a new one.
type RefreshToken struct {
	Hash           string
	EnvironmentID  string
	ClientID       string
	UserID         string
	OrganizationID string
	ConnectionID   string
	Scope          string
	CodeHash       string // the code it came from: a replayed code revokes it
	CreateTime     time.Time
	ExpireTime     time.Time
	RevokeTime     *time.Time
}

// Identity links a user to their account at a connection's identity provider.
type Identity struct {
	ConnectionID   string
	ConnectionType ConnectionType
	Provider       string
	Subject        string // the provider's ID for the user
	UserID         string
	EnvironmentID  string
	RawClaims      []byte // of the last sign-in, at most RawClaimsMax bytes
	CreateTime     time.Time
	LastLoginTime  time.Time
}
