package scim_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

func TestPatchErrors(t *testing.T) {
	e := newEnv(t)
	id := e.createUser(entraCreate)
	before := e.must(200, "GET", "/Users/"+id, "").raw
	for _, c := range []struct {
		name, body string
		status     int
		scimType   string
	}{
		{"unknown path", patchOps(`{"op":"replace","path":"favouriteColour","value":"red"}`), 400, "invalidPath"},
		{"unknown sub-attribute", patchOps(`{"op":"replace","path":"name.nickname","value":"x"}`), 400, "invalidPath"},
		{"malformed path", patchOps(`{"op":"replace","path":"emails[type eq","value":"x"}`), 400, "invalidPath"},
		{"three levels", patchOps(`{"op":"replace","path":"name.givenName.x","value":"x"}`), 400, "invalidPath"},
		{"unknown key in a path-less value", patchOps(`{"op":"replace","value":{"favouriteColour":"red"}}`), 400, "invalidPath"},
		{"remove without path", patchOps(`{"op":"remove"}`), 400, "noTarget"},
		{"replace a filtered element that is not there", patchOps(`{"op":"replace","path":"emails[type eq \"home\" or type eq \"other\"].value","value":"x@y"}`), 400, "noTarget"},
		{"not a boolean", patchOps(`{"op":"replace","path":"active","value":"maybe"}`), 400, "invalidValue"},
		{"object for a string", patchOps(`{"op":"replace","path":"title","value":{"a":1}}`), 400, "invalidValue"},
		{"remove a required attribute", patchOps(`{"op":"remove","path":"userName"}`), 400, "invalidValue"},
		{"replace without value", patchOps(`{"op":"replace","path":"title"}`), 400, "invalidValue"},
		{"read-only id", patchOps(`{"op":"replace","path":"id","value":"x"}`), 400, "mutability"},
		{"read-only meta", patchOps(`{"op":"replace","path":"meta.created","value":"2020-01-01T00:00:00Z"}`), 400, "mutability"},
		{"read-only groups", patchOps(`{"op":"add","path":"groups","value":[{"value":"g"}]}`), 400, "mutability"},
		{"unknown op", patchOps(`{"op":"move","path":"title","value":"x"}`), 400, "invalidSyntax"},
		{"no Operations", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}`, 400, "invalidSyntax"},
		{"not JSON", `{"Operations":[`, 400, "invalidSyntax"},
		{"not an object", `[1,2]`, 400, "invalidSyntax"},
		{"two values", `{"Operations":[]} {}`, 400, "invalidSyntax"},
		// atomic: the first operation is fine, the second fails: nothing changes
		{"atomic", patchOps(`{"op":"replace","path":"displayName","value":"Changed"},{"op":"replace","path":"nope","value":1}`), 400, "invalidPath"},
		{"bad value filter", patchOps(`{"op":"remove","path":"emails[typo zz \"x\"]"}`), 400, "invalidPath"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.wantError(e.do("PATCH", "/Users/"+id, c.body), c.status, c.scimType)
		})
	}
	if after := e.must(200, "GET", "/Users/"+id, "").raw; after != before {
		t.Errorf("failed PATCHes changed the user:\n%s\n%s", before, after)
	}
	e.wantError(e.do("PATCH", "/Users/nope", patchOps(`{"op":"replace","path":"title","value":"x"}`)), 404, "")
	// an empty Operations list is a no-op (Entra's validator sends one)
	e.must(200, "PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}`)
}

func TestWriteErrors(t *testing.T) {
	e := newEnv(t)
	id := e.createUser(`{"userName":"a@x.test"}`)
	e.createUser(`{"userName":"b@x.test"}`)
	e.wantError(e.do("POST", "/Users", `{"displayName":"no userName"}`), 400, "invalidValue")
	e.wantError(e.do("POST", "/Users", `{"userName":"  "}`), 400, "invalidValue")
	e.wantError(e.do("POST", "/Users", `{"userName":"c@x.test","active":"yes"}`), 400, "invalidValue")
	e.wantError(e.do("POST", "/Users", `{"userName":"c@x.test","emails":[["nested"]]}`), 400, "invalidValue")
	e.wantError(e.do("POST", "/Users", `{"userName":"c@x.test","name":[{"givenName":"a"},{"givenName":"b"}]}`), 400, "invalidValue")
	e.wantError(e.do("POST", "/Groups", `{"members":[]}`), 400, "invalidValue")
	// renaming onto a taken userName, by PATCH and by PUT
	e.wantError(e.do("PATCH", "/Users/"+id, patchOps(`{"op":"replace","path":"userName","value":"B@X.test"}`)), 409, "uniqueness")
	e.wantError(e.do("PUT", "/Users/"+id, `{"userName":"b@x.test"}`), 409, "uniqueness")
	// an unknown member id
	gid := e.createGroup(`{"displayName":"g"}`)
	e.wantError(e.do("PATCH", "/Groups/"+gid, patchOps(`{"op":"add","path":"members","value":[{"value":"ghost"}]}`)), 400, "invalidValue")
	e.wantError(e.do("POST", "/Groups", `{"displayName":"h","members":[{"value":"ghost"}]}`), 400, "invalidValue")
	e.wantError(e.do("PATCH", "/Groups/"+gid, patchOps(`{"op":"add","path":"members","value":[{"display":"no value"}]}`)), 400, "invalidValue")
	e.wantError(e.do("PATCH", "/Groups/"+gid, patchOps(`{"op":"replace","path":"members[value eq \"x\"].value","value":"y"}`)), 400, "mutability")
	e.wantError(e.do("PATCH", "/Groups/"+gid, patchOps(`{"op":"remove","path":"members[display eq \"x\"]"}`)), 400, "invalidFilter")
	// If-Match
	r := e.must(200, "GET", "/Users/"+id, "")
	tag := r.header.Get("ETag")
	if tag == "" {
		t.Fatal("no ETag")
	}
	e.wantError(e.do("PATCH", "/Users/"+id, patchOps(`{"op":"replace","path":"title","value":"x"}`), "If-Match", `W/"stale"`), 412, "")
	e.must(200, "PATCH", "/Users/"+id, patchOps(`{"op":"replace","path":"title","value":"x"}`), "If-Match", tag)
	if r := e.do("GET", "/Users/"+id, "", "If-None-Match", tag); r.status != 200 {
		t.Errorf("If-None-Match with the old tag: %d", r.status)
	}
}

func TestFilterErrors(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ filter, scimType string }{
		{`userName eq`, "invalidFilter"},
		{`userName zz "a"`, "invalidFilter"},
		{`userName eq "a`, "invalidFilter"},
		{`(userName eq "a"`, "invalidFilter"},
		{`favouriteColour eq "red"`, "invalidFilter"},
		{`title eq "x"`, "invalidFilter"},                    // not indexed
		{`userName eq "a" or title eq "x"`, "invalidFilter"}, // an or with a branch that is not indexed
		{`name eq "x"`, "invalidFilter"},                     // complex without a sub-attribute
		{`active gt true`, "invalidFilter"},
		{`userName co 5`, "invalidFilter"},
		{strings.Repeat("(", 40) + `userName eq "a"` + strings.Repeat(")", 40), "invalidFilter"},
		{`userName eq "` + strings.Repeat("a", 3000) + `"`, "invalidFilter"},
	} {
		e.wantError(e.do("GET", "/Users?filter="+url.QueryEscape(c.filter), ""), 400, c.scimType)
	}
}

func TestBodyLimits(t *testing.T) {
	e := newEnv(t)
	big := `{"userName":"` + strings.Repeat("x", 5<<20) + `"}`
	r := e.do("POST", "/Users", big)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("5 MiB body: %d", r.status)
	}
	deep := `{"userName":"d@x.test","urn:x:y:2.0:User":` + strings.Repeat(`{"a":`, 30) + `1` + strings.Repeat(`}`, 30) + `}`
	e.wantError(e.do("POST", "/Users", deep), 400, "invalidSyntax")
	wide := `{"userName":"w@x.test","urn:x:y:2.0:User":{"a":[` + strings.Repeat(`1,`, 200_000) + `1]}}`
	e.wantError(e.do("POST", "/Users", wide), 400, "invalidSyntax")
}

