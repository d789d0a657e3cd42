package oauth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/secretbox"
	"github.com/rosterhq/roster/store"
)

// SigningAlgorithm is the JWS algorithm of Roster's tokens: RS256, which every JWT library
// (and the Scalekit SDKs' jose) verifies.
const SigningAlgorithm = jose.RS256

// keyring caches an environment's signing keys. Keys live in the database, sealed with the
// encryption key (docs/encryption.md), so that every node signs and verifies with the same
// ones; a kid this node has not seen makes it reload.
type keyring struct {
	store  store.Store
	box    *secretbox.Box
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

func newKeyring(s store.Store, box *secretbox.Box) *keyring {
	return &keyring{store: s, box: box, byEnv: map[string]*envKeys{}, loaded: map[string]time.Time{}}
}

// sealContext binds a sealed signing key to its ID, so a sealed key copied to another row
// does not open there.
func sealContext(keyID string) string { return "signing-key:" + keyID }

// sealed reports whether a stored private key is sealed; before keys were sealed they were
// stored as PEM.
func sealed(v string) bool { return !strings.HasPrefix(strings.TrimSpace(v), "-----BEGIN") }

// EnsureSigningKey makes sure env has a key that signs; it creates one on first start. It
// also seals, with box, keys that a database written before keys were sealed holds in
// plaintext (once: sealed keys are left as they are).
func EnsureSigningKey(ctx context.Context, s store.Store, box *secretbox.Box, envID string, now time.Time) error {
	if box == nil {
		return errors.New("signing keys: no encryption key is configured")
	}
	keys, err := s.ListSigningKeys(ctx, envID)
	if err != nil {
		return err
	}
	active := false
	for _, k := range keys {
		active = active || k.RetireTime == nil
		if sealed(k.PrivateKeySealed) {
			// A server that could not open its keys would start and then refuse every token.
			if _, err := box.Open(k.PrivateKeySealed, sealContext(k.ID)); err != nil {
				return fmt.Errorf("signing key %s does not open with the configured encryption key (was it changed?): %w (docs/encryption.md)", k.ID, err)
			}
			continue
		}
		v, err := box.Seal(k.PrivateKeySealed, sealContext(k.ID))
		if err != nil {
			return err
		}
		if err := s.SealSigningKey(ctx, k.ID, k.PrivateKeySealed, v); err != nil {
			return fmt.Errorf("seal signing key %s: %w", k.ID, err)
		}
	}
	if active {
		return nil
	}
	k, err := NewSigningKey(box, envID, now)
	if err != nil {
		return err
	}
	return s.CreateSigningKey(ctx, k)
}

// NewSigningKey generates an RSA-2048 key, sealed with box.
func NewSigningKey(box *secretbox.Box, envID string, now time.Time) (roster.SigningKey, error) {
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
	id := "key_" + hex.EncodeToString(kid)
	sealedKey, err := box.Seal(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), sealContext(id))
	if err != nil {
		return roster.SigningKey{}, err
	}
	return roster.SigningKey{
		ID:               id,
		EnvironmentID:    envID,
		Algorithm:        string(SigningAlgorithm),
		PrivateKeySealed: sealedKey,
		CreateTime:       now,
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
		if r.box == nil {
			return nil, errors.New("signing keys: no encryption key is configured")
		}
		if !sealed(k.PrivateKeySealed) {
			// EnsureSigningKey seals such keys when a server starts; one written since (by an
			// older node) is not used until it is sealed.
			return nil, fmt.Errorf("signing key %s is stored in plaintext: restart roster serve, or run roster migrate, to seal it", k.ID)
		}
		keyPEM, err := r.box.Open(k.PrivateKeySealed, sealContext(k.ID))
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", k.ID, err)
		}
		block, _ := pem.Decode([]byte(keyPEM))
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
