package scim

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rosterhq/roster/internal/jsonesc"
)

// Writing answers. A resource is written one of two ways, with the same bytes:
//   - the map path: renderResource builds the RFC form as a map, the projection is applied to
//     it, and json.Marshal writes it (keys sorted);
//   - the raw path, when no projection applies and the Backend gave the resource's Raw (the
//     canonical JSON it stored, written by json.Marshal of the attributes, so its keys are
//     sorted and it holds no id, meta or schemas): appendRaw copies each top-level member of
//     Raw as it is and splices id, meta, schemas (and a User's default active, a Group's
//     members) in among them in key order. Nothing is decoded.
//
// Both give the same bytes when Raw is what a decode and encode of it write (json.Marshal's
// sorted keys; an undeclared extension's number sent as 1e3 the map path writes 1000), and
// otherwise the same JSON, in Raw's own order. A Raw the raw path cannot split (an escaped
// key, a key that is id, meta or schemas, not an object) takes the map path. See docs/scim.md
// "What a list page costs (writing the answer)".

// bufPool holds answer buffers; one larger than maxPooledBuf is left to the collector, so the
// pool holds at most a few buffers of that size per P.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

const maxPooledBuf = 1 << 20

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// sendBytes answers with a body already encoded.
func (rq *request) sendBytes(status int, data []byte) {
	rq.w.Header().Set("Content-Type", ContentType)
	rq.w.WriteHeader(status)
	rq.w.Write(data)
}

// plain reports whether the projection leaves a resource as it is.
func (p *projection) plain() bool { return p == nil || len(p.include) == 0 && len(p.exclude) == 0 }

// appendResource appends the answer's form of res (projected by p) to b.
func (rq *request) appendResource(b []byte, rt *ResourceType, res *Resource, members []Member, p *projection) ([]byte, error) {
	if res.Raw != nil && (p.plain() || p.wholeExclusions()) {
		var exclude []attrRef
		if p != nil {
			exclude = p.exclude
		}
		if out, ok := appendRaw(b, rt, res, members, rq.base, exclude); ok {
			return out, nil
		}
	}
	if res.Attributes == nil && res.Raw != nil && p != nil && len(p.include) > 0 {
		if attrs, ok := decodeIncluded(res.Raw, p.include); ok {
			r := *res
			r.Attributes = attrs
			res = &r
		}
	}
	if err := res.decode(); err != nil {
		return b, err
	}
	data, err := json.Marshal(rq.render(rt, res, members, p))
	if err != nil {
		return b, err
	}
	return append(b, data...), nil
}

// decodeIncluded decodes, for attributes=..., only the top-level members of raw that a name
// of include may show; every other key is kept with a nil value, so that renderResource sees
// which keys there are (schemas lists each extension present; a User that sent active is not
// given the default) and the projection drops them.
func decodeIncluded(raw []byte, include []attrRef) (map[string]any, bool) {
	var buf [24]rawMember
	mem, ok := topMembers(raw, buf[:0])
	if !ok {
		return nil, false
	}
	attrs := make(map[string]any, len(mem))
	for _, m := range mem {
		key := string(m.key)
		var v any
		for _, r := range include {
			if top, _ := r.keys(); strings.EqualFold(top, key) {
				if json.Unmarshal(raw[m.value:m.end], &v) != nil {
					return nil, false
				}
				break
			}
		}
		attrs[key] = v
	}
	return attrs, true
}

// rawMember is one top-level member of a raw JSON object: its key (as written; keys with
// escapes are refused) and raw[start:end], the member from its key's quote to its value's
// end, the value starting at raw[value].
type rawMember struct {
	key               []byte
	start, value, end int
}

