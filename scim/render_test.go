package scim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The raw path (appendRaw) must write what the map path writes: the same bytes when Raw is
// what json.Marshal wrote, the same JSON when it is not. These tests compare the two over
// random resources, projections, extensions and group members.

const renderBase = "https://roster.test/scim/v2/dir_1"

// oldRender is the answer's form of a resource as the handler wrote it before the raw path:
// Raw decoded into a map (as the store-backed Backend did), rendered, projected, marshaled.
func oldRender(t testing.TB, rt *ResourceType, res *Resource, members []Member, p *projection) []byte {
	t.Helper()
	attrs := map[string]any{}
	if err := json.Unmarshal(res.Raw, &attrs); err != nil {
		t.Fatal(err)
	}
	r := *res
	r.Raw, r.Attributes = nil, attrs
	out, err := json.Marshal(p.apply(renderResource(rt, &r, members, renderBase)))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// newRender is the answer's form through appendResource, given Raw only.
func newRender(t testing.TB, rt *ResourceType, res *Resource, members []Member, p *projection) []byte {
	t.Helper()
	rq := &request{base: renderBase}
	r := *res
	r.Attributes = nil
	out, err := rq.appendResource([]byte("prefix"), rt, &r, members, p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte("prefix")) {
		t.Fatalf("appendResource lost what b held: %s", out)
	}
	return out[len("prefix"):]
}

func decodeJSON(t testing.TB, data []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, data)
	}
	return v
}

var nasty = []string{"plain", "Ann <b>&</b>", "quote \" back\\slash", "tab\tnew\nline\x01", "é ü 日本", "line\u2028sep\u2029",
	"", "x", "urn:looks:like:a:urn", "12.50", "true", "\x7f", "emoji 😀"}

func randString(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return fmt.Sprintf("s%d", r.IntN(1000))
	}
	return nasty[r.IntN(len(nasty))]
}

// randJSON is an arbitrary JSON value (an undeclared extension keeps what the client sent).
func randJSON(r *rand.Rand, depth int) any {
	switch n := r.IntN(7); {
	case n == 0:
		return r.IntN(2) == 0
	case n == 1:
		return json.Number([]string{"3", "1.5", "-0.25", "1e3", "12345678901"}[r.IntN(5)])
	case n == 2 && depth < 3:
		m := map[string]any{}
		for range r.IntN(4) {
			m[randString(r)] = randJSON(r, depth+1)
		}
		return m
	case n == 3 && depth < 3:
		var l []any
		for range r.IntN(3) {
			l = append(l, randJSON(r, depth+1))
		}
		return l
	}
	return randString(r)
}

// randUserBody is a client's User body: some of the declared attributes, the enterprise
// extension, an undeclared extension, and things normalize drops.
func randUserBody(r *rand.Rand) map[string]any {
	b := map[string]any{"userName": fmt.Sprintf("u%d@acme.test", r.IntN(1e6))}
	maybe := func(k string, v func() any) {
		if r.IntN(2) == 0 {
			b[k] = v()
		}
	}
	maybe("externalId", func() any { return randString(r) })
	maybe("displayName", func() any { return randString(r) })
	maybe("active", func() any { return r.IntN(2) == 0 })
	maybe("title", func() any { return randString(r) })
	maybe("locale", func() any { return "en_US" })
	maybe("name", func() any {
		return map[string]any{"givenName": randString(r), "familyName": randString(r), "formatted": randString(r)}
	})
	maybe("emails", func() any {
		var l []any
		for i := range 1 + r.IntN(3) {
			l = append(l, map[string]any{"value": fmt.Sprintf("e%d@acme.test", i), "type": "work", "primary": i == 0})
		}
		return l
	})
	maybe("phoneNumbers", func() any { return []any{map[string]any{"value": "+1 555 0100", "type": "mobile"}} })
	maybe("addresses", func() any {
		return []any{map[string]any{"streetAddress": randString(r), "locality": randString(r), "type": "work"}}
	})
	maybe(EnterpriseUserSchema, func() any {
		return map[string]any{"employeeNumber": randString(r), "costCenter": randString(r), "department": randString(r),
			"manager": map[string]any{"value": randString(r)}}
	})
	maybe("urn:acme:params:scim:schemas:extension:custom:2.0:User", func() any {
		m := map[string]any{"badge": randString(r)}
		for range r.IntN(3) {
			m[randString(r)] = randJSON(r, 1)
		}
		return m
	})
	maybe("urn:zeta:2.0:User", func() any { return map[string]any{"a": randJSON(r, 1)} })
	maybe("id", func() any { return "client-id" })
	maybe("meta", func() any { return map[string]any{"resourceType": "User"} })
	maybe("schemas", func() any { return []any{UserSchema} })
	maybe("password", func() any { return "secret" })
	maybe("groups", func() any { return []any{map[string]any{"value": "g1"}} })
	return b
}

