package scimdir_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rosterhq/roster/scim/scimdir"
)

// BenchmarkMountedGetUser: GET /Users/{id} through scimdir.Handler as serve mounts it (token
// check and the request's record included), on SQLite: the cost of recording the directory's
// latest requests (directory.RecordSCIMRequest) shows here A/B.
func BenchmarkMountedGetUser(b *testing.B) {
	f := newFixture(b, "sqlite", "acme.test")
	_, token, err := f.svc.CreateDirectorySecret(ctx, f.env, f.org.ID, f.dir.ID, false)
	if err != nil {
		b.Fatal(err)
	}
	d := scimdir.New(f.svc, f.dir)
	u, err := d.CreateUser(ctx, oktaUser(1))
	if err != nil {
		b.Fatal(err)
	}
	h := scimdir.Handler(f.svc, "https://roster.test", nil)
	req := httptest.NewRequest(http.MethodGet, "/scim/v2/"+f.dir.ID+"/Users/"+u.ID, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body.String())
		}
	}
}
