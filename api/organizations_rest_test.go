package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/rosterhq/roster/internal/rostertest"
)

// forEachBackend runs fn against a fresh server on SQLite and on PostgreSQL.
func forEachBackend(t *testing.T, fn func(t *testing.T, r *rostertest.Roster, token string)) {
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			r := rostertest.Start(t, backend)
			fn(t, r, r.Token(t))
		})
	}
}

func org(res rostertest.Response) map[string]any {
	o, _ := res.Body["organization"].(map[string]any)
	return o
}

func wantStatus(t *testing.T, res rostertest.Response, status int) {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Raw)
	}
}

// errorInfo returns the ErrorInfo detail of a REST error body.
func errorInfo(t *testing.T, res rostertest.Response) map[string]any {
	t.Helper()
	details, _ := res.Body["details"].([]any)
	for _, d := range details {
		m, _ := d.(map[string]any)
		if m["@type"] == "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo" {
			return m
		}
	}
	t.Fatalf("no ErrorInfo detail in %s", res.Raw)
	return nil
}

func violationFields(t *testing.T, res rostertest.Response) []string {
	info := errorInfo(t, res)
	v, _ := info["validation_error_info"].(map[string]any)
	fvs, _ := v["field_violations"].([]any)
	var fields []string
	for _, fv := range fvs {
		fields = append(fields, fv.(map[string]any)["field"].(string))
	}
	return fields
}

// TestSeedExamplesREST sends the curl bodies of organization-identifiers-and-metadata.txt
// verbatim (trailing commas included) and checks the snake_case answers.
func TestSeedExamplesREST(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		// Create a new organization with an external ID.
		res := r.REST(t, token, "POST", "/api/v1/organizations", `{ "display_name": "Megasoft Inc", "external_id": "CUST-12345-MGSFT",}`)
		wantStatus(t, res, 200)
		o := org(res)
		id, _ := o["id"].(string)
		if !strings.HasPrefix(id, "org_") || o["display_name"] != "Megasoft Inc" || o["external_id"] != "CUST-12345-MGSFT" {
			t.Fatalf("create answer: %s", res.Raw)
		}
		if strings.Contains(res.Raw, ", ") || strings.Contains(res.Raw, "\n") {
			t.Fatalf("answer should be compact JSON: %s", res.Raw)
		}
		if m, ok := o["metadata"].(map[string]any); !ok || len(m) != 0 {
			t.Fatalf("metadata should be an empty object: %s", res.Raw)
		}
		for _, key := range []string{"create_time", "update_time"} {
			if _, ok := o[key].(string); !ok {
				t.Fatalf("%s missing (snake_case expected): %s", key, res.Raw)
			}
		}

		// Update an existing organization's external ID.
		res = r.REST(t, token, "PATCH", "/api/v1/organizations/"+id, `{ "display_name": "Megasoft Inc", "external_id": "TENANT-12345-MGSFT",}`)
		wantStatus(t, res, 200)
		if org(res)["external_id"] != "TENANT-12345-MGSFT" {
			t.Fatalf("update answer: %s", res.Raw)
		}
		res = r.REST(t, token, "GET", "/api/v1/organizations:external/TENANT-12345-MGSFT", "")
		wantStatus(t, res, 200)
		if org(res)["id"] != id {
			t.Fatalf("find by new external id: %s", res.Raw)
		}
		wantStatus(t, r.REST(t, token, "GET", "/api/v1/organizations:external/CUST-12345-MGSFT", ""), 404)

		// Create a new organization with metadata, then update it.
		res = r.REST(t, token, "POST", "/api/v1/organizations", `{ "display_name": "Megasoft Inc", "metadata": { "invoice_email": "invoices@megasoft.com" }}`)
		wantStatus(t, res, 200)
		id2 := org(res)["id"].(string)
		if org(res)["metadata"].(map[string]any)["invoice_email"] != "invoices@megasoft.com" {
			t.Fatalf("metadata on create: %s", res.Raw)
		}
		res = r.REST(t, token, "PATCH", "/api/v1/organizations/"+id2, `{ "display_name": "Megasoft Inc", "metadata": { "invoice_email": "billing@megasoft.com" }}`)
		wantStatus(t, res, 200)
		// View: every endpoint that returns the organization includes external ID and metadata.
		res = r.REST(t, token, "GET", "/api/v1/organizations/"+id2, "")
		wantStatus(t, res, 200)
		if org(res)["metadata"].(map[string]any)["invoice_email"] != "billing@megasoft.com" {
			t.Fatalf("metadata after update: %s", res.Raw)
		}

		// Searchable by external_id through list organizations.
		res = r.REST(t, token, "GET", "/api/v1/organizations?external_id=TENANT-12345-MGSFT", "")
		wantStatus(t, res, 200)
		list, _ := res.Body["organizations"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["id"] != id || res.Body["total_size"] != float64(1) {
			t.Fatalf("list by external id: %s", res.Raw)
		}

		// Deleting answers {} and the organization is gone.
		res = r.REST(t, token, "DELETE", "/api/v1/organizations/"+id, "")
		wantStatus(t, res, 200)
		if len(res.Body) != 0 {
			t.Fatalf("delete answer: %s", res.Raw)
		}
		wantStatus(t, r.REST(t, token, "GET", "/api/v1/organizations/"+id, ""), 404)
	})
}

