package scim

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	filter "github.com/scim2/filter-parser/v2"
)

// Limits on filters: the parser's time grows faster than linearly with nesting, so a filter
// is refused (invalidFilter) before parsing when it is longer or deeper than these.
const (
	MaxFilterBytes = 2048
	MaxFilterDepth = 16
)

// Filter is a parsed and resolved SCIM filter (RFC 7644 section 3.4.2.2) over one resource
// type. Match evaluates it against a resource; Query is its storage-neutral form.
type Filter struct {
	rt   *ResourceType
	root *fnode
}

// fnode is one node of a resolved filter.
type fnode struct {
	op       string // "and", "or", "not", "[]" (value path), or a comparison operator
	kids     []*fnode
	ref      attrRef    // the attribute compared (or the multi-valued attribute of a value path)
	sub      *Attribute // inside a value path: the sub-attribute compared
	value    any        // string, bool, float64 or nil
	lit      bool       // value is a string literal (bound per filter, see bind)
	boolAttr bool       // the compared attribute is a boolean ("True" reads as true)
}

// ParseFilter parses a filter for rt with github.com/scim2/filter-parser/v2, after two
// rewrites the parser lacks: Entra ID's `emails[type eq "work"].value eq "x"` becomes
// `emails[type eq "work" and value eq "x"]`, and \uXXXX escapes in strings are decoded.
// Attribute names and operators are case-insensitive. Errors are 400 invalidFilter.
func ParseFilter(rt *ResourceType, text string) (*Filter, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, badRequest(TypeInvalidFilter, "empty filter")
	}
	if len(text) > MaxFilterBytes {
		return nil, badRequest(TypeInvalidFilter, "filter longer than %d bytes", MaxFilterBytes)
	}
	pre, err := preprocessFilter(text)
	if err != nil {
		return nil, err
	}
	// The parser costs about 100 allocations per byte of filter, and IdPs send the same few
	// shapes with different values: the shape (string literals blanked) is parsed once and
	// kept, and each filter binds its own literals to it.
	shape, lits, err := templatize(pre)
	if err != nil {
		return nil, err
	}
	key := rt.Name + "\x00" + shape
	tmpl, ok := shapes.get(key)
	if !ok {
		expr, err := filter.ParseFilter([]byte(shape))
		if err != nil {
			return nil, badRequest(TypeInvalidFilter, "invalid filter %q: %v", text, err)
		}
		if tmpl, err = resolveExpr(rt, expr, nil); err != nil {
			return nil, err
		}
		shapes.put(key, tmpl)
	}
	i := 0
	root := tmpl.bind(lits, &i)
	if i != len(lits) {
		return nil, badRequest(TypeInvalidFilter, "invalid filter %q", text)
	}
	return &Filter{rt: rt, root: root}, nil
}

// templatize replaces each string literal of a filter with "" and returns the decoded
// literals in order.
func templatize(s string) (string, []string, error) {
	var b strings.Builder
	var lits []string
	for i := 0; i < len(s); i++ {
		if s[i] != '"' {
			b.WriteByte(s[i])
			continue
		}
		j := i + 1
		for ; j < len(s) && s[j] != '"'; j++ {
			if s[j] == '\\' {
				j++
			}
		}
		if j >= len(s) {
			return "", nil, badRequest(TypeInvalidFilter, "unterminated string in filter")
		}
		var lit string
		if err := json.Unmarshal([]byte(s[i:j+1]), &lit); err != nil {
			return "", nil, badRequest(TypeInvalidFilter, "invalid string %s in filter", s[i:j+1])
		}
		lits = append(lits, lit)
		b.WriteString(`""`)
		i = j
	}
	return b.String(), lits, nil
}

// bind copies a parsed shape with its string literals set, in the order they appear.
func (n *fnode) bind(lits []string, i *int) *fnode {
	c := *n
	if len(n.kids) > 0 {
		c.kids = make([]*fnode, len(n.kids))
		for k, kid := range n.kids {
			c.kids[k] = kid.bind(lits, i)
		}
	}
	if n.lit && *i < len(lits) {
		v := lits[*i]
		*i++
		c.value = v
		if n.boolAttr && (strings.EqualFold(v, "true") || strings.EqualFold(v, "false")) {
			c.value = strings.EqualFold(v, "true") // active eq "True"
		}
	}
	return &c
}

