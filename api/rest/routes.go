package rest

import (
	"fmt"
	"net/url"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
)

// segKind orders segment kinds by precedence: at the first place two
// matching routes differ, the lower kind wins.
type segKind uint8

const (
	segLiteral segKind = iota // matches one segment exactly (colons included)
	segStar                   // "*": any one non-empty segment
	segDeep                   // "**": the rest of the path, only last
)

type segment struct {
	kind    segKind
	literal string
}

// pathVar is a "{field.path=...}" capture covering segs[start:end]; end < 0
// means "to the end of the request path" (a "**" capture).
type pathVar struct {
	fieldPath  string
	start, end int
}

// route is one (HTTP method, path template) pair of a google.api.http rule.
type route struct {
	method       string
	template     string
	segs         []segment
	verb         string // custom verb after a final variable, without ':'
	vars         []pathVar
	body         string // "", "*" or a top-level field name
	responseBody string

	bind *binding // protobuf side, resolved by New; nil in routing tests
}

// parseTemplate parses a google.api.http path template. Unlike the strict
// grammar, a literal segment may contain ':' (Scalekit's
// "/api/v1/organizations:external/{external_id}"); a ":verb" is only split
// off when it follows a final variable or wildcard.
func parseTemplate(method, tmpl string) (*route, error) {
	rt := &route{method: method, template: tmpl}
	if !strings.HasPrefix(tmpl, "/") {
		return nil, fmt.Errorf("path template %q must start with '/'", tmpl)
	}
	// Each round parses one segment (or one variable, which may span
	// several) and the '/' after it.
	for rest := tmpl[1:]; ; {
		var err error
		if strings.HasPrefix(rest, "{") {
			rest, err = rt.parseVariable(rest)
		} else {
			var seg string
			seg, rest = cutSegment(rest)
			err = rt.parsePlain(seg)
		}
		switch {
		case err != nil:
			return nil, fmt.Errorf("path template %q: %w", tmpl, err)
		case rest == "":
		case rt.verb != "":
			return nil, fmt.Errorf("path template %q: custom verb must be at the end", tmpl)
		case rest[0] != '/':
			return nil, fmt.Errorf("path template %q: unexpected %q", tmpl, rest)
		case rest == "/":
			return nil, fmt.Errorf("path template %q: trailing '/'", tmpl)
		}
		if rest == "" {
			break
		}
		rest = rest[1:]
	}
	for i, s := range rt.segs {
		if s.kind == segDeep && i != len(rt.segs)-1 {
			return nil, fmt.Errorf("path template %q: '**' must be the last segment", tmpl)
		}
	}
	return rt, nil
}

// cutSegment splits off the text up to the next '/'.
func cutSegment(s string) (seg, rest string) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

// parsePlain parses a segment outside braces: "*", "**", "*:verb" or a literal.
func (rt *route) parsePlain(seg string) error {
	switch {
	case seg == "":
		return fmt.Errorf("empty segment")
	case strings.ContainsAny(seg, "{}="):
		return fmt.Errorf("invalid segment %q", seg)
	case seg == "*" || seg == "**":
		rt.segs = append(rt.segs, wildcard(seg))
	case strings.HasPrefix(seg, "*:") || strings.HasPrefix(seg, "**:"):
		w, verb, _ := strings.Cut(seg, ":")
		rt.segs = append(rt.segs, wildcard(w))
		return rt.setVerb(verb)
	default:
		rt.segs = append(rt.segs, segment{kind: segLiteral, literal: seg})
	}
	return nil
}

func wildcard(s string) segment {
	if s == "**" {
		return segment{kind: segDeep}
	}
	return segment{kind: segStar}
}

// parseVariable parses "{field.path}" or "{field.path=sub/*/template}",
// optionally followed by ":verb", and returns what follows.
func (rt *route) parseVariable(s string) (string, error) {
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return "", fmt.Errorf("unterminated variable")
	}
	inner, after := s[1:end], s[end+1:]
	field, sub, hasSub := strings.Cut(inner, "=")
	if !validFieldPath(field) {
		return "", fmt.Errorf("invalid variable name %q", field)
	}
	for _, v := range rt.vars {
		if v.fieldPath == field {
			return "", fmt.Errorf("variable %q appears twice", field)
		}
	}
	if !hasSub {
		sub = "*"
	}
	start := len(rt.segs)
	for _, seg := range strings.Split(sub, "/") {
		switch {
		case seg == "*" || seg == "**":
			rt.segs = append(rt.segs, wildcard(seg))
		case seg != "" && !strings.ContainsAny(seg, "{}=:*"):
			rt.segs = append(rt.segs, segment{kind: segLiteral, literal: seg})
		default:
			return "", fmt.Errorf("invalid segment %q in variable %q", seg, field)
		}
	}
	v := pathVar{fieldPath: field, start: start, end: len(rt.segs)}
	if rt.segs[len(rt.segs)-1].kind == segDeep {
		v.end = -1
	}
	rt.vars = append(rt.vars, v)

	if strings.HasPrefix(after, ":") {
		verb, rest := cutSegment(after[1:])
		if rest != "" {
			return "", fmt.Errorf("custom verb must be at the end")
		}
		return "", rt.setVerb(verb)
	}
	if after != "" && after[0] != '/' {
		return "", fmt.Errorf("unexpected %q after variable %q", after, field)
	}
	return after, nil
}

func (rt *route) setVerb(verb string) error {
	if verb == "" || strings.ContainsAny(verb, "{}=*:/") {
		return fmt.Errorf("invalid custom verb %q", verb)
	}
	rt.verb = verb
	return nil
}