func TestExternalIDRulesREST(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/organizations", `{"display_name": "A", "external_id": "dup"}`), 200)

		res := r.REST(t, token, "POST", "/api/v1/organizations", `{"display_name": "B", "external_id": "dup"}`)
		wantStatus(t, res, http.StatusConflict)
		if res.Body["code"] != float64(6) || errorInfo(t, res)["error_code"] != "ALREADY_EXISTS" {
			t.Fatalf("duplicate: %s", res.Raw)
		}

		// 255 characters is the limit; 256 is refused with the field named.
		ok := strings.Repeat("x", 255)
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/organizations", fmt.Sprintf(`{"display_name": "C", "external_id": %q}`, ok)), 200)
		res = r.REST(t, token, "POST", "/api/v1/organizations", fmt.Sprintf(`{"display_name": "D", "external_id": %q}`, ok+"y"))
		wantStatus(t, res, 400)
		if f := violationFields(t, res); len(f) != 1 || f[0] != "organization.external_id" {
			t.Fatalf("violations %v: %s", f, res.Raw)
		}
		if !strings.Contains(res.Body["message"].(string), "255") {
			t.Fatalf("message should state the limit: %s", res.Raw)
		}

		// Updating onto a taken external ID is refused too.
		res = r.REST(t, token, "POST", "/api/v1/organizations", `{"display_name": "E"}`)
		id := org(res)["id"].(string)
		wantStatus(t, r.REST(t, token, "PATCH", "/api/v1/organizations/"+id, `{"external_id": "dup"}`), http.StatusConflict)
		res = r.REST(t, token, "GET", "/api/v1/organizations/"+id, "")
		if _, has := org(res)["external_id"]; has {
			t.Fatalf("refused update stored an external id: %s", res.Raw)
		}
	})
}

