package scim_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rosterhq/roster/scim"
	"github.com/rosterhq/roster/scim/scimtest"
)

// The protocol's own cost per request (in-memory Backend, no network): what the SCIM layer
// adds to a store's write.

func benchHandler(b *testing.B) (http.Handler, func(method, path, body string) *httptest.ResponseRecorder) {
	be := scimtest.New()
	be.AddDirectory(testToken)
	h := &scim.Handler{Backend: be, BaseURL: func(*http.Request) string { return "https://roster.test/scim/v2/dir_1" }}
	do := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	return h, do
}

func BenchmarkCreateUser(b *testing.B) {
	_, do := benchHandler(b)
	body := strings.Replace(entraCreate, `"Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@testuser.com"`, `"%d@x.test"`, 1)
	body = strings.Replace(body, `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {`,
		`"urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User": {"tag": "blue"}, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {`, 1)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if w := do("POST", "/Users", fmt.Sprintf(body, i)); w.Code != 201 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}

func BenchmarkPatchUser(b *testing.B) {
	_, do := benchHandler(b)
	w := do("POST", "/Users", entraCreate)
	id := w.Header().Get("Location")[strings.LastIndex(w.Header().Get("Location"), "/")+1:]
	body := patchOps(`{"op":"Replace","path":"emails[type eq \"work\"].value","value":"updated@microsoft.com"},{"op":"Replace","path":"name.familyName","value":"F"},{"op":"Replace","path":"active","value":"False"}`)
	b.ReportAllocs()
	for b.Loop() {
		if w := do("PATCH", "/Users/"+id, body); w.Code != 200 {
			b.Fatal(w.Code, w.Body.String())
		}
	}
}

func BenchmarkParseFilter(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		f, err := scim.ParseFilter(scim.Users, `emails[type eq "work"].value eq "user@contoso.com"`)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := f.Query(); err != nil {
			b.Fatal(err)
		}
	}
}
