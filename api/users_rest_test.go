package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/rosterhq/roster/internal/rostertest"
)

func user(res rostertest.Response) map[string]any {
	u, _ := res.Body["user"].(map[string]any)
	return u
}

func obj(v any, path ...string) map[string]any {
	m, _ := v.(map[string]any)
	for _, p := range path {
		m, _ = m[p].(map[string]any)
	}
	return m
}

func newOrgREST(t *testing.T, r *rostertest.Roster, token, name string) string {
	t.Helper()
	res := r.REST(t, token, "POST", "/api/v1/organizations", fmt.Sprintf(`{"display_name": %q}`, name))
	wantStatus(t, res, 200)
	return org(res)["id"].(string)
}

func defineAttribute(t *testing.T, r *rostertest.Roster, token, body string) {
	t.Helper()
	wantStatus(t, r.REST(t, token, "POST", "/api/v1/user-attributes", body), 200)
}

// The full create-user curl body of work-with-user-profiles.txt, verbatim ("roles": "admin"
// included), and the PATCH of customize-user-profiles.md.
const seedCreateUserBody = `{ "email": "user@example.com", "external_id": "ext_12345a67b89c", "membership": { "metadata": { "department": "engineering", "location": "nyc-office" }, "roles": "admin" }, "metadata": { "department": "engineering", "location": "nyc-office" }, "user_profile": { "custom_attributes": { "department": "engineering", "security_clearance": "level2" }, "first_name": "John", "last_name": "Doe", "locale": "en-US", "metadata": { "account_status": "active", "signup_source": "mobile_app" }, "name": "John Michael Doe", "phone_number": "+14155552671" }}`

const seedPatchZipBody = `{
  "user_profile": {
    "custom_attributes": {
      "zip_code": "90210"
    }
  }
}`

func TestSeedUserExamplesREST(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		orgID := newOrgREST(t, r, token, "Acme Corp")
		for _, key := range []string{"department", "security_clearance", "zip_code"} {
			defineAttribute(t, r, token, fmt.Sprintf(`{"key": %q, "display_name": %q}`, key, strings.ToUpper(key)))
		}
		res := r.REST(t, token, "POST", "/api/v1/organizations/"+orgID+"/users", seedCreateUserBody)
		wantStatus(t, res, 200)
		u := user(res)
		id, _ := u["id"].(string)
		p := obj(u, "user_profile")
		if !strings.HasPrefix(id, "usr_") || u["email"] != "user@example.com" || u["external_id"] != "ext_12345a67b89c" ||
			obj(u, "metadata")["location"] != "nyc-office" {
			t.Fatalf("user: %s", res.Raw)
		}
		if p["first_name"] != "John" || p["given_name"] != "John" || p["last_name"] != "Doe" || p["family_name"] != "Doe" ||
			p["name"] != "John Michael Doe" || p["locale"] != "en-US" || p["phone_number"] != "+14155552671" ||
			obj(p, "custom_attributes")["security_clearance"] != "level2" || obj(p, "metadata")["signup_source"] != "mobile_app" ||
			!strings.HasPrefix(p["id"].(string), "usp_") {
			t.Fatalf("profile: %s", res.Raw)
		}
		ms := u["memberships"].([]any)
		m := obj(ms[0])
		roles := m["roles"].([]any)
		if len(ms) != 1 || m["organization_id"] != orgID || m["name"] != "Acme Corp" || m["membership_status"] != "PENDING_INVITE" ||
			obj(m, "metadata")["department"] != "engineering" || len(roles) != 1 || obj(roles[0])["name"] != "admin" ||
			!strings.HasPrefix(obj(roles[0])["id"].(string), "role_") || m["provisioning_method"] != "invitation" || m["expires_at"] == nil {
			t.Fatalf("membership: %s", res.Raw)
		}

		// PATCH user_profile.custom_attributes.zip_code: merged, other fields kept.
		res = r.REST(t, token, "PATCH", "/api/v1/users/"+id, seedPatchZipBody)
		wantStatus(t, res, 200)
		ca := obj(user(res), "user_profile", "custom_attributes")
		if ca["zip_code"] != "90210" || ca["department"] != "engineering" || obj(user(res), "user_profile")["name"] != "John Michael Doe" {
			t.Fatalf("patch zip_code: %s", res.Raw)
		}

		// Find, update and delete by external ID.
		res = r.REST(t, token, "GET", "/api/v1/users:external/ext_12345a67b89c", "")
		wantStatus(t, res, 200)
		if user(res)["id"] != id {
			t.Fatalf("get by external id: %s", res.Raw)
		}
		res = r.REST(t, token, "PATCH", "/api/v1/users:external/ext_12345a67b89c", `{"user_profile": {"first_name": "Jane", "last_name": "Smith"}, "metadata": {"department": "Product"}}`)
		wantStatus(t, res, 200)
		p = obj(user(res), "user_profile")
		if p["given_name"] != "Jane" || p["last_name"] != "Smith" || obj(user(res), "metadata")["department"] != "Product" || obj(user(res), "metadata")["location"] != "nyc-office" {
			t.Fatalf("update by external id: %s", res.Raw)
		}
		res = r.REST(t, token, "DELETE", "/api/v1/users:external/ext_12345a67b89c", "")
		wantStatus(t, res, 200)
		wantStatus(t, r.REST(t, token, "GET", "/api/v1/users/"+id, ""), 404)
	})
}

