package scim

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Resource is a User or a Group as the Backend stores it. Attributes holds the client's data in
// canonical form: declared attributes under their schema's spelling ("userName", "name" with
// "givenName" inside, "emails" as an array of objects), booleans as booleans, a declared
// extension's attributes under its URN, and an undeclared extension's object under the URN the
// client sent, exactly as sent. It never holds id, meta, schemas, password, a User's groups or
// a Group's members: those are the Backend's (members are rows, see MemberChange).
// json.Marshal(Attributes) is the raw resource to keep.
//
// Raw is that raw resource as the Backend stored it, when the Backend offers it: a list may
// return resources with Raw set and Attributes nil, and the handler then writes Raw into the
// answer as it is (no projection) or decodes it (a projection, a filter evaluated in memory);
// see docs/scim.md "What a list page costs (writing the answer)". When both are set they hold
// the same resource. A resource changed by the handler (PUT, PATCH) has Raw nil.
type Resource struct {
	ID           string
	Attributes   map[string]any
	Raw          json.RawMessage
	Created      time.Time
	LastModified time.Time
	// Version is an opaque version the Backend changes on every write (meta.version, ETag).
	Version string
}

// Clone returns a deep copy, so that a PATCH works on a copy and a failure changes nothing.
func (r *Resource) Clone() *Resource {
	if err := r.decode(); err != nil {
		panic("scim: a Backend gave a resource whose Raw is not a JSON object: " + err.Error())
	}
	c := *r
	c.Raw = nil // the copy is to be changed
	c.Attributes, _ = deepCopy(r.Attributes).(map[string]any)
	if c.Attributes == nil {
		c.Attributes = map[string]any{}
	}
	return &c
}

// decode fills Attributes from Raw when the Backend gave only Raw.
func (r *Resource) decode() error {
	if r.Attributes != nil || r.Raw == nil {
		return nil
	}
	attrs := map[string]any{}
	if err := json.Unmarshal(r.Raw, &attrs); err != nil {
		return err
	}
	r.Attributes = attrs
	return nil
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = deepCopy(e)
		}
		return s
	}
	return v
}

// UserName is the User's userName ("" for a Group).
func (r *Resource) UserName() string { s, _ := r.Attributes["userName"].(string); return s }

// ExternalID is the client's externalId.
func (r *Resource) ExternalID() string { s, _ := r.Attributes["externalId"].(string); return s }

// DisplayName is displayName.
func (r *Resource) DisplayName() string { s, _ := r.Attributes["displayName"].(string); return s }

// Active is a User's active attribute; a User that never sent one is active.
func (r *Resource) Active() bool {
	b, ok := r.Attributes["active"].(bool)
	return b || !ok
}

// Emails are the values of emails, the primary one first.
func (r *Resource) Emails() []string {
	var out []string
	list, _ := r.Attributes["emails"].([]any)
	for _, e := range list {
		m, _ := e.(map[string]any)
		v, _ := m["value"].(string)
		if v == "" {
			continue
		}
		if p, _ := m["primary"].(bool); p {
			out = append([]string{v}, out...)
		} else {
			out = append(out, v)
		}
	}
	return out
}

// Member is one member of a Group as the Backend reports it.
type Member struct {
	Value   string // the member's id
	Type    string // "User" or "Group"
	Display string // the member's displayName or userName, or ""
}

// getFold finds a key case-insensitively: the exact spelling first, then any other.
func getFold(m map[string]any, key string) (string, any, bool) {
	if v, ok := m[key]; ok {
		return key, v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return k, v, true
		}
	}
	return "", nil, false
}

// normalizeMode says what happens to attributes that normalize does not know.
type normalizeMode int

const (
	bodyMode  normalizeMode = iota // POST/PUT bodies: unknown plain attributes are dropped
	patchMode                      // PATCH values: unknown attributes are invalidPath
)

