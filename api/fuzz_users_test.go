package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/store"
)

// FuzzUserREST sends arbitrary bodies and queries to the user REST routes: no panic, no 5xx,
// and a refused request changes nothing. The corpus in testdata/fuzz runs with every go test.
func FuzzUserREST(f *testing.F) {
	for _, seed := range []struct {
		method byte
		body   string
		query  string
	}{
		{'C', seedCreateUserBody, ""},
		{'U', seedPatchZipBody, ""},
		{'C', `{"email": "a@b.co", "membership": {"roles": ["admin", {"name": "member"}]}}`, "send_invitation_email=false"},
		{'C', `{"email": "a@b.co", "user_profile": {"phone_number": "+1", "locale": "zz-ZZZZZZZZZ"}}`, ""},
		{'U', `{"user_profile": {"first_name": 7}}`, ""},
		{'U', `{"user_profile": {"custom_attributes": {"employee_id": "x"}}, "metadata": {"": ""}}`, ""},
		{'M', `{"roles": "admin", "metadata": {"team": "ops"}}`, ""},
		{'L', ``, "page_size=1000&page_token=xyz"},
		{'S', ``, "query=%25_%25"},
		{'C', `{"email": "` + strings.Repeat("a", 300) + `@b.co"}`, ""},
		{'C', `{"email": "a@b.co", "user_profile": {"groups": ["x", "x"]}}`, ""},
	} {
		f.Add(seed.method, seed.body, seed.query)
	}
	r := rostertest.Start(f, "sqlite")
	token := r.Token(f)
	orgID := r.REST(f, token, "POST", "/api/v1/organizations", `{"display_name": "Fuzz"}`).Body["organization"].(map[string]any)["id"].(string)
	r.REST(f, token, "POST", "/api/v1/user-attributes", `{"key": "employee_id", "display_name": "Employee", "type": "integer", "unique": true}`)
	r.REST(f, token, "POST", "/api/v1/user-attributes", `{"key": "zip_code", "display_name": "ZIP"}`)
	target := r.REST(f, token, "POST", "/api/v1/organizations/"+orgID+"/users", `{"email": "target@example.com", "metadata": {"keep": "me"}}`)
	uid := target.Body["user"].(map[string]any)["id"].(string)
	env, err := r.Directory.DefaultEnvironment(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	snapshot := func(t *testing.T) (int, roster.User) {
		page, err := r.Store.ListUsers(context.Background(), env.ID, store.UserQuery{Page: store.PageQuery{Size: 1}})
		if err != nil {
			t.Fatal(err)
		}
		u, err := r.Store.GetUser(context.Background(), env.ID, roster.UserRef{ID: uid})
		if err != nil {
			t.Fatal(err)
		}
		return page.Total, u
	}

	f.Fuzz(func(t *testing.T, method byte, body, query string) {
		var req *http.Request
		switch method % 5 {
		case 0:
			req = httptest.NewRequest("POST", "/api/v1/organizations/"+orgID+"/users", strings.NewReader(body))
		case 1:
			req = httptest.NewRequest("PATCH", "/api/v1/users/"+uid, strings.NewReader(body))
		case 2:
			req = httptest.NewRequest("PATCH", "/api/v1/memberships/organizations/"+orgID+"/users/"+uid, strings.NewReader(body))
		case 3:
			req = httptest.NewRequest("GET", "/api/v1/organizations/"+orgID+"/users", nil)
		case 4:
			req = httptest.NewRequest("GET", "/api/v1/users:search", nil)
		}
		req.URL.RawQuery = query
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		beforeCount, before := snapshot(t)
		rec := httptest.NewRecorder()
		r.Handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q %q: %s", rec.Code, body, query, rec.Body.String())
		}
		if rec.Code == 200 {
			switch method % 5 {
			case 0: // remove what a successful create made
				page, _ := r.Store.ListUsers(context.Background(), env.ID, store.UserQuery{Page: store.PageQuery{Size: 100}})
				for _, u := range page.Items {
					if u.ID != uid {
						_ = r.Store.DeleteUser(context.Background(), env.ID, roster.UserRef{ID: u.ID})
					}
				}
			case 1, 2: // restore the target
				_, err := r.Store.UpdateUser(context.Background(), env.ID, roster.UserRef{ID: uid}, func(u *roster.User, _ store.AttributeDefs) error {
					u.ExternalID, u.Metadata, u.Profile = before.ExternalID, before.Metadata, before.Profile
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			return
		}
		afterCount, after := snapshot(t)
		if afterCount != beforeCount || !after.UpdateTime.Equal(before.UpdateTime) || len(after.Metadata) != len(before.Metadata) ||
			len(after.Profile.CustomAttributes) != len(before.Profile.CustomAttributes) {
			t.Fatalf("refused request (%d) changed stored data: users %d -> %d, %+v -> %+v", rec.Code, beforeCount, afterCount, before, after)
		}
	})
}
