package scim

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
)

// Patch is a parsed PatchOp request (RFC 7644 section 3.5.2) for one resource type.
type Patch struct {
	rt  *ResourceType
	ops []patchOp
}

type patchOp struct {
	op       string     // add, replace, remove (lower-cased: Entra sends "Replace")
	path     *patchPath // nil: no path
	value    any
	hasValue bool
}

// patchPath is a PATCH target: an attribute, optionally with a value filter and a sub-attribute
// after it (emails[type eq "work"].value).
type patchPath struct {
	text   string
	ref    attrRef
	filter *fnode     // value filter, or nil
	sub    *Attribute // sub-attribute after the filter (declared)
	subRaw string     // sub-attribute after the filter (undeclared extension)
}

// MemberChange is what a Group PATCH or PUT does to the Group's members, for a Backend that
// keeps members as rows and writes only the ones named: with Replace, the members become
// exactly Add (Remove is empty); otherwise the ids in Add join and the ids in Remove leave
// (adding a member twice or removing a non-member is not an error). Ids are as the client
// sent them; the Backend refuses (400 invalidValue) an id that is no user or group of the
// directory.
type MemberChange struct {
	Replace bool
	Add     []string
	Remove  []string
}

// Empty reports whether the change does nothing.
func (m MemberChange) Empty() bool { return !m.Replace && len(m.Add) == 0 && len(m.Remove) == 0 }

func (m *MemberChange) add(ids []string) {
	m.Remove = without(m.Remove, ids)
	m.Add = union(m.Add, ids)
}

func (m *MemberChange) remove(ids []string) {
	m.Add = without(m.Add, ids)
	if !m.Replace {
		m.Remove = union(m.Remove, ids)
	}
}

func (m *MemberChange) replace(ids []string) {
	*m = MemberChange{Replace: true, Add: union(nil, ids)}
}

func union(a, b []string) []string {
	seen := make(map[string]bool, len(a))
	for _, s := range a {
		seen[s] = true
	}
	for _, s := range b {
		if !seen[s] {
			seen[s] = true
			a = append(a, s)
		}
	}
	return a
}

func without(a, b []string) []string {
	if len(a) == 0 || len(b) == 0 {
		return a
	}
	drop := make(map[string]bool, len(b))
	for _, s := range b {
		drop[s] = true
	}
	out := a[:0:0]
	for _, s := range a {
		if !drop[s] {
			out = append(out, s)
		}
	}
	return out
}

// ParsePatch reads a PatchOp body (already decoded with UseNumber). It accepts op in any case,
// and an empty Operations list (a no-op: Entra's validator sends one). Errors are 400
// invalidSyntax (shape), invalidPath (unknown or malformed path), invalidFilter (a bad value
// filter), or mutability (a read-only target).
func ParsePatch(rt *ResourceType, body map[string]any) (*Patch, error) {
	_, rawOps, ok := getFold(body, "Operations")
	if !ok {
		return nil, badRequest(TypeInvalidSyntax, "a PatchOp needs Operations")
	}
	list, ok := rawOps.([]any)
	if !ok {
		if rawOps == nil {
			list = nil
		} else {
			return nil, badRequest(TypeInvalidSyntax, "Operations must be an array")
		}
	}
	p := &Patch{rt: rt}
	for i, raw := range list {
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, badRequest(TypeInvalidSyntax, "Operations[%d] must be an object", i)
		}
		var op patchOp
		_, o, _ := getFold(m, "op")
		name, _ := o.(string)
		op.op = strings.ToLower(strings.TrimSpace(name))
		if op.op != "add" && op.op != "replace" && op.op != "remove" {
			return nil, badRequest(TypeInvalidSyntax, "Operations[%d].op must be add, replace or remove, not %q", i, name)
		}
		_, v, hasPath := getFold(m, "path")
		if hasPath && v != nil {
			text, ok := v.(string)
			if !ok {
				return nil, badRequest(TypeInvalidPath, "Operations[%d].path must be a string", i)
			}
			if strings.TrimSpace(text) != "" {
				pp, err := parsePatchPath(rt, text)
				if err != nil {
					return nil, err
				}
				op.path = pp
			}
		}
		_, op.value, op.hasValue = getFold(m, "value")
		switch {
		case op.op == "remove" && op.path == nil:
			return nil, badRequest(TypeNoTarget, "Operations[%d]: remove needs a path", i)
		case op.op != "remove" && !op.hasValue:
			return nil, badRequest(TypeInvalidValue, "Operations[%d]: %s needs a value", i, op.op)
		case op.path == nil && op.value != nil:
			if _, isMap := op.value.(map[string]any); !isMap {
				if l, isList := op.value.([]any); !isList || len(l) != 1 {
					return nil, badRequest(TypeInvalidValue, "Operations[%d]: without a path the value must be an object of attributes", i)
				}
				if _, isMap := op.value.([]any)[0].(map[string]any); !isMap {
					return nil, badRequest(TypeInvalidValue, "Operations[%d]: without a path the value must be an object of attributes", i)
				}
				op.value = op.value.([]any)[0]
			}
		}
		p.ops = append(p.ops, op)
	}
	return p, nil
}

