package scim

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// fuzzBudget is how long one input may take: the filter limits (MaxFilterBytes,
// MaxFilterDepth) exist so that no filter drives the parser for long.
const fuzzBudget = time.Second

func sampleUser(t testing.TB) *Resource {
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(oracleUser))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	attrs, err := normalize(Users, m, bodyMode)
	if err != nil {
		t.Fatal(err)
	}
	attrs["urn:x:custom:2.0:User"] = map[string]any{"tag": "blue", "n": json.Number("3")}
	return &Resource{ID: "u1", Attributes: attrs, Created: time.Unix(1e9, 0), LastModified: time.Unix(2e9, 0)}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`userName eq "bjensen"`, `emails[type eq "work"].value eq "x@y"`, `userName+eq+"a"`,
		`emails[type eq "work" and value co "@x"]`, `not (title pr) or active eq True`,
		`meta.lastModified gt "2011-05-13T04:42:34Z"`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x"`,
		`userName eq "a\u00e9\"b"`, `((userName sw "a") and (name.familyName ew "b"))`, `members[value eq "x"]`,
		`urn:x:custom:2.0:User:tag eq "blue"`, `emails co "x" and id eq "u1"`, `x[`, `]]]`, `"`,
	} {
		f.Add(s)
	}
	u := sampleUser(f)
	f.Fuzz(func(t *testing.T, s string) {
		start := time.Now()
		for _, rt := range []*ResourceType{Users, Groups} {
			flt, err := ParseFilter(rt, s)
			if err != nil {
				if se, ok := err.(*Error); !ok || se.Status != 400 {
					t.Fatalf("%q: error %v is not a 400", s, err)
				}
				continue
			}
			flt.Match(u)
			_ = flt.String()
			if q, _, err := flt.Query(); err == nil {
				q.Match(rt, u)
				_ = q.String()
			}
		}
		if d := time.Since(start); d > fuzzBudget {
			t.Fatalf("%d-byte filter took %s", len(s), d)
		}
	})
}

func FuzzPatch(f *testing.F) {
	for _, s := range []string{
		`{"Operations":[{"op":"replace","value":{"active":false}}]}`,
		`{"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"a@b"}]}`,
		`{"Operations":[{"op":"Remove","path":"members","value":[{"value":"x"}]}]}`,
		`{"Operations":[{"op":"remove","path":"members[value eq \"x\" or value eq \"y\"]"},{"op":"add","path":"members","value":[{"value":"z"}]}]}`,
		`{"Operations":[{"op":"replace","value":{"name.givenName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"1","id":"x"}}]}`,
		`{"Operations":[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m"}]}`,
		`{"Operations":[{"op":"add","path":"urn:x:custom:2.0:User:tag.sub","value":[1,{"a":null}]}]}`,
		`{"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{"department":"x"}}]}`,
		`{"Operations":[{"op":"remove","path":"emails[type eq \"home\"].display"}]}`,
		`{"Operations":[{"op":"replace","path":"name","value":[{"givenName":"q"}]}]}`,
	} {
		f.Add(s)
	}
	u := sampleUser(f)
	g := &Resource{ID: "g1", Attributes: map[string]any{"displayName": "G", "externalId": "e"}}
	f.Fuzz(func(t *testing.T, s string) {
		start := time.Now()
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var body map[string]any
		if dec.Decode(&body) != nil {
			return
		}
		beforeU, _ := json.Marshal(u.Attributes)
		beforeG, _ := json.Marshal(g.Attributes)
		for _, rt := range []*ResourceType{Users, Groups} {
			p, err := ParsePatch(rt, body)
			if err != nil {
				if se, ok := err.(*Error); !ok || se.Status != 400 {
					t.Fatalf("%s: error %v is not a 400", s, err)
				}
				continue
			}
			var out *Resource
			if rt == Users {
				out, err = p.Apply(u)
			} else {
				out, _, err = p.ApplyGroup(g)
			}
			if err != nil {
				if se, ok := err.(*Error); !ok || se.Status != 400 {
					t.Fatalf("%s: error %v is not a 400", s, err)
				}
				continue
			}
			// the result is valid JSON and normalizes to itself (canonical form is stable)
			data, err := json.Marshal(out.Attributes)
			if err != nil {
				t.Fatalf("%s: result does not encode: %v", s, err)
			}
			var back map[string]any
			d2 := json.NewDecoder(strings.NewReader(string(data)))
			d2.UseNumber()
			d2.Decode(&back)
			if _, err := normalize(rt, back, bodyMode); err != nil {
				t.Fatalf("%s: result %s does not normalize: %v", s, data, err)
			}
		}
		// the originals never change
		afterU, _ := json.Marshal(u.Attributes)
		afterG, _ := json.Marshal(g.Attributes)
		if string(afterU) != string(beforeU) || string(afterG) != string(beforeG) {
			t.Fatalf("%s changed the original resource", s)
		}
		if d := time.Since(start); d > fuzzBudget {
			t.Fatalf("PATCH took %s", d)
		}
	})
}

// FuzzNormalize: any JSON body normalizes without panic to a 400 or to a canonical form that
// normalizes to itself.
func FuzzNormalize(f *testing.F) {
	f.Add(oracleUser)
	f.Add(`{"userName":"a","active":"False","manager":"m","emails":{"value":"x"},"name":[{"givenName":"g"}]}`)
	f.Add(`{"displayName":"g","members":[{"value":"x"}],"urn:x:y:2.0:Group":{"a":[1,null,{"b":true}]}}`)
	f.Add(`{"urn:ietf:params:scim:schemas:core:2.0:User":{"userName":"a"},"name.givenName":"x","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"d"}`)
	f.Fuzz(func(t *testing.T, s string) {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var body map[string]any
		if dec.Decode(&body) != nil {
			return
		}
		for _, rt := range []*ResourceType{Users, Groups} {
			for _, mode := range []normalizeMode{bodyMode, patchMode} {
				out, err := normalize(rt, body, mode)
				if err != nil {
					if se, ok := err.(*Error); !ok || se.Status != 400 {
						t.Fatalf("%s: error %v is not a 400", s, err)
					}
					continue
				}
				data, _ := json.Marshal(out)
				var back map[string]any
				d2 := json.NewDecoder(strings.NewReader(string(data)))
				d2.UseNumber()
				d2.Decode(&back)
				again, err := normalize(rt, back, bodyMode)
				if err != nil {
					t.Fatalf("%s: canonical form %s refused: %v", s, data, err)
				}
				if data2, _ := json.Marshal(again); string(data2) != string(data) {
					t.Fatalf("%s: normalizes to %s, then to %s", s, data, data2)
				}
			}
		}
	})
}
