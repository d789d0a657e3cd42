package oauth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// SigningAlgorithm is the JWS algorithm of Roster's tokens: RS256, which every JWT library
// (and the Scalekit SDKs' jose) verifies.
const SigningAlgorithm = jose.RS256

// keyring caches an environment's signing keys. Keys live in the database so that every node
// signs and verifies with the same ones; a kid this node has not seen makes it reload.
type keyring struct {
	store  store.Store
	mu     sync.Mutex
	byEnv  map[string]*envKeys
	loaded map[string]time.Time
}

type envKeys struct {
	signing *roster.SigningKey
	private map[string]*rsa.PrivateKey // by kid
	all     []roster.SigningKey
}

// minReload limits reloads caused by unknown kids, so forged tokens cannot hammer the database.
const minReload = 5 * time.Second

func newKeyring(s store.Store) *keyring {
	return &keyring{store: s, byEnv: map[string]*envKeys{}, loaded: map[string]time.Time{}}
}

// EnsureSigningKey makes sure env has a key that signs; it creates one on first start.
func EnsureSigningKey(ctx context.Context, s store.Store, envID string, now time.Time) error {
	keys, err := s.ListSigningKeys(ctx, envID)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.RetireTime == nil {
			return nil
		}
	}
	k, err := NewSigningKey(envID, now)
	if err != nil {
		return err
	}
	return s.CreateSigningKey(ctx, k)
}

// NewSigningKey generates an RSA-2048 key.
func NewSigningKey(envID string, now time.Time) (roster.SigningKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return roster.SigningKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return roster.SigningKey{}, err
	}
	kid := make([]byte, 12)
	if _, err := rand.Read(kid); err != nil {
		return roster.SigningKey{}, err
	}
	return roster.SigningKey{
		ID:            "key_" + hex.EncodeToString(kid),
		EnvironmentID: envID,
		Algorithm:     string(SigningAlgorithm),
		PrivateKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		CreateTime:    now,
	}, nil
}

// get returns env's keys, loading them if needed or if force is set (and the last load is
// older than minReload).
func (r *keyring) get(ctx context.Context, envID string, force bool) (*envKeys, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k, ok := r.byEnv[envID]; ok && (!force || time.Since(r.loaded[envID]) < minReload) {
		return k, nil
	}
	keys, err := r.store.ListSigningKeys(ctx, envID)
	if err != nil {
		return nil, err
	}
	ek := &envKeys{private: map[string]*rsa.PrivateKey{}, all: keys}
	for i, k := range keys {
		block, _ := pem.Decode([]byte(k.PrivateKeyPEM))
		if block == nil {
			return nil, fmt.Errorf("signing key %s: not PEM", k.ID)
		}
		parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", k.ID, err)
		}
		priv, ok := parsed.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("signing key %s: not RSA", k.ID)
		}
		ek.private[k.ID] = priv
		if k.RetireTime == nil && ek.signing == nil { // keys come newest first
			ek.signing = &keys[i]
		}
	}
	if ek.signing == nil {
		return nil, fmt.Errorf("environment %s has no active signing key", envID)
	}
	r.byEnv[envID], r.loaded[envID] = ek, time.Now()
	return ek, nil
}

// publicKeys returns the JWKS of env: every key that signs or whose tokens may still be valid.
func (r *keyring) publicKeys(ctx context.Context, envID string, tokenTTL time.Duration) (jose.JSONWebKeySet, error) {
	ek, err := r.get(ctx, envID, true)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range ek.all {
		if k.RetireTime != nil && time.Since(*k.RetireTime) > tokenTTL {
			continue
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &ek.private[k.ID].PublicKey, KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"})
	}
	return set, nil
}
