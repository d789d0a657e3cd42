package sso

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/rosterhq/roster"
	"golang.org/x/oauth2"
)

// providerTTL bounds how long a provider's discovery document is reused. go-oidc refreshes
// the provider's keys by itself when a token names an unknown key.
const providerTTL = 10 * time.Minute

// providers caches discovered OpenID providers per connection configuration.
type providers struct {
	client *http.Client
	mu     sync.Mutex
	cache  map[string]cachedProvider
}

type cachedProvider struct {
	p       *oidc.Provider
	fetched time.Time
}

func (ps *providers) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, ps.client)
}

// get returns the provider of an OIDC connection: discovered from its issuer (or discovery
// endpoint), or built from its manual endpoints.
func (ps *providers) get(ctx context.Context, c roster.Connection) (*oidc.Provider, error) {
	o := c.OIDC
	key := fmt.Sprintf("%s|%d", c.ID, c.UpdateTime.UnixMicro())
	ps.mu.Lock()
	cp, ok := ps.cache[key]
	ps.mu.Unlock()
	if ok && time.Since(cp.fetched) < providerTTL {
		return cp.p, nil
	}
	ctx = ps.ctx(ctx)
	var p *oidc.Provider
	var err error
	switch {
	case o.Manual:
		p = (&oidc.ProviderConfig{IssuerURL: o.Issuer, AuthURL: o.AuthorizeURI, TokenURL: o.TokenURI, UserInfoURL: o.UserInfoURI,
			JWKSURL: o.JWKSURI}).NewProvider(ctx)
	case o.DiscoveryEndpoint != "":
		p, err = ps.discover(ctx, o)
	default:
		p, err = oidc.NewProvider(ctx, o.Issuer)
	}
	if err != nil {
		return nil, err
	}
	ps.mu.Lock()
	if len(ps.cache) > 1000 {
		ps.cache = map[string]cachedProvider{}
	}
	ps.cache[key] = cachedProvider{p: p, fetched: time.Now()}
	ps.mu.Unlock()
	return p, nil
}

// discover reads a discovery document from an explicit URL; its issuer must be the
// connection's issuer when one is configured.
func (ps *providers) discover(ctx context.Context, o roster.OIDCConfig) (*oidc.Provider, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.DiscoveryEndpoint, nil)
	if err != nil {
		return nil, err
	}
	resp, err := ps.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("discovery document: HTTP %d", resp.StatusCode)
	}
	var cfg oidc.ProviderConfig
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&cfg); err != nil {
		return nil, fmt.Errorf("discovery document: %w", err)
	}
	if o.Issuer != "" && cfg.IssuerURL != o.Issuer {
		return nil, fmt.Errorf("discovery document names issuer %q, the connection expects %q", cfg.IssuerURL, o.Issuer)
	}
	if cfg.AuthURL == "" || cfg.TokenURL == "" || cfg.JWKSURL == "" {
		return nil, errors.New("discovery document lacks an authorization, token or jwks endpoint")
	}
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
