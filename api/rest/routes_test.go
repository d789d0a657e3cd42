package rest

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
)

func get(path string) *annotations.HttpRule {
	return &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: path}}
}

func post(path string) *annotations.HttpRule {
	return &annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: path}, Body: "*"}
}

// testRouter registers synthetic rules without any protobuf binding.
func testRouter(t *testing.T, rules ...*annotations.HttpRule) *Transcoder {
	t.Helper()
	tr := newTranscoder(nil)
	for _, r := range rules {
		if err := tr.addRule(r, nil); err != nil {
			t.Fatalf("addRule(%v): %v", r, err)
		}
	}
	return tr
}

func TestRouteMatching(t *testing.T) {
	withExtra := get("/v1/shelves/{shelf}")
	withExtra.AdditionalBindings = []*annotations.HttpRule{
		{Pattern: &annotations.HttpRule_Custom{Custom: &annotations.CustomHttpPattern{Kind: "search", Path: "/v1/shelves/{shelf}"}}},
	}
	tr := testRouter(t,
		get("/v1/connections/{id}"),
		post("/v1/connections/{id}:enable"),
		post("/v1/connections/{id}:disable"),
		get("/v1/users/-/sessions"),
		get("/v1/users/{user_id}/sessions"),
		get("/v1/files/{name=**}"),
		post("/v1/{name=shelves/*/books/**}:undelete"),
		get("/v1/organizations:search"),
		get("/v1/organizations/{id}"),
		get("/v1/organizations:external/{external_id}"),
		get("/v1/memberships/organizations/{organization_id}/users:external/{external_id}"),
		get("/v1/a/{x}/c"),
		get("/v1/a/b/{y}"),
		get("/v1/p/lit/only"),
		get("/v1/p/{x}/other"),
		get("/v1/nested/{parent.id}/{parent.child.name=items/*}"),
		withExtra,
	)

	tests := []struct {
		method, path string
		want         string            // template; "" for no match
		caps         map[string]string // captured variables
		allowed      []string          // methods that would match instead
	}{
		{"GET", "/v1/connections/c1", "/v1/connections/{id}", map[string]string{"id": "c1"}, nil},
		{"POST", "/v1/connections/c1:enable", "/v1/connections/{id}:enable", map[string]string{"id": "c1"}, nil},
		{"POST", "/v1/connections/c1:disable", "/v1/connections/{id}:disable", map[string]string{"id": "c1"}, nil},
		{"POST", "/v1/connections/a:b:enable", "/v1/connections/{id}:enable", map[string]string{"id": "a:b"}, nil},
		// A verb route needs a non-empty value before the verb; GET has no verb and takes it all.
		{"POST", "/v1/connections/:enable", "", nil, []string{"GET"}},
		{"GET", "/v1/connections/c1:enable", "/v1/connections/{id}", map[string]string{"id": "c1:enable"}, nil},
		{"POST", "/v1/connections/c1:other", "", nil, []string{"GET"}},
		{"POST", "/v1/connections/c1", "", nil, []string{"GET"}},

		{"GET", "/v1/users/-/sessions", "/v1/users/-/sessions", map[string]string{}, nil},
		{"GET", "/v1/users/u1/sessions", "/v1/users/{user_id}/sessions", map[string]string{"user_id": "u1"}, nil},

		{"GET", "/v1/files/a", "/v1/files/{name=**}", map[string]string{"name": "a"}, nil},
		{"GET", "/v1/files/a/b%2Fc/d%20e", "/v1/files/{name=**}", map[string]string{"name": "a/b/c/d e"}, nil},
		{"GET", "/v1/files", "/v1/files/{name=**}", map[string]string{"name": ""}, nil},
		{"POST", "/v1/shelves/s1/books/b1/p2:undelete", "/v1/{name=shelves/*/books/**}:undelete", map[string]string{"name": "shelves/s1/books/b1/p2"}, nil},
		{"POST", "/v1/shelves/s1/books/b1", "", nil, nil},

		// Colons inside literal segments are literal; they never reach {id}.
		{"GET", "/v1/organizations:search", "/v1/organizations:search", map[string]string{}, nil},
		{"GET", "/v1/organizations/org_1", "/v1/organizations/{id}", map[string]string{"id": "org_1"}, nil},
		{"GET", "/v1/organizations:external/a%2Fb%20c", "/v1/organizations:external/{external_id}", map[string]string{"external_id": "a/b c"}, nil},
		{"GET", "/v1/organizations:other/x", "", nil, nil},
		{"GET", "/v1/memberships/organizations/o1/users:external/e%3A1",
			"/v1/memberships/organizations/{organization_id}/users:external/{external_id}",
			map[string]string{"organization_id": "o1", "external_id": "e:1"}, nil},

		// Literal beats variable at the first place they differ, with backtracking.
		{"GET", "/v1/a/b/c", "/v1/a/b/{y}", map[string]string{"y": "c"}, nil},
		{"GET", "/v1/a/z/c", "/v1/a/{x}/c", map[string]string{"x": "z"}, nil},
		{"GET", "/v1/p/lit/only", "/v1/p/lit/only", map[string]string{}, nil},
		{"GET", "/v1/p/lit/other", "/v1/p/{x}/other", map[string]string{"x": "lit"}, nil},

		{"GET", "/v1/nested/p1/items/i1", "/v1/nested/{parent.id}/{parent.child.name=items/*}",
			map[string]string{"parent.id": "p1", "parent.child.name": "items/i1"}, nil},
		{"GET", "/v1/nested/p1/other/i1", "", nil, nil},

		{"GET", "/v1/shelves/s1", "/v1/shelves/{shelf}", map[string]string{"shelf": "s1"}, nil},
		{"SEARCH", "/v1/shelves/s1", "/v1/shelves/{shelf}", map[string]string{"shelf": "s1"}, nil},

		// Empty segments match no variable.
		{"GET", "/v1/organizations/", "", nil, nil},
		{"GET", "/v1/connections//x", "", nil, nil},
		{"GET", "/", "", nil, nil},
		{"GET", "", "", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rt, l := tr.router.match(tc.method, splitPath(tc.path))
			got := ""
			if rt != nil {
				got = rt.template
			}
			if got != tc.want {
				t.Fatalf("matched %q, want %q", got, tc.want)
			}
			if rt == nil {
				slices.Sort(l.allowed)
				if !slices.Equal(slices.Compact(l.allowed), tc.allowed) {
					t.Errorf("allowed = %v, want %v", l.allowed, tc.allowed)
				}
				return
			}
			vals, err := rt.captures(splitPath(tc.path))
			if err != nil {
				t.Fatal(err)
			}
			caps := map[string]string{}
			for i, v := range rt.vars {
				caps[v.fieldPath] = vals[i]
			}
			if !maps.Equal(caps, tc.caps) {
				t.Errorf("captures = %v, want %v", caps, tc.caps)
			}
		})
	}
}

