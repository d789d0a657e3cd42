package roster

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestNormalizeDefaultsAndMapping(t *testing.T) {
	defs := map[string]AttributeDefinition{"employee_number": {Key: "employee_number", Type: AttributeInteger}}
	m, err := ParseAttributeMapping(map[string]string{"given_name": "first", "custom_attributes.employee_number": "hr.id",
		"group:Eng": "admin"}, defs, func(r string) bool { return r == "admin" })
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"first": "Ada", "given_name": "Ignored", "surname": "Lovelace", "upn": "ada@acme.test",
		"hr": map[string]any{"id": float64(1815)}, "groups": []any{"Staff", "Eng"}, "email_verified": true}
	p := Normalize(claims, "sub-1", m)
	if p.Standard[FieldGivenName] != "Ada" || p.Standard[FieldFamilyName] != "Lovelace" || p.Email != "ada@acme.test" ||
		p.Custom["employee_number"] != "1815" || p.Role != "admin" || len(p.Groups) != 2 || p.EmailVerified == nil || !*p.EmailVerified {
		t.Fatalf("normalized: %+v", p)
	}
	var pr Profile
	skipped := ApplyLogin(&pr, p, defs)
	if len(skipped) != 0 || pr.Name != "Ada Lovelace" || pr.CustomAttributes["employee_number"] != "1815" {
		t.Fatalf("applied: %+v %v", pr, skipped)
	}
	// Values that break a rule are skipped, not stored; the rest still is.
	bad := Normalize(map[string]any{"email": "x@acme.test", "phone_number": "555-0100", "locale": "not a locale!", "given_name": "Bo",
		"hr": map[string]any{"id": "twelve"}}, "sub-2", m)
	pr = Profile{PhoneNumber: "+14155550100"}
	skipped = ApplyLogin(&pr, bad, defs)
	if strings.Join(skipped, ",") != "custom_attributes.employee_number,locale,phone_number" || pr.PhoneNumber != "+14155550100" {
		t.Fatalf("skipped %v, profile %+v", skipped, pr)
	}
	// Saving refuses undefined attributes and unknown roles, naming the key.
	_, err = ParseAttributeMapping(map[string]string{"shoe_size": "x", "group:Ops": "nobody"}, defs, func(string) bool { return false })
	var e *Error
	if !errors.As(err, &e) || e.Code != EInvalid || len(e.Violations) != 2 {
		t.Fatalf("want two violations, got %v", err)
	}
}

func TestCapRawClaims(t *testing.T) {
	claims := map[string]any{"sub": "1", "photo": strings.Repeat("x", RawClaimsMax), "email": "a@b.c"}
	b := CapRawClaims(claims)
	if len(b) > RawClaimsMax {
		t.Fatalf("%d bytes kept", len(b))
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil || got["email"] != "a@b.c" || got["photo"] != nil {
		t.Fatalf("capped: %v %v", err, got)
	}
	if tr, _ := got["_truncated"].([]any); len(tr) != 1 || tr[0] != "photo" {
		t.Fatalf("_truncated: %v", got["_truncated"])
	}
}
