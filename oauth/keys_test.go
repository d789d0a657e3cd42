package oauth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/oauth"
	"github.com/rosterhq/roster/secretbox"
	"github.com/rosterhq/roster/store"
)

const issuer = "http://roster.test"

func newBox(t *testing.T) *secretbox.Box {
	t.Helper()
	key := make([]byte, secretbox.KeySize)
	_, _ = rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return box
}

func newEnvAndClient(t *testing.T, st store.Store) (roster.Environment, roster.APIClient, string) {
	t.Helper()
	ctx := context.Background()
	env := roster.Environment{ID: "env_1", Name: "default", CursorKey: []byte("k"), CreateTime: time.Now()}
	if err := st.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	secret := oauth.NewSecret()
	hash, _ := oauth.HashSecret(secret)
	c := roster.APIClient{ID: "skc_1", EnvironmentID: env.ID, Name: "t", SecretHash: hash, CreateTime: time.Now()}
	if err := st.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	return env, c, secret
}

// A copy of the database alone does not give the signing keys: they are stored sealed with
// the encryption key, and tokens signed with them verify.
func TestSigningKeysStoredSealed(t *testing.T) {
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			st := rostertest.Open(t, backend)
			env, c, secret := newEnvAndClient(t, st)
			box := newBox(t)
			if err := oauth.EnsureSigningKey(ctx, st, box, env.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
			keys, err := st.ListSigningKeys(ctx, env.ID)
			if err != nil || len(keys) != 1 {
				t.Fatalf("keys = %+v, %v", keys, err)
			}
			if strings.Contains(keys[0].PrivateKeySealed, "PRIVATE KEY") {
				t.Fatal("the signing key is stored in plaintext")
			}
			s := oauth.NewServer(st, issuer, time.Hour, oauth.WithSecretBox(box))
			tok, err := s.ClientCredentials(ctx, c.ID, secret)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Verify(ctx, tok.AccessToken); err != nil {
				t.Fatalf("verify: %v", err)
			}
			// Another encryption key does not open them, and a start with it is refused.
			wrong := newBox(t)
			other := oauth.NewServer(st, issuer, time.Hour, oauth.WithSecretBox(wrong))
			if _, err := other.ClientCredentials(ctx, c.ID, secret); err == nil {
				t.Fatal("a server with another encryption key signed a token")
			}
			if err := oauth.EnsureSigningKey(ctx, st, wrong, env.ID, time.Now()); err == nil || !strings.Contains(err.Error(), "encryption key") {
				t.Fatalf("a start with another encryption key: %v", err)
			}
		})
	}
}

// A database written before keys were sealed holds them in plaintext: the first start seals
// them (once: a second start changes nothing), and tokens signed before still verify.
func TestPlaintextSigningKeysSealedAtStart(t *testing.T) {
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			st := rostertest.Open(t, backend)
			env, c, _ := newEnvAndClient(t, st)
			// What the old code stored: a PKCS#8 PEM, and a token it signed.
			priv, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			der, _ := x509.MarshalPKCS8PrivateKey(priv)
			plain := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
			if err := st.CreateSigningKey(ctx, roster.SigningKey{ID: "key_old", EnvironmentID: env.ID, Algorithm: "RS256",
				PrivateKeySealed: plain, CreateTime: time.Now().Add(-time.Minute)}); err != nil {
				t.Fatal(err)
			}
			old := sign(t, priv, "key_old", c, time.Now(), time.Hour)

			box := newBox(t)
			if err := oauth.EnsureSigningKey(ctx, st, box, env.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
			keys, err := st.ListSigningKeys(ctx, env.ID)
			if err != nil || len(keys) != 1 || keys[0].ID != "key_old" {
				t.Fatalf("keys after the first start = %+v, %v", keys, err)
			}
			sealed := keys[0].PrivateKeySealed
			if strings.Contains(sealed, "PRIVATE KEY") {
				t.Fatal("the plaintext key was not sealed at start")
			}
			if got, err := box.Open(sealed, "signing-key:key_old"); err != nil || got != plain {
				t.Fatalf("the sealed key does not open to the old key: %v", err)
			}
			s := oauth.NewServer(st, issuer, time.Hour, oauth.WithSecretBox(box))
			if _, err := s.Verify(ctx, old); err != nil {
				t.Fatalf("a token signed before the migration: %v", err)
			}
			// Idempotent: a second start leaves the sealed key as it is.
			if err := oauth.EnsureSigningKey(ctx, st, box, env.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
			if keys, _ := st.ListSigningKeys(ctx, env.ID); len(keys) != 1 || keys[0].PrivateKeySealed != sealed {
				t.Fatalf("the second start changed the keys: %+v", keys)
			}
		})
	}
}

// A token signed with the environment's real key but living longer than the configured
// maximum (say, minted by whoever copied the key) is refused.
func TestTokenLifetimeBounded(t *testing.T) {
	ctx := context.Background()
	st := rostertest.Open(t, "sqlite")
	env, c, _ := newEnvAndClient(t, st)
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	box := newBox(t)
	sealed, err := box.Seal(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "signing-key:key_1")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSigningKey(ctx, roster.SigningKey{ID: "key_1", EnvironmentID: env.ID, Algorithm: "RS256", PrivateKeySealed: sealed, CreateTime: time.Now()}); err != nil {
		t.Fatal(err)
	}
	s := oauth.NewServer(st, issuer, time.Hour, oauth.WithSecretBox(box))
	now := time.Now()
	if _, err := s.Verify(ctx, sign(t, priv, "key_1", c, now, time.Hour)); err != nil {
		t.Fatalf("a token of the configured lifetime: %v", err)
	}
	for name, tok := range map[string]string{
		"48h lifetime":            sign(t, priv, "key_1", c, now, 48*time.Hour),
		"issued 47h ago, 1h left": sign(t, priv, "key_1", c, now.Add(-47*time.Hour), 48*time.Hour),
		"no issue time":           signClaims(t, priv, "key_1", c, jwt.Claims{Expiry: jwt.NewNumericDate(now.Add(time.Hour))}),
	} {
		_, err := s.Verify(ctx, tok)
		if roster.ErrorCode(err) != roster.EUnauthenticated {
			t.Errorf("%s: %v, want unauthenticated", name, err)
		}
	}
}

func sign(t *testing.T, priv *rsa.PrivateKey, kid string, c roster.APIClient, iat time.Time, lifetime time.Duration) string {
	return signClaims(t, priv, kid, c, jwt.Claims{IssuedAt: jwt.NewNumericDate(iat), NotBefore: jwt.NewNumericDate(iat),
		Expiry: jwt.NewNumericDate(iat.Add(lifetime))})
}

func signClaims(t *testing.T, priv *rsa.PrivateKey, kid string, c roster.APIClient, claims jwt.Claims) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: priv}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	claims.Issuer, claims.Subject, claims.Audience = issuer, c.ID, jwt.Audience{issuer}
	raw, err := jwt.Signed(signer).Claims(oauth.Claims{Claims: claims, ClientID: c.ID, EnvironmentID: c.EnvironmentID}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