func randGroupBody(r *rand.Rand) map[string]any {
	b := map[string]any{"displayName": randString(r) + "group"}
	if r.IntN(2) == 0 {
		b["externalId"] = randString(r)
	}
	if r.IntN(3) == 0 {
		b["urn:acme:2.0:Group"] = map[string]any{"x": randJSON(r, 1)}
	}
	return b
}

var projNames = map[*ResourceType][]string{
	Users: {"userName", "USERNAME", "emails", "emails.value", "name.givenName", "name", "active", "id", "meta", "schemas",
		"meta.created", "externalId", "title", "phoneNumbers.type", EnterpriseUserSchema,
		EnterpriseUserSchema + ":costCenter", EnterpriseUserSchema + ":manager.value", EnterpriseUserSchema + ":manager",
		"urn:acme:params:scim:schemas:extension:custom:2.0:User", "urn:zeta:2.0:User", "nope", "groups"},
	Groups: {"displayName", "members", "members.value", "externalId", "meta", "id", "urn:acme:2.0:Group", "nope"},
}

func randProjection(r *rand.Rand, rt *ResourceType) (string, string) {
	pick := func() string {
		var names []string
		for range 1 + r.IntN(3) {
			names = append(names, projNames[rt][r.IntN(len(projNames[rt]))])
		}
		return strings.Join(names, ",")
	}
	switch r.IntN(4) {
	case 0:
		return pick(), ""
	case 1:
		return "", pick()
	case 2:
		return pick(), pick()
	}
	return "", ""
}

func randResource(t testing.TB, r *rand.Rand, rt *ResourceType) (*Resource, []Member) {
	body := randUserBody(r)
	if rt == Groups {
		body = randGroupBody(r)
	}
	attrs, err := normalize(rt, body, bodyMode)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(attrs)
	if err != nil {
		t.Fatal(err)
	}
	res := &Resource{ID: fmt.Sprintf("dus_%d", r.IntN(1e9)), Raw: raw}
	if r.IntN(5) > 0 {
		res.Created = time.Unix(1.7e9+int64(r.IntN(1e6)), int64(r.IntN(1e9)))
		res.LastModified = res.Created.Add(time.Duration(r.IntN(1e12)))
		res.Version = fmt.Sprint(res.LastModified.UnixMicro())
	}
	var members []Member
	if rt == Groups {
		for i := range r.IntN(4) {
			m := Member{Value: fmt.Sprintf("m%d", i), Type: []string{"User", "Group", ""}[r.IntN(3)]}
			if r.IntN(2) == 0 {
				m.Display = randString(r)
			}
			members = append(members, m)
		}
	}
	return res, members
}

// TestRawRenderSameAnswer: over many random resources and projections, the raw path writes the
// same JSON as the map path, and the very same bytes unless the map path rewrote a number.
func TestRawRenderSameAnswer(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	raw, excludedRaw, renumbered := 0, 0, 0
	for i := range 4000 {
		rt := Users
		if i%4 == 3 {
			rt = Groups
		}
		res, members := randResource(t, r, rt)
		attributes, excluded := randProjection(r, rt)
		p := newProjection(rt, attributes, excluded)
		if p.plain() || p.wholeExclusions() {
			if _, ok := appendRaw(nil, rt, res, members, renderBase, p.exclude); !ok {
				t.Fatalf("the raw path refused %s (excludedAttributes=%q)", res.Raw, excluded)
			}
			raw++
			if !p.plain() {
				excludedRaw++
			}
		}
		old, got := oldRender(t, rt, res, members, p), newRender(t, rt, res, members, p)
		if !reflect.DeepEqual(decodeJSON(t, old), decodeJSON(t, got)) {
			t.Fatalf("%s attributes=%q excludedAttributes=%q\nraw  %s\nold  %s\nnew  %s", rt.Name, attributes, excluded, res.Raw, old, got)
		}
		// The bytes differ only where the map path rewrote a number of an undeclared extension
		// (1e3 as 1000): when Raw survives a decode and encode unchanged, so does the answer.
		if !bytes.Equal(old, got) {
			if bytes.Equal(reencode(t, res.Raw), res.Raw) {
				t.Fatalf("%s attributes=%q excludedAttributes=%q: same JSON, other bytes\nraw  %s\nold  %s\nnew  %s", rt.Name, attributes, excluded, res.Raw, old, got)
			}
			renumbered++
		}
	}
	t.Logf("%d resources, %d through the raw path (%d with excludedAttributes), %d with a number written otherwise", 4000, raw, excludedRaw, renumbered)
	if excludedRaw == 0 {
		t.Fatal("no excludedAttributes= through the raw path")
	}
	if raw < 1000 {
		t.Fatalf("only %d resources took the raw path", raw)
	}
}