// parsePatchPath parses attrPath or valuePath [ "." subAttr ] (RFC 7644 section 3.5.2). The
// value filter goes through ParseFilter's parser with names resolved against the attribute's
// sub-attributes.
func parsePatchPath(rt *ResourceType, text string) (*patchPath, error) {
	text = strings.TrimSpace(text)
	if len(text) > MaxFilterBytes {
		return nil, badRequest(TypeInvalidPath, "path longer than %d bytes", MaxFilterBytes)
	}
	pp := &patchPath{text: text}
	open := strings.IndexByte(text, '[')
	if open < 0 {
		ref, err := resolvePath(rt, text)
		if err != nil {
			return nil, err
		}
		pp.ref = ref
		return pp, nil
	}
	// find the closing bracket outside strings
	closeAt := -1
	for i := open + 1; i < len(text) && closeAt < 0; i++ {
		switch text[i] {
		case '"':
			for i++; i < len(text) && text[i] != '"'; i++ {
				if text[i] == '\\' {
					i++
				}
			}
		case ']':
			closeAt = i
		}
	}
	if closeAt < 0 {
		return nil, badRequest(TypeInvalidPath, "unbalanced '[' in path %q", text)
	}
	ref, err := resolvePath(rt, text[:open])
	if err != nil {
		return nil, err
	}
	if ref.SubName != "" || ref.Special != "" || ref.Name == "" || (ref.Attr != nil && (ref.Attr.Type != TypeComplex || !ref.Attr.MultiValued)) {
		return nil, badRequest(TypeInvalidPath, "a value filter needs a multi-valued complex attribute, not %q", text[:open])
	}
	pp.ref = ref
	inner, err := ParseFilter(rt, text[:open]+"["+text[open+1:closeAt]+"]")
	if err != nil {
		return nil, badRequest(TypeInvalidPath, "invalid value filter in path %q: %s", text, err.(*Error).Detail)
	}
	if inner.root.op != "[]" {
		return nil, badRequest(TypeInvalidPath, "invalid value filter in path %q", text)
	}
	pp.filter = inner.root.kids[0]
	rest := text[closeAt+1:]
	if rest != "" {
		if rest[0] != '.' || !validName(rest[1:]) {
			return nil, badRequest(TypeInvalidPath, "invalid path %q after ']'", text)
		}
		if ref.Attr != nil {
			pp.sub = ref.Attr.Sub(rest[1:])
			if pp.sub == nil {
				return nil, badRequest(TypeInvalidPath, "%s has no sub-attribute %q", ref.Name, rest[1:])
			}
		} else {
			pp.subRaw = rest[1:]
		}
	}
	return pp, nil
}