// TestMetadataPatchSemantics pins down docs/metadata.md: fields not sent are unchanged,
// metadata merges, an empty value removes a key, update_mask replaces.
func TestMetadataPatchSemantics(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		res := r.REST(t, token, "POST", "/api/v1/organizations", `{"display_name": "Megasoft", "external_id": "m-1", "metadata": {"invoice_email": "a@megasoft.com", "plan": "gold"}}`)
		wantStatus(t, res, 200)
		id := org(res)["id"].(string)
		path := "/api/v1/organizations/" + id

		res = r.REST(t, token, "PATCH", path, `{"metadata": {"region": "eu-west"}}`)
		wantStatus(t, res, 200)
		o := org(res)
		meta := o["metadata"].(map[string]any)
		if len(meta) != 3 || meta["plan"] != "gold" || meta["region"] != "eu-west" || o["display_name"] != "Megasoft" || o["external_id"] != "m-1" {
			t.Fatalf("merge: %s", res.Raw)
		}

		res = r.REST(t, token, "PATCH", path, `{"metadata": {"plan": ""}}`)
		wantStatus(t, res, 200)
		if meta := org(res)["metadata"].(map[string]any); len(meta) != 2 || meta["plan"] != nil {
			t.Fatalf("removing a key: %s", res.Raw)
		}

		// A patch without metadata keeps it; an empty object keeps it too.
		res = r.REST(t, token, "PATCH", path, `{"display_name": "Megasoft Inc", "metadata": {}}`)
		if meta := org(res)["metadata"].(map[string]any); len(meta) != 2 || org(res)["display_name"] != "Megasoft Inc" {
			t.Fatalf("untouched metadata: %s", res.Raw)
		}

		// update_mask=metadata replaces the whole map.
		res = r.REST(t, token, "PATCH", path+"?update_mask=metadata", `{"metadata": {"only": "this"}}`)
		wantStatus(t, res, 200)
		if meta := org(res)["metadata"].(map[string]any); len(meta) != 1 || meta["only"] != "this" {
			t.Fatalf("replace with update_mask: %s", res.Raw)
		}
		// update_mask naming external_id with no value clears it.
		res = r.REST(t, token, "PATCH", path+"?update_mask=external_id", `{}`)
		wantStatus(t, res, 200)
		if _, has := org(res)["external_id"]; has {
			t.Fatalf("clear external id with update_mask: %s", res.Raw)
		}
		res = r.REST(t, token, "PATCH", path+"?update_mask=id", `{}`)
		wantStatus(t, res, 400)

		// At most 10 pairs after the merge.
		var b strings.Builder
		for i := 0; i < 10; i++ {
			fmt.Fprintf(&b, `"key%02d": "v",`, i)
		}
		res = r.REST(t, token, "PATCH", path, `{"metadata": {`+strings.TrimSuffix(b.String(), ",")+`}}`)
		wantStatus(t, res, 400)
		if f := violationFields(t, res); len(f) != 1 || f[0] != "organization.metadata" {
			t.Fatalf("too many pairs: %s", res.Raw)
		}
		res = r.REST(t, token, "GET", path, "")
		if meta := org(res)["metadata"].(map[string]any); len(meta) != 1 {
			t.Fatalf("refused update changed metadata: %s", res.Raw)
		}
	})
}

func TestValidationNamesFieldsREST(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		cases := []struct {
			body  string
			field string
		}{
			{`{"display_name": ""}`, "organization.display_name"},
			{`{"display_name": "` + strings.Repeat("n", 201) + `"}`, "organization.display_name"},
			{`{"display_name": "A", "metadata": {"ab": "v"}}`, "organization.metadata"},
			{`{"display_name": "A", "metadata": {"abc": ""}}`, "organization.metadata"},
			{`{"display_name": "A", "metadata": {"abc": "` + strings.Repeat("v", 257) + `"}}`, "organization.metadata"},
			{`{"display_name": "A", "slug": "Not A Slug"}`, "organization.slug"},
		}
		for _, c := range cases {
			res := r.REST(t, token, "POST", "/api/v1/organizations", c.body)
			wantStatus(t, res, 400)
			if f := violationFields(t, res); len(f) == 0 || f[0] != c.field {
				t.Errorf("%s: violations %v, want %s", c.body, f, c.field)
			}
		}
		// Wrong JSON types name the field too.
		res := r.REST(t, token, "POST", "/api/v1/organizations", `{"display_name": 5}`)
		wantStatus(t, res, 400)
		if !strings.Contains(res.Body["message"].(string), "display_name") || errorInfo(t, res)["error_code"] != "INVALID_ARGUMENT" {
			t.Fatalf("type error should name the field and carry ErrorInfo: %s", res.Raw)
		}
		// Unknown fields are ignored, both spellings are read.
		res = r.REST(t, token, "POST", "/api/v1/organizations", `{"displayName": "Camel", "externalId": "camel-1", "brand_new_field": true}`)
		wantStatus(t, res, 200)
		if org(res)["external_id"] != "camel-1" {
			t.Fatalf("camelCase input: %s", res.Raw)
		}
		// Nothing was stored by the refused requests.
		res = r.REST(t, token, "GET", "/api/v1/organizations", "")
		if res.Body["total_size"] != float64(1) {
			t.Fatalf("refused requests stored rows: %s", res.Raw)
		}
	})
}

