package roster

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// AttributeType is the type of a custom attribute's value. On the wire every value stays a
// string (as Scalekit clients send it); Roster checks that the string is of the type.
type AttributeType string

const (
	AttributeString  AttributeType = "string"
	AttributeInteger AttributeType = "integer"
	AttributeBoolean AttributeType = "boolean"
	AttributeDate    AttributeType = "date" // YYYY-MM-DD
	AttributeEnum    AttributeType = "enum"
)

var attributeTypes = map[AttributeType]bool{AttributeString: true, AttributeInteger: true, AttributeBoolean: true, AttributeDate: true, AttributeEnum: true}

var attributeKey = regexp.MustCompile(`^[a-z][a-z0-9_]{2,24}$`)

// AttributeDefinition defines a custom user attribute (the dashboard's "User Attributes"):
// profiles may only carry custom attributes whose key is defined, with values of its type.
type AttributeDefinition struct {
	EnvironmentID string
	Key           string // lower snake case, 3–25 characters, unique per environment
	DisplayName   string
	Type          AttributeType
	EnumValues    []string // for AttributeEnum
	Pattern       string   // optional RE2 pattern a string value must match (whole value)
	MaxLength     int      // optional, at most MetadataValueMax
	Required      bool     // every user must have a value
	Unique        bool     // no two users of the environment share a value
	CreateTime    time.Time
	UpdateTime    time.Time
}

// Validate checks the definition itself.
func (d AttributeDefinition) Validate() error {
	var v Violations
	if !attributeKey.MatchString(d.Key) {
		v.Add("key", "pattern=^[a-z][a-z0-9_]{2,24}$", "must be lower snake case, 3 to 25 characters, starting with a letter (e.g. employee_id)")
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(d.DisplayName)); n == 0 || n > 100 {
		v.Add("display_name", "string.len=1..100", "is required and must be at most 100 characters")
	}
	if !attributeTypes[d.Type] {
		v.Add("type", "enum", "must be one of string, integer, boolean, date, enum")
	}
	if d.Type == AttributeEnum {
		if len(d.EnumValues) == 0 || len(d.EnumValues) > 100 {
			v.Add("enum_values", "repeated.len=1..100", "an enum attribute needs 1 to 100 allowed values")
		}
		seen := map[string]bool{}
		for _, e := range d.EnumValues {
			if n := utf8.RuneCountInString(e); n == 0 || n > MetadataValueMax || seen[e] {
				v.Add("enum_values", "unique,string.len=1..256", "allowed values must be distinct and 1 to 256 characters")
				break
			}
			seen[e] = true
		}
	} else if len(d.EnumValues) > 0 {
		v.Add("enum_values", "only_for_enum", "only an enum attribute has allowed values")
	}
	if d.Pattern != "" {
		if d.Type != AttributeString {
			v.Add("pattern", "only_for_string", "only a string attribute has a pattern")
		} else if _, err := regexp.Compile(d.Pattern); err != nil || len(d.Pattern) > 512 {
			v.Add("pattern", "re2", "must be a valid RE2 regular expression of at most 512 characters")
		}
	}
	if d.MaxLength < 0 || d.MaxLength > MetadataValueMax {
		v.Add("max_length", "int.range=0..256", "must be between 0 (no limit beyond 256) and 256")
	}
	return v.Err()
}

// CheckValue reports why value is not a valid value of the attribute, or "" when it is.
func (d AttributeDefinition) CheckValue(value string) string {
	if !utf8.ValidString(value) {
		return "must be valid UTF-8"
	}
	n := utf8.RuneCountInString(value)
	if n == 0 || n > MetadataValueMax {
		return fmt.Sprintf("must be 1 to %d characters", MetadataValueMax)
	}
	if d.MaxLength > 0 && n > d.MaxLength {
		return fmt.Sprintf("must be at most %d characters", d.MaxLength)
	}
	switch d.Type {
	case AttributeInteger:
		if _, err := strconv.ParseInt(value, 10, 64); err != nil {
			return "must be an integer (e.g. 42)"
		}
	case AttributeBoolean:
		if value != "true" && value != "false" {
			return `must be "true" or "false"`
		}
	case AttributeDate:
		if _, err := time.Parse("2006-01-02", value); err != nil {
			return "must be a date as YYYY-MM-DD"
		}
	case AttributeEnum:
		for _, e := range d.EnumValues {
			if e == value {
				return ""
			}
		}
		return "must be one of " + strings.Join(d.EnumValues, ", ")
	case AttributeString:
		if d.Pattern != "" && !wholePattern(d.Pattern).MatchString(value) {
			return "must match the pattern " + d.Pattern
		}
	}
	return ""
}

// CheckCustomAttributes checks a profile's custom attributes after a create or update: every
// key must be defined, every value of its type, and every required attribute present. field
// names the map in errors (e.g. "user.user_profile.custom_attributes").
func CheckCustomAttributes(field string, values map[string]string, defs map[string]AttributeDefinition) error {
	var v Violations
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		d, ok := defs[k]
		if !ok {
			v.Add(field, "defined_key", "%q is not a defined user attribute (define it first: POST /api/v1/user-attributes)", k)
			continue
		}
		if why := d.CheckValue(values[k]); why != "" {
			v.Add(field, "type="+string(d.Type), "%q %s", k, why)
		}
	}
	var required []string
	for k, d := range defs {
		if d.Required && values[k] == "" {
			required = append(required, k)
		}
	}
	sort.Strings(required)
	for _, k := range required {
		v.Add(field, "required", "%q is a required user attribute", k)
	}
	return v.Err()
}

// AttributePatch is an update of a definition; the key cannot change.
type AttributePatch struct {
	DisplayName *string
	Type        *AttributeType
	EnumValues  []string // nil: unchanged
	Pattern     *string
	MaxLength   *int
	Required    *bool
	Unique      *bool
}

// Apply changes d and validates the result.
func (p AttributePatch) Apply(d *AttributeDefinition, now time.Time) error {
	if p.DisplayName != nil {
		d.DisplayName = *p.DisplayName
	}
	if p.Type != nil {
		d.Type = *p.Type
	}
	if p.EnumValues != nil {
		d.EnumValues = p.EnumValues
	}
	if p.Pattern != nil {
		d.Pattern = *p.Pattern
	}
	if p.MaxLength != nil {
		d.MaxLength = *p.MaxLength
	}
	if p.Required != nil {
		d.Required = *p.Required
	}
	if p.Unique != nil {
		d.Unique = *p.Unique
	}
	d.UpdateTime = now
	return d.Validate()
}

// patterns caches compiled attribute patterns: values are checked on every profile write.
var patterns sync.Map // pattern -> *regexp.Regexp

// wholePattern compiles pattern anchored to the whole value. Definitions are validated before
// they are stored, so the pattern compiles.
func wholePattern(pattern string) *regexp.Regexp {
	if re, ok := patterns.Load(pattern); ok {
		return re.(*regexp.Regexp)
	}
	re := regexp.MustCompile(`^(?:` + pattern + `)$`)
	patterns.Store(pattern, re)
	return re
}