// isMembers reports whether the path targets a Group's members.
func (pp *patchPath) isMembers() bool {
	return pp != nil && pp.ref.rt == Groups && pp.ref.URN == "" && pp.ref.Name == "members"
}

// Apply applies the PATCH to a copy of r and returns the copy: r itself never changes, so a
// PATCH that fails changes nothing. For a Group, use ApplyGroup (members are not attributes).
func (p *Patch) Apply(r *Resource) (*Resource, error) {
	out, _, err := p.apply(r)
	return out, err
}

// ApplyGroup applies the PATCH to a copy of a Group and returns the copy and what the PATCH
// does to the members, which the Backend writes row by row.
func (p *Patch) ApplyGroup(r *Resource) (*Resource, MemberChange, error) {
	return p.apply(r)
}

func (p *Patch) apply(r *Resource) (*Resource, MemberChange, error) {
	out := r.Clone()
	var mc MemberChange
	for _, op := range p.ops {
		if err := p.applyOp(out.Attributes, &mc, op); err != nil {
			return nil, MemberChange{}, err
		}
	}
	if err := checkRequired(p.rt, out.Attributes); err != nil {
		return nil, MemberChange{}, err
	}
	return out, mc, nil
}

func checkRequired(rt *ResourceType, attrs map[string]any) error {
	for _, a := range rt.Schema.Attributes {
		if a.Required {
			if s, _ := attrs[a.Name].(string); strings.TrimSpace(s) == "" {
				return badRequest(TypeInvalidValue, "%s is required", a.Name)
			}
		}
	}
	return nil
}

func (p *Patch) applyOp(attrs map[string]any, mc *MemberChange, op patchOp) error {
	if op.path == nil { // add or replace with an object of attributes
		m, _ := op.value.(map[string]any)
		for key, v := range m {
			if strings.EqualFold(key, "id") || strings.EqualFold(key, "meta") || strings.EqualFold(key, "schemas") {
				continue // Okta's group rename sends the id inside the value
			}
			if p.rt == Groups && strings.EqualFold(key, "members") {
				ids, err := memberIDs(v)
				if err != nil {
					return err
				}
				if op.op == "add" {
					mc.add(ids)
				} else {
					mc.replace(ids)
				}
				continue
			}
			ref, err := resolvePath(p.rt, key)
			_, isObject := v.(map[string]any)
			if isURN(key) && (err != nil || ref.Name == "" || (ref.Attr == nil && isObject)) {
				// An extension as a whole: a declared one's URN, or an undeclared URN whose
				// value is an object (kept as sent).
				if err := p.applyContainer(attrs, op.op, key, v); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return err
			}
			if ref.Special != "" || (ref.Attr != nil && (ref.Attr.Mutability == ReadOnly || ref.Attr.Mutability == WriteOnly)) {
				continue // read-only attributes inside a path-less value are ignored
			}
			if err := p.applyRef(attrs, op.op, ref, v, op.hasValue); err != nil {
				return err
			}
		}
		return nil
	}
	pp := op.path
	if pp.isMembers() {
		return p.applyMembers(mc, op)
	}
	ref := pp.ref
	if ref.Special != "" {
		return badRequest(TypeMutability, "%s is read-only", pp.text)
	}
	if a := ref.Attr; a != nil {
		if a.Mutability == ReadOnly || a.Mutability == Immutable || (ref.Sub != nil && ref.Sub.Mutability == ReadOnly) ||
			(pp.sub != nil && (pp.sub.Mutability == ReadOnly || pp.sub.Mutability == Immutable)) {
			return badRequest(TypeMutability, "%s is %s", pp.text, a.Mutability)
		}
		if a.Mutability == WriteOnly {
			return nil // the password: accepted and discarded
		}
	}
	if pp.filter != nil {
		return p.applyFiltered(attrs, op, pp)
	}
	if ref.Name == "" { // a whole declared extension
		return p.applyContainer(attrs, op.op, ref.URN, op.value)
	}
	return p.applyRef(attrs, op.op, ref, op.value, op.hasValue)
}