// topMembers splits a JSON object into its top-level members. It checks the structure it
// walks (quotes, brackets, separators), not every scalar: Raw is JSON that Roster wrote.
func topMembers(raw []byte, out []rawMember) ([]rawMember, bool) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, false
	}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return out, skipSpace(raw, i+1) == len(raw)
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return nil, false
		}
		start := i
		j := i + 1
		for j < len(raw) && raw[j] != '"' {
			if raw[j] == '\\' || raw[j] < 0x20 {
				return nil, false
			}
			j++
		}
		if j >= len(raw) {
			return nil, false
		}
		key := raw[i+1 : j]
		i = skipSpace(raw, j+1)
		if i >= len(raw) || raw[i] != ':' {
			return nil, false
		}
		value := skipSpace(raw, i+1)
		end, ok := skipValue(raw, value)
		if !ok {
			return nil, false
		}
		out = append(out, rawMember{key: key, start: start, value: value, end: end})
		i = skipSpace(raw, end)
		if i >= len(raw) {
			return nil, false
		}
		switch raw[i] {
		case ',':
			i = skipSpace(raw, i+1)
		case '}':
			return out, skipSpace(raw, i+1) == len(raw)
		default:
			return nil, false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value at b[i:].
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		var stack [64]byte // nesting deeper than Roster stores (DefaultMaxDepth) is refused
		depth := 0
		for i < len(b) {
			switch c := b[i]; c {
			case '"':
				end, ok := skipString(b, i)
				if !ok {
					return 0, false
				}
				i = end
				continue
			case '{', '[':
				if depth == len(stack) {
					return 0, false
				}
				stack[depth] = c + 2 // '{'+2 == '}', '['+2 == ']'
				depth++
			case '}', ']':
				if depth == 0 || stack[depth-1] != c {
					return 0, false
				}
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	}
	j := i
	for j < len(b) {
		c := b[j]
		if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			break
		}
		if c == '"' || c == '{' || c == '[' || c == ':' {
			return 0, false
		}
		j++
	}
	return j, j > i
}

// skipString returns the end of the JSON string at b[i] (a quote): the first quote after it
// that an even number of backslashes precede (found with bytes.IndexByte, which is faster than
// a loop over the bytes: the strings are most of what topMembers reads).
func skipString(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return 0, false
		}
		j += k
		n := 0
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return j + 1, true
		}
	}
	return 0, false
}

// wholeExclusions reports whether the projection is excludedAttributes= naming whole top-level
// attributes only (no sub-attribute, no extension's attribute), which the raw path writes by
// leaving their members out.
func (p *projection) wholeExclusions() bool {
	if p == nil || len(p.include) > 0 || len(p.exclude) == 0 {
		return false
	}
	for _, r := range p.exclude {
		if _, inner := r.keys(); inner != "" || r.SubName != "" {
			return false
		}
	}
	return true
}

// excludedKeys returns the top-level keys that exclude drops from a resource with keys
// (projection.apply over the map path's keys: for each name, the key it names exactly, else
// the one key equal to it under case folding); false when a name folds to several keys, which
// the map path drops one of at random.
func excludedKeys(keys []string, exclude []attrRef) ([]string, bool) {
	var drop []string
	for _, r := range exclude {
		top, _ := r.keys()
		if top == "id" || strings.EqualFold(top, "schemas") {
			continue
		}
		found, folded := "", 0
		for _, k := range keys {
			if slices.Contains(drop, k) {
				continue
			}
			if k == top {
				found, folded = k, 1
				break
			}
			if strings.EqualFold(k, top) && k != found {
				found = k
				folded++
			}
		}
		if folded > 1 {
			return nil, false
		}
		if folded == 1 {
			drop = append(drop, found)
		}
	}
	return drop, true
}

