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

// FuzzOrganizationREST sends arbitrary JSON bodies and query strings to the organization REST
// routes. Whatever the input: no panic, no 5xx, and a refused request stores nothing.
// The corpus in testdata/fuzz runs as a regression test with every `go test`.
func FuzzOrganizationREST(f *testing.F) {
	for _, seed := range []struct {
		method byte
		body   string
		query  string
	}{
		{'C', `{ "display_name": "Megasoft Inc", "external_id": "CUST-12345-MGSFT",}`, ""},
		{'C', `{ "display_name": "Megasoft Inc", "metadata": { "invoice_email": "invoices@megasoft.com" }}`, ""},
		{'U', `{ "display_name": "Megasoft Inc", "metadata": { "invoice_email": "billing@megasoft.com" }}`, ""},
		{'U', `{"metadata": {"plan": ""}}`, "update_mask=metadata"},
		{'C', `{"display_name": 5}`, ""},
		{'C', `[1,2,3]`, ""},
		{'C', `{"display_name": "x", "region_code": 99}`, ""},
		{'C', `{"display_name": "x", "metadata": {"k": "v"}}`, ""},
		{'U', `{"external_id": "` + strings.Repeat("é", 300) + `"}`, ""},
		{'L', ``, "page_size=abc"},
		{'L', ``, "page_token=AAAA&external_id=x"},
		{'S', ``, "query=%00%ff"},
		{'C', "{\"display_name\": \"\xff\xfe\"}", ""},
		{'C', `{"display_name": "a", "slug": "-bad-"}`, ""},
		{'U', `{"organization": {"display_name": "nested"}}`, "update_mask=display_name,nope"},
	} {
		f.Add(seed.method, seed.body, seed.query)
	}
	r := rostertest.Start(f, "sqlite")
	token := r.Token(f)
	target := r.REST(f, token, "POST", "/api/v1/organizations", `{"display_name": "Fuzz target", "external_id": "fuzz-target", "metadata": {"keep": "me"}}`)
	id := target.Body["organization"].(map[string]any)["id"].(string)
	env, err := r.Directory.DefaultEnvironment(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	snapshot := func(t *testing.T) (int, roster.Organization) {
		page, err := r.Store.ListOrganizations(context.Background(), env.ID, store.OrganizationQuery{Page: store.PageQuery{Size: 1}})
		if err != nil {
			t.Fatal(err)
		}
		o, err := r.Store.GetOrganization(context.Background(), env.ID, roster.OrganizationRef{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		return page.Total, o
	}

	f.Fuzz(func(t *testing.T, method byte, body, query string) {
		var req *http.Request
		switch method % 4 {
		case 0:
			req = httptest.NewRequest("POST", "/api/v1/organizations", strings.NewReader(body))
		case 1:
			req = httptest.NewRequest("PATCH", "/api/v1/organizations/"+id, strings.NewReader(body))
		case 2:
			req = httptest.NewRequest("GET", "/api/v1/organizations", nil)
		case 3:
			req = httptest.NewRequest("GET", "/api/v1/organizations:search", nil)
		}
		req.URL.RawQuery = query
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		beforeCount, beforeOrg := snapshot(t)
		rec := httptest.NewRecorder()
		r.Handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q %q: %s", rec.Code, body, query, rec.Body.String())
		}
		if rec.Code == 200 {
			if method%4 == 0 { // keep the table small: remove what a successful create made
				cleanup(t, r, env.ID, id)
			}
			if method%4 == 1 { // restore the target for the next input
				restore(t, r, env.ID, beforeOrg)
			}
			return
		}
		afterCount, afterOrg := snapshot(t)
		if afterCount != beforeCount {
			t.Fatalf("refused request (%d) changed the number of organizations: %d -> %d", rec.Code, beforeCount, afterCount)
		}
		if afterOrg.DisplayName != beforeOrg.DisplayName || !afterOrg.UpdateTime.Equal(beforeOrg.UpdateTime) || len(afterOrg.Metadata) != len(beforeOrg.Metadata) {
			t.Fatalf("refused request (%d) changed the organization: %+v -> %+v", rec.Code, beforeOrg, afterOrg)
		}
	})
}

// cleanup deletes every organization but the fuzz target.
func cleanup(t *testing.T, r *rostertest.Roster, envID, keep string) {
	page, err := r.Store.ListOrganizations(context.Background(), envID, store.OrganizationQuery{Page: store.PageQuery{Size: 100}})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range page.Items {
		if o.ID != keep {
			if err := r.Store.DeleteOrganization(context.Background(), envID, roster.OrganizationRef{ID: o.ID}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func restore(t *testing.T, r *rostertest.Roster, envID string, o roster.Organization) {
	_, err := r.Store.UpdateOrganization(context.Background(), envID, roster.OrganizationRef{ID: o.ID}, func(x *roster.Organization) error {
		*x = o
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