// shapeCache keeps parsed filter shapes: at most maxShapes of at most maxShapeBytes each, so
// well under a megabyte; when full it starts over.
type shapeCache struct {
	mu sync.Mutex
	m  map[string]*fnode
}

const (
	maxShapes     = 256
	maxShapeBytes = 512
)

var shapes = &shapeCache{m: map[string]*fnode{}}

func (c *shapeCache) get(key string) (*fnode, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.m[key]
	return n, ok
}

func (c *shapeCache) put(key string, n *fnode) {
	if len(key) > maxShapeBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxShapes {
		clear(c.m)
	}
	c.m[key] = n
}

// preprocessFilter checks nesting, decodes \u escapes and rewrites `a[f].sub op value` into
// `a[f and sub op value]` (f without "or": the parser takes no parentheses inside [...]).
func preprocessFilter(s string) (string, error) {
	var b strings.Builder
	depth, open := 0, -1 // open: index in b of the last '[' (only one level in SCIM)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			j, str, err := scanString(s, i)
			if err != nil {
				return "", err
			}
			b.WriteString(str)
			i = j
			continue
		case '(', '[':
			if depth++; depth > MaxFilterDepth {
				return "", badRequest(TypeInvalidFilter, "filter nests deeper than %d levels", MaxFilterDepth)
			}
			if c == '[' {
				if open >= 0 {
					return "", badRequest(TypeInvalidFilter, "value filters cannot nest")
				}
				open = b.Len()
			}
		case ')':
			depth--
		case ']':
			depth--
			if open < 0 {
				return "", badRequest(TypeInvalidFilter, "unbalanced ']'")
			}
			start := open
			open = -1
			if i+1 < len(s) && s[i+1] == '.' {
				// Entra: a[f].sub op value -> a[f and sub op value]
				j := i + 2
				for j < len(s) && (isAlpha(s[j]) || s[j] >= '0' && s[j] <= '9' || s[j] == '_' || s[j] == '-' || s[j] == '$') {
					j++
				}
				sub := s[i+2 : j]
				rest := strings.TrimLeft(s[j:], " ")
				opLen := 0
				for opLen < len(rest) && isAlpha(rest[opLen]) {
					opLen++
				}
				op := rest[:opLen]
				if sub == "" || opLen == 0 {
					return "", badRequest(TypeInvalidFilter, "invalid filter after ']' at byte %d", i)
				}
				k := len(s) - len(rest) + opLen // index in s after the operator
				var value string
				if !strings.EqualFold(op, "pr") {
					for k < len(s) && s[k] == ' ' {
						k++
					}
					if k < len(s) && s[k] == '"' {
						end, str, err := scanString(s, k)
						if err != nil {
							return "", err
						}
						value, k = str, end+1
					} else {
						end := k
						for end < len(s) && s[end] != ' ' && s[end] != ')' {
							end++
						}
						value, k = s[k:end], end
					}
					value = " " + value
				}
				inner := b.String()[start+1:]
				head := b.String()[:start+1]
				if hasOr(inner) {
					// The parser takes no parentheses inside [...], so "f1 or f2" cannot be
					// grouped before the added "and".
					return "", badRequest(TypeInvalidFilter, "a[f].sub filters take no \"or\" inside [...]: write a[f1 and sub op value] or a[f2 and sub op value]")
				}
				b.Reset()
				b.WriteString(head + inner + " and " + sub + " " + op + value + "]")
				i = k - 1
				continue
			}
		}
		b.WriteByte(c)
	}
	if depth != 0 || open >= 0 {
		return "", badRequest(TypeInvalidFilter, "unbalanced brackets in filter")
	}
	return b.String(), nil
}

// scanString reads the JSON string starting at s[i] == '"' and returns the index of its closing
// quote and its text with \uXXXX escapes decoded (quotes and backslashes stay escaped).
func scanString(s string, i int) (int, string, error) {
	var b strings.Builder
	b.WriteByte('"')
	for j := i + 1; j < len(s); j++ {
		c := s[j]
		switch c {
		case '"':
			b.WriteByte('"')
			return j, b.String(), nil
		case '\\':
			if j+1 >= len(s) {
				return 0, "", badRequest(TypeInvalidFilter, "unterminated string in filter")
			}
			if s[j+1] == 'u' && j+6 <= len(s) {
				n, err := strconv.ParseUint(s[j+2:j+6], 16, 32)
				if err != nil {
					return 0, "", badRequest(TypeInvalidFilter, "invalid \\u escape in filter")
				}
				r := rune(n)
				switch {
				case r == '"':
					b.WriteString(`\"`)
				case r == '\\':
					b.WriteString(`\\`)
				case r < 0x20 || !utf8.ValidRune(r):
					return 0, "", badRequest(TypeInvalidFilter, "unsupported \\u escape in filter")
				default:
					b.WriteRune(r)
				}
				j += 5
				continue
			}
			b.WriteByte(c)
			b.WriteByte(s[j+1])
			j++
		default:
			b.WriteByte(c)
		}
	}
	return 0, "", badRequest(TypeInvalidFilter, "unterminated string in filter")
}