func TestParseTemplateErrors(t *testing.T) {
	bad := []string{
		"",
		"v1/x",
		"/",
		"/v1//x",
		"/v1/x/",
		"/v1/{a=**}/b",
		"/v1/**/b",
		"/v1/{a}/{a}",
		"/v1/{a",
		"/v1/{a.}",
		"/v1/{1a}",
		"/v1/{a={b}}",
		"/v1/{a}:verb/x",
		"/v1/{a}:",
		"/v1/{a}x",
		"/v1/*:v/x",
		"/v1/x=y",
	}
	for _, tmpl := range bad {
		if rt, err := parseTemplate("GET", tmpl); err == nil {
			t.Errorf("parseTemplate(%q) = %+v, want error", tmpl, rt)
		}
	}
	good := map[string]string{ // template -> verb
		"/v1/x":                    "",
		"/v1/x:y/z":                "",
		"/v1/*":                    "",
		"/v1/*:go":                 "go",
		"/v1/**:go":                "go",
		"/v1/{a=x/*}:go":           "go",
		"/v1/{a.b_c}/-":            "",
		"/v1/organizations:search": "",
	}
	for tmpl, verb := range good {
		rt, err := parseTemplate("GET", tmpl)
		if err != nil {
			t.Errorf("parseTemplate(%q): %v", tmpl, err)
			continue
		}
		if rt.verb != verb {
			t.Errorf("parseTemplate(%q).verb = %q, want %q", tmpl, rt.verb, verb)
		}
	}
}

func TestDuplicateRoute(t *testing.T) {
	tr := newTranscoder(nil)
	if err := tr.addRule(get("/v1/x/{id}"), nil); err != nil {
		t.Fatal(err)
	}
	err := tr.addRule(get("/v1/x/{other}"), nil)
	if err == nil || !strings.Contains(err.Error(), "conflicts") {
		t.Fatalf("duplicate route error = %v", err)
	}
	if err := tr.addRule(post("/v1/x/{id}"), nil); err != nil {
		t.Fatalf("same path, other method: %v", err)
	}
	nested := get("/v1/y")
	nested.AdditionalBindings = []*annotations.HttpRule{{
		Pattern:            &annotations.HttpRule_Get{Get: "/v1/z"},
		AdditionalBindings: []*annotations.HttpRule{get("/v1/w")},
	}}
	if err := tr.addRule(nested, nil); err == nil {
		t.Fatal("nested additional_bindings accepted")
	}
	if err := tr.addRule(&annotations.HttpRule{}, nil); err == nil {
		t.Fatal("rule without pattern accepted")
	}
}
