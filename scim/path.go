package scim

import (
	"strings"
)

// attrRef is a resolved attribute reference: a top-level attribute of the core schema or of an
// extension, optionally with a sub-attribute. Undeclared extensions resolve with Attr == nil
// and their names as sent.
type attrRef struct {
	rt      *ResourceType
	URN     string     // "" for the core schema; else the extension's key in Attributes
	Attr    *Attribute // nil for an undeclared extension's attribute, or for a whole extension
	Name    string     // the attribute's name (canonical when declared; "" = the whole extension)
	Sub     *Attribute // declared sub-attribute
	SubName string     // the sub-attribute's name ("" = none)
	Special string     // "id" or "meta": attributes the Backend keeps, never in Attributes
}

// declared reports whether the reference is to a declared extension (or the core schema).
func (r attrRef) declared() bool { return r.URN == "" || r.rt.Extension(r.URN) != nil }

// String is the reference in canonical path form.
func (r attrRef) String() string {
	s := r.Name
	if r.Special != "" {
		s = r.Special
	}
	if r.URN != "" {
		if s == "" {
			s = r.URN
		} else {
			s = r.URN + ":" + s
		}
	}
	if r.SubName != "" {
		s += "." + r.SubName
	}
	return s
}

// resolvePath resolves a simple attribute path (no value filter): "userName", "name.givenName",
// "urn:...:enterprise:2.0:User:manager.value", "urn:...:core:2.0:User:userName", a declared
// extension's URN alone (the whole extension), or an undeclared extension's attribute.
func resolvePath(rt *ResourceType, path string) (attrRef, error) {
	path = strings.TrimSpace(path)
	ref := attrRef{rt: rt}
	if path == "" {
		return ref, badRequest(TypeInvalidPath, "empty attribute path")
	}
	rest := path
	var schema *Schema = rt.Schema
	if isURN(path) {
		switch {
		case hasPrefixFold(path, rt.Schema.ID+":"):
			rest = path[len(rt.Schema.ID)+1:]
		default:
			found := false
			for _, ext := range rt.Extensions {
				if strings.EqualFold(path, ext.ID) {
					ref.URN = ext.ID
					return ref, nil
				}
				if hasPrefixFold(path, ext.ID+":") {
					ref.URN, schema, rest, found = ext.ID, ext, path[len(ext.ID)+1:], true
					break
				}
			}
			if !found { // an undeclared extension: urn:...:Name:attr[.sub]
				i := strings.LastIndexByte(path, ':')
				ref.URN, rest = path[:i], path[i+1:]
				name, sub, _ := strings.Cut(rest, ".")
				if !validName(name) || (sub != "" && !validName(sub)) || !strings.HasPrefix(strings.ToLower(path), "urn:") {
					return ref, badRequest(TypeInvalidPath, "invalid attribute path %q", path)
				}
				ref.Name, ref.SubName = name, sub
				return ref, nil
			}
		}
	}
	name, sub, hasSub := strings.Cut(rest, ".")
	if !validName(name) || (hasSub && !validName(sub)) {
		return ref, badRequest(TypeInvalidPath, "invalid attribute path %q", path)
	}
	var a *Attribute
	if ref.URN == "" {
		if strings.EqualFold(name, "id") || strings.EqualFold(name, "meta") {
			ref.Special = strings.ToLower(name)
			if ref.Special == "meta" {
				a = metaAttr
			} else {
				a = idAttr
			}
		} else {
			var ext *Schema
			a, ext = lookupAttr(rt, name)
			if ext != nil {
				ref.URN = ext.ID
			}
		}
	} else {
		a = schema.Attr(name)
	}
	if a == nil {
		return ref, badRequest(TypeInvalidPath, "%s has no attribute %q", rt.Name, rest)
	}
	ref.Attr, ref.Name = a, a.Name
	if hasSub {
		s := a.Sub(sub)
		if s == nil {
			return ref, badRequest(TypeInvalidPath, "%s has no sub-attribute %q", a.Name, sub)
		}
		ref.Sub, ref.SubName = s, s.Name
	}
	return ref, nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// validName: ATTRNAME = ALPHA *(nameChar) with nameChar = "-" / "_" / DIGIT / ALPHA, plus "$ref".
func validName(s string) bool {
	if s == "$ref" {
		return true
	}
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !(c >= '0' && c <= '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// container returns the map that holds the referenced attribute: attrs itself, or the
// extension's object (created when create is true).
func (r attrRef) container(attrs map[string]any, create bool) map[string]any {
	if r.URN == "" {
		return attrs
	}
	k, v, ok := getFold(attrs, r.URN)
	if m, isMap := v.(map[string]any); ok && isMap {
		return m
	}
	if !create {
		return nil
	}
	if !ok {
		k = r.URN
	}
	m := map[string]any{}
	attrs[k] = m
	return m
}

// get returns the referenced attribute's current value (not the sub-attribute's), or nil.
func (r attrRef) get(attrs map[string]any) any {
	c := r.container(attrs, false)
	if c == nil {
		return nil
	}
	if r.Name == "" {
		return c
	}
	_, v, _ := getFold(c, r.Name)
	return v
}

// set replaces the referenced attribute (or sub-attribute of a single-valued complex
// attribute) with the coerced v, creating the extension object if needed and removing it when
// it becomes empty.
func (r attrRef) set(attrs map[string]any, v any) error {
	if r.Special != "" {
		return nil // id and meta are read-only: ignored in bodies and path-less values
	}
	if r.Attr != nil && (r.Attr.Mutability == ReadOnly || r.Attr.Mutability == WriteOnly) {
		return nil
	}
	if r.Name == "" { // a whole extension
		return setNormalized(r.rt, attrs, r.URN, v, patchMode)
	}
	c := r.container(attrs, true)
	defer r.dropEmptyContainer(attrs)
	if r.Attr == nil { // undeclared
		key, cur, found := getFold(c, r.Name)
		if !found {
			key = r.Name
		}
		if r.SubName == "" {
			setOrDelete(c, key, deepCopy(v))
			return nil
		}
		m, _ := cur.(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		sk, _, ok := getFold(m, r.SubName)
		if !ok {
			sk = r.SubName
		}
		setOrDelete(m, sk, deepCopy(v))
		setOrDelete(c, key, m)
		return nil
	}
	if r.Sub == nil {
		return setAttr(c, r.Attr, v)
	}
	if r.Sub.Mutability == ReadOnly {
		return nil
	}
	if r.Attr.MultiValued { // emails.value without a filter: every element
		list, _ := c[r.Attr.Name].([]any)
		for _, e := range list {
			if m, ok := e.(map[string]any); ok {
				if err := setAttr(m, r.Sub, v); err != nil {
					return err
				}
			}
		}
		return nil
	}
	m, _ := c[r.Attr.Name].(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	if err := setAttr(m, r.Sub, v); err != nil {
		return err
	}
	setOrDelete(c, r.Attr.Name, m)
	return nil
}

func (r attrRef) dropEmptyContainer(attrs map[string]any) {
	if r.URN == "" {
		return
	}
	if k, v, ok := getFold(attrs, r.URN); ok && isEmpty(v) {
		delete(attrs, k)
	}
}