func TestUserValidationREST(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		orgID := newOrgREST(t, r, token, "Acme")
		path := "/api/v1/organizations/" + orgID + "/users"
		for _, c := range []struct {
			body  string
			field string
		}{
			{`{"email": "not-an-email"}`, "user.email"},
			{`{"email": ""}`, "user.email"},
			{`{"email": "a@example.com", "user_profile": {"phone_number": "415-555-2671"}}`, "user.user_profile.phone_number"},
			{`{"email": "a@example.com", "user_profile": {"locale": "english please"}}`, "user.user_profile.locale"},
			{`{"email": "a@example.com", "user_profile": {"custom_attributes": {"undefined_key": "x"}}}`, "user.user_profile.custom_attributes"},
			{`{"email": "a@example.com", "membership": {"roles": "no_such_role"}}`, "membership.roles"},
			{`{"email": "a@example.com", "metadata": {"k": "v"}}`, "user.metadata"},
		} {
			res := r.REST(t, token, "POST", path, c.body)
			wantStatus(t, res, 400)
			if f := violationFields(t, res); len(f) == 0 || f[0] != c.field {
				t.Errorf("%s: violations %v, want %s: %s", c.body, f, c.field, res.Raw)
			}
		}
		res := r.REST(t, token, "POST", path, `{"email": "a@example.com", "user_profile": {"custom_attributes": {"undefined_key": "x"}}}`)
		if !strings.Contains(res.Body["message"].(string), "undefined_key") {
			t.Fatalf("the undefined key should be named: %s", res.Raw)
		}
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/organizations/org_404/users", `{"email": "a@example.com"}`), 404)
		res = r.REST(t, token, "GET", "/api/v1/users", "")
		if res.Body["total_size"] != float64(0) {
			t.Fatalf("refused creates stored users: %s", res.Raw)
		}
	})
}

