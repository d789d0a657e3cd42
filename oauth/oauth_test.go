package oauth

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/secretbox"
	"github.com/rosterhq/roster/store/sqlite"
)

func TestSecretHash(t *testing.T) {
	h, err := HashSecret("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h, "correct") || !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if !CheckSecret(h, "correct horse battery staple") || CheckSecret(h, "correct horse battery stapl") || CheckSecret(h, "") {
		t.Fatal("check")
	}
	h2, _ := HashSecret("correct horse battery staple")
	if h == h2 {
		t.Fatal("salt is not random")
	}
	for _, bad := range []string{"", "$argon2id$", "$bcrypt$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=18$m=19456,t=2,p=1$AAAA$AAAA"} {
		if CheckSecret(bad, "x") {
			t.Fatalf("malformed hash %q accepted", bad)
		}
	}
	if s := NewSecret(); !strings.HasPrefix(s, "rsk_") || len(s) < 40 || s == NewSecret() {
		t.Fatalf("secret %q", s)
	}
}

func newTestServer(t testing.TB) (*Server, roster.APIClient, string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	env := roster.Environment{ID: "env_1", Name: "default", CursorKey: []byte("k"), CreateTime: time.Now()}
	if err := st.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, secretbox.KeySize)
	_, _ = rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := EnsureSigningKey(ctx, st, box, env.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	secret := NewSecret()
	hash, _ := HashSecret(secret)
	c := roster.APIClient{ID: "skc_1", EnvironmentID: env.ID, Name: "t", SecretHash: hash, CreateTime: time.Now()}
	if err := st.CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	return NewServer(st, "http://roster.test", time.Hour, WithSecretBox(box)), c, secret
}

func TestTokenLifecycle(t *testing.T) {
	s, c, secret := newTestServer(t)
	ctx := context.Background()
	tok, err := s.ClientCredentials(ctx, c.ID, secret)
	if err != nil || tok.ExpiresIn != 3600 {
		t.Fatalf("issue: %+v %v", tok, err)
	}
	p, err := s.Verify(ctx, tok.AccessToken)
	if err != nil || p.ClientID != c.ID || p.EnvironmentID != c.EnvironmentID {
		t.Fatalf("verify: %+v %v", p, err)
	}

	// An hour and a minute later (beyond the 30 s leeway) the token has expired.
	s.now = func() time.Time { return time.Now().Add(time.Hour + time.Minute) }
	if _, err := s.Verify(ctx, tok.AccessToken); roster.ErrorCode(err) != roster.EUnauthenticated || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token: %v", err)
	}
	s.now = time.Now

	// A token for another issuer (same keys) is refused.
	other := NewServer(s.store, "http://elsewhere.test", time.Hour, WithSecretBox(s.keys.box))
	foreign, err := other.ClientCredentials(ctx, c.ID, secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(ctx, foreign.AccessToken); roster.ErrorCode(err) != roster.EUnauthenticated {
		t.Fatalf("foreign issuer: %v", err)
	}

	for _, bad := range []struct{ id, secret string }{{c.ID, secret + "x"}, {"skc_2", secret}, {"", secret}, {c.ID, ""}} {
		if _, err := s.ClientCredentials(ctx, bad.id, bad.secret); err != errInvalidClient {
			t.Fatalf("%+v: %v", bad, err)
		}
	}
}

// A key added by another node is picked up when a token names an unknown kid, tokens of the
// older key keep verifying, and the JWKS lists both.
func TestKeyRotation(t *testing.T) {
	s, c, secret := newTestServer(t)
	ctx := context.Background()
	old, _ := s.ClientCredentials(ctx, c.ID, secret)
	keys, _ := s.store.ListSigningKeys(ctx, c.EnvironmentID)

	// Another node adds a newer key, which it then signs with.
	k, err := NewSigningKey(s.keys.box, c.EnvironmentID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.store.CreateSigningKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	other := NewServer(s.store, s.issuer, time.Hour, WithSecretBox(s.keys.box))
	fresh, err := other.ClientCredentials(ctx, c.ID, secret)
	if err != nil {
		t.Fatal(err)
	}
	s.keys.loaded[c.EnvironmentID] = time.Now().Add(-time.Minute) // allow the reload
	for _, tok := range []string{old.AccessToken, fresh.AccessToken} {
		if _, err := s.Verify(ctx, tok); err != nil {
			t.Fatalf("verify after rotation: %v", err)
		}
	}
	set, err := s.JWKS(ctx, c.EnvironmentID)
	if err != nil || len(set.Keys) != 2 || set.Keys[0].KeyID != k.ID || set.Keys[1].KeyID != keys[0].ID {
		t.Fatalf("jwks after rotation: %+v %v", set.Keys, err)
	}
}

func BenchmarkClientCredentials(b *testing.B) {
	s, c, secret := newTestServer(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.ClientCredentials(ctx, c.ID, secret); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifySignature measures a first verification: JWS parsing, RSA signature and
// claims; later calls with the same token hit the verified-token cache (BenchmarkTokenVerify
// in package api).
func BenchmarkVerifySignature(b *testing.B) {
	s, c, secret := newTestServer(b)
	ctx := context.Background()
	tok, err := s.ClientCredentials(ctx, c.ID, secret)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.verify(ctx, tok.AccessToken); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignUserTokens measures what a sign-in's token answer costs beyond storage: the
// access token and the ID token (with at_hash, c_hash and custom attributes), both RS256.
func BenchmarkSignUserTokens(b *testing.B) {
	s, c, _ := newTestServer(b)
	ctx := context.Background()
	u := roster.User{ID: "usr_1", EnvironmentID: c.EnvironmentID, Email: "ada@acme.test", Profile: roster.Profile{
		GivenName: "Ada", FamilyName: "Lovelace", Name: "Ada Lovelace", Locale: "en-GB", EmailVerified: true,
		CustomAttributes: map[string]string{"employee_number": "1815", "zip_code": "90210"}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.userTokens(ctx, c, u, "org_1", "conn_1", "openid profile email", "nonce", "code", "hash", time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRememberedSecrets: a secret that passed argon2id is remembered, but only that exact
// secret, and a revoked client is refused at once.
func TestRememberedSecrets(t *testing.T) {
	s, c, secret := newTestServer(t)
	ctx := context.Background()
	if _, err := s.AuthenticateClient(ctx, c.ID, secret); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateClient(ctx, c.ID, secret); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateClient(ctx, c.ID, secret+"x"); roster.ErrorCode(err) != roster.EUnauthenticated {
		t.Fatalf("a wrong secret after a right one: %v", err)
	}
	if err := s.store.RevokeClient(ctx, c.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateClient(ctx, c.ID, secret); roster.ErrorCode(err) != roster.EUnauthenticated {
		t.Fatalf("a revoked client with a remembered secret: %v", err)
	}
}
