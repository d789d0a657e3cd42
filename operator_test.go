package roster

import (
	"strings"
	"testing"
	"time"
)

func TestOperatorPasswordPolicy(t *testing.T) {
	for _, tc := range []struct {
		pw         string
		constraint string // "" for accepted
	}{
		{"correct horse", ""},
		{"twelve chars", ""},
		{"ünïcödé pässwörd", ""},
		{strings.Repeat("ab", 128), ""},
		{"short", "string.min_len=12"},
		{"elevenchars", "string.min_len=12"},
		{"ääääääääääb", "string.min_len=12"}, // 11 characters, 21 bytes
		{strings.Repeat("ab", 128) + "c", "string.max_bytes=256"},
		{strings.Repeat("a", 20), "string.not_repeated"},
		{strings.Repeat("é", 20), "string.not_repeated"},
		{"bad utf8 \xff\xfe here", "string.utf8"},
	} {
		err := CheckOperatorPassword(tc.pw)
		if tc.constraint == "" {
			if err != nil {
				t.Errorf("%q refused: %v", tc.pw, err)
			}
			continue
		}
		e, ok := err.(*Error)
		if !ok || e.Code != EInvalid || len(e.Violations) != 1 || e.Violations[0].Field != "password" || e.Violations[0].Constraint != tc.constraint {
			t.Errorf("%q: %#v, want %s on password", tc.pw, err, tc.constraint)
		}
		if ok && strings.Contains(e.Message, tc.pw) {
			t.Errorf("the error shows the password: %s", e.Message)
		}
	}
}

func TestNewOperatorCheck(t *testing.T) {
	if err := (NewOperator{Email: " Ada@Example.com ", DisplayName: "Ada"}).Check(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []NewOperator{{Email: ""}, {Email: "not an email"}, {Email: "a@b.c", DisplayName: strings.Repeat("x", 256)}} {
		if ErrorCode(n.Check()) != EInvalid {
			t.Errorf("%+v accepted", n)
		}
	}
	o := NewOperator{Email: " Ada@Example.com ", DisplayName: " Ada "}.Build("op_1", time.Now())
	if o.Email != "Ada@Example.com" || o.DisplayName != "Ada" || o.EmailKey() != "ada@example.com" {
		t.Errorf("built %+v", o)
	}
}
