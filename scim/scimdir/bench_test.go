package scimdir_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/internal/cputime"

	"github.com/rosterhq/roster/scim"
	"github.com/rosterhq/roster/scim/scimdir"
)

// BenchmarkCreateUser: one SCIM POST's storage work through the adapter on SQLite (a new
// Roster user, its membership and the directory user row, one transaction), without HTTP.
func BenchmarkCreateUser(b *testing.B) {
	f := newFixture(b, "sqlite", "acme.test")
	d := scimdir.New(f.svc, f.dir)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := d.CreateUser(ctx, map[string]any{"userName": fmt.Sprintf("u%d@acme.test", i),
			"name": map[string]any{"givenName": "Ann", "familyName": "Lee"}, "active": true,
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{"costCenter": "CC-7"}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAddMember: one member added to and removed from a group of 2,000 (the rows named
// only, with the member's roles recomputed), on SQLite.
func BenchmarkAddMember(b *testing.B) {
	f := newFixture(b, "sqlite", "acme.test")
	d := scimdir.New(f.svc, f.dir)
	var ids []string
	for i := range 2001 {
		r, err := d.CreateUser(ctx, map[string]any{"userName": fmt.Sprintf("m%d@acme.test", i)})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	g, err := d.CreateGroup(ctx, map[string]any{"displayName": "Big"}, ids[:2000])
	if err != nil {
		b.Fatal(err)
	}
	change := func(mc scim.MemberChange) {
		if _, err := d.UpdateGroup(ctx, g.ID, func(c *scim.Resource) (*scim.Resource, scim.MemberChange, error) { return c, mc, nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		change(scim.MemberChange{Add: []string{ids[2000]}})
		change(scim.MemberChange{Remove: []string{ids[2000]}})
	}
}

// openBackend opens one directory whatever the token (the benchmarks measure the page, not
// the token check).
type openBackend struct{ d scim.Directory }

func (b openBackend) Open(context.Context, string) (scim.Directory, error) { return b.d, nil }

// oktaUser is a User as Okta provisions it, with the enterprise extension and a customer's
// own extension (kept as sent).
func oktaUser(i int) map[string]any {
	return map[string]any{
		"userName":     fmt.Sprintf("user%05d@acme.test", i),
		"externalId":   fmt.Sprintf("00u%017d", i),
		"displayName":  fmt.Sprintf("Ann Lee %d", i),
		"name":         map[string]any{"givenName": "Ann", "familyName": fmt.Sprintf("Lee%d", i), "formatted": "Ann Lee"},
		"emails":       []any{map[string]any{"value": fmt.Sprintf("user%05d@acme.test", i), "type": "work", "primary": true}},
		"phoneNumbers": []any{map[string]any{"value": "+1 555 0100", "type": "mobile"}},
		"title":        "Engineer",
		"locale":       "en_US",
		"active":       true,
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{
			"employeeNumber": strconv.Itoa(1000 + i), "costCenter": "CC-7", "department": "R&D",
			"manager": map[string]any{"value": "00u00000000000000001"}},
		"urn:acme:params:scim:schemas:extension:custom:2.0:User": map[string]any{"badge": "B-17", "floor": 3},
	}
}

// BenchmarkListUsersPage100: GET /Users?startIndex=101&count=100 through the SCIM handler on
// SQLite, Okta-shaped users; cpu-ns/op is the whole page's CPU (handler, store, database).
func BenchmarkListUsersPage100(b *testing.B) {
	benchPage(b, "/Users?startIndex=101&count=100")
}

// BenchmarkListUsersPage100Projected: the same page with attributes= (the map path).
func BenchmarkListUsersPage100Projected(b *testing.B) {
	benchPage(b, "/Users?startIndex=101&count=100&attributes=userName,emails,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter")
}

// BenchmarkGetUser: GET /Users/{id}.
func BenchmarkGetUser(b *testing.B) {
	benchPage(b, "/Users/{id}")
}

func benchPage(b *testing.B, path string) {
	f := newFixture(b, "sqlite", "acme.test")
	d := scimdir.New(f.svc, f.dir)
	var first string
	for i := range 300 {
		r, err := d.CreateUser(ctx, oktaUser(i))
		if err != nil {
			b.Fatal(err)
		}
		if first == "" {
			first = r.ID
		}
	}
	path = strings.ReplaceAll(path, "{id}", first)
	h := &scim.Handler{Backend: openBackend{d}, BaseURL: func(*http.Request) string { return "https://roster.test/scim/v2/dir_1" }}
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer x")
	serve := func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
		return w
	}
	b.SetBytes(int64(serve().Body.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	for range b.N {
		serve()
	}
	cputime.Report(b, cpu0)
}

// BenchmarkListUsersPage100HTTP: the page over HTTP through the mounted handler (scimdir.Handler)
// with the directory's token checked, as an IdP reads it; cpu-ns/op counts client and server.
func BenchmarkListUsersPage100HTTP(b *testing.B) {
	f := newFixture(b, "sqlite", "acme.test")
	d := scimdir.New(f.svc, f.dir)
	for i := range 300 {
		if _, err := d.CreateUser(ctx, oktaUser(i)); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := f.svc.SetDirectoryEnabled(ctx, f.env, f.org.ID, f.dir.ID, true); err != nil {
		b.Fatal(err)
	}
	_, token, err := f.svc.CreateDirectorySecret(ctx, f.env, f.org.ID, f.dir.ID, false)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(scimdir.Handler(f.svc, "http://roster.test", nil))
	defer srv.Close()
	url := srv.URL + directory.SCIMPathPrefix + f.dir.ID + "/Users?startIndex=101&count=100"
	get := func() {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || n < 1000 {
			b.Fatalf("%d, %d bytes", res.StatusCode, n)
		}
	}
	get()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	for range b.N {
		get()
	}
	cputime.Report(b, cpu0)
}