// normalize turns a client's resource body into canonical Attributes (see Resource). It
// drops read-only attributes (id, meta, schemas, groups), the password, nulls and empty
// values, coerces what IdPs send (see coerce), and keeps undeclared extension objects raw.
func normalize(rt *ResourceType, raw map[string]any, mode normalizeMode) (map[string]any, error) {
	out := map[string]any{}
	for key, val := range raw {
		if err := setNormalized(rt, out, key, val, mode); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// setNormalized normalizes one top-level key of a body (or of a path-less PATCH value) into out.
func setNormalized(rt *ResourceType, out map[string]any, key string, val any, mode normalizeMode) error {
	if strings.EqualFold(key, "schemas") || (rt == Groups && strings.EqualFold(key, "members")) {
		return nil // schemas are derived; members are rows (see MemberChange)
	}
	if isURN(key) {
		if strings.EqualFold(key, rt.Schema.ID) { // the core schema as a container
			m, ok := val.(map[string]any)
			if !ok {
				if val == nil {
					return nil
				}
				return badRequest(TypeInvalidValue, "%s must be an object", key)
			}
			for k, v := range m {
				if err := setNormalized(rt, out, k, v, mode); err != nil {
					return err
				}
			}
			return nil
		}
		if ext := rt.Extension(key); ext != nil {
			if val == nil {
				delete(out, ext.ID)
				return nil
			}
			m, ok := val.(map[string]any)
			if !ok {
				return badRequest(TypeInvalidValue, "%s must be an object", ext.ID)
			}
			obj, _ := out[ext.ID].(map[string]any)
			if obj == nil {
				obj = map[string]any{}
			}
			for k, v := range m {
				a := ext.Attr(k)
				if a == nil {
					if mode == patchMode {
						return badRequest(TypeInvalidPath, "%s has no attribute %q", ext.ID, k)
					}
					continue
				}
				if err := setAttr(obj, a, v); err != nil {
					return err
				}
			}
			setOrDelete(out, ext.ID, obj)
			return nil
		}
		// A URN-qualified attribute of a schema (urn:...:enterprise:2.0:User:employeeNumber).
		if ref, err := resolvePath(rt, key); err == nil && ref.Attr != nil && ref.Sub == nil {
			return ref.set(out, val)
		}
		// An undeclared extension: kept as sent.
		k, _, found := getFold(out, key)
		if !found {
			k = key
		}
		if val == nil {
			delete(out, k)
		} else {
			out[k] = deepCopy(val)
		}
		return nil
	}
	if strings.Contains(key, ".") { // a dotted key in a path-less PATCH value (name.givenName)
		ref, err := resolvePath(rt, key)
		if err != nil {
			if mode == bodyMode {
				return nil // unknown, like any unknown attribute of a body
			}
			return err
		}
		return ref.set(out, val)
	}
	a, ext := lookupAttr(rt, key)
	switch {
	case a == nil:
		if mode == patchMode && commonAttr(key) == nil {
			return badRequest(TypeInvalidPath, "%s has no attribute %q", rt.Name, key)
		}
		return nil // unknown (body) or id/meta: dropped
	case a.Mutability == ReadOnly || a.Mutability == WriteOnly:
		return nil
	}
	if ext != nil {
		return attrRef{rt: rt, URN: ext.ID, Attr: a, Name: a.Name}.set(out, val)
	}
	return setAttr(out, a, val)
}

// lookupAttr finds a plain attribute name: in the core schema, then (unqualified) in a
// declared extension; externalId is common to both resource types.
func lookupAttr(rt *ResourceType, name string) (*Attribute, *Schema) {
	if a := rt.Schema.Attr(name); a != nil {
		return a, nil
	}
	if strings.EqualFold(name, "externalId") {
		return externalIDAttr, nil
	}
	for _, ext := range rt.Extensions {
		if a := ext.Attr(name); a != nil {
			return a, ext
		}
	}
	return nil, nil
}

func setOrDelete(m map[string]any, key string, v any) {
	if isEmpty(v) {
		delete(m, key)
	} else {
		m[key] = v
	}
}

// setAttr coerces v for a and stores it in m under a's canonical name (or removes it).
func setAttr(m map[string]any, a *Attribute, v any) error {
	c, err := coerce(a, v)
	if err != nil {
		return err
	}
	setOrDelete(m, a.Name, c)
	return nil
}

func isEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}

// coerce turns what a client sent for attribute a into the RFC form, or nil (unassigned):
//   - null, {} and [] are unassigned;
//   - a multi-valued attribute given one value gets an array of it;
//   - a single-valued complex attribute given a one-element array gets that element, and one
//     given a bare string (Entra's manager) gets {"value": the string};
//   - booleans given as "True"/"False" (any case) become booleans;
//   - numbers and booleans sent for a string attribute become their JSON text;
//   - unknown and read-only sub-attributes are dropped; only the first primary: true stays.
func coerce(a *Attribute, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if a.MultiValued {
		list, ok := v.([]any)
		if !ok {
			list = []any{v}
		}
		out := make([]any, 0, len(list))
		primary := false
		for _, e := range list {
			c, err := coerceSingle(a, e)
			if err != nil {
				return nil, err
			}
			if isEmpty(c) {
				continue
			}
			if m, ok := c.(map[string]any); ok {
				if p, _ := m["primary"].(bool); p {
					if primary {
						m["primary"] = false
					}
					primary = true
				}
			}
			out = append(out, c)
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	}
	if list, ok := v.([]any); ok {
		switch len(list) {
		case 0:
			return nil, nil
		case 1:
			v = list[0]
		default:
			return nil, badRequest(TypeInvalidValue, "%s is single-valued but got %d values", a.Name, len(list))
		}
	}
	return coerceSingle(a, v)
}

// coerceSingle coerces one value (an element of a multi-valued attribute, or the value of a
// single-valued one).
func coerceSingle(a *Attribute, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if a.Type != TypeComplex {
		return coerceSimple(a, v)
	}
	m, ok := v.(map[string]any)
	if !ok {
		value := a.Sub("value")
		if value == nil {
			return nil, badRequest(TypeInvalidValue, "%s must be an object", a.Name)
		}
		if _, isList := v.([]any); isList {
			return nil, badRequest(TypeInvalidValue, "%s must be an object", a.Name)
		}
		m = map[string]any{"value": v}
	}
	out := map[string]any{}
	for k, sv := range m {
		s := a.Sub(k)
		if s == nil || s.Mutability == ReadOnly {
			continue
		}
		c, err := coerceSimple(s, sv)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out[s.Name] = c
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// coerceSimple coerces a value of a simple (not complex) attribute.
func coerceSimple(a *Attribute, v any) (any, error) {
	if list, ok := v.([]any); ok && len(list) == 1 {
		v = list[0]
	}
	switch v.(type) {
	case nil:
		return nil, nil
	case map[string]any, []any:
		return nil, badRequest(TypeInvalidValue, "%s must be a %s", a.Name, a.Type)
	}
	switch a.Type {
	case TypeBoolean:
		switch v := v.(type) {
		case bool:
			return v, nil
		case string:
			if strings.EqualFold(v, "true") {
				return true, nil
			}
			if strings.EqualFold(v, "false") {
				return false, nil
			}
		}
		return nil, badRequest(TypeInvalidValue, "%s must be a boolean", a.Name)
	case TypeInteger, TypeDecimal:
		var text string
		switch v := v.(type) {
		case json.Number:
			text = v.String()
		case float64:
			return v, nil
		case string:
			text = strings.TrimSpace(v)
		default:
			return nil, badRequest(TypeInvalidValue, "%s must be a number", a.Name)
		}
		if _, err := strconv.ParseFloat(text, 64); err != nil {
			return nil, badRequest(TypeInvalidValue, "%s must be a number", a.Name)
		}
		return json.Number(text), nil
	case TypeDateTime:
		s, ok := v.(string)
		if !ok {
			return nil, badRequest(TypeInvalidValue, "%s must be a dateTime", a.Name)
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return nil, badRequest(TypeInvalidValue, "%s must be an xsd:dateTime such as 2026-01-02T15:04:05Z", a.Name)
		}
		return s, nil
	}
	// string, reference, binary
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case json.Number:
		return v.String(), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	}
	return nil, badRequest(TypeInvalidValue, "%s must be a string", a.Name)
}