// resolveExpr turns the parser's expression into an fnode, resolving attribute names against
// rt (or, inside a value path, against the sub-attributes of parent).
func resolveExpr(rt *ResourceType, e filter.Expression, parent *attrRef) (*fnode, error) {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		l, err := resolveExpr(rt, e.Left, parent)
		if err != nil {
			return nil, err
		}
		r, err := resolveExpr(rt, e.Right, parent)
		if err != nil {
			return nil, err
		}
		return &fnode{op: strings.ToLower(string(e.Operator)), kids: []*fnode{l, r}}, nil
	case *filter.NotExpression:
		k, err := resolveExpr(rt, e.Expression, parent)
		if err != nil {
			return nil, err
		}
		return &fnode{op: "not", kids: []*fnode{k}}, nil
	case *filter.ValuePath:
		if parent != nil {
			return nil, badRequest(TypeInvalidFilter, "value filters cannot nest")
		}
		ref, err := resolveFilterPath(rt, e.AttributePath)
		if err != nil {
			return nil, err
		}
		if ref.SubName != "" || (ref.Attr != nil && ref.Attr.Type != TypeComplex) {
			return nil, badRequest(TypeInvalidFilter, "a value filter needs a complex attribute, not %s", ref)
		}
		inner, err := resolveExpr(rt, e.ValueFilter, &ref)
		if err != nil {
			return nil, err
		}
		return &fnode{op: "[]", ref: ref, kids: []*fnode{inner}}, nil
	case *filter.AttributeExpression:
		return resolveComparison(rt, e, parent)
	}
	return nil, badRequest(TypeInvalidFilter, "unsupported filter expression")
}

func resolveFilterPath(rt *ResourceType, p filter.AttributePath) (attrRef, error) {
	path := p.AttributeName
	if p.URIPrefix != nil {
		path = *p.URIPrefix + ":" + path
	}
	if p.SubAttribute != nil {
		path += "." + *p.SubAttribute
	}
	ref, err := resolvePath(rt, path)
	if err != nil {
		if se, ok := err.(*Error); ok {
			se.ScimType = TypeInvalidFilter
		}
		return ref, err
	}
	if ref.Name == "" {
		return ref, badRequest(TypeInvalidFilter, "a filter compares an attribute, not the schema %s", ref.URN)
	}
	return ref, nil
}

func resolveComparison(rt *ResourceType, e *filter.AttributeExpression, parent *attrRef) (*fnode, error) {
	n := &fnode{op: strings.ToLower(string(e.Operator))}
	var typ string // the compared attribute's type ("" = undeclared)
	if parent != nil {
		if e.AttributePath.URIPrefix != nil || e.AttributePath.SubAttribute != nil {
			return nil, badRequest(TypeInvalidFilter, "inside %s[...] compare its sub-attributes by name", parent)
		}
		n.ref = *parent
		if parent.Attr != nil {
			n.sub = parent.Attr.Sub(e.AttributePath.AttributeName)
			if n.sub == nil {
				return nil, badRequest(TypeInvalidFilter, "%s has no sub-attribute %q", parent, e.AttributePath.AttributeName)
			}
			typ = n.sub.Type
		} else {
			n.ref.SubName = e.AttributePath.AttributeName
		}
	} else {
		ref, err := resolveFilterPath(rt, e.AttributePath)
		if err != nil {
			return nil, err
		}
		n.ref = ref
		switch {
		case ref.Sub != nil:
			typ = ref.Sub.Type
		case ref.Attr != nil && ref.Attr.Type == TypeComplex:
			// "emails eq x" compares the value sub-attribute of each element.
			v := ref.Attr.Sub("value")
			if e.Operator == filter.PR || strings.EqualFold(string(e.Operator), "pr") {
				typ = TypeComplex // "name pr": any sub-attribute present
				break
			}
			if !ref.Attr.MultiValued || v == nil {
				return nil, badRequest(TypeInvalidFilter, "%s is complex: compare one of its sub-attributes", ref)
			}
			typ = v.Type
		case ref.Attr != nil:
			typ = ref.Attr.Type
		}
	}
	v := e.CompareValue
	_, n.lit = v.(string) // a blanked literal: its value comes in bind
	if n.op != "pr" {
		switch v.(type) {
		case string, bool, float64, nil:
		case int:
			v = float64(v.(int))
		default:
			return nil, badRequest(TypeInvalidFilter, "unsupported comparison value %v", v)
		}
	}
	n.value = v
	switch {
	case n.op == "pr":
	case typ == TypeBoolean:
		if n.op != "eq" && n.op != "ne" {
			return nil, badRequest(TypeInvalidFilter, "%s is a boolean: only eq, ne and pr apply", n.ref)
		}
		n.boolAttr = true
	case typ == TypeComplex:
		return nil, badRequest(TypeInvalidFilter, "%s is complex: compare one of its sub-attributes", n.ref)
	case typ == TypeBinary && n.op != "eq" && n.op != "ne":
		return nil, badRequest(TypeInvalidFilter, "%s is binary: only eq, ne and pr apply", n.ref)
	}
	if (n.op == "co" || n.op == "sw" || n.op == "ew") && !isString(n.value) {
		return nil, badRequest(TypeInvalidFilter, "%s needs a string", n.op)
	}
	return n, nil
}

