package scimdir_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// The SCIM write rows of the load benchmark (bench/run.sh scim_rows), through the SCIM
// handler and the adapter on a real store, without the network: Entra's "Replace" PATCH
// forms, Okta's PUT of the whole user, and Okta's member add / remove on a group of 20,000.
// cpu-ns/op is the process's CPU per request (client, server and SQLite together); the
// parallel variants run 16 clients, as the load benchmark does.

const (
	entURN  = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	custURN = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
)

// fixedBackend opens one directory whatever the token (the token check is not what these
// benchmarks measure).
type fixedBackend struct{ d scim.Directory }

func (f fixedBackend) Open(context.Context, string) (scim.Directory, error) { return f.d, nil }

type benchSCIM struct {
	h   http.Handler
	d   *scimdir.Directory
	ids []string // the users created, user i named b<i>
}

// newBenchSCIM creates n users (Entra's create body, both extensions) in a fresh directory.
func newBenchSCIM(b *testing.B, backend string, n int) *benchSCIM {
	f := newFixture(b, backend, "acme.test")
	d := scimdir.New(f.svc, f.dir)
	s := &benchSCIM{d: d, h: &scim.Handler{Backend: fixedBackend{d}, BaseURL: func(*http.Request) string { return "https://roster.test/scim/v2/" + f.dir.ID }}}
	s.ids = make([]string, n)
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := range 16 { // 16 writers: the group commit (SQLite) and PostgreSQL batch them
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				r, err := d.CreateUser(ctx, benchUser(i))
				if err != nil {
					failed.Store(err)
					return
				}
				s.ids[i] = r.ID
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	return s
}

func benchUser(i int) map[string]any {
	email := fmt.Sprintf("b%d@acme.test", i)
	return map[string]any{"userName": email, "externalId": fmt.Sprintf("b%d", i), "active": true, "displayName": fmt.Sprintf("Given%d Family%d", i, i),
		"emails": []any{map[string]any{"primary": true, "type": "work", "value": email}},
		"name":   map[string]any{"formatted": fmt.Sprintf("Given%d Family%d", i, i), "givenName": fmt.Sprintf("Given%d", i), "familyName": fmt.Sprintf("Family%d", i)},
		entURN:   map[string]any{"employeeNumber": fmt.Sprint(i), "department": fmt.Sprintf("Department %d", i%20), "costCenter": fmt.Sprintf("CC-%d", i%50)},
		custURN:  map[string]any{"tag": fmt.Sprintf("t%d", i%7)}}
}

func (s *benchSCIM) do(b *testing.B, method, path string, body any, want int) {
	text, err := json.Marshal(body)
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(text))
	req.Header.Set("Authorization", "Bearer x")
	req.Header.Set("Content-Type", "application/scim+json")
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, req)
	if w.Code != want {
		b.Fatalf("%s %s: %d %s", method, path, w.Code, w.Body.String())
	}
}

// patchBody is Entra's "Replace" PATCH form k%3 (bench/internal/scimbody.PatchUser).
func patchBody(k int, newEmail string) map[string]any {
	var ops []any
	switch k % 3 {
	case 0:
		ops = []any{map[string]any{"op": "Replace", "path": `emails[type eq "work"].value`, "value": newEmail},
			map[string]any{"op": "Replace", "path": "name.familyName", "value": fmt.Sprintf("Patched%d", k)}}
	case 1:
		ops = []any{map[string]any{"op": "Replace", "path": entURN + ":department", "value": fmt.Sprintf("Department P%d", k%20)},
			map[string]any{"op": "Replace", "path": "title", "value": fmt.Sprintf("Title P%d", k%30)}}
	default:
		ops = []any{map[string]any{"op": "Replace", "value": map[string]any{"displayName": fmt.Sprintf("Flag%d", k),
			"name.givenName": fmt.Sprintf("Flag%d", k), "name.familyName": fmt.Sprintf("Form%d", k), entURN + ":employeeNumber": fmt.Sprintf("E%d", k)}}}
	}
	return map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": ops}
}