// applyContainer adds to, replaces or removes a whole extension object.
func (p *Patch) applyContainer(attrs map[string]any, op, urn string, v any) error {
	if op == "remove" || v == nil {
		if op == "add" {
			return nil
		}
		if k, _, ok := getFold(attrs, urn); ok {
			delete(attrs, k)
		}
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return badRequest(TypeInvalidValue, "%s must be an object", urn)
	}
	if ext := p.rt.Extension(urn); ext != nil {
		for k, sv := range m { // add and replace both set the attributes given, keep the others
			ref, err := resolvePath(p.rt, ext.ID+":"+k)
			if err != nil {
				return err
			}
			if err := p.applyRef(attrs, op, ref, sv, true); err != nil {
				return err
			}
		}
		return nil
	}
	k, cur, found := getFold(attrs, urn)
	if !found {
		k = urn
	}
	obj, _ := cur.(map[string]any)
	if op == "replace" || obj == nil {
		obj = map[string]any{}
	}
	for sk, sv := range m {
		if ek, _, ok := getFold(obj, sk); ok {
			delete(obj, ek)
		}
		if sv != nil {
			obj[sk] = deepCopy(sv)
		}
	}
	setOrDelete(attrs, k, obj)
	return nil
}

// applyRef applies add, replace or remove to an attribute (or a sub-attribute) without a filter.
func (p *Patch) applyRef(attrs map[string]any, op string, ref attrRef, v any, hasValue bool) error {
	a := ref.Attr
	if op == "remove" {
		if a != nil && a.Required && ref.Sub == nil && ref.URN == "" {
			return badRequest(TypeInvalidValue, "%s is required and cannot be removed", a.Name)
		}
		if a != nil && a.MultiValued && ref.Sub == nil && v != nil {
			return removeValues(ref, attrs, v)
		}
		return ref.set(attrs, nil)
	}
	if v == nil {
		if op == "add" {
			return nil // "add null" adds nothing
		}
		if a != nil && a.Required && ref.Sub == nil && ref.URN == "" {
			return badRequest(TypeInvalidValue, "%s is required", a.Name)
		}
		return ref.set(attrs, nil)
	}
	if a == nil || ref.Sub != nil {
		return ref.set(attrs, v)
	}
	switch {
	case a.Type == TypeComplex && !a.MultiValued:
		// add and replace both merge the sub-attributes given (RFC 7644 3.5.2.1 and 3.5.2.3)
		in, err := coerceMergeInput(a, v)
		if err != nil {
			return err
		}
		cur, _ := ref.get(attrs).(map[string]any)
		merged := map[string]any{}
		for k, x := range cur {
			merged[k] = x
		}
		for k, x := range in {
			if s := a.Sub(k); s != nil {
				merged[s.Name] = x
			}
		}
		return ref.set(attrs, merged)
	case a.MultiValued && op == "add":
		add, err := coerce(a, v)
		if err != nil {
			return err
		}
		cur, _ := ref.get(attrs).([]any)
		list := append([]any(nil), cur...)
		for _, e := range asList(add) {
			if m, ok := e.(map[string]any); ok && m["primary"] == true {
				for _, old := range list {
					if om, ok := old.(map[string]any); ok && om["primary"] == true {
						om["primary"] = false
					}
				}
			}
			dup := false
			for _, old := range list {
				if reflect.DeepEqual(old, e) {
					dup = true
				}
			}
			if !dup {
				list = append(list, e)
			}
		}
		return ref.set(attrs, list)
	}
	return ref.set(attrs, v)
}

