package roster

import (
	"strings"
	"testing"
)

func TestCheckText(t *testing.T) {
	for _, tc := range []struct {
		s          string
		kind       TextKind
		constraint string // "" when allowed
	}{
		{"plain", SingleLine, ""},
		{"Zoë Ünïcødé 日本", SingleLine, ""},
		{"", SingleLine, ""},
		{"a\x00b", SingleLine, "string.no_control_chars"},
		{"a\x00b", MultiLine, "string.no_control_chars"},
		{"a\tb", SingleLine, "string.no_control_chars"},
		{"a\tb\r\nc", MultiLine, ""},
		{"\x1b[31m", MultiLine, "string.no_control_chars"},
		{"a\x7f", SingleLine, "string.no_control_chars"},
		{"a\u0085", MultiLine, "string.no_control_chars"},
		{"a\u009f", SingleLine, "string.no_control_chars"},
		{"a\u00a0", SingleLine, ""}, // no-break space is not a control character
		{"a\xff", SingleLine, "string.utf8"},
		{"a\xc3", MultiLine, "string.utf8"},
		{"\uFFFD", SingleLine, ""}, // the replacement character itself is valid text
	} {
		var v Violations
		CheckText(&v, "organization.display_name", "", tc.s, tc.kind)
		switch {
		case tc.constraint == "" && len(v) != 0:
			t.Errorf("%q (kind %d): refused: %v", tc.s, tc.kind, v)
		case tc.constraint != "" && (len(v) != 1 || v[0].Constraint != tc.constraint || v[0].Field != "organization.display_name"):
			t.Errorf("%q (kind %d): %v, want one %s violation of the field", tc.s, tc.kind, v, tc.constraint)
		}
	}
	var v Violations
	CheckText(&v, "organization.metadata", `key "k"`, "\x00", SingleLine)
	if len(v) != 1 || !strings.Contains(v[0].Description, `key "k": `) || !strings.Contains(v[0].Description, "U+0000") {
		t.Errorf("violation %v should name the key and the character", v)
	}
}

func TestFieldTextKind(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mapValue bool
		want     TextKind
	}{
		{"display_name", false, SingleLine},
		{"description", false, MultiLine},
		{"idp_certificate", false, MultiLine},
		{"metadata", true, MultiLine},
		{"metadata", false, SingleLine}, // the keys
		{"custom_attributes", true, MultiLine},
		{"email", false, SingleLine},
	} {
		if got := FieldTextKind(tc.name, tc.mapValue); got != tc.want {
			t.Errorf("FieldTextKind(%q, %t) = %d, want %d", tc.name, tc.mapValue, got, tc.want)
		}
	}
}