// appendRaw appends res written from its Raw (see the comment at the top), without the
// top-level attributes exclude names (whole attributes only: wholeExclusions); false when Raw
// cannot be written so, and b is then unchanged.
func appendRaw(b []byte, rt *ResourceType, res *Resource, members []Member, base string, exclude []attrRef) ([]byte, bool) {
	var buf [24]rawMember
	mem, ok := topMembers(res.Raw, buf[:0])
	if !ok {
		return b, false
	}
	hasActive := false
	var urns [4]string
	schemas := append(urns[:0], rt.Schema.ID)
	for _, m := range mem {
		switch string(m.key) {
		case "id", "meta", "schemas":
			return b, false
		case "members":
			if rt == Groups {
				return b, false
			}
		case "active":
			hasActive = true
		}
		if hasColon(m.key) {
			schemas = append(schemas, string(m.key))
		}
	}
	sortStrings(schemas[1:])

	// The members Roster adds, in key order.
	var add [4]string
	extra := add[:0]
	if rt == Users && !hasActive {
		extra = append(extra, "active")
	}
	extra = append(extra, "id")
	if len(members) > 0 {
		extra = append(extra, "members")
	}
	extra = append(extra, "meta", "schemas")
	var drop []string
	if len(exclude) > 0 {
		keys := slices.Clone(extra)
		for _, m := range mem {
			if k := string(m.key); !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		if drop, ok = excludedKeys(keys, exclude); !ok {
			return b, false
		}
		extra = slices.DeleteFunc(extra, func(k string) bool { return slices.Contains(drop, k) })
	}
	write := func(b []byte, key string) []byte {
		switch key {
		case "active":
			return append(b, `"active":true`...)
		case "id":
			return appendJSONString(append(b, `"id":`...), res.ID)
		case "members":
			return appendMembers(b, members, base)
		case "meta":
			return appendMeta(b, rt, res, base)
		}
		b = append(b, `"schemas":[`...)
		for i, s := range schemas {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		return append(b, ']')
	}

	// Each member but the first is preceded by a comma; the object always has id.
	b = append(b, '{')
	open := len(b)
	for _, m := range mem {
		if len(drop) > 0 && slices.Contains(drop, string(m.key)) {
			continue
		}
		for len(extra) > 0 && extra[0] < string(m.key) {
			if len(b) > open {
				b = append(b, ',')
			}
			b = write(b, extra[0])
			extra = extra[1:]
		}
		if len(b) > open {
			b = append(b, ',')
		}
		b = append(b, res.Raw[m.start:m.end]...)
	}
	for _, e := range extra {
		if len(b) > open {
			b = append(b, ',')
		}
		b = write(b, e)
	}
	return append(b, '}'), true
}

func hasColon(k []byte) bool {
	for _, c := range k {
		if c == ':' {
			return true
		}
	}
	return false
}

// appendMeta writes meta as renderResource builds it (keys in order).
func appendMeta(b []byte, rt *ResourceType, res *Resource, base string) []byte {
	b = append(b, `"meta":{`...)
	if !res.Created.IsZero() {
		b = append(b, `"created":"`...)
		b = res.Created.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `",`...)
	}
	if !res.LastModified.IsZero() {
		b = append(b, `"lastModified":"`...)
		b = res.LastModified.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `",`...)
	}
	b = append(b, `"location":"`...)
	b = appendLocation(b, base, rt.Endpoint, res.ID)
	b = append(b, `","resourceType":`...)
	b = appendJSONString(b, rt.Name)
	if res.Version != "" {
		b = append(b, `,"version":"W/\"`...) // etag(res.Version)
		b = appendJSONText(b, res.Version)
		b = append(b, `\""`...)
	}
	return append(b, '}')
}

// appendMembers writes a Group's members as renderResource builds them.
func appendMembers(b []byte, members []Member, base string) []byte {
	b = append(b, `"members":[`...)
	for i, m := range members {
		if i > 0 {
			b = append(b, ',')
		}
		typ := m.Type
		if typ == "" {
			typ = "User"
		}
		b = append(b, `{"$ref":"`...)
		b = appendLocation(b, base, "/"+typ+"s", m.Value)
		b = append(b, '"')
		if m.Display != "" {
			b = append(b, `,"display":`...)
			b = appendJSONString(b, m.Display)
		}
		b = append(b, `,"type":`...)
		b = appendJSONString(b, typ)
		b = append(b, `,"value":`...)
		b = appendJSONString(b, m.Value)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendLocation writes the text of the JSON string base+endpoint+"/"+id (without its quotes
// and without building it): escaping is per character, and each join is at an ASCII byte
// ('/'), where an invalid UTF-8 sequence on either side is written as U+FFFD either way.
func appendLocation(b []byte, base, endpoint, id string) []byte {
	b = appendJSONText(b, base)
	b = appendJSONText(b, endpoint)
	b = append(b, '/')
	return appendJSONText(b, id)
}

// appendJSONString writes s as encoding/json does (HTML characters, U+2028 and U+2029
// escaped, invalid UTF-8 as U+FFFD).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendJSONText(b, s)
	return append(b, '"')
}

// jsonSafe[c] reports whether encoding/json writes the ASCII byte c in a string as it is.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendJSONText writes s as appendJSONString does, without the quotes.
func appendJSONText(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			b = jsonesc.AppendASCII(b, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// appendListHead and appendListTail write a ListResponse around the resources (keys in order).
func appendListHead(b []byte) []byte { return append(b, `{"Resources":[`...) }

func appendListTail(b []byte, n, start, total int) []byte {
	b = append(b, `],"itemsPerPage":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `,"schemas":["`+listResponseSchema+`"],"startIndex":`...)
	b = strconv.AppendInt(b, int64(start), 10)
	b = append(b, `,"totalResults":`...)
	b = strconv.AppendInt(b, int64(total), 10)
	return append(b, '}')
}
