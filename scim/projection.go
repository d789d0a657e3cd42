package scim

import "strings"

// projection is the attributes / excludedAttributes of a request (RFC 7644 section 3.4.2.5):
// names are case-insensitive and may be URN-qualified or name a sub-attribute; names that
// resolve to nothing are ignored. id and schemas are always returned.
type projection struct {
	include []attrRef // attributes=...: only these (and id, schemas)
	exclude []attrRef // excludedAttributes=...: all but these
}

func newProjection(rt *ResourceType, attributes, excluded string) *projection {
	p := &projection{}
	p.include = parseNames(rt, attributes)
	if len(p.include) == 0 {
		p.exclude = parseNames(rt, excluded)
	}
	return p
}

func parseNames(rt *ResourceType, list string) []attrRef {
	var out []attrRef
	for _, name := range strings.Split(list, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		ref, err := resolvePath(rt, name)
		if err != nil {
			continue
		}
		out = append(out, ref)
	}
	return out
}

// wants reports whether the answer shows the top-level core attribute name (so that a
// Group's members are read only when shown).
func (p *projection) wants(name string) bool {
	if p == nil {
		return true
	}
	if len(p.include) > 0 {
		for _, r := range p.include {
			if r.URN == "" && strings.EqualFold(r.Name, name) {
				return true
			}
		}
		return false
	}
	for _, r := range p.exclude {
		if r.URN == "" && r.SubName == "" && strings.EqualFold(r.Name, name) {
			return false
		}
	}
	return true
}

// key is where a reference lives in a rendered resource: its top-level key, and within it
// (for an extension) the attribute's key.
func (r attrRef) keys() (top, inner string) {
	switch {
	case r.Special != "":
		return r.Special, ""
	case r.URN != "":
		return r.URN, r.Name
	}
	return r.Name, ""
}

func (p *projection) apply(res map[string]any) map[string]any {
	if p == nil {
		return res
	}
	if len(p.include) > 0 {
		out := map[string]any{"id": res["id"], "schemas": res["schemas"]}
		for _, r := range p.include {
			top, inner := r.keys()
			k, v, ok := getFold(res, top)
			if !ok {
				continue
			}
			if inner != "" {
				m, _ := v.(map[string]any)
				ik, iv, ok := getFold(m, inner)
				if !ok {
					continue
				}
				prev, _ := out[k].(map[string]any)
				dst := make(map[string]any, len(prev)+1) // a copy: prev may be the resource's own map
				for pk, pv := range prev {
					dst[pk] = pv
				}
				out[k] = dst
				dst[ik] = pick(iv, r.SubName, dst[ik])
				continue
			}
			out[k] = pick(v, r.SubName, out[k])
		}
		return out
	}
	for _, r := range p.exclude {
		top, inner := r.keys()
		if top == "id" || strings.EqualFold(top, "schemas") {
			continue
		}
		k, v, ok := getFold(res, top)
		if !ok {
			continue
		}
		switch {
		case inner == "" && r.SubName == "":
			delete(res, k)
		case inner == "":
			res[k] = dropSub(v, r.SubName)
		default: // an extension's attribute, or its sub-attribute
			m, _ := v.(map[string]any)
			cp := make(map[string]any, len(m))
			for mk, mv := range m {
				cp[mk] = mv
			}
			if ik, iv, ok := getFold(cp, inner); ok {
				if r.SubName == "" {
					delete(cp, ik)
				} else {
					cp[ik] = dropSub(iv, r.SubName)
				}
			}
			res[k] = cp
		}
	}
	return res
}

// pick keeps only sub (when given) of a complex value or of each element of a multi-valued
// one, merged with what an earlier name picked (prev).
func pick(v any, sub string, prev any) any {
	if sub == "" {
		return v
	}
	one := func(e any, prev any) any {
		m, _ := e.(map[string]any)
		old, _ := prev.(map[string]any)
		out := make(map[string]any, len(old)+1) // a copy: prev may be the resource's own map
		for k, v := range old {
			out[k] = v
		}
		if k, sv, ok := getFold(m, sub); ok {
			out[k] = sv
		}
		return out
	}
	if list, ok := v.([]any); ok {
		prevList, _ := prev.([]any)
		out := make([]any, len(list))
		for i, e := range list {
			var p any
			if i < len(prevList) {
				p = prevList[i]
			}
			out[i] = one(e, p)
		}
		return out
	}
	return one(v, prev)
}

// dropSub returns a copy of a complex value (or of each element of a multi-valued one)
// without the sub-attribute sub.
func dropSub(v any, sub string) any {
	one := func(e any) any {
		m, ok := e.(map[string]any)
		if !ok {
			return e
		}
		cp := make(map[string]any, len(m))
		for k, x := range m {
			if !strings.EqualFold(k, sub) {
				cp[k] = x
			}
		}
		return cp
	}
	if list, ok := v.([]any); ok {
		out := make([]any, len(list))
		for i, e := range list {
			out[i] = one(e)
		}
		return out
	}
	return one(v)
}