// coerceMergeInput reads the value of an add/replace on a single-valued complex attribute:
// an object, a one-element array of one, or a bare string for its value sub-attribute.
func coerceMergeInput(a *Attribute, v any) (map[string]any, error) {
	if l, ok := v.([]any); ok && len(l) == 1 {
		v = l[0]
	}
	switch v := v.(type) {
	case map[string]any:
		return v, nil
	case string, json.Number, float64, bool:
		if a.Sub("value") != nil {
			return map[string]any{"value": v}, nil
		}
	}
	return nil, badRequest(TypeInvalidValue, "%s must be an object", a.Name)
}

// removeValues removes from a multi-valued attribute the elements named in v (Entra's remove
// with a value array): matched by their value sub-attribute, or whole when there is none.
func removeValues(ref attrRef, attrs map[string]any, v any) error {
	drop, err := coerce(ref.Attr, v)
	if err != nil {
		return err
	}
	cur, _ := ref.get(attrs).([]any)
	valueAttr := ref.Attr.Sub("value")
	var keep []any
	for _, e := range cur {
		matched := false
		for _, d := range asList(drop) {
			em, _ := e.(map[string]any)
			dm, _ := d.(map[string]any)
			if valueAttr != nil && dm != nil && dm["value"] != nil {
				matched = compareOne("eq", em["value"], dm["value"], valueAttr.CaseExact, false)
			} else {
				matched = reflect.DeepEqual(e, d)
			}
			if matched {
				break
			}
		}
		if !matched {
			keep = append(keep, e)
		}
	}
	return ref.set(attrs, keep)
}

// applyFiltered applies an operation whose path has a value filter.
func (p *Patch) applyFiltered(attrs map[string]any, op patchOp, pp *patchPath) error {
	ref := pp.ref
	cur, _ := ref.get(attrs).([]any)
	var list []any
	var touched []map[string]any
	matched := 0
	for _, e := range cur {
		m, ok := e.(map[string]any)
		if !ok || !pp.filter.matchElem(m) {
			list = append(list, e)
			continue
		}
		matched++
		switch {
		case op.op == "remove" && pp.sub == nil && pp.subRaw == "":
			continue // the element goes
		case op.op == "remove":
			delete(m, subName(pp))
		case pp.sub == nil && pp.subRaw == "":
			// The element is a complex value: the sub-attributes given replace theirs, the
			// others stay (RFC 7644 3.5.2.3; scim-patch agrees).
			in, _ := op.value.(map[string]any)
			if ref.Attr != nil {
				var err error
				if in, err = coerceMergeInput(ref.Attr, op.value); err != nil {
					return err
				}
			}
			merged := make(map[string]any, len(m)+len(in))
			for k, x := range m {
				merged[k] = x
			}
			for k, x := range in {
				key := k
				if ref.Attr != nil {
					if s := ref.Attr.Sub(k); s != nil {
						key = s.Name
					}
				}
				merged[key] = deepCopy(x)
			}
			m = merged
			if ref.Attr != nil {
				c, err := coerceSingle(ref.Attr, merged)
				if err != nil {
					return err
				}
				m, _ = c.(map[string]any)
			}
		case pp.sub != nil:
			if err := setAttr(m, pp.sub, op.value); err != nil {
				return err
			}
		default:
			setOrDelete(m, pp.subRaw, deepCopy(op.value))
		}
		if len(m) > 0 {
			list = append(list, m)
			touched = append(touched, m)
		}
	}
	// A value made primary here wins over the others (coerce keeps only the first primary).
	for _, m := range touched {
		if m["primary"] == true {
			for _, e := range list {
				if em, ok := e.(map[string]any); ok && em["primary"] == true && !slices.ContainsFunc(touched, func(t map[string]any) bool { return sameMap(t, em) }) {
					em["primary"] = false
				}
			}
			break
		}
	}
	if matched == 0 && op.op != "remove" {
		// Entra replaces emails[type eq "work"].value on a user that has no work email yet:
		// the element is created from the filter's eq conditions.
		elem, ok := pp.filter.eqFields()
		if !ok || (pp.sub == nil && pp.subRaw == "") {
			return badRequest(TypeNoTarget, "no value of %s matches %s", ref, pp.text)
		}
		if op.value == nil {
			return nil
		}
		elem[subName(pp)] = op.value
		if ref.Attr != nil {
			c, err := coerceSingle(ref.Attr, elem)
			if err != nil {
				return err
			}
			elem, _ = c.(map[string]any)
		}
		list = append(list, elem)
	}
	if ref.Attr != nil {
		return setAttr(ref.container(attrs, true), ref.Attr, list)
	}
	return ref.set(attrs, list)
}