func TestCustomAttributesREST(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		orgID := newOrgREST(t, r, token, "Acme")
		defineAttribute(t, r, token, `{"key": "employee_id", "display_name": "Employee Number", "type": "integer", "unique": true}`)
		defineAttribute(t, r, token, `{"key": "tier", "display_name": "Tier", "type": "enum", "enum_values": ["gold", "silver"]}`)
		defineAttribute(t, r, token, `{"key": "start_date", "display_name": "Start date", "type": "date"}`)
		defineAttribute(t, r, token, `{"key": "badge", "display_name": "Badge", "pattern": "[A-Z]{2}-[0-9]{4}"}`)
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/user-attributes", `{"key": "employee_id", "display_name": "Again"}`), 409)
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/user-attributes", `{"key": "Bad Key", "display_name": "x"}`), 400)
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/user-attributes", `{"key": "kind", "display_name": "x", "type": "float"}`), 400)

		create := func(email, attrs string) rostertest.Response {
			return r.REST(t, token, "POST", "/api/v1/organizations/"+orgID+"/users?send_invitation_email=false",
				fmt.Sprintf(`{"email": %q, "user_profile": {"custom_attributes": %s}}`, email, attrs))
		}
		res := create("a@example.com", `{"employee_id": "1001", "tier": "gold", "start_date": "2024-02-29", "badge": "AB-1234"}`)
		wantStatus(t, res, 200)
		if obj(user(res), "memberships")["x"] != nil || obj(user(res)["memberships"].([]any)[0])["membership_status"] != "ACTIVE" {
			t.Fatalf("send_invitation_email=false should make the membership ACTIVE: %s", res.Raw)
		}
		for _, c := range []struct{ attrs, key string }{
			{`{"employee_id": "12a"}`, "employee_id"},
			{`{"tier": "bronze"}`, "tier"},
			{`{"start_date": "2023-02-29"}`, "start_date"},
			{`{"badge": "ab-1234"}`, "badge"},
		} {
			res := create("b@example.com", c.attrs)
			wantStatus(t, res, 400)
			if !strings.Contains(res.Body["message"].(string), c.key) {
				t.Errorf("%s: message should name %s: %s", c.attrs, c.key, res.Raw)
			}
		}
		res = create("c@example.com", `{"employee_id": "1001"}`)
		wantStatus(t, res, 409)
		if !strings.Contains(res.Body["message"].(string), "employee_id") {
			t.Fatalf("unique conflict should name the key: %s", res.Raw)
		}

		// A definition change must fit the stored values.
		wantStatus(t, r.REST(t, token, "PATCH", "/api/v1/user-attributes/tier", `{"enum_values": ["platinum"]}`), 400)
		wantStatus(t, r.REST(t, token, "PATCH", "/api/v1/user-attributes/tier", `{"display_name": "Service tier"}`), 200)
		res = r.REST(t, token, "GET", "/api/v1/user-attributes/tier", "")
		if res.Body["attribute"].(map[string]any)["display_name"] != "Service tier" {
			t.Fatalf("get attribute: %s", res.Raw)
		}
		res = r.REST(t, token, "GET", "/api/v1/user-attributes", "")
		if n := len(res.Body["attributes"].([]any)); n != 4 {
			t.Fatalf("list attributes: %d", n)
		}

		// Deleting a definition deletes its stored values (docs/custom-attributes.md).
		wantStatus(t, r.REST(t, token, "DELETE", "/api/v1/user-attributes/tier", ""), 200)
		res = r.REST(t, token, "GET", "/api/v1/users?page_size=10", "")
		ca := obj(res.Body["users"].([]any)[0], "user_profile", "custom_attributes")
		if _, has := ca["tier"]; has || ca["employee_id"] != "1001" {
			t.Fatalf("after deleting the definition: %s", res.Raw)
		}
		wantStatus(t, r.REST(t, token, "GET", "/api/v1/user-attributes/tier", ""), 404)
	})
}

func TestMembershipsREST(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		acme, globex := newOrgREST(t, r, token, "Acme"), newOrgREST(t, r, token, "Globex")
		res := r.REST(t, token, "POST", "/api/v1/organizations/"+acme+"/users?send_invitation_email=false", `{"email": "Mover@Example.com", "external_id": "mover"}`)
		wantStatus(t, res, 200)
		mover := user(res)["id"].(string)
		if r0 := obj(user(res)["memberships"].([]any)[0])["roles"].([]any); len(r0) != 1 || obj(r0[0])["name"] != "member" {
			t.Fatalf("default member role: %s", res.Raw)
		}
		// Email is unique per environment, case-insensitively.
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/organizations/"+globex+"/users", `{"email": "mover@example.COM"}`), 409)

		// Add to a second organization, by external ID, with a role given as a name.
		res = r.REST(t, token, "POST", "/api/v1/memberships/organizations/"+globex+"/users:external/mover", `{"roles": ["admin"], "metadata": {"team": "ops"}}`)
		wantStatus(t, res, 200)
		if ms := user(res)["memberships"].([]any); len(ms) != 2 {
			t.Fatalf("two memberships expected: %s", res.Raw)
		}
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/memberships/organizations/"+globex+"/users/"+mover, `{}`), 409)

		// Update the membership's roles and metadata.
		res = r.REST(t, token, "PATCH", "/api/v1/memberships/organizations/"+globex+"/users/"+mover, `{"roles": [{"name": "member"}], "metadata": {"level": "two"}}`)
		wantStatus(t, res, 200)
		res = r.REST(t, token, "GET", "/api/v1/organizations/"+globex+"/users/"+mover+"/roles", "")
		if roles := res.Body["roles"].([]any); len(roles) != 1 || obj(roles[0])["name"] != "member" {
			t.Fatalf("roles after update: %s", res.Raw)
		}

		// A user only in Acme, and the mover in both: deleting Acme keeps the mover.
		res = r.REST(t, token, "POST", "/api/v1/organizations/"+acme+"/users", `{"email": "only@acme.com"}`)
		only := user(res)["id"].(string)
		wantStatus(t, r.REST(t, token, "DELETE", "/api/v1/organizations/"+acme, ""), 200)
		res = r.REST(t, token, "GET", "/api/v1/users/"+mover, "")
		wantStatus(t, res, 200)
		if ms := user(res)["memberships"].([]any); len(ms) != 1 || obj(ms[0])["organization_id"] != globex {
			t.Fatalf("mover after deleting Acme: %s", res.Raw)
		}
		wantStatus(t, r.REST(t, token, "GET", "/api/v1/users/"+only, ""), 404)

		// Deleting the last membership with cascade=false keeps the user; by default it deletes.
		wantStatus(t, r.REST(t, token, "DELETE", "/api/v1/memberships/organizations/"+globex+"/users/"+mover+"?cascade=false", ""), 200)
		res = r.REST(t, token, "GET", "/api/v1/users/"+mover, "")
		if ms := user(res)["memberships"].([]any); len(ms) != 0 {
			t.Fatalf("user without memberships: %s", res.Raw)
		}
		r.REST(t, token, "POST", "/api/v1/memberships/organizations/"+globex+"/users/"+mover, `{}`)
		wantStatus(t, r.REST(t, token, "DELETE", "/api/v1/memberships/organizations/"+globex+"/users/"+mover, ""), 200)
		wantStatus(t, r.REST(t, token, "GET", "/api/v1/users/"+mover, ""), 404)
	})
}

