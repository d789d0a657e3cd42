package password

import (
	"strings"
	"testing"
)

// cheap keeps the tests fast; the format and checks are the same at any cost.
var cheap = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashAndVerify(t *testing.T) {
	h, err := Hash("correct horse battery", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(h, "horse") {
		t.Fatalf("hash %q is not a PHC argon2id string, or holds the password", h)
	}
	if ok, err := Verify(h, "correct horse battery"); !ok || err != nil {
		t.Fatalf("the right password does not verify: %v, %v", ok, err)
	}
	for _, wrong := range []string{"", "correct horse batter", "correct horse battery ", "Correct horse battery"} {
		if ok, _ := Verify(h, wrong); ok {
			t.Errorf("%q verified", wrong)
		}
	}
	h2, _ := Hash("correct horse battery", cheap)
	if h2 == h {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
}

// A hash keeps its parameters: one made with older parameters still verifies, and says it
// wants a rehash under the new ones.
func TestParametersTravelWithTheHash(t *testing.T) {
	old, _ := Hash("a long enough password", cheap)
	stronger := cheap
	stronger.Time = 2
	if ok, _ := Verify(old, "a long enough password"); !ok {
		t.Fatal("old hash does not verify")
	}
	if !NeedsRehash(old, stronger) || NeedsRehash(old, cheap) {
		t.Error("NeedsRehash does not compare the parameters")
	}
}

func TestMalformedHashes(t *testing.T) {
	good, _ := Hash("x", cheap)
	parts := strings.Split(good, "$")
	for _, h := range []string{
		"", "plaintext", "$argon2i$v=19$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=18$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=4194304,t=1,p=1$" + parts[4] + "$" + parts[5], // 4 GiB: refused, not run
		"$argon2id$v=19$m=64,t=1000,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$",
		"$argon2id$v=19$m=64,t=1,p=1$!!$" + parts[5],
	} {
		if ok, err := Verify(h, "x"); ok || err != ErrMalformed {
			t.Errorf("Verify(%q) = %v, %v; want false, ErrMalformed", h, ok, err)
		}
	}
	if _, err := Hash("x", Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32}); err == nil {
		t.Error("a 4-byte salt was accepted")
	}
}

// BenchmarkVerifyDefault is the cost of one sign-in's check at the default parameters.
func BenchmarkVerifyDefault(b *testing.B) {
	h, err := Hash("correct horse battery staple", Default)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := Verify(h, "correct horse battery staple"); !ok {
			b.Fatal("no match")
		}
	}
}