func TestPaginationREST(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		for i := 0; i < 7; i++ {
			wantStatus(t, r.REST(t, token, "POST", "/api/v1/organizations", fmt.Sprintf(`{"display_name": "Org %d"}`, i)), 200)
		}
		seen := map[string]bool{}
		var prev string
		tok := ""
		for pages := 1; ; pages++ {
			res := r.REST(t, token, "GET", "/api/v1/organizations?page_size=3&page_token="+tok, "")
			wantStatus(t, res, 200)
			if res.Body["total_size"] != float64(7) {
				t.Fatalf("total_size: %s", res.Raw)
			}
			for _, o := range res.Body["organizations"].([]any) {
				id := o.(map[string]any)["id"].(string)
				if seen[id] {
					t.Fatalf("%s repeated", id)
				}
				seen[id] = true
			}
			prev = res.Body["prev_page_token"].(string)
			if (pages == 1) != (prev == "") {
				t.Fatalf("page %d prev_page_token %q", pages, prev)
			}
			tok = res.Body["next_page_token"].(string)
			if tok == "" {
				break
			}
		}
		if len(seen) != 7 {
			t.Fatalf("saw %d of 7", len(seen))
		}
		// The last page's prev token leads back to the middle page.
		res := r.REST(t, token, "GET", "/api/v1/organizations?page_size=3&page_token="+prev, "")
		wantStatus(t, res, 200)
		if n := len(res.Body["organizations"].([]any)); n != 3 {
			t.Fatalf("prev page has %d items", n)
		}
		// Tampered tokens and tokens of another query are refused.
		res = r.REST(t, token, "GET", "/api/v1/organizations?page_size=3&page_token="+tamper(prev), "")
		wantStatus(t, res, 400)
		res = r.REST(t, token, "GET", "/api/v1/organizations?external_id=x&page_token="+prev, "")
		wantStatus(t, res, 400)
		if f := violationFields(t, res); len(f) != 1 || f[0] != "page_token" {
			t.Fatalf("page_token violation: %s", res.Raw)
		}
	})
}

// tamper changes one character in the middle of a base64 token, which always changes its bytes
// (the last character of an unpadded token may carry only padding bits, and replacing the tail
// with "AA" left it unchanged one time in 256).
func tamper(token string) string {
	b := []byte(token)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestSearchREST(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		r.REST(t, token, "POST", "/api/v1/organizations", `{"display_name": "Megasoft Inc", "external_id": "CUST-12345-MGSFT"}`)
		r.REST(t, token, "POST", "/api/v1/organizations", `{"display_name": "Acme Corp", "external_id": "CUST-777-ACME"}`)
		res := r.REST(t, token, "GET", "/api/v1/organizations:search?query=megasoft", "")
		wantStatus(t, res, 200)
		if l := res.Body["organizations"].([]any); len(l) != 1 || res.Body["total_size"] != float64(1) {
			t.Fatalf("search by name: %s", res.Raw)
		}
		res = r.REST(t, token, "GET", "/api/v1/organizations:search?query=cust-", "")
		if l := res.Body["organizations"].([]any); len(l) != 2 {
			t.Fatalf("search by external id: %s", res.Raw)
		}
		wantStatus(t, r.REST(t, token, "GET", "/api/v1/organizations:search?query=ab", ""), 400)
		wantStatus(t, r.REST(t, token, "GET", "/api/v1/organizations:search?query=abc&page_size=31", ""), 400)
	})
}

// TestConcurrentCreateSameExternalID: 20 racing creates, exactly one wins, one row exists.
func TestConcurrentCreateSameExternalID(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		const n = 20
		statuses := make(chan int, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				res := r.REST(t, token, "POST", "/api/v1/organizations", fmt.Sprintf(`{"display_name": "Racer %d", "external_id": "RACE-1"}`, i))
				statuses <- res.Status
			}(i)
		}
		close(start)
		wg.Wait()
		close(statuses)
		count := map[int]int{}
		for s := range statuses {
			count[s]++
		}
		if count[200] != 1 || count[409] != n-1 {
			t.Fatalf("statuses %v: want one 200 and %d 409", count, n-1)
		}
		res := r.REST(t, token, "GET", "/api/v1/organizations?external_id=RACE-1", "")
		if res.Body["total_size"] != float64(1) {
			t.Fatalf("rows: %s", res.Raw)
		}
	})
}

func TestUnimplementedSettingsAnswerClearly(t *testing.T) {
	r := rostertest.Start(t, "sqlite")
	token := r.Token(t)
	res := r.REST(t, token, "PUT", "/api/v1/organizations/org_1/portal_links", "")
	wantStatus(t, res, 501)
	if !strings.Contains(res.Body["message"].(string), "not available in Roster yet") {
		t.Fatalf("message: %s", res.Raw)
	}
}