func TestOrganizationUsersPagesREST(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		acme, other := newOrgREST(t, r, token, "Acme"), newOrgREST(t, r, token, "Other")
		for i := 0; i < 7; i++ {
			wantStatus(t, r.REST(t, token, "POST", "/api/v1/organizations/"+acme+"/users", fmt.Sprintf(`{"email": "u%d@acme.com"}`, i)), 200)
		}
		r.REST(t, token, "POST", "/api/v1/organizations/"+other+"/users", `{"email": "x@other.com"}`)
		seen := map[string]bool{}
		tok := ""
		for {
			res := r.REST(t, token, "GET", "/api/v1/organizations/"+acme+"/users?page_size=3&page_token="+tok, "")
			wantStatus(t, res, 200)
			if res.Body["total_size"] != float64(7) {
				t.Fatalf("total_size: %s", res.Raw)
			}
			for _, u := range res.Body["users"].([]any) {
				id := obj(u)["id"].(string)
				if seen[id] {
					t.Fatalf("%s repeated", id)
				}
				seen[id] = true
			}
			if tok = res.Body["next_page_token"].(string); tok == "" {
				break
			}
		}
		if len(seen) != 7 {
			t.Fatalf("saw %d", len(seen))
		}
		wantStatus(t, r.REST(t, token, "GET", "/api/v1/organizations/"+acme+"/users?page_size=101", ""), 400)
		res := r.REST(t, token, "GET", "/api/v1/users:search?query=ACME.com", "")
		if res.Body["total_size"] != float64(7) {
			t.Fatalf("search users: %s", res.Raw)
		}
		res = r.REST(t, token, "GET", "/api/v1/organizations/"+other+"/users:search?query=other", "")
		if res.Body["total_size"] != float64(1) {
			t.Fatalf("search organization users: %s", res.Raw)
		}
		res = r.REST(t, token, "GET", "/api/v1/users?page_size=100", "")
		if res.Body["total_size"] != float64(8) {
			t.Fatalf("list users: %s", res.Raw)
		}
		// A complete address finds exactly that user; a fragment matches substrings.
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/organizations/"+other+"/users", `{"email": "xu1@acme.com"}`), 200)
		res = r.REST(t, token, "GET", "/api/v1/users:search?query=U1@Acme.com", "")
		if res.Body["total_size"] != float64(1) || obj(res.Body["users"].([]any)[0])["email"] != "u1@acme.com" {
			t.Fatalf("search by complete email: %s", res.Raw)
		}
		res = r.REST(t, token, "GET", "/api/v1/users:search?query=u1@acme", "")
		if res.Body["total_size"] != float64(2) {
			t.Fatalf("search by fragment: %s", res.Raw)
		}
	})
}

