package api_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/rostertest"
)

// ListPermissions pages like every other list: page_size is honoured, next_page_token and
// prev_page_token walk the pages, total_size counts them all.
func TestListPermissionsPages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		var want []string
		for i := 0; i < 5; i++ {
			name := fmt.Sprintf("reports:p%d", i)
			wantStatus(t, r.REST(t, token, "POST", "/api/v1/permissions", `{"name": "`+name+`"}`), 200)
			want = append(want, name)
		}
		page := func(size int, tok string) (names []string, next, prev string, total float64) {
			t.Helper()
			res := r.REST(t, token, "GET", fmt.Sprintf("/api/v1/permissions?page_size=%d&page_token=%s", size, url.QueryEscape(tok)), "")
			wantStatus(t, res, 200)
			ps, _ := res.Body["permissions"].([]any)
			for _, p := range ps {
				names = append(names, p.(map[string]any)["name"].(string))
			}
			next, _ = res.Body["next_page_token"].(string)
			prev, _ = res.Body["prev_page_token"].(string)
			total, _ = res.Body["total_size"].(float64)
			return
		}
		var got []string
		tok, pages := "", 0
		var prevOfLast string
		for {
			names, next, prev, total := page(2, tok)
			if len(names) > 2 {
				t.Fatalf("page_size 2 answered %d permissions: %v", len(names), names)
			}
			if total != 5 {
				t.Fatalf("total_size %v, want 5", total)
			}
			if (pages == 0) != (prev == "") {
				t.Fatalf("page %d: prev_page_token %q", pages, prev)
			}
			got, pages, prevOfLast = append(got, names...), pages+1, prev
			if next == "" {
				break
			}
			tok = next
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || pages != 3 {
			t.Fatalf("pages: %d, permissions %v, want %v in creation order", pages, got, want)
		}
		if back, _, _, _ := page(2, prevOfLast); fmt.Sprint(back) != fmt.Sprint(want[2:4]) {
			t.Fatalf("prev_page_token of the last page: %v, want %v", back, want[2:4])
		}
		// page_size is 1 to 100 when given (the wire rule).
		for _, size := range []string{"0", "101"} {
			res := r.REST(t, token, "GET", "/api/v1/permissions?page_size="+size, "")
			wantStatus(t, res, 400)
			if f := violationFields(t, res); len(f) != 1 || f[0] != "page_size" {
				t.Fatalf("page_size=%s: %s", size, res.Raw)
			}
		}
		// A token of another list is refused.
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/organizations", `{"display_name": "A"}`), 200)
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/organizations", `{"display_name": "B"}`), 200)
		res := r.REST(t, token, "GET", "/api/v1/organizations?page_size=1", "")
		orgTok, _ := res.Body["next_page_token"].(string)
		wantStatus(t, r.REST(t, token, "GET", "/api/v1/permissions?page_token="+url.QueryEscape(orgTok), ""), 400)
	})
}

// An organization holds at most roster.MaxConnectionsPerOrganization connections and
// roster.MaxDomainsPerOrganization domains: one more is refused with FAILED_PRECONDITION (400)
// naming the limit, and the lists of a full organization answer, in bounded size, instead of
// growing until no client can read them.
func TestConnectionAndDomainCaps(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		orgID := newOrgREST(t, r, token, "Full Corp")
		base := "/api/v1/organizations/" + orgID
		for i := 0; i < roster.MaxDomainsPerOrganization; i++ {
			wantStatus(t, r.REST(t, token, "POST", base+"/domains", fmt.Sprintf(`{"domain": "d%03d.full-corp-with-a-long-domain-name.example.com"}`, i)), 200)
		}
		for i := 0; i < roster.MaxConnectionsPerOrganization; i++ {
			wantStatus(t, r.REST(t, token, "POST", base+"/connections", `{"provider": "OKTA", "type": "OIDC"}`), 200)
		}
		res := r.REST(t, token, "POST", base+"/domains", `{"domain": "one-more.example.com"}`)
		wantStatus(t, res, 400)
		if info := errorInfo(t, res); info["error_code"] != "FAILED_PRECONDITION" || !strings.Contains(res.Raw, fmt.Sprint(roster.MaxDomainsPerOrganization)) {
			t.Fatalf("domain past the cap: %s", res.Raw)
		}
		res = r.REST(t, token, "POST", base+"/connections", `{"provider": "OKTA", "type": "OIDC"}`)
		wantStatus(t, res, 400)
		if !strings.Contains(res.Raw, fmt.Sprint(roster.MaxConnectionsPerOrganization)) {
			t.Fatalf("connection past the cap: %s", res.Raw)
		}
		for _, path := range []string{"/api/v1/connections?organization_id=" + orgID, "/api/v1/connections", base + "/domains"} {
			res = r.REST(t, token, "GET", path, "")
			wantStatus(t, res, 200)
			if len(res.Raw) > 1<<20 {
				t.Fatalf("GET %s answered %d bytes", path, len(res.Raw))
			}
		}
		if n := len(res.Body["domains"].([]any)); n != roster.MaxDomainsPerOrganization {
			t.Fatalf("domains listed: %d", n)
		}
		// ListDomains pages by page_size and page_number, and echoes both.
		res = r.REST(t, token, "GET", base+"/domains?page_size=30&page_number=4", "")
		wantStatus(t, res, 200)
		ds := res.Body["domains"].([]any)
		if len(ds) != 10 || res.Body["page_size"] != float64(30) || res.Body["page_number"] != float64(4) ||
			!strings.HasPrefix(ds[0].(map[string]any)["domain"].(string), "d090.") {
			t.Fatalf("page 4 of 30: %d domains, %v %v", len(ds), res.Body["page_size"], res.Body["page_number"])
		}
		res = r.REST(t, token, "GET", base+"/domains?page_size=30&page_number=5", "")
		wantStatus(t, res, 200)
		if ds, _ := res.Body["domains"].([]any); len(ds) != 0 {
			t.Fatalf("page 5 of 30: %d domains", len(ds))
		}
	})
}
