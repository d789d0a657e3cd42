package scim

import (
	"fmt"
	"strings"
	"time"
)

// Cond is the storage-neutral form of a filter that a Backend runs with its indexes: an
// AND/OR/NOT tree over comparisons of the indexed attributes only.
//
// Indexed attributes (Attr) and their values:
//
//	Users:  "id", "userName", "externalId", "emails.value", "displayName" (string),
//	        "active" (bool), "meta.lastModified" (time.Time)
//	Groups: "id", "displayName", "externalId" (string), "meta.lastModified" (time.Time)
//
// Op is one of eq, ne, co, sw, ew, gt, ge, lt, le, pr (then Value is nil). Strings compare
// case-insensitively unless CaseExact (id and externalId are case-exact, userName, emails and
// displayName are not); gt/ge/lt/le on strings compare the text byte-wise (lower-cased
// unless CaseExact). "active"
// takes eq, ne and pr. ne and not on "emails.value" mean "no email matches". A user whose
// active was never sent is active.
type Cond struct {
	Op        string // "and", "or", "not", or a comparison operator
	Args      []Cond // and, or: two or more; not: one
	Attr      string
	Value     any // string, bool or time.Time
	CaseExact bool
}

// indexed lists the indexed attributes of each resource type.
var indexed = map[*ResourceType][]string{
	Users:  {"id", "userName", "externalId", "emails.value", "displayName", "active", "meta.lastModified"},
	Groups: {"id", "displayName", "externalId", "meta.lastModified"},
}

// IndexedAttributes lists the attributes a Backend must be able to query for rt.
func IndexedAttributes(rt *ResourceType) []string { return indexed[rt] }

// Query is the storage-neutral form of f and whether it is exact. When exact is false, Query
// is a superset (some conditions on attributes that are not indexed were left out): the
// handler then fetches at most MaxCandidates resources and evaluates f on each. A filter with
// no indexed condition that narrows it (title eq "x", or an or with such a branch) is 400
// invalidFilter naming the indexed attributes.
func (f *Filter) Query() (q Cond, exact bool, err error) {
	c, exact := f.root.cond(f.rt, "")
	if c == nil {
		return Cond{}, false, badRequest(TypeInvalidFilter,
			"filters must narrow on at least one of the indexed attributes %s (combined with and, or, not)",
			strings.Join(indexed[f.rt], ", "))
	}
	return *c, exact, nil
}

// cond compiles a node; prefix is "emails." inside a value path on emails.
func (n *fnode) cond(rt *ResourceType, prefix string) (*Cond, bool) {
	switch n.op {
	case "and":
		var args []Cond
		exact := true
		for _, k := range n.kids {
			c, e := k.cond(rt, prefix)
			if c == nil {
				exact = false
				continue
			}
			exact = exact && e
			args = append(args, *c)
		}
		switch len(args) {
		case 0:
			return nil, false
		case 1:
			return &args[0], exact
		}
		if prefix != "" {
			exact = false // two conditions on one element are not two conditions on any elements
		}
		return &Cond{Op: "and", Args: flatten("and", args)}, exact
	case "or":
		var args []Cond
		exact := true
		for _, k := range n.kids {
			c, e := k.cond(rt, prefix)
			if c == nil {
				return nil, false
			}
			exact = exact && e
			args = append(args, *c)
		}
		return &Cond{Op: "or", Args: flatten("or", args)}, exact
	case "not":
		if prefix != "" {
			return nil, false // "some element is not x" is not "no element is x"
		}
		c, e := n.kids[0].cond(rt, prefix)
		if c == nil || !e {
			return nil, false
		}
		return &Cond{Op: "not", Args: []Cond{*c}}, true
	case "[]":
		if n.ref.Attr == nil || n.ref.URN != "" {
			return nil, false
		}
		return n.kids[0].cond(rt, n.ref.Name+".")
	}
	// a comparison
	var name string
	switch {
	case prefix != "" && n.sub != nil:
		name = prefix + n.sub.Name
	case prefix != "":
		return nil, false
	case n.ref.Special == "id":
		name = "id"
	case n.ref.URN != "":
		return nil, false
	case n.ref.Attr != nil && n.ref.Attr.Type == TypeComplex && n.ref.Sub == nil:
		name = n.ref.Name + ".value" // emails eq "x"
	default:
		name = n.ref.String()
	}
	attr := ""
	for _, a := range indexed[rt] {
		if a == name {
			attr = a
		}
	}
	if attr == "" {
		return nil, false
	}
	c := &Cond{Op: n.op, Attr: attr, Value: n.value, CaseExact: attr == "id" || attr == "externalId"}
	if n.op == "pr" {
		c.Value = nil
		return c, true
	}
	switch attr {
	case "active":
		b, ok := n.value.(bool)
		if !ok {
			return nil, false
		}
		c.Value = b
	case "meta.lastModified":
		s, _ := n.value.(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || (n.op != "eq" && n.op != "ne" && n.op != "gt" && n.op != "ge" && n.op != "lt" && n.op != "le") {
			return nil, false
		}
		c.Value = t
	default:
		s, ok := n.value.(string)
		if !ok {
			return nil, false
		}
		c.Value = s
	}
	return c, true
}

func flatten(op string, args []Cond) []Cond {
	var out []Cond
	for _, a := range args {
		if a.Op == op {
			out = append(out, a.Args...)
		} else {
			out = append(out, a)
		}
	}
	return out
}

// Match evaluates the condition against a resource of type rt: the reference semantics a
// Backend's query must reproduce (the in-memory Backend in scimtest uses it as is).
func (c Cond) Match(rt *ResourceType, r *Resource) bool {
	if r.decode() != nil {
		return false
	}
	switch c.Op {
	case "and":
		for _, a := range c.Args {
			if !a.Match(rt, r) {
				return false
			}
		}
		return true
	case "or":
		for _, a := range c.Args {
			if a.Match(rt, r) {
				return true
			}
		}
		return false
	case "not":
		return !c.Args[0].Match(rt, r)
	}
	var have []any
	switch c.Attr {
	case "id":
		have = []any{r.ID}
	case "active":
		have = []any{r.Active()}
	case "meta.lastModified":
		if c.Op == "pr" {
			return !r.LastModified.IsZero()
		}
		t, _ := c.Value.(time.Time)
		if c.Op == "ne" {
			return !r.LastModified.Equal(t)
		}
		return ordered(c.Op, r.LastModified.Compare(t))
	case "emails.value":
		for _, e := range r.Emails() {
			have = append(have, e)
		}
	default:
		if s, ok := r.Attributes[c.Attr].(string); ok {
			have = []any{s}
		}
	}
	return compareValues(c.Op, have, c.Value, c.CaseExact, false)
}

// String shows the condition (for tests and logs).
func (c Cond) String() string {
	switch c.Op {
	case "and", "or":
		parts := make([]string, len(c.Args))
		for i, a := range c.Args {
			parts[i] = a.String()
		}
		return "(" + strings.Join(parts, " "+c.Op+" ") + ")"
	case "not":
		return "not(" + c.Args[0].String() + ")"
	case "pr":
		return c.Attr + " pr"
	}
	if t, ok := c.Value.(time.Time); ok {
		return fmt.Sprintf("%s %s %s", c.Attr, c.Op, t.UTC().Format(time.RFC3339Nano))
	}
	return fmt.Sprintf("%s %s %#v", c.Attr, c.Op, c.Value)
}