func TestRolesAndPermissionsREST(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		acme := newOrgREST(t, r, token, "Acme")
		res := r.REST(t, token, "GET", "/api/v1/roles", "")
		if roles := res.Body["roles"].([]any); len(roles) != 2 {
			t.Fatalf("default roles: %s", res.Raw)
		}
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/permissions", `{"name": "invoices:read", "description": "Read invoices"}`), 200)
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/permissions", `{"name": "invoices:write"}`), 200)
		res = r.REST(t, token, "POST", "/api/v1/roles", `{"name": "billing", "display_name": "Billing", "permissions": ["invoices:read"]}`)
		wantStatus(t, res, 200)
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/roles", `{"name": "billing"}`), 409)
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/roles", `{"name": "nope", "permissions": ["no:such"]}`), 400)
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/roles/billing/permissions", `{"permission_names": ["invoices:write"]}`), 200)
		// An organization role of the same name wins inside its organization.
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/organizations/"+acme+"/roles", `{"name": "auditor", "display_name": "Auditor", "permissions": ["invoices:read"]}`), 200)

		res = r.REST(t, token, "POST", "/api/v1/organizations/"+acme+"/users", `{"email": "b@acme.com", "membership": {"roles": [{"name": "billing"}]}}`)
		wantStatus(t, res, 200)
		uid := user(res)["id"].(string)
		res = r.REST(t, token, "POST", "/api/v1/organizations/"+acme+"/users/"+uid+"/roles", `[{"role_name": "auditor"}]`)
		wantStatus(t, res, 200)
		if roles := res.Body["roles"].([]any); len(roles) != 2 {
			t.Fatalf("assign roles: %s", res.Raw)
		}
		res = r.REST(t, token, "GET", "/api/v1/organizations/"+acme+"/users/"+uid+"/permissions", "")
		perms := res.Body["permissions"].([]any)
		if len(perms) != 2 || obj(perms[0])["name"] != "invoices:read" || obj(perms[1])["name"] != "invoices:write" {
			t.Fatalf("permissions: %s", res.Raw)
		}
		wantStatus(t, r.REST(t, token, "DELETE", "/api/v1/organizations/"+acme+"/users/"+uid+"/roles/auditor", ""), 200)
		// A held role cannot be deleted without a reassignment; with one, holders move.
		wantStatus(t, r.REST(t, token, "DELETE", "/api/v1/roles/billing", ""), 400)
		wantStatus(t, r.REST(t, token, "DELETE", "/api/v1/roles/billing?reassign_role_name=member", ""), 200)
		res = r.REST(t, token, "GET", "/api/v1/organizations/"+acme+"/users/"+uid+"/roles", "")
		if roles := res.Body["roles"].([]any); len(roles) != 1 || obj(roles[0])["name"] != "member" {
			t.Fatalf("after reassignment: %s", res.Raw)
		}
		// The default member role can change, and new memberships get it.
		wantStatus(t, r.REST(t, token, "PATCH", "/api/v1/roles:set_defaults", `{"default_member_role": "admin"}`), 200)
		res = r.REST(t, token, "POST", "/api/v1/organizations/"+acme+"/users", `{"email": "c@acme.com"}`)
		if roles := obj(user(res)["memberships"].([]any)[0])["roles"].([]any); obj(roles[0])["name"] != "admin" {
			t.Fatalf("new default member role: %s", res.Raw)
		}
		wantStatus(t, r.REST(t, token, "DELETE", "/api/v1/roles/admin", ""), 400)
	})
}

// TestConcurrentUserUniqueness: racing creates with one email, one external ID and one value
// of a unique custom attribute; each time exactly one wins.
func TestConcurrentUserUniqueness(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		orgID := newOrgREST(t, r, token, "Acme")
		defineAttribute(t, r, token, `{"key": "employee_id", "display_name": "Employee", "unique": true}`)
		for name, body := range map[string]func(i int) string{
			"email":       func(i int) string { return `{"email": "same@example.com"}` },
			"external_id": func(i int) string { return fmt.Sprintf(`{"email": "x%d@example.com", "external_id": "same-ext"}`, i) },
			"unique attribute": func(i int) string {
				return fmt.Sprintf(`{"email": "y%d@example.com", "user_profile": {"custom_attributes": {"employee_id": "E-1"}}}`, i)
			},
		} {
			const n = 12
			statuses := make(chan int, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					<-start
					statuses <- r.REST(t, token, "POST", "/api/v1/organizations/"+orgID+"/users", body(i)).Status
				}(i)
			}
			close(start)
			wg.Wait()
			close(statuses)
			count := map[int]int{}
			for s := range statuses {
				count[s]++
			}
			if count[http.StatusOK] != 1 || count[http.StatusConflict] != n-1 {
				t.Errorf("%s: statuses %v, want one 200 and %d 409", name, count, n-1)
			}
		}
		res := r.REST(t, token, "GET", "/api/v1/users?page_size=100", "")
		if res.Body["total_size"] != float64(3) {
			t.Fatalf("users stored: %s", res.Raw)
		}
	})
}
