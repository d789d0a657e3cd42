package roster

import (
	"fmt"
	"unicode/utf8"
)

// TextKind says which control characters a text field allows. Every text that a request
// carries (a field, a map key or value, a path or query parameter) is checked once, at the
// entry point (api's interceptor), by CheckText; see docs/errors.md, "Text fields".
type TextKind int

const (
	// SingleLine allows no control character at all: names, IDs, emails, keys, URLs.
	SingleLine TextKind = iota
	// MultiLine also allows tab, line feed and carriage return: free text such as a
	// description, a PEM certificate, or a metadata value.
	MultiLine
)

// multiLineFields are the fields (by their last proto name) whose values are free text.
var multiLineFields = map[string]bool{
	"description":     true, // roles and permissions
	"certificate":     true, // PEM
	"idp_certificate": true, // PEM
}

// multiLineMapValues are the maps whose values are free text (their keys are single-line).
var multiLineMapValues = map[string]bool{
	"metadata":          true,
	"custom_attributes": true,
}

// FieldTextKind returns the kind of text that a field allows, by its proto name (the last
// element of its path); mapValue says the text is a value of that map field, not a key.
func FieldTextKind(name string, mapValue bool) TextKind {
	if multiLineFields[name] || mapValue && multiLineMapValues[name] {
		return MultiLine
	}
	return SingleLine
}

// IsControl reports whether r is a control character: C0 (U+0000 to U+001F), DEL (U+007F) or
// C1 (U+0080 to U+009F).
func IsControl(r rune) bool { return r < 0x20 || r >= 0x7f && r <= 0x9f }

// CheckText records a violation of field when s is not valid UTF-8 or holds a control
// character that kind does not allow. what names the part of the field (`key "k"`, or "" for
// the field's own value).
func CheckText(v *Violations, field, what, s string, kind TextKind) {
	if bad, ok := firstBadRune(s, kind); !ok {
		prefix := ""
		if what != "" {
			prefix = what + ": "
		}
		if bad == utf8.RuneError {
			v.Add(field, "string.utf8", "%smust be valid UTF-8", prefix)
			return
		}
		allowed := "no control characters"
		if kind == MultiLine {
			allowed = "no control characters other than tab and line breaks"
		}
		v.Add(field, "string.no_control_chars", "%smust contain %s, found %s", prefix, allowed, runeName(bad))
	}
}

// firstBadRune returns the first rune of s that kind does not allow (utf8.RuneError for
// invalid UTF-8), with ok false; ok is true when s is clean.
func firstBadRune(s string, kind TextKind) (rune, bool) {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f { // the common case: printable ASCII
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return utf8.RuneError, false
		}
		if IsControl(r) && !(kind == MultiLine && (r == '\t' || r == '\n' || r == '\r')) {
			return r, false
		}
		i += size
	}
	return 0, true
}

func runeName(r rune) string { return fmt.Sprintf("U+%04X", r) }