func isString(v any) bool { _, ok := v.(string); return ok }

// Match evaluates the filter against a resource of its type.
func (f *Filter) Match(r *Resource) bool {
	if r.decode() != nil {
		return false
	}
	return f.root.match(f.rt, r)
}

func (n *fnode) match(rt *ResourceType, r *Resource) bool {
	switch n.op {
	case "and":
		return n.kids[0].match(rt, r) && n.kids[1].match(rt, r)
	case "or":
		return n.kids[0].match(rt, r) || n.kids[1].match(rt, r)
	case "not":
		return !n.kids[0].match(rt, r)
	case "[]":
		for _, e := range asList(n.ref.get(r.Attributes)) {
			if m, ok := e.(map[string]any); ok && n.kids[0].matchElem(m) {
				return true
			}
		}
		return false
	}
	return compareValues(n.op, valuesOf(rt, n.ref, r), n.value, n.caseExact(), n.isDate())
}

// matchElem evaluates a value filter's expression against one element of the attribute.
func (n *fnode) matchElem(elem map[string]any) bool {
	switch n.op {
	case "and":
		return n.kids[0].matchElem(elem) && n.kids[1].matchElem(elem)
	case "or":
		return n.kids[0].matchElem(elem) || n.kids[1].matchElem(elem)
	case "not":
		return !n.kids[0].matchElem(elem)
	}
	name := n.ref.SubName
	if n.sub != nil {
		name = n.sub.Name
	}
	_, v, _ := getFold(elem, name)
	return compareValues(n.op, asList(v), n.value, n.caseExact(), n.isDate())
}

func (n *fnode) caseExact() bool {
	switch {
	case n.sub != nil:
		return n.sub.CaseExact
	case n.ref.Sub != nil:
		return n.ref.Sub.CaseExact
	case n.ref.Attr != nil && n.ref.Attr.Type == TypeComplex:
		if v := n.ref.Attr.Sub("value"); v != nil {
			return v.CaseExact
		}
	case n.ref.Attr != nil:
		return n.ref.Attr.CaseExact
	}
	return false // undeclared extension attributes compare case-insensitively
}

func (n *fnode) isDate() bool {
	switch {
	case n.sub != nil:
		return n.sub.Type == TypeDateTime
	case n.ref.Sub != nil:
		return n.ref.Sub.Type == TypeDateTime
	case n.ref.Attr != nil:
		return n.ref.Attr.Type == TypeDateTime
	}
	return false
}

func asList(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	}
	return []any{v}
}