// TestRawRenderOtherLayout: a Raw not written by json.Marshal (indented, keys in another order,
// numbers as sent) still gives the same JSON as the map path.
func TestRawRenderOtherLayout(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 1000 {
		rt := Users
		if i%3 == 2 {
			rt = Groups
		}
		res, members := randResource(t, r, rt)
		var ind bytes.Buffer
		if err := json.Indent(&ind, res.Raw, " ", "\t "); err != nil {
			t.Fatal(err)
		}
		res.Raw = reverseTop(t, ind.Bytes())
		old, got := oldRender(t, rt, res, members, nil), newRender(t, rt, res, members, nil)
		if !reflect.DeepEqual(decodeJSON(t, old), decodeJSON(t, got)) {
			t.Fatalf("raw  %s\nold  %s\nnew  %s", res.Raw, old, got)
		}
	}
}

// reencode is raw decoded into a map and encoded again, as the map path does.
func reencode(t testing.TB, raw []byte) []byte {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// reverseTop writes an object's top-level members in reverse order.
func reverseTop(t testing.TB, raw []byte) []byte {
	mem, ok := topMembers(raw, nil)
	if !ok {
		t.Fatalf("topMembers refused %s", raw)
	}
	out := []byte("\n{ ")
	for i := len(mem) - 1; i >= 0; i-- {
		out = append(out, raw[mem[i].start:mem[i].end]...)
		if i > 0 {
			out = append(out, " ,\n"...)
		}
	}
	return append(out, " }\n"...)
}

// TestRawRenderFallsBack: a Raw the splice cannot write takes the map path, with the same answer.
func TestRawRenderFallsBack(t *testing.T) {
	for _, raw := range []string{
		`{"id":"evil","userName":"a"}`,
		`{"schemas":["x"],"userName":"a"}`,
		`{"meta":{},"userName":"a"}`,
		`{"user\u004eame":"a"}`,
		`{}`,
		` {"userName":"a"} `,
	} {
		res := &Resource{ID: "u1", Raw: json.RawMessage(raw), Created: time.Unix(1e9, 5)}
		old, got := oldRender(t, Users, res, nil, nil), newRender(t, Users, res, nil, nil)
		if !reflect.DeepEqual(decodeJSON(t, old), decodeJSON(t, got)) {
			t.Fatalf("raw %s\nold %s\nnew %s", raw, old, got)
		}
	}
	g := &Resource{ID: "g1", Raw: json.RawMessage(`{"displayName":"G","members":[{"value":"x"}]}`)}
	members := []Member{{Value: "u1", Type: "User"}}
	if old, got := oldRender(t, Groups, g, members, nil), newRender(t, Groups, g, members, nil); !bytes.Equal(old, got) {
		t.Fatalf("old %s\nnew %s", old, got)
	}
}

// FuzzRawRender: for any JSON object as Raw, the raw path writes valid JSON equal to the map
// path's; appendJSONString writes what json.Marshal writes.
func FuzzRawRender(f *testing.F) {
	f.Add([]byte(`{"userName":"a","urn:x:2.0:User":{"k":[1,2,{"z":"<&>"}]}}`), "id-1", "Ann")
	f.Add([]byte(`{"active":false,"emails":[{"value":"a@b"}]}`), "x\u2028", "\xff")
	f.Add([]byte(` { "b" : 1 , "a" : [ ] } `), "", "")
	f.Add([]byte(`{"userName":"a","URN:X:2.0:User":{"k":1},"urn:x:2.0:User":{"k":2}}`), "id", "urn:x:2.0:User:k,userName")
	f.Fuzz(func(t *testing.T, raw []byte, id, display string) {
		if want, _ := json.Marshal(id); !bytes.Equal(appendJSONString(nil, id), want) {
			t.Fatalf("appendJSONString(%q) = %s, json.Marshal %s", id, appendJSONString(nil, id), want)
		}
		var m map[string]any
		if json.Unmarshal(raw, &m) != nil || m == nil {
			if _, ok := topMembers(raw, nil); ok && json.Valid(raw) {
				t.Fatalf("topMembers read a non-object %q", raw)
			}
			return
		}
		for _, rt := range []*ResourceType{Users, Groups} {
			res := &Resource{ID: id, Raw: raw, Created: time.Unix(1e9, 1), LastModified: time.Unix(2e9, 0), Version: display}
			members := []Member{{Value: id, Display: display}, {Value: display, Type: "Group"}}
			old, got := oldRender(t, rt, res, members, nil), newRender(t, rt, res, members, nil)
			if !json.Valid(got) {
				t.Fatalf("raw %q: not JSON: %s", raw, got)
			}
			// Duplicate keys decode to the last one either way; compare decoded values.
			if !reflect.DeepEqual(decodeJSON(t, old), decodeJSON(t, got)) {
				t.Fatalf("raw %q\nold %s\nnew %s", raw, old, got)
			}
			// display also serves as attributes= (the partial decode).
			p := newProjection(rt, display, "")
			if old, got := oldRender(t, rt, res, members, p), newRender(t, rt, res, members, p); !reflect.DeepEqual(decodeJSON(t, old), decodeJSON(t, got)) {
				t.Fatalf("raw %q attributes=%q\nold %s\nnew %s", raw, display, old, got)
			}
			// and as excludedAttributes= (the raw path for whole attributes), unless two keys
			// are equal under case folding (the map path drops one of them at random).
			if !foldedKeys(m) {
				p := newProjection(rt, "", display)
				if old, got := oldRender(t, rt, res, members, p), newRender(t, rt, res, members, p); !reflect.DeepEqual(decodeJSON(t, old), decodeJSON(t, got)) {
					t.Fatalf("raw %q excludedAttributes=%q\nold %s\nnew %s", raw, display, old, got)
				}
			}
		}
	})
}

// foldedKeys reports whether two keys of m are equal under case folding, or one is to a key
// the answer adds.
func foldedKeys(m map[string]any) bool {
	keys := []string{"active", "id", "members", "meta", "schemas"}
	for k := range m {
		for _, o := range keys {
			if strings.EqualFold(k, o) && k != o {
				return true
			}
		}
		keys = append(keys, k)
	}
	return false
}

// TestRawExcludedAttributes: excludedAttributes= of whole attributes takes the raw path with
// the map path's answer: the key named exactly, else the one key equal under case folding;
// a name that folds to two keys (the map path drops either) takes the map path.
func TestRawExcludedAttributes(t *testing.T) {
	res := &Resource{ID: "u1", Raw: []byte(`{"displayName":"Ann","emails":[{"value":"a@x"}],"title":"Dr","userName":"ann","username":"other"}`),
		Created: time.Unix(1e9, 0), LastModified: time.Unix(2e9, 0), Version: "v1"}
	for _, c := range []struct {
		excluded string
		raw      bool
	}{
		{"userName", true}, {"USERNAME,userName", true}, {"emails,title,meta,active", true}, {"id,schemas", true},
		{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", true},
		{"emails.value", false}, {"name.givenName", false}, {"meta.created", false},
	} {
		p := newProjection(Users, "", c.excluded)
		if p.wholeExclusions() != c.raw {
			t.Fatalf("excludedAttributes=%s: raw path %v, want %v", c.excluded, !c.raw, c.raw)
		}
		if old, got := oldRender(t, Users, res, nil, p), newRender(t, Users, res, nil, p); !bytes.Equal(old, got) {
			t.Fatalf("excludedAttributes=%s\nold %s\nnew %s", c.excluded, old, got)
		}
	}
	// userName folds to USERNAME and username, neither exact: the raw path refuses.
	ambiguous := &Resource{ID: "u1", Raw: []byte(`{"USERNAME":"ann","username":"other"}`)}
	if _, ok := appendRaw(nil, Users, ambiguous, nil, renderBase, newProjection(Users, "", "userName").exclude); ok {
		t.Fatal("the raw path dropped one of two keys that fold to userName")
	}
}

// BenchmarkRenderUser: one Okta-shaped User written for a list, through each path.
func BenchmarkRenderUser(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	var res *Resource
	for res == nil || len(res.Raw) < 500 {
		res, _ = randResource(b, r, Users)
	}
	res.Attributes = nil
	rq := &request{base: renderBase}
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 4096)
		for range b.N {
			buf, _ = rq.appendResource(buf[:0], Users, res, nil, nil)
		}
	})
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			oldRender(b, Users, res, nil, nil)
		}
	})
}

// TestSkipString: skipString ends a string where a loop over its bytes (a backslash escapes
// the next byte) does, over short strings of quotes, backslashes and letters.
func TestSkipString(t *testing.T) {
	byLoop := func(b []byte, i int) (int, bool) {
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1, true
			}
		}
		return 0, false
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 200_000 {
		b := make([]byte, 1+r.IntN(12))
		b[0] = '"'
		for k := 1; k < len(b); k++ {
			b[k] = `"\a`[r.IntN(3)]
		}
		wantEnd, wantOK := byLoop(b, 0)
		if end, ok := skipString(b, 0); end != wantEnd || ok != wantOK {
			t.Fatalf("skipString(%q) = %d, %v; want %d, %v", b, end, ok, wantEnd, wantOK)
		}
	}
}
