// Package oidctest is an OpenID provider for Go tests that can be told to misbehave: sign
// with an unknown key or with "none", name another audience or issuer, or send an expired ID
// token. Well-behaved end-to-end tests use a provider nobody here wrote (e2e/node/idp.mjs);
// this one exists to prove that Roster refuses what a broken or hostile provider sends.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Fault is a way the provider misbehaves when it issues an ID token.
type Fault string

const (
	None          Fault = ""
	WrongAudience Fault = "wrong-audience"
	WrongIssuer   Fault = "wrong-issuer"
	Expired       Fault = "expired"
	UnknownKey    Fault = "unknown-key"
	AlgNone       Fault = "alg-none"
	WrongNonce    Fault = "wrong-nonce"
)

// Provider is a running test provider.
type Provider struct {
	URL          string
	ClientID     string
	ClientSecret string

	key, otherKey *rsa.PrivateKey
	srv           *httptest.Server

	mu     sync.Mutex
	users  map[string]map[string]any // login name -> claims (with "sub")
	user   string                    // who signs in next
	fault  Fault
	codes  map[string]grant
	tokens int // token requests served
}

type grant struct {
	user, nonce, challenge string
}

// Start runs a provider until the test ends.
func Start(t testing.TB) *Provider {
	t.Helper()
	k1, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{ClientID: "roster-rp", ClientSecret: "provider-secret-123", key: k1, otherKey: k2,
		users: map[string]map[string]any{}, codes: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /userinfo", p.userinfo)
	p.srv = httptest.NewServer(mux)
	p.URL = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// SetUser makes name (with these claims; "sub" defaults to name) the next to sign in.
func (p *Provider) SetUser(name string, claims map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := map[string]any{"sub": name}
	for k, v := range claims {
		c[k] = v
	}
	p.users[name], p.user = c, name
}

// SetFault makes the next ID tokens misbehave.
func (p *Provider) SetFault(f Fault) {
	p.mu.Lock()
	p.fault = f
	p.mu.Unlock()
}

// TokenRequests counts the token requests served.
func (p *Provider) TokenRequests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tokens
}

func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{
		"issuer": p.URL, "authorization_endpoint": p.URL + "/authorize", "token_endpoint": p.URL + "/token",
		"userinfo_endpoint": p.URL + "/userinfo", "jwks_uri": p.URL + "/jwks",
		"id_token_signing_alg_values_supported": []string{"RS256"}, "response_types_supported": []string{"code"},
		"subject_types_supported": []string{"public"}, "code_challenge_methods_supported": []string{"S256"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
}

// authorize signs the current user in at once and sends them back with a code.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != p.ClientID || q.Get("response_type") != "code" {
		http.Error(w, "bad client or response type", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	user := p.user
	if hint := q.Get("login_hint"); hint != "" && p.users[hint] != nil {
		user = hint
	}
	code := randomString()
	p.codes[code] = grant{user: user, nonce: q.Get("nonce"), challenge: q.Get("code_challenge")}
	p.mu.Unlock()
	target, _ := url.Parse(q.Get("redirect_uri"))
	tq := target.Query()
	tq.Set("code", code)
	tq.Set("state", q.Get("state"))
	target.RawQuery = tq.Encode()
	http.Redirect(w, r, target.String(), http.StatusFound)
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tokens++
	if id != p.ClientID || secret != p.ClientSecret {
		w.WriteHeader(http.StatusUnauthorized)
		writeJSON(w, map[string]string{"error": "invalid_client"})
		return
	}
	g, ok := p.codes[r.PostForm.Get("code")]
	delete(p.codes, r.PostForm.Get("code"))
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		writeJSON(w, map[string]string{"error": "invalid_grant"})
		return
	}
	if g.challenge != "" {
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			w.WriteHeader(http.StatusBadRequest)
			writeJSON(w, map[string]string{"error": "invalid_grant", "error_description": "PKCE"})
			return
		}
	}
	access := "at-" + randomString()
	claims := map[string]any{}
	for k, v := range p.users[g.user] {
		claims[k] = v
	}
	now := time.Now()
	claims["iss"], claims["aud"], claims["iat"], claims["exp"] = p.URL, p.ClientID, now.Unix(), now.Add(5*time.Minute).Unix()
	claims["nonce"] = g.nonce
	key, kid, alg := p.key, "k1", jose.RS256
	switch p.fault {
	case WrongAudience:
		claims["aud"] = "someone-else"
	case WrongIssuer:
		claims["iss"] = "https://evil.example.com"
	case Expired:
		claims["iat"], claims["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
	case UnknownKey:
		key, kid = p.otherKey, "k1" // claims the published key's ID, signed by another
	case WrongNonce:
		claims["nonce"] = "not-the-nonce"
	}
	var idToken string
	if p.fault == AlgNone {
		hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
		body, _ := json.Marshal(claims)
		idToken = hdr + "." + base64.RawURLEncoding.EncodeToString(body) + "."
	} else {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if idToken, err = jwt.Signed(signer).Claims(claims).Serialize(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	p.codes["access:"+access] = g
	writeJSON(w, map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 300, "id_token": idToken})
}

// userinfo answers the claims of the access token's user.
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	p.mu.Lock()
	g, ok := p.codes["access:"+tok]
	claims := p.users[g.user]
	p.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	writeJSON(w, claims)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func randomString() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