func subName(pp *patchPath) string {
	if pp.sub != nil {
		return pp.sub.Name
	}
	return pp.subRaw
}

// eqFields returns the sub-attribute values of a filter made only of "and"-ed eq comparisons
// (type eq "work" and primary eq true), the element such a filter describes.
func (n *fnode) eqFields() (map[string]any, bool) {
	switch n.op {
	case "and":
		l, ok1 := n.kids[0].eqFields()
		r, ok2 := n.kids[1].eqFields()
		if !ok1 || !ok2 {
			return nil, false
		}
		for k, v := range r {
			l[k] = v
		}
		return l, true
	case "eq":
		name := n.ref.SubName
		if n.sub != nil {
			name = n.sub.Name
		}
		if name == "" || n.value == nil {
			return nil, false
		}
		return map[string]any{name: n.value}, true
	}
	return nil, false
}

// applyMembers turns an operation on a Group's members into the MemberChange.
func (p *Patch) applyMembers(mc *MemberChange, op patchOp) error {
	pp := op.path
	if pp.ref.Sub != nil || pp.sub != nil {
		return badRequest(TypeMutability, "members' sub-attributes are immutable: add or remove members instead")
	}
	if pp.filter != nil {
		if op.op != "remove" {
			return badRequest(TypeInvalidPath, "members[...] paths take remove only; add members with path \"members\"")
		}
		ids, ok := pp.filter.valueIDs()
		if !ok {
			return badRequest(TypeInvalidFilter, "members[...] paths take value eq \"id\" (joined by or) only")
		}
		mc.remove(ids)
		return nil
	}
	switch op.op {
	case "add":
		ids, err := memberIDs(op.value)
		if err != nil {
			return err
		}
		mc.add(ids)
	case "replace":
		ids, err := memberIDs(op.value)
		if err != nil {
			return err
		}
		mc.replace(ids)
	case "remove":
		if op.value == nil { // remove all members
			mc.replace(nil)
			return nil
		}
		ids, err := memberIDs(op.value)
		if err != nil {
			return err
		}
		mc.remove(ids)
	}
	return nil
}

// valueIDs returns the ids of a members filter made of value eq "id" joined by or.
func (n *fnode) valueIDs() ([]string, bool) {
	switch n.op {
	case "or":
		l, ok1 := n.kids[0].valueIDs()
		r, ok2 := n.kids[1].valueIDs()
		return append(l, r...), ok1 && ok2
	case "eq":
		s, ok := n.value.(string)
		return []string{s}, ok && n.sub != nil && n.sub.Name == "value"
	}
	return nil, false
}

// memberIDs reads a members value: an array (or one) of {"value": id, ...} objects, or of
// bare id strings. Other sub-attributes ($ref, display, type) are ignored.
func memberIDs(v any) ([]string, error) {
	var ids []string
	for _, e := range asList(v) {
		switch e := e.(type) {
		case string:
			ids = append(ids, e)
		case map[string]any:
			_, id, _ := getFold(e, "value")
			s, ok := id.(string)
			if !ok || s == "" {
				return nil, badRequest(TypeInvalidValue, "each member needs a value (the member's id)")
			}
			ids = append(ids, s)
		case nil:
		default:
			return nil, badRequest(TypeInvalidValue, "members must be objects with a value")
		}
	}
	return ids, nil
}

// sameMap reports whether a and b are the same map (not equal maps).
func sameMap(a, b map[string]any) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}