// putBody is Okta's PUT of user i (bench/internal/scimbody.PutUser).
func putBody(id string, i, k int) map[string]any {
	email := fmt.Sprintf("b%d@acme.test", i)
	return map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User", entURN, custURN},
		"id": id, "externalId": fmt.Sprintf("b%d", i), "userName": email, "active": true,
		"emails":      []any{map[string]any{"primary": true, "type": "work", "value": email}},
		"name":        map[string]any{"familyName": fmt.Sprintf("Family%d", i), "givenName": fmt.Sprintf("Put%d", k)},
		"displayName": fmt.Sprintf("Put%d Family%d", k, i), "locale": "en-US", "title": fmt.Sprintf("Title %d", k%30), "groups": []any{},
		entURN:  map[string]any{"employeeNumber": fmt.Sprint(i), "department": fmt.Sprintf("Department %d", k%20), "costCenter": fmt.Sprintf("CC-%d", k%50)},
		custURN: map[string]any{"tag": fmt.Sprintf("p%d", k%7)}}
}

const benchUsers = 1000

// runSCIM runs op(k) b.N times, serially or from 16 goroutines, and reports CPU per op.
func runSCIM(b *testing.B, parallel bool, op func(k int)) {
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cputime.Process()
	if !parallel {
		for k := range b.N {
			op(k)
		}
	} else {
		var next atomic.Int64
		b.SetParallelism(8) // 16 clients on 2 cores
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				op(int(next.Add(1)))
			}
		})
	}
	b.StopTimer()
	cputime.Report(b, cpu0)
}

func BenchmarkPatchUser(b *testing.B) {
	for _, backend := range backends {
		for _, par := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/parallel=%v", backend, par), func(b *testing.B) {
				s := newBenchSCIM(b, backend, benchUsers)
				var seq atomic.Int64
				runSCIM(b, par, func(k int) {
					s.do(b, "PATCH", "/Users/"+s.ids[k%benchUsers], patchBody(k, fmt.Sprintf("p%d@acme.test", seq.Add(1))), http.StatusOK)
				})
			})
		}
	}
}

func BenchmarkPutUser(b *testing.B) {
	for _, backend := range backends {
		for _, par := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/parallel=%v", backend, par), func(b *testing.B) {
				s := newBenchSCIM(b, backend, benchUsers)
				runSCIM(b, par, func(k int) {
					i := k % benchUsers
					s.do(b, "PUT", "/Users/"+s.ids[i], putBody(s.ids[i], i, k), http.StatusOK)
				})
			})
		}
	}
}

// BenchmarkMemberPatch: Okta's member PATCH on a group of 20,000 (one add or one remove of
// a user outside it, 204).
func BenchmarkMemberPatch(b *testing.B) {
	const big = 20000
	for _, backend := range backends {
		b.Run(backend+"/parallel=true", func(b *testing.B) {
			s := newBenchSCIM(b, backend, big+benchUsers)
			g, err := s.d.CreateGroup(ctx, map[string]any{"displayName": "Big"}, s.ids[:big])
			if err != nil {
				b.Fatal(err)
			}
			var mu sync.Mutex
			in := map[int]bool{}
			runSCIM(b, true, func(k int) {
				i := big + k%benchUsers
				mu.Lock()
				add := !in[i]
				in[i] = add
				mu.Unlock()
				body := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": []any{
					map[string]any{"op": "remove", "path": fmt.Sprintf(`members[value eq %q]`, s.ids[i])}}}
				if add {
					body = map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": []any{
						map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": s.ids[i], "display": "x"}}}}}
				}
				s.do(b, "PATCH", "/Groups/"+g.ID, body, http.StatusNoContent)
			})
		})
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

// BenchmarkListUsersPage100Postgres: the same page on PostgreSQL; cpu-ns/op counts roster's
// side only (the database server is another process).
func BenchmarkListUsersPage100Postgres(b *testing.B) {
	benchPageOn(b, "postgres", "/Users?startIndex=101&count=100")
}

// BenchmarkListUsersPage100Projected: the same page with attributes= (the map path).
func BenchmarkListUsersPage100Projected(b *testing.B) {
	benchPage(b, "/Users?startIndex=101&count=100&attributes=userName,emails,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter")
}

// BenchmarkListUsersPage100Excluded: the same page with excludedAttributes= of whole
// attributes (the raw path, their members left out).
func BenchmarkListUsersPage100Excluded(b *testing.B) {
	benchPage(b, "/Users?startIndex=101&count=100&excludedAttributes=phoneNumbers,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
}

// BenchmarkGetUser: GET /Users/{id}.
func BenchmarkGetUser(b *testing.B) {
	benchPage(b, "/Users/{id}")
}

func benchPage(b *testing.B, path string) { benchPageOn(b, "sqlite", path) }

func benchPageOn(b *testing.B, backend, path string) {
	f := newFixture(b, backend, "acme.test")
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