// TestRaceCreateSameUserName: 8 parallel POSTs of one userName give exactly one 201 and seven 409.
func TestRaceCreateSameUserName(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.do("POST", "/Users", fmt.Sprintf(`{"userName":"Same.Person@x.test","displayName":"%d"}`, i)).status
		}()
	}
	wg.Wait()
	created, conflicts := 0, 0
	for _, s := range statuses {
		switch s {
		case 201:
			created++
		case 409:
			conflicts++
		}
	}
	if created != 1 || conflicts != 7 {
		t.Fatalf("statuses %v: want one 201 and seven 409", statuses)
	}
}

// TestRaceMemberPatches: parallel member PATCHes on one group lose no member.
func TestRaceMemberPatches(t *testing.T) {
	e := newEnv(t)
	gid := e.createGroup(`{"displayName":"big"}`)
	var ids []string
	for i := range 40 {
		ids = append(ids, e.createUser(fmt.Sprintf(`{"userName":"m%d@x.test"}`, i)))
	}
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.must(204, "PATCH", "/Groups/"+gid, patchOps(fmt.Sprintf(`{"op":"Add","path":"members","value":[{"value":"%s"}]}`, id)))
		}()
	}
	wg.Wait()
	if got := e.dir.MemberIDs(gid); !sameSet(got, ids) {
		t.Fatalf("%d members after 40 parallel adds", len(got))
	}
}
