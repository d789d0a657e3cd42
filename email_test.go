package roster

import (
	"testing"
	"time"
)

// Emails that differ only by Unicode normalization are one address: stored in NFC and keyed in
// NFC (RFC 8265's rule for identifiers), so NFC and NFD spellings collide.
func TestEmailNormalization(t *testing.T) {
	nfc, nfd := "jos\u00e9@example.com", "jose\u0301@example.com"
	if EmailKey(nfc) != EmailKey(nfd) {
		t.Errorf("EmailKey(%q) = %q and EmailKey(%q) = %q differ", nfc, EmailKey(nfc), nfd, EmailKey(nfd))
	}
	if got := NormalizeEmail("  " + nfd + " "); got != nfc {
		t.Errorf("NormalizeEmail(%q) = %q, want %q", nfd, got, nfc)
	}
	if got := EmailKey("JOSE\u0301@Example.com"); got != nfc {
		t.Errorf("EmailKey folds case after normalizing: got %q, want %q", got, nfc)
	}
	u := NewUser{Email: nfd}.Build("usr_1", "env_1", time.Time{})
	if u.Email != nfc {
		t.Errorf("a new user's email is stored as %q, want the NFC form %q", u.Email, nfc)
	}
	if !IsEmailAddress(nfd) {
		t.Errorf("%q is an email address", nfd)
	}
	// Homoglyphs stay distinct: Cyrillic 'а' (U+0430) is not Latin 'a' (docs/users.md).
	if EmailKey("\u0430lice@example.com") == EmailKey("alice@example.com") {
		t.Error("a Cyrillic homoglyph was merged with the Latin address")
	}
}

// Invisible characters, bidirectional controls and other format or control characters are
// refused in emails, naming the field.
func TestEmailInvisibleCharactersRefused(t *testing.T) {
	for name, email := range map[string]string{
		"zero-width space":        "a\u200b@example.com",
		"zero-width non-joiner":   "a\u200c@example.com",
		"zero-width joiner":       "a\u200db@example.com",
		"word joiner":             "a\u2060@example.com",
		"byte order mark":         "\ufeffa@example.com",
		"left-to-right mark":      "a\u200e@example.com",
		"right-to-left mark":      "a@exa\u200fmple.com",
		"right-to-left override":  "a\u202e@example.com",
		"left-to-right embedding": "a\u202a@example.com",
		"first strong isolate":    "a\u2068@example.com",
		"pop directional isolate": "a@example.com\u2069",
		"soft hyphen":             "a\u00adb@example.com",
		"no-break space":          "a\u00a0b@example.com",
		"ideographic space":       "a\u3000b@example.com",
		"variation selector":      "a\ufe0f@example.com",
		"combining grapheme join": "a\u034f@example.com",
		"hangul filler":           "a\u3164@example.com",
		"nul":                     "a\u0000@example.com",
		"private use":             "a\ue000@example.com",
	} {
		var v Violations
		checkEmail(&v, "user.email", email)
		if len(v) != 1 || v[0].Field != "user.email" || v[0].Constraint != "string.email.visible" {
			t.Errorf("%s (%q): %v, want one string.email.visible violation of user.email", name, email, v)
		}
		if IsEmailAddress(email) {
			t.Errorf("%s (%q) counts as an email address", name, email)
		}
	}
	if err := (NewUser{Email: "zoë.ünïcode@bücher.example"}).Validate(); err != nil {
		t.Errorf("an internationalized address was refused: %v", err)
	}
}
