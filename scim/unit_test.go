package scim

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNormalizeCoercion(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"case-insensitive names", `{"USERNAME":"a","Name":{"GIVENNAME":"b"},"EMAILS":[{"VALUE":"x@y","Primary":"true"}]}`,
			`{"userName":"a","name":{"givenName":"b"},"emails":[{"value":"x@y","primary":true}]}`},
		{"booleans as strings", `{"userName":"a","active":"False"}`, `{"userName":"a","active":false}`},
		{"nulls and empties are unassigned", `{"userName":"a","title":null,"roles":[],"name":{},"addresses":null,"emails":[null]}`, `{"userName":"a"}`},
		{"read-only and write-only dropped", `{"userName":"a","id":"x","meta":{"created":"x"},"groups":[{"value":"g"}],"password":"p","schemas":["x"]}`, `{"userName":"a"}`},
		{"unknown plain attributes dropped in bodies", `{"userName":"a","favouriteColour":"red"}`, `{"userName":"a"}`},
		{"manager as a string", `{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"m1"}}`,
			`{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m1"}}}`},
		{"manager as a one-element array, unqualified", `{"userName":"a","manager":[{"value":"m1","displayName":"ignored"}]}`,
			`{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"m1"}}}`},
		{"single value for a multi-valued attribute", `{"userName":"a","emails":{"value":"x@y"}}`, `{"userName":"a","emails":[{"value":"x@y"}]}`},
		{"one primary only", `{"userName":"a","emails":[{"value":"1","primary":true},{"value":"2","primary":true}]}`,
			`{"userName":"a","emails":[{"value":"1","primary":true},{"value":"2","primary":false}]}`},
		{"numbers for strings", `{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":701984}}`,
			`{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984"}}`},
		{"undeclared extension kept raw", `{"userName":"a","urn:acme:2.0:User":{"Tag":[1,{"x":null}]}}`, `{"userName":"a","urn:acme:2.0:User":{"Tag":[1,{"x":null}]}}`},
		{"extension URN in another case", `{"userName":"a","URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER":{"Department":"d"}}`,
			`{"userName":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"d"}}`},
		{"core schema as a container", `{"urn:ietf:params:scim:schemas:core:2.0:User":{"userName":"a"}}`, `{"userName":"a"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := normalize(Users, decode(t, c.in), bodyMode)
			if err != nil {
				t.Fatal(err)
			}
			if want := decode(t, c.want); !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %s\nwant %s", toJSONString(got), toJSONString(want))
			}
		})
	}
}

func TestGroupPatchMemberChange(t *testing.T) {
	g := &Resource{ID: "g", Attributes: map[string]any{"displayName": "G"}}
	for _, c := range []struct {
		name, ops string
		want      MemberChange
		wantName  string
	}{
		{"add", `[{"op":"add","path":"members","value":[{"value":"a"},{"value":"b"}]}]`, MemberChange{Add: []string{"a", "b"}}, "G"},
		{"add twice is one add", `[{"op":"add","path":"members","value":[{"value":"a"},{"value":"a"}]}]`, MemberChange{Add: []string{"a"}}, "G"},
		{"Entra remove with a value array", `[{"op":"Remove","path":"members","value":[{"value":"a"}]}]`, MemberChange{Remove: []string{"a"}}, "G"},
		{"remove by filter, or-ed", `[{"op":"remove","path":"members[value eq \"a\" or value eq \"b\"]"}]`, MemberChange{Remove: []string{"a", "b"}}, "G"},
		{"Okta remove then add", `[{"op":"remove","path":"members[value eq \"a\"]"},{"op":"add","path":"members","value":[{"value":"b","display":"b@x"}]}]`,
			MemberChange{Add: []string{"b"}, Remove: []string{"a"}}, "G"},
		{"add then remove the same", `[{"op":"add","path":"members","value":[{"value":"a"}]},{"op":"remove","path":"members[value eq \"a\"]"}]`,
			MemberChange{Remove: []string{"a"}}, "G"},
		{"replace all", `[{"op":"replace","path":"members","value":[{"value":"a"}]}]`, MemberChange{Replace: true, Add: []string{"a"}}, "G"},
		{"replace then add", `[{"op":"replace","path":"members","value":[{"value":"a"}]},{"op":"add","path":"members","value":[{"value":"b"}]}]`,
			MemberChange{Replace: true, Add: []string{"a", "b"}}, "G"},
		{"remove all", `[{"op":"remove","path":"members"}]`, MemberChange{Replace: true}, "G"},
		{"path-less rename keeps members", `[{"op":"replace","value":{"id":"g","displayName":"New"}}]`, MemberChange{}, "New"},
		{"path-less replace with members", `[{"op":"replace","value":{"displayName":"N2","members":[{"value":"c"}]}}]`, MemberChange{Replace: true, Add: []string{"c"}}, "N2"},
		{"bare id strings", `[{"op":"add","path":"members","value":["a","b"]}]`, MemberChange{Add: []string{"a", "b"}}, "G"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePatch(Groups, decode(t, `{"Operations":`+c.ops+`}`))
			if err != nil {
				t.Fatal(err)
			}
			out, mc, err := p.ApplyGroup(g)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(norm(mc), norm(c.want)) {
				t.Errorf("change %+v, want %+v", mc, c.want)
			}
			if out.DisplayName() != c.wantName {
				t.Errorf("displayName %q, want %q", out.DisplayName(), c.wantName)
			}
			if _, ok := out.Attributes["members"]; ok {
				t.Errorf("members landed in the attributes: %v", out.Attributes)
			}
		})
	}
}

func norm(m MemberChange) MemberChange {
	if len(m.Add) == 0 {
		m.Add = nil
	}
	if len(m.Remove) == 0 {
		m.Remove = nil
	}
	return m
}

func TestFilterQuery(t *testing.T) {
	for _, c := range []struct {
		filter, query string
		exact         bool
	}{
		{`userName eq "A"`, `userName eq "A"`, true},
		{`UserName Eq "A"`, `userName eq "A"`, true},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "a"`, `userName eq "a"`, true},
		{`externalId eq "x" and active eq false`, `(externalId eq "x" and active eq false)`, true},
		{`emails[type eq "work"].value eq "x"`, `emails.value eq "x"`, false},
		{`emails[value eq "x"]`, `emails.value eq "x"`, true},
		{`emails eq "x"`, `emails.value eq "x"`, true},
		{`emails[value sw "a" and value ew "b"]`, `(emails.value sw "a" and emails.value ew "b")`, false},
		{`userName eq "a" or displayName co "b"`, `(userName eq "a" or displayName co "b")`, true},
		{`title eq "x" and userName eq "a"`, `userName eq "a"`, false},
		{`not (id eq "x")`, `not(id eq "x")`, true},
		{`meta.lastModified ge "2026-01-02T03:04:05Z"`, `meta.lastModified ge 2026-01-02T03:04:05Z`, true},
		{`userName pr`, `userName pr`, true},
		{`emails[not (value eq "x")]`, ``, false},
	} {
		f, err := ParseFilter(Users, c.filter)
		if err != nil {
			t.Errorf("%s: %v", c.filter, err)
			continue
		}
		q, exact, err := f.Query()
		if c.query == "" {
			if err == nil {
				t.Errorf("%s: query %v, want invalidFilter", c.filter, q)
			}
			continue
		}
		if err != nil || q.String() != c.query || exact != c.exact {
			t.Errorf("%s: query %v exact %v (%v), want %s exact %v", c.filter, q, exact, err, c.query, c.exact)
		}
	}
	// the Cond form matches what the filter matches
	u := sampleUser(t)
	for _, s := range []string{`userName eq "BJENSEN"`, `emails.value eq "BJ@home.test"`, `externalId pr`, `active eq true`,
		`not (userName sw "x")`, `meta.lastModified gt "2020-01-01T00:00:00Z"`, `id eq "U1"`, `emails.value ne "bj@home.test"`} {
		f, err := ParseFilter(Users, s)
		if err != nil {
			t.Fatal(err)
		}
		q, _, err := f.Query()
		if err != nil {
			t.Fatal(err)
		}
		if f.Match(u) != q.Match(Users, u) {
			t.Errorf("%s: filter %v, query %v", s, f.Match(u), q.Match(Users, u))
		}
	}
}