// valuesOf lists the values a comparison looks at: the attribute's (or sub-attribute's) values
// in every element of a multi-valued attribute, the value sub-attribute for a multi-valued
// complex attribute compared as a whole, and id and meta from the Resource's own fields.
func valuesOf(rt *ResourceType, ref attrRef, r *Resource) []any {
	switch ref.Special {
	case "id":
		return []any{r.ID}
	case "meta":
		switch ref.SubName {
		case "created":
			return timeValue(r.Created)
		case "lastModified":
			return timeValue(r.LastModified)
		case "resourceType":
			return []any{rt.Name}
		case "version":
			return []any{r.Version}
		case "location":
			return nil
		}
		return nil
	}
	v := ref.get(r.Attributes)
	if v == nil && rt == Users && ref.URN == "" && ref.Name == "active" {
		v = true // as Resource.Active and Cond.Match read it
	}
	sub := ref.SubName
	if sub == "" && ref.Attr != nil && ref.Attr.Type == TypeComplex && ref.Attr.MultiValued {
		sub = "value"
	}
	if sub == "" {
		return asList(v)
	}
	var out []any
	for _, e := range asList(v) {
		if m, ok := e.(map[string]any); ok {
			if _, sv, ok := getFold(m, sub); ok {
				out = append(out, asList(sv)...)
			}
		}
	}
	return out
}

func timeValue(t time.Time) []any {
	if t.IsZero() {
		return nil
	}
	return []any{t.UTC().Format(time.RFC3339Nano)}
}

// compareValues applies op between the attribute's values and want: true when any value
// satisfies it, except ne, which is true when no value equals want (so an absent attribute is
// "not equal"). pr is true when there is a value that is not empty.
func compareValues(op string, have []any, want any, exact, date bool) bool {
	switch op {
	case "pr":
		for _, h := range have {
			if !isEmpty(h) && h != "" {
				return true
			}
		}
		return false
	case "ne":
		return !compareValues("eq", have, want, exact, date)
	}
	for _, h := range have {
		if compareOne(op, h, want, exact, date) {
			return true
		}
	}
	return false
}

func compareOne(op string, have, want any, exact, date bool) bool {
	if want == nil { // "eq null": never matches a present value
		return false
	}
	switch h := have.(type) {
	case bool:
		w, ok := want.(bool)
		return ok && op == "eq" && h == w
	case json.Number, float64:
		hf, ok1 := toFloat(h)
		wf, ok2 := toFloat(want)
		if !ok1 || !ok2 {
			return false
		}
		return ordered(op, cmpFloat(hf, wf))
	case string:
		w, ok := want.(string)
		if !ok {
			if wb, isBool := want.(bool); isBool {
				w = strconv.FormatBool(wb)
			} else if wf, isNum := want.(float64); isNum {
				w = strconv.FormatFloat(wf, 'f', -1, 64)
			} else {
				return false
			}
		}
		if date {
			ht, err1 := time.Parse(time.RFC3339Nano, h)
			wt, err2 := time.Parse(time.RFC3339Nano, w)
			if err1 == nil && err2 == nil {
				return ordered(op, ht.Compare(wt))
			}
		}
		if !exact {
			h, w = strings.ToLower(h), strings.ToLower(w)
		}
		switch op {
		case "co":
			return strings.Contains(h, w)
		case "sw":
			return strings.HasPrefix(h, w)
		case "ew":
			return strings.HasSuffix(h, w)
		}
		return ordered(op, strings.Compare(h, w))
	}
	return false
}

func toFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	}
	return 0, false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case math.IsNaN(a) || math.IsNaN(b):
		return 2
	}
	return 0
}

func ordered(op string, c int) bool {
	switch op {
	case "eq":
		return c == 0
	case "gt":
		return c == 1
	case "ge":
		return c == 0 || c == 1
	case "lt":
		return c == -1
	case "le":
		return c == 0 || c == -1
	}
	return false
}

// String shows the resolved filter (for tests and logs).
func (f *Filter) String() string { return f.root.String() }

func (n *fnode) String() string {
	switch n.op {
	case "and", "or":
		return "(" + n.kids[0].String() + " " + n.op + " " + n.kids[1].String() + ")"
	case "not":
		return "not(" + n.kids[0].String() + ")"
	case "[]":
		return n.ref.String() + "[" + n.kids[0].String() + "]"
	}
	name := n.ref.String()
	if n.sub != nil {
		name = n.sub.Name
	}
	if n.op == "pr" {
		return name + " pr"
	}
	return fmt.Sprintf("%s %s %#v", name, n.op, n.value)
}

// hasOr reports whether a filter text holds the word "or" outside strings.
func hasOr(s string) bool {
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case (i == 0 || s[i-1] == ' ' || s[i-1] == ')') && i+2 <= len(s) && strings.EqualFold(s[i:i+2], "or") &&
			(i+2 == len(s) || s[i+2] == ' ' || s[i+2] == '('):
			return true
		}
	}
	return false
}
