package secretbox

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, KeySize), bytes.Repeat([]byte{2}, KeySize)
	b, err := New(k1)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := b.Seal("s3cret", "conn_1")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "s3cret") {
		t.Fatal("sealed value shows the secret")
	}
	if again, _ := b.Seal("s3cret", "conn_1"); again == sealed {
		t.Fatal("two seals of one secret are equal: the nonce is not random")
	}
	if got, err := b.Open(sealed, "conn_1"); err != nil || got != "s3cret" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := b.Open(sealed, "conn_2"); err == nil {
		t.Fatal("opened with another context")
	}
	// One character in the middle of the ciphertext: the tail may carry only padding bits.
	tampered := []byte(sealed)
	if i := len(tampered) - 10; tampered[i] == 'A' {
		tampered[i] = 'B'
	} else {
		tampered[i] = 'A'
	}
	if _, err := b.Open(string(tampered), "conn_1"); err == nil {
		t.Fatal("opened a tampered value")
	}
	// A new key seals; the old one still opens old values.
	rotated, _ := New(k2, k1)
	if got, err := rotated.Open(sealed, "conn_1"); err != nil || got != "s3cret" {
		t.Fatalf("open after rotation: %q %v", got, err)
	}
	other, _ := New(k2)
	if _, err := other.Open(sealed, "conn_1"); err == nil || !strings.Contains(err.Error(), KeyID(k1)) {
		t.Fatalf("want an error naming the missing key, got %v", err)
	}
	if _, err := New([]byte("short")); err == nil {
		t.Fatal("accepted a short key")
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "encryption.key")
	k, err := LoadOrCreateKeyFile(path)
	if err != nil || len(k) != KeySize {
		t.Fatalf("%v %d", err, len(k))
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", st.Mode())
	}
	again, err := LoadOrCreateKeyFile(path)
	if err != nil || !bytes.Equal(k, again) {
		t.Fatal("the key changed between starts")
	}
	if _, err := ParseKey("not a key"); err == nil {
		t.Fatal("parsed garbage")
	}
}