func TestPatchPaths(t *testing.T) {
	u := sampleUser(t)
	for _, c := range []struct{ name, ops, check string }{
		{"URN path in any case", `[{"op":"replace","path":"URN:ietf:params:scim:schemas:extension:enterprise:2.0:user:DEPARTMENT","value":"X"}]`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.department=X`},
		{"core URN path", `[{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName","value":"Q"}]`, `name.givenName=Q`},
		{"whole extension by path", `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{"division":"D"}}]`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.division=D`},
		{"remove whole extension", `[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User=<nil>`},
		{"undeclared extension attribute", `[{"op":"add","path":"urn:x:custom:2.0:User:color","value":"red"}]`, `urn:x:custom:2.0:User.color=red`},
		{"undeclared extension removed", `[{"op":"remove","path":"urn:x:custom:2.0:User:tag"}]`, `urn:x:custom:2.0:User.tag=<nil>`},
		{"replace with null unassigns", `[{"op":"replace","path":"name.givenName","value":null}]`, `name.givenName=<nil>`},
		{"filter with case-insensitive names", `[{"op":"replace","path":"EMAILS[TYPE eq \"work\"].VALUE","value":"w@w"}]`, `emails.0.value=w@w`},
		{"filtered sub-attribute remove", `[{"op":"remove","path":"emails[type eq \"home\"].type"}]`, `emails.1.type=<nil>`},
		{"Entra address by filter, created", `[{"op":"Replace","path":"addresses[type eq \"work\"].streetAddress","value":"1 Main St"},{"op":"Replace","path":"addresses[type eq \"work\"].locality","value":"Oslo"}]`, `addresses.0.locality=Oslo`},
		{"Entra address: the second operation finds the element the first created", `[{"op":"Replace","path":"addresses[type eq \"work\"].streetAddress","value":"1 Main St"},{"op":"Replace","path":"addresses[type eq \"work\"].locality","value":"Oslo"}]`, `addresses.1=<nil>`},
		{"Entra phone by filter, created", `[{"op":"Add","path":"phoneNumbers[type eq \"mobile\"].value","value":"+47 123"}]`, `phoneNumbers.0.type=mobile`},
		{"Entra role with a string primary", `[{"op":"Add","path":"roles","value":[{"primary":"True","type":"WindowsAzureActiveDirectoryRole","value":"Admin"}]}]`, `roles.0.primary=true`},
		{"a value made primary wins", `[{"op":"replace","path":"emails[type eq \"home\"].primary","value":true}]`, `emails.0.primary=false`},
		{"a value made primary is primary", `[{"op":"replace","path":"emails[type eq \"home\"].primary","value":"True"}]`, `emails.1.primary=true`},
		{"password accepted and discarded", `[{"op":"replace","path":"password","value":"p"}]`, `password=<nil>`},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePatch(Users, decode(t, `{"Operations":`+c.ops+`}`))
			if err != nil {
				t.Fatal(err)
			}
			out, err := p.Apply(u)
			if err != nil {
				t.Fatal(err)
			}
			path, want, _ := strings.Cut(c.check, "=")
			if got := toString(lookup(out.Attributes, path)); got != want {
				t.Fatalf("%s = %s, want %s\n%s", path, got, want, toJSONString(out.Attributes))
			}
		})
	}
}

// lookup reads "a.b.0.c" where a top-level key may be a URN ending in ":User".
func lookup(m map[string]any, path string) any {
	var cur any = m
	if i := strings.Index(path, ":User"); i >= 0 && strings.HasPrefix(path, "urn:") {
		cur = m[path[:i+len(":User")]]
		path = strings.TrimPrefix(path[i+len(":User"):], ".")
		if path == "" {
			return cur
		}
	}
	for _, part := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[part]
		case []any:
			i := int(part[0] - '0')
			if i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

func toString(v any) string {
	if v == nil {
		return "<nil>"
	}
	if s, ok := v.(string); ok {
		return s
	}
	data, _ := json.Marshal(v)
	return string(data)
}

// TestFilterShapeCache: filters of one shape share a parse and keep their own values.
func TestFilterShapeCache(t *testing.T) {
	u := sampleUser(t)
	for _, c := range []struct {
		filter string
		match  bool
	}{
		{`userName eq "bjensen"`, true},
		{`userName eq "other"`, false},
		{`active eq "True"`, true},
		{`active eq "false"`, false},
		{`emails[type eq "work"].value eq "bj@work.test"`, true},
		{`emails[type eq "home"].value eq "bj@work.test"`, false},
		{`emails[type eq "home"].value eq "bj@home.test"`, true},
		{`userName eq "say \"hi\"" or userName eq "bjensen"`, true},
		{`userName eq "bjensen" and name.givenName eq "Barb\u0061ra"`, true},
	} {
		for range 2 { // the second time from the cache
			f, err := ParseFilter(Users, c.filter)
			if err != nil {
				t.Fatalf("%s: %v", c.filter, err)
			}
			if got := f.Match(u); got != c.match {
				t.Errorf("%s: match %v, want %v (%s)", c.filter, got, c.match, f)
			}
		}
	}
}

// TestActiveAbsent: a User without active is active for filters, the query form and answers.
func TestActiveAbsent(t *testing.T) {
	u := &Resource{ID: "x", Attributes: map[string]any{"userName": "a"}}
	for _, s := range []string{`active eq true`, `active pr`, `not (active eq false)`} {
		f, err := ParseFilter(Users, s)
		if err != nil {
			t.Fatal(err)
		}
		q, _, _ := f.Query()
		if !f.Match(u) || !q.Match(Users, u) {
			t.Errorf("%s: filter %v, query %v, want true", s, f.Match(u), q.Match(Users, u))
		}
	}
	if out := renderResource(Users, u, nil, ""); out["active"] != true {
		t.Errorf("answer active = %v", out["active"])
	}
}

// TestProjectionLeavesResourceAlone: attributes= never writes into the resource's own maps.
func TestProjectionLeavesResourceAlone(t *testing.T) {
	u := sampleUser(t)
	before := toJSONString(u.Attributes)
	for _, spec := range [][2]string{
		{"name,name.givenName,emails,emails.value," + EnterpriseUserSchema + "," + EnterpriseUserSchema + ":department", ""},
		{"", "name.givenName,emails.type," + EnterpriseUserSchema + ":department"},
	} {
		p := newProjection(Users, spec[0], spec[1])
		out := p.apply(renderResource(Users, u, nil, ""))
		if len(out) == 0 {
			t.Fatal("empty projection")
		}
	}
	if after := toJSONString(u.Attributes); after != before {
		t.Fatalf("projection changed the resource:\n%s\n%s", before, after)
	}
	out := newProjection(Users, "", "name.givenName,emails.type,"+EnterpriseUserSchema+":department").apply(renderResource(Users, u, nil, ""))
	want := decode(t, `{"name":{"familyName":"Jensen"},"emails":[{"value":"bj@work.test","primary":true},{"value":"bj@home.test"}],
		"ext":{"employeeNumber":"7"}}`)
	if !reflect.DeepEqual(out["name"], want["name"]) || !reflect.DeepEqual(out["emails"], want["emails"]) || !reflect.DeepEqual(out[EnterpriseUserSchema], want["ext"]) {
		t.Errorf("excludedAttributes: %s", toJSONString(out))
	}
}
