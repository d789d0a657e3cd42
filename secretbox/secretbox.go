// Package secretbox seals secrets that Roster must be able to read back (an SSO connection's
// client secret, which it sends to the identity provider), so that a copy of the database
// alone does not reveal them. It uses AES-256-GCM from the standard library; the key comes from
// configuration (docs/encryption.md).
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of a key: AES-256.
const KeySize = 32

// Box seals with its current key and opens with any of its keys, so that a key can be
// replaced while sealed values made with the old one are still read.
type Box struct {
	current string
	aeads   map[string]cipher.AEAD
}

// New returns a box that seals with the first key and opens with all of them.
func New(keys ...[]byte) (*Box, error) {
	if len(keys) == 0 {
		return nil, errors.New("secretbox: no key")
	}
	b := &Box{aeads: map[string]cipher.AEAD{}}
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("secretbox: a key must be %d bytes, got %d", KeySize, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := KeyID(k)
		b.aeads[id] = aead
		if i == 0 {
			b.current = id
		}
	}
	return b, nil
}

// KeyID names a key without revealing it: the start of its SHA-256.
func KeyID(k []byte) string {
	sum := sha256.Sum256(k)
	return hex.EncodeToString(sum[:4])
}

// Seal encrypts plaintext; context (e.g. the connection ID) is authenticated, so a sealed
// value copied to another record does not open there.
func (b *Box) Seal(plaintext, context string) (string, error) {
	aead := b.aeads[b.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	ct := aead.Seal(nonce, nonce, []byte(plaintext), []byte(context))
	return "v1." + b.current + "." + base64.RawURLEncoding.EncodeToString(ct), nil
}

// Open decrypts a sealed value made by Seal with the same context.
func (b *Box) Open(sealed, context string) (string, error) {
	parts := strings.SplitN(sealed, ".", 3)
	if len(parts) != 3 || parts[0] != "v1" {
		return "", errors.New("secretbox: not a sealed value")
	}
	aead, ok := b.aeads[parts[1]]
	if !ok {
		return "", fmt.Errorf("secretbox: sealed with key %s, which is not configured", parts[1])
	}
	ct, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil || len(ct) < aead.NonceSize() {
		return "", errors.New("secretbox: malformed sealed value")
	}
	pt, err := aead.Open(nil, ct[:aead.NonceSize()], ct[aead.NonceSize():], []byte(context))
	if err != nil {
		return "", errors.New("secretbox: the sealed value does not open with this key and context")
	}
	return string(pt), nil
}

// ParseKey reads a key written as base64 (standard or URL alphabet) or 64 hex digits.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if k, err := hex.DecodeString(s); err == nil && len(k) == KeySize {
		return k, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == KeySize {
			return k, nil
		}
	}
	return nil, fmt.Errorf("an encryption key must be %d random bytes, as base64 or hex (e.g. openssl rand -base64 32)", KeySize)
}

// LoadOrCreateKeyFile reads the key in path, or creates it (mode 0600) with a new random key.
// It lets the embedded set-up start with no configuration; see docs/encryption.md.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return ParseKey(string(b))
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) { // another process made it first
		return LoadOrCreateKeyFile(path)
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		return nil, err
	}
	return k, f.Sync()
}
