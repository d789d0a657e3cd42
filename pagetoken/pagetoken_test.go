package pagetoken

import (
	"strings"
	"testing"
)

func TestRoundTripAndTamper(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	tok := Encode(key, "organizations", Cursor{Direction: Next, Position: 381234567890123456})
	c, err := Decode(key, "organizations", tok)
	if err != nil || c.Direction != Next || c.Position != 381234567890123456 {
		t.Fatalf("decode = %+v, %v", c, err)
	}
	if _, err := Decode(key, "organizations\x00ext=a", tok); err != ErrInvalid {
		t.Fatalf("token accepted for another query: %v", err)
	}
	if _, err := Decode([]byte("another key....................."), "organizations", tok); err != ErrInvalid {
		t.Fatalf("token accepted under another key: %v", err)
	}
	for i := range tok {
		flipped := []byte(tok)
		flipped[i] ^= 1
		if _, err := Decode(key, "organizations", string(flipped)); err == nil && string(flipped) != tok {
			t.Fatalf("tampered token %q accepted", flipped)
		}
	}
	// The last character carries two bits of the MAC and four padding bits: a second spelling of
	// the same bytes (padding bits set) is refused, so a token has exactly one form.
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	respelled := tok[:len(tok)-1] + string(alphabet[last|1])
	if _, err := Decode(key, "organizations", respelled); err != ErrInvalid {
		t.Fatalf("token with padding bits set accepted: %v", err)
	}
	for _, bad := range []string{"", "x", strings.Repeat("A", 40), "!!!!"} {
		if _, err := Decode(key, "organizations", bad); err != ErrInvalid {
			t.Fatalf("%q: %v", bad, err)
		}
	}
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func FuzzDecode(f *testing.F) {
	key := []byte("k")
	f.Add(Encode(key, "q", Cursor{Direction: Prev, Position: 7}))
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := Decode(key, "q", tok)
		if err == nil && Encode(key, "q", c) != tok {
			t.Fatalf("accepted a token that does not re-encode to itself: %q", tok)
		}
	})
}

// Seal and Open: a body of any size round-trips for its key and query only; an altered
// token, another query or key, or another size is refused.
func TestSealOpen(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	body := []byte("sixteen bytes!!!")
	tok := Seal(key, "events\x00env_1", body)
	if got, err := Open(key, "events\x00env_1", tok, len(body)); err != nil || string(got) != string(body) {
		t.Fatalf("open: %q, %v", got, err)
	}
	bad := []byte(tok)
	bad[3] ^= 1
	for name, try := range map[string]func() ([]byte, error){
		"altered":     func() ([]byte, error) { return Open(key, "events\x00env_1", string(bad), len(body)) },
		"other query": func() ([]byte, error) { return Open(key, "events\x00env_2", tok, len(body)) },
		"other key":   func() ([]byte, error) { return Open([]byte("another key"), "events\x00env_1", tok, len(body)) },
		"other size":  func() ([]byte, error) { return Open(key, "events\x00env_1", tok, 9) },
	} {
		if _, err := try(); err != ErrInvalid {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	// Encode's tokens are Seal's of the direction and position.
	c := Cursor{Direction: Next, Position: 42}
	if Encode(key, "q", c) != Seal(key, "q", []byte{'n', 0, 0, 0, 0, 0, 0, 0, 42}) {
		t.Fatal("Encode is not Seal of its body")
	}
}