func validFieldPath(p string) bool {
	if p == "" {
		return false
	}
	for _, part := range strings.Split(p, ".") {
		if part == "" {
			return false
		}
		for i, c := range part {
			alpha := c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
			if !alpha && (i == 0 || c < '0' || c > '9') {
				return false
			}
		}
	}
	return true
}

// ruleRoutes expands a rule and its additional_bindings into routes.
func ruleRoutes(rule *annotations.HttpRule) ([]*route, error) {
	var out []*route
	rules := append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...)
	for i, r := range rules {
		if i > 0 && len(r.GetAdditionalBindings()) > 0 {
			return nil, fmt.Errorf("additional_bindings must not be nested")
		}
		var method, path string
		switch p := r.GetPattern().(type) {
		case *annotations.HttpRule_Get:
			method, path = "GET", p.Get
		case *annotations.HttpRule_Put:
			method, path = "PUT", p.Put
		case *annotations.HttpRule_Post:
			method, path = "POST", p.Post
		case *annotations.HttpRule_Delete:
			method, path = "DELETE", p.Delete
		case *annotations.HttpRule_Patch:
			method, path = "PATCH", p.Patch
		case *annotations.HttpRule_Custom:
			method, path = strings.ToUpper(p.Custom.GetKind()), p.Custom.GetPath()
		default:
			return nil, fmt.Errorf("http rule without a pattern")
		}
		if method == "" || strings.ContainsAny(method, " *") {
			return nil, fmt.Errorf("invalid HTTP method %q", method)
		}
		rt, err := parseTemplate(method, path)
		if err != nil {
			return nil, err
		}
		rt.body, rt.responseBody = r.GetBody(), r.GetResponseBody()
		out = append(out, rt)
	}
	return out, nil
}

// node is a trie over path segments. Lookup tries literal children before
// the "*" child before the "**" child, so the first route found is the one
// whose template has a literal at the first place two candidates differ.
type node struct {
	literals map[string]*node
	star     *node
	deep     *node
	routes   []*route // routes whose template ends here, in insertion order
}

type router struct{ root node }

func (rr *router) add(rt *route) error {
	n := &rr.root
	for _, s := range rt.segs {
		switch s.kind {
		case segLiteral:
			if n.literals == nil {
				n.literals = map[string]*node{}
			}
			c := n.literals[s.literal]
			if c == nil {
				c = &node{}
				n.literals[s.literal] = c
			}
			n = c
		case segStar:
			if n.star == nil {
				n.star = &node{}
			}
			n = n.star
		case segDeep:
			if n.deep == nil {
				n.deep = &node{}
			}
			n = n.deep
		}
	}
	for _, o := range n.routes {
		if o.method == rt.method && o.verb == rt.verb {
			return fmt.Errorf("%s %s conflicts with %s %s", rt.method, rt.template, o.method, o.template)
		}
	}
	n.routes = append(n.routes, rt)
	return nil
}

// lookup holds the state of one match: the escaped request path segments
// and whether any route matched the path with a different method.
type lookup struct {
	segs    []string
	method  string
	allowed []string // methods of routes matching the path, for 405
}

// splitPath splits an escaped URL path ("/a/b%2Fc/d") into segments.
func splitPath(escaped string) []string {
	return strings.Split(strings.TrimPrefix(escaped, "/"), "/")
}

// match finds the best route for method and escaped path segments.
func (rr *router) match(method string, segs []string) (*route, *lookup) {
	l := &lookup{segs: segs, method: method}
	return rr.root.find(l, 0), l
}

func (n *node) find(l *lookup, i int) *route {
	if i == len(l.segs) {
		if rt := l.pick(n.routes); rt != nil {
			return rt
		}
	} else {
		if c := n.literals[l.segs[i]]; c != nil {
			if rt := c.find(l, i+1); rt != nil {
				return rt
			}
		}
		if n.star != nil && l.segs[i] != "" {
			if rt := n.star.find(l, i+1); rt != nil {
				return rt
			}
		}
	}
	if n.deep != nil {
		return l.pick(n.deep.routes)
	}
	return nil
}

// pick chooses among routes with the same segment shape: one whose custom
// verb ends the path beats one without a verb.
func (l *lookup) pick(routes []*route) *route {
	var plain *route
	for _, rt := range routes {
		if rt.verb != "" && !l.hasVerb(rt.verb) {
			continue
		}
		if rt.method != l.method {
			l.allowed = append(l.allowed, rt.method)
			continue
		}
		if rt.verb != "" {
			return rt
		}
		if plain == nil {
			plain = rt
		}
	}
	return plain
}

func (l *lookup) hasVerb(verb string) bool {
	if len(l.segs) == 0 {
		return false
	}
	last := l.segs[len(l.segs)-1]
	return len(last) > len(verb)+1 && strings.HasSuffix(last, verb) && last[len(last)-len(verb)-1] == ':'
}

// captures returns the unescaped value of each path variable of rt.
func (rt *route) captures(segs []string) ([]string, error) {
	if rt.verb != "" {
		// The verb is part of the last request segment; strip it once.
		last := segs[len(segs)-1]
		segs = append(segs[:len(segs)-1:len(segs)-1], last[:len(last)-len(rt.verb)-1])
	}
	vals := make([]string, len(rt.vars))
	for i, v := range rt.vars {
		end := v.end
		if end < 0 {
			end = len(segs)
		}
		val, err := url.PathUnescape(strings.Join(segs[v.start:end], "/"))
		if err != nil {
			return nil, fmt.Errorf("invalid escape in path variable %q", v.fieldPath)
		}
		vals[i] = val
	}
	return vals, nil
}
