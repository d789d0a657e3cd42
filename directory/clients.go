package directory

import (
	"context"
	"crypto/rand"
	"unicode/utf8"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/oauth"
)

// DefaultEnvironmentName names the environment a deployment starts with.
const DefaultEnvironmentName = "default"

// MinSecretLength is the shortest client secret an operator may choose.
const MinSecretLength = 16

// Bootstrap prepares an empty database: it creates the default environment with a signing key
// and, the first time, an admin API client. With clientID and secret set (from
// ROSTER_BOOTSTRAP_CLIENT_ID/SECRET) that client is created when it does not exist yet;
// otherwise one is generated on an empty database only. It returns the environment and, when a
// client was created here, its ID and secret (to be shown once).
func (s *Service) Bootstrap(ctx context.Context, clientID, secret string) (env roster.Environment, created *NewClient, err error) {
	env, err = s.EnsureEnvironment(ctx)
	if err != nil {
		return env, nil, err
	}
	if clientID != "" || secret != "" {
		if _, err := s.store.GetClient(ctx, clientID); err == nil {
			return env, nil, nil
		} else if roster.ErrorCode(err) != roster.ENotFound {
			return env, nil, err
		}
		c, err := s.CreateClient(ctx, env, "bootstrap admin", clientID, secret)
		if roster.ErrorCode(err) == roster.EConflict { // another node created it first
			return env, nil, nil
		}
		return env, &c, err
	}
	clients, err := s.store.ListClients(ctx, env.ID)
	if err != nil || len(clients) > 0 {
		return env, nil, err
	}
	c, err := s.CreateClient(ctx, env, "admin", "", "")
	return env, &c, err
}

// EnsureEnvironment creates the default environment and its signing key when missing, and
// seals signing keys left in plaintext by older versions (it needs WithSecretBox).
func (s *Service) EnsureEnvironment(ctx context.Context) (roster.Environment, error) {
	env, err := s.ensureEnvironment(ctx)
	if err != nil {
		return env, err
	}
	if err := s.seedRoles(ctx, env); err != nil {
		return env, err
	}
	return env, oauth.EnsureSigningKey(ctx, s.store, s.box, env.ID, s.now())
}

func (s *Service) ensureEnvironment(ctx context.Context) (roster.Environment, error) {
	if env, err := s.DefaultEnvironment(ctx); roster.ErrorCode(err) != roster.EFailedPrecondition {
		return env, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return roster.Environment{}, err
	}
	env := roster.Environment{ID: s.ids.New(roster.PrefixEnvironment), Name: DefaultEnvironmentName, CursorKey: key, CreateTime: s.now()}
	err := s.store.CreateEnvironment(ctx, env)
	if roster.ErrorCode(err) == roster.EConflict { // another node won the race: use theirs
		return s.ensureEnvironment(ctx)
	}
	return env, err
}

// DefaultEnvironment returns the environment a deployment serves.
func (s *Service) DefaultEnvironment(ctx context.Context) (roster.Environment, error) {
	envs, err := s.store.ListEnvironments(ctx)
	if err != nil {
		return roster.Environment{}, err
	}
	for _, e := range envs {
		if e.Name == DefaultEnvironmentName {
			return e, nil
		}
	}
	return roster.Environment{}, roster.Errorf(roster.EFailedPrecondition, "the database has no environment yet: run `roster serve` or `roster migrate` once")
}

// NewClient is a created API client with its secret, which is never stored or shown again.
type NewClient struct {
	Client roster.APIClient
	Secret string
}

// CreateClient creates an API client. An empty id or secret is generated.
func (s *Service) CreateClient(ctx context.Context, env roster.Environment, name, id, secret string) (NewClient, error) {
	var v roster.Violations
	if id != "" && !validClientID(id) {
		v.Add("client_id", "pattern", "must be 1 to 64 letters, digits, '_', '-' or '.'")
	}
	if secret != "" && utf8.RuneCountInString(secret) < MinSecretLength {
		v.Add("client_secret", "string.min_len=16", "must be at least %d characters long", MinSecretLength)
	}
	if n := utf8.RuneCountInString(name); n == 0 || n > 200 {
		v.Add("name", "string.len=1..200", "must be 1 to 200 characters long")
	}
	if err := v.Err(); err != nil {
		return NewClient{}, err
	}
	if id == "" {
		id = s.ids.New(roster.PrefixClient)
	}
	if secret == "" {
		secret = oauth.NewSecret()
	}
	hash, err := oauth.HashSecret(secret)
	if err != nil {
		return NewClient{}, err
	}
	c := roster.APIClient{ID: id, EnvironmentID: env.ID, Name: name, SecretHash: hash, CreateTime: s.now()}
	if err := s.store.CreateClient(ctx, c); err != nil {
		return NewClient{}, err
	}
	return NewClient{Client: c, Secret: secret}, nil
}

// RevokeClient stops a client: it can no longer get tokens, and its tokens stop working.
func (s *Service) RevokeClient(ctx context.Context, id string) error {
	return s.store.RevokeClient(ctx, id, s.now())
}

func validClientID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// SetRedirectURIs replaces the redirect URIs that a client's sign-ins may return to.
func (s *Service) SetRedirectURIs(ctx context.Context, clientID string, uris []string) error {
	if err := roster.CheckRedirectURIs(uris); err != nil {
		return err
	}
	return s.store.SetClientRedirectURIs(ctx, clientID, uris)
}

// ListClients returns the environment's API clients, revoked ones too (a deployment has a
// handful: the list is not paged).
func (s *Service) ListClients(ctx context.Context, env roster.Environment) ([]roster.APIClient, error) {
	return s.store.ListClients(ctx, env.ID)
}

// GetClient returns one of the environment's API clients; another environment's is NOT_FOUND.
func (s *Service) GetClient(ctx context.Context, env roster.Environment, id string) (roster.APIClient, error) {
	c, err := s.store.GetClient(ctx, id)
	if err == nil && c.EnvironmentID != env.ID {
		return roster.APIClient{}, roster.Errorf(roster.ENotFound, "API client %q not found", id)
	}
	return c, err
}
