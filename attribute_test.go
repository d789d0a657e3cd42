package roster

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAttributeValues(t *testing.T) {
	defs := map[string]AttributeDefinition{
		"employee_id": {Key: "employee_id", Type: AttributeInteger},
		"active":      {Key: "active", Type: AttributeBoolean},
		"start_date":  {Key: "start_date", Type: AttributeDate},
		"tier":        {Key: "tier", Type: AttributeEnum, EnumValues: []string{"gold", "silver"}},
		"badge":       {Key: "badge", Type: AttributeString, Pattern: `[A-Z]{2}-\d{4}`, MaxLength: 7},
		"zip_code":    {Key: "zip_code", Type: AttributeString, Required: true},
	}
	ok := map[string]string{"employee_id": "-42", "active": "true", "start_date": "2024-02-29", "tier": "gold", "badge": "AB-1234", "zip_code": "90210"}
	if err := CheckCustomAttributes("f", ok, defs); err != nil {
		t.Fatal(err)
	}
	for key, bad := range map[string]string{"employee_id": "4.2", "active": "yes", "start_date": "2023-02-29", "tier": "bronze", "badge": "AB-12345", "undefined": "x"} {
		m := map[string]string{"zip_code": "1"}
		m[key] = bad
		err := CheckCustomAttributes("f", m, defs)
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s=%q: %v", key, bad, err)
		}
	}
	if err := CheckCustomAttributes("f", map[string]string{}, defs); err == nil || !strings.Contains(err.Error(), `"zip_code" is a required`) {
		t.Errorf("missing required attribute: %v", err)
	}
}

func TestAttributeDefinitionValidate(t *testing.T) {
	for _, d := range []AttributeDefinition{
		{Key: "ab", DisplayName: "x", Type: AttributeString},
		{Key: "Employee", DisplayName: "x", Type: AttributeString},
		{Key: "employee_id", DisplayName: "", Type: AttributeString},
		{Key: "employee_id", DisplayName: "x", Type: "float"},
		{Key: "tier", DisplayName: "x", Type: AttributeEnum},
		{Key: "tier", DisplayName: "x", Type: AttributeEnum, EnumValues: []string{"a", "a"}},
		{Key: "badge", DisplayName: "x", Type: AttributeString, Pattern: "("},
		{Key: "badge", DisplayName: "x", Type: AttributeInteger, Pattern: "1"},
		{Key: "badge", DisplayName: "x", Type: AttributeString, MaxLength: 300},
	} {
		if d.Validate() == nil {
			t.Errorf("%+v accepted", d)
		}
	}
}

// FuzzCustomAttributeValue: whatever the definition and value, checking never panics, and a
// value it accepts is a valid wire value of the type.
func FuzzCustomAttributeValue(f *testing.F) {
	f.Add("integer", "", "", "12")
	f.Add("enum", "", "a,b", "b")
	f.Add("string", `[a-z]+\d`, "", "abc1")
	f.Add("date", "", "", "2024-13-01")
	f.Add("boolean", "", "", "false")
	f.Add("string", `(a+)+$`, "", strings.Repeat("a", 40)+"!")
	f.Fuzz(func(t *testing.T, typ, pattern, enum, value string) {
		d := AttributeDefinition{Key: "fuzz_key", DisplayName: "Fuzz", Type: AttributeType(typ), Pattern: pattern}
		if enum != "" {
			d.EnumValues = strings.Split(enum, ",")
		}
		if d.Validate() != nil {
			return
		}
		if why := d.CheckValue(value); why == "" {
			if n := utf8.RuneCountInString(value); n == 0 || n > MetadataValueMax || !utf8.ValidString(value) {
				t.Fatalf("accepted %q for %+v", value, d)
			}
		}
	})
}
