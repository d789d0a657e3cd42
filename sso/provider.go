package sso

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/outbound"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
)

// Discovery results are reused for providerTTL, or until the connection changes (the cache
// key holds its update time); go-oidc refreshes the provider's keys by itself when a token
// names an unknown key. A failed discovery is remembered for failureTTL, so that the
// unauthenticated /oauth/authorize cannot make Roster fetch a failing issuer on every
// request; concurrent sign-ins share one fetch. At most maxProviders entries are kept.
const (
	providerTTL  = 10 * time.Minute
	failureTTL   = 30 * time.Second
	maxProviders = 1000
)

// discoveryWhat names OIDC discovery in the uniform error of a failed fetch.
const discoveryWhat = "the OpenID configuration"

// providers caches discovered OpenID providers per connection configuration.
type providers struct {
	guard  *outbound.Guard
	log    *slog.Logger
	now    func() time.Time
	flight singleflight.Group
	mu     sync.Mutex
	cache  map[string]cachedProvider
}

type cachedProvider struct {
	p       *oidc.Provider
	err     error
	expires time.Time
}

// ctx carries the guarded HTTP client to go-oidc and oauth2 (JWKS, token, userinfo).
func (ps *providers) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, ps.guard.Client())
}

// get returns the provider of an OIDC connection: discovered from its issuer (or discovery
// endpoint), or built from its manual endpoints. A failure is the guard's uniform error.
func (ps *providers) get(ctx context.Context, c roster.Connection) (*oidc.Provider, error) {
	key := fmt.Sprintf("%s|%d", c.ID, c.UpdateTime.UnixMicro())
	if cp, ok := ps.cached(key); ok {
		return cp.p, cp.err
	}
	v, _, _ := ps.flight.Do(key, func() (any, error) {
		if cp, ok := ps.cached(key); ok {
			return cp, nil
		}
		// The fetch outlives the request that started it: another request may be waiting.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), outbound.DefaultTimeout)
		defer cancel()
		p, err := ps.fetch(ps.ctx(fctx), c.OIDC)
		cp := cachedProvider{p: p, expires: ps.now().Add(providerTTL)}
		if err != nil {
			var oe *outbound.Error
			if !errors.As(err, &oe) {
				oe = outbound.Failed(discoveryWhat, err)
			}
			ps.log.WarnContext(ctx, "OIDC discovery failed", "connection_id", c.ID, "err", oe.Detail())
			cp = cachedProvider{err: oe, expires: ps.now().Add(failureTTL)}
		}
		ps.store(key, cp)
		return cp, nil
	})
	cp := v.(cachedProvider)
	return cp.p, cp.err
}

func (ps *providers) cached(key string) (cachedProvider, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	cp, ok := ps.cache[key]
	if ok && ps.now().Before(cp.expires) {
		return cp, true
	}
	return cachedProvider{}, false
}

func (ps *providers) store(key string, cp cachedProvider) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if len(ps.cache) >= maxProviders {
		now := ps.now()
		for k, old := range ps.cache {
			if !now.Before(old.expires) {
				delete(ps.cache, k)
			}
		}
		for k := range ps.cache { // still full: drop any
			if len(ps.cache) < maxProviders {
				break
			}
			delete(ps.cache, k)
		}
	}
	ps.cache[key] = cp
}

func (ps *providers) fetch(ctx context.Context, o roster.OIDCConfig) (*oidc.Provider, error) {
	switch {
	case o.Manual:
		return (&oidc.ProviderConfig{IssuerURL: o.Issuer, AuthURL: o.AuthorizeURI, TokenURL: o.TokenURI, UserInfoURL: o.UserInfoURI,
			JWKSURL: o.JWKSURI}).NewProvider(ctx), nil
	case o.DiscoveryEndpoint != "":
		return ps.discover(ctx, o)
	default:
		return oidc.NewProvider(ctx, o.Issuer)
	}
}

// signingAlgs are the ID token algorithms go-oidc verifies.
var signingAlgs = []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512, oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA}

// discover reads a discovery document from an explicit URL; its issuer must be the connection's issuer when one
// is configured.
func (ps *providers) discover(ctx context.Context, o roster.OIDCConfig) (*oidc.Provider, error) {
	data, err := ps.guard.Get(ctx, discoveryWhat, o.DiscoveryEndpoint)
	if err != nil {
		return nil, err
	}
	var cfg oidc.ProviderConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("discovery document: %w", err)
	}
	if o.Issuer != "" && cfg.IssuerURL != o.Issuer {
		return nil, fmt.Errorf("discovery document names issuer %q, the connection expects %q", cfg.IssuerURL, o.Issuer)
	}
	if cfg.AuthURL == "" || cfg.TokenURL == "" || cfg.JWKSURL == "" {
		return nil, errors.New("discovery document lacks an authorization, token or jwks endpoint")
	}
	cfg.Algorithms = slices.DeleteFunc(cfg.Algorithms, func(a string) bool { return !slices.Contains(signingAlgs, a) })
	return cfg.NewProvider(ctx), nil
}

// oauthConfig is the OAuth client of a connection at its provider.
func oauthConfig(c roster.Connection, p *oidc.Provider, secret, callback string) *oauth2.Config {
	ep := p.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInParams
	if c.OIDC.TokenAuthBasic {
		ep.AuthStyle = oauth2.AuthStyleInHeader
	}
	scopes := c.OIDC.Scopes
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	}
	return &oauth2.Config{ClientID: c.OIDC.ClientID, ClientSecret: secret, Endpoint: ep, RedirectURL: callback, Scopes: scopes}
}
