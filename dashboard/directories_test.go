package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/scim/scimdir"
	"github.com/rosterhq/roster/store"
)

// scimCall sends one SCIM request to the server's SCIM handler (scimdir.Handler, as serve
// mounts it) with a bearer token; it returns the status and the decoded body.
func scimCall(t *testing.T, c *console, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	h := scimdir.Handler(c.dir, c.srv.URL, nil)
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

var newToken = regexp.MustCompile(`<code id="new-token">([^<]+)</code>`)

// The SCIM directory screens: Add Directory from the organization's page, the
// endpoint URL, the token generated and regenerated (shown once; the old one refused by the
// SCIM endpoint at once), enable/disable, the attribute mapping with the API's message beside
// the field, a group's role, the provisioned users and groups paged, and CSRF refusals that
// write nothing.
func TestDirectoryScreens(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *console) {
		ctx := context.Background()
		b := c.browser(t)
		b.signIn()
		o, err := c.dir.CreateOrganization(ctx, c.env, roster.NewOrganization{DisplayName: "Acme"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.dir.CreateDomain(ctx, c.env, roster.OrganizationRef{ID: o.ID}, "acme.example", roster.DomainOrganization); err != nil {
			t.Fatal(err)
		}
		orgPath := "/dashboard/organizations/" + o.ID
		tok := b.csrf(orgPath)

		// Add Directory (OKTA); the same provider again: the API's refusal beside the field.
		res := b.post(orgPath+"/directories", url.Values{"csrf": {tok}, "provider": {"OKTA"}})
		if res.status != 303 || !strings.HasPrefix(res.header.Get("Location"), orgPath+"/directories/dir_") {
			t.Fatalf("add directory: %d %q\n%s", res.status, res.header.Get("Location"), res.body)
		}
		dirPath := strings.TrimSuffix(res.header.Get("Location"), "?done=created")
		dirID := strings.TrimPrefix(dirPath, orgPath+"/directories/")
		_, apiErr := c.dir.CreateDirectory(ctx, c.env, o.ID, roster.DirectorySCIM, "OKTA")
		res = b.post(orgPath+"/directories", url.Values{"csrf": {tok}, "provider": {"OKTA"}})
		wantStatus(t, "a second OKTA directory", res, restStatus(t, apiErr))
		wantBody(t, "a second OKTA directory", res, `<span id="provider-error"><span class="field-error">`)
		wantBody(t, "a second OKTA directory", res, template(roster.ErrorMessage(apiErr)))
		if l, _ := c.dir.ListDirectories(ctx, c.env, o.ID); len(l) != 1 {
			t.Fatalf("%d directories, want 1", len(l))
		}
		// The organization's page links the directory.
		wantBody(t, "the organization's page", b.get(orgPath), `<a href="`+dirPath+`"><code>`+dirID+`</code></a>`)

		// The directory's page: endpoint as the API computes it, no token yet.
		res = b.get(dirPath)
		wantStatus(t, "the directory", res, 200)
		wantBody(t, "the directory", res, `<code id="endpoint">`+directory.SCIMEndpoint(c.srv.URL, dirID)+`</code>`,
			`id="token-none"`, `<dd id="dir-enabled">yes</dd>`, `id="users-empty"`, `id="groups-empty"`, `id="role-assignments-empty"`, "Okta SCIM directory")

		// Generate: the token is in this answer only.
		res = b.post(dirPath+"/secret", url.Values{"csrf": {tok}})
		wantStatus(t, "generate", res, 200)
		m := newToken.FindStringSubmatch(res.body)
		if m == nil {
			t.Fatalf("no new token shown:\n%s", res.body)
		}
		first := m[1]
		if st, _ := scimCall(t, c, "GET", "/scim/v2/"+dirID+"/Users", first, ""); st != 200 {
			t.Fatalf("SCIM with the new token: %d", st)
		}
		res = b.get(dirPath)
		if strings.Contains(res.body, first) || strings.Contains(res.body, `id="new-token"`) {
			t.Fatal("the token is shown again on a reload")
		}
		wantBody(t, "after generate", res, `id="token-current"`, `<code>…`+first[len(first)-4:]+`</code>`)
		// Generate again without regenerate: the API's ALREADY_EXISTS, nothing changes.
		res = b.post(dirPath+"/secret", url.Values{"csrf": {tok}})
		if res.status == 200 || strings.Contains(res.body, `id="new-token"`) {
			t.Fatalf("a second generate: %d", res.status)
		}

		// Regenerate: the old token is refused by the SCIM endpoint at once, the new one works.
		res = b.post(dirPath+"/secret", url.Values{"csrf": {tok}, "regenerate": {"1"}})
		wantStatus(t, "regenerate", res, 200)
		wantBody(t, "regenerate", res, "the previous one no longer works")
		second := newToken.FindStringSubmatch(res.body)[1]
		if second == first {
			t.Fatal("regenerate kept the token")
		}
		if st, _ := scimCall(t, c, "GET", "/scim/v2/"+dirID+"/Users", first, ""); st != 401 {
			t.Fatalf("SCIM with the old token: %d, want 401", st)
		}
		if _, err := c.dir.AuthenticateDirectory(ctx, dirID, first); roster.ErrorCode(err) != roster.EUnauthenticated {
			t.Fatalf("the old token: %v", err)
		}
		if st, _ := scimCall(t, c, "GET", "/scim/v2/"+dirID+"/Users", second, ""); st != 200 {
			t.Fatalf("SCIM with the new token: %d", st)
		}
		if strings.Contains(b.get(dirPath).body, second) {
			t.Fatal("the regenerated token is shown again on a reload")
		}

		// CSRF: no token, a forged one: refused, nothing written (the token still works,
		// the mapping and enabled state unchanged).
		for _, f := range []url.Values{{"regenerate": {"1"}}, {"csrf": {"forged"}, "regenerate": {"1"}}} {
			wantStatus(t, "regenerate without CSRF", b.post(dirPath+"/secret", f), 403)
		}
		wantStatus(t, "mapping without CSRF", b.post(dirPath+"/mapping", url.Values{"key": {"title"}, "map_to": {"title"}}), 403)
		wantStatus(t, "disable without CSRF", b.post(dirPath+"/enabled", url.Values{"enabled": {"0"}}), 403)
		wantStatus(t, "add directory without CSRF", b.post(orgPath+"/directories", url.Values{"provider": {"GOOGLE"}}), 403)
		if st, _ := scimCall(t, c, "GET", "/scim/v2/"+dirID+"/Users", second, ""); st != 200 {
			t.Fatalf("the token after refused POSTs: %d", st)
		}
		if d, _ := c.dir.GetDirectory(ctx, c.env, o.ID, dirID); !d.Enabled || len(d.Mappings) != 0 || len(d.Secrets) != 1 {
			t.Fatalf("refused POSTs wrote: %+v", d)
		}
		if l, _ := c.dir.ListDirectories(ctx, c.env, o.ID); len(l) != 1 {
			t.Fatalf("a refused add wrote: %d directories", len(l))
		}

		// Attribute mapping: a custom key that is not defined is refused with the API's message
		// beside that row's key, what was typed kept.
		res = b.post(dirPath+"/mapping", url.Values{"csrf": {tok}, "key": {"locale", "no_such_attr", ""}, "map_to": {"locale", "urn:x:y", ""}})
		wantStatus(t, "an unknown key", res, 400)
		_, apiErr = c.dir.UpdateDirectoryAttributes(ctx, c.env, o.ID, dirID, []roster.DirectoryMapping{{Key: "locale", MapTo: "locale"}, {Key: "no_such_attr", MapTo: "urn:x:y"}})
		_, desc := violation(t, apiErr)
		wantBody(t, "an unknown key", res, fieldError("key-1", desc), `value="no_such_attr"`, `value="urn:x:y"`)
		res = b.post(dirPath+"/mapping", url.Values{"csrf": {tok}, "key": {"locale", "", "given_name"}, "map_to": {"locale", "", "name.givenName"}})
		wantRedirect(t, "a mapping", res, dirPath+"?done=mapping")
		if d, _ := c.dir.GetDirectory(ctx, c.env, o.ID, dirID); len(d.Mappings) != 2 || d.Mappings[1] != (roster.DirectoryMapping{Key: "given_name", MapTo: "name.givenName"}) {
			t.Fatalf("mapping: %+v", d.Mappings)
		}
		wantBody(t, "the mapping", b.get(dirPath), `id="key-1" name="key" maxlength="32" value="given_name"`, `value="name.givenName"`)

		// Provision 35 users and a group through SCIM: two pages of users.
		var ids []string
		for i := range 35 {
			st, out := scimCall(t, c, "POST", "/scim/v2/"+dirID+"/Users", second, fmt.Sprintf(
				`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u%02d@acme.example","name":{"givenName":"User","familyName":"N%02d"},"emails":[{"value":"u%02d@acme.example","primary":true}],"active":true}`, i, i, i))
			if st != 201 {
				t.Fatalf("SCIM create user: %d %v", st, out)
			}
			ids = append(ids, out["id"].(string))
		}
		st, out := scimCall(t, c, "POST", "/scim/v2/"+dirID+"/Groups", second,
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Engineering","members":[{"value":"`+ids[0]+`"}]}`)
		if st != 201 {
			t.Fatalf("SCIM create group: %d %v", st, out)
		}
		groupID := out["id"].(string)
		res = b.get(dirPath)
		wantBody(t, "provisioned", res, `id="users-total">(35)`, `id="groups-total">(1)`, "u00@acme.example", "u29@acme.example",
			"<td>Engineering</td>", `<dd id="dir-status">COMPLETED</dd>`)
		if strings.Contains(res.body, "u30@acme.example") {
			t.Fatal("the first page has more than 30 users")
		}
		next := regexp.MustCompile(`href="([^"]+)" id="users-next"`).FindStringSubmatch(res.body)
		if next == nil {
			t.Fatal("no next page of users")
		}
		res = b.get(strings.ReplaceAll(next[1], "&amp;", "&"))
		wantStatus(t, "users page 2", res, 200)
		wantBody(t, "users page 2", res, "u30@acme.example", "u34@acme.example", `id="users-prev"`)

		// A group's role without the CSRF token: refused, nothing assigned.
		wantStatus(t, "a group role without CSRF", b.post(dirPath+"/roles", url.Values{"group_id": {groupID}, "role_name": {"admin"}}), 403)
		if d, _ := c.dir.GetDirectory(ctx, c.env, o.ID, dirID); len(d.RoleAssignments) != 0 {
			t.Fatalf("a refused role POST wrote: %+v", d.RoleAssignments)
		}
		// A group's role: set, then the members' roles follow; an unknown role is refused.
		wantRedirect(t, "a group role", b.post(dirPath+"/roles", url.Values{"csrf": {tok}, "group_id": {groupID}, "role_name": {"admin"}}), dirPath+"?done=roles")
		if d, _ := c.dir.GetDirectory(ctx, c.env, o.ID, dirID); len(d.RoleAssignments) != 1 || d.RoleAssignments[0].RoleName != "admin" || d.RoleAssignments[0].GroupID != groupID {
			t.Fatalf("role assignments: %+v", d.RoleAssignments)
		}
		wantBody(t, "a group role", b.get(dirPath), `<option value="admin" selected>`, `id="role-assignments"`)
		res = b.post(dirPath+"/roles", url.Values{"csrf": {tok}, "group_id": {groupID}, "role_name": {"no_such_role"}})
		wantStatus(t, "an unknown role", res, 400)
		wantBody(t, "an unknown role", res, `<span id="role-`+groupID+`-error"><span class="field-error">`+template(`no role named "no_such_role"`))
		wantRedirect(t, "remove a group role", b.post(dirPath+"/roles", url.Values{"csrf": {tok}, "group_id": {groupID}, "role_name": {""}}), dirPath+"?done=roles")
		if d, _ := c.dir.GetDirectory(ctx, c.env, o.ID, dirID); len(d.RoleAssignments) != 0 {
			t.Fatalf("role assignments after remove: %+v", d.RoleAssignments)
		}

		// Disable: the SCIM endpoint refuses the token; enable: it works again.
		wantRedirect(t, "disable", b.post(dirPath+"/enabled", url.Values{"csrf": {tok}, "enabled": {"0"}}), dirPath+"?done=disabled")
		if st, _ := scimCall(t, c, "GET", "/scim/v2/"+dirID+"/Users", second, ""); st != 401 {
			t.Fatalf("SCIM on a disabled directory: %d", st)
		}
		wantBody(t, "disabled", b.get(dirPath+"?done=disabled"), `<dd id="dir-enabled">no</dd>`, "Enable directory")
		wantRedirect(t, "enable", b.post(dirPath+"/enabled", url.Values{"csrf": {tok}, "enabled": {"1"}}), dirPath+"?done=enabled")
		if st, _ := scimCall(t, c, "GET", "/scim/v2/"+dirID+"/Users", second, ""); st != 200 {
			t.Fatalf("SCIM after enable: %d", st)
		}

		// The latest provisioning requests: the authenticated ones with their outcome, newest
		// first; the refused old token is not recorded. At most 100 are kept.
		// (written in the background: wait for the last one, the disable/enable check's GET)
		waitRequests(t, c, dirID, func(rs []store.SCIMRequest) bool { return len(rs) >= 40 })
		res = b.get(dirPath)
		wantBody(t, "latest requests", res, `<td>POST</td><td><code>/Users</code></td><td>201</td>`, `<td>POST</td><td><code>/Groups</code></td><td>201</td>`,
			`<td>GET</td><td><code>/Users</code></td><td>200</td>`)
		kept, err := c.dir.Store().ListSCIMRequests(ctx, dirID, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range kept {
			if r.Status == 401 {
				t.Fatalf("a refused request was recorded: %+v", r)
			}
		}
		if st, _ := scimCall(t, c, "GET", "/scim/v2/"+dirID+"/Users/no-such-user", second, ""); st != 404 {
			t.Fatalf("an unknown user: %d", st)
		}
		for range 110 {
			scimCall(t, c, "GET", "/scim/v2/"+dirID+"/Groups", second, "")
		}
		kept = waitRequests(t, c, dirID, func(rs []store.SCIMRequest) bool {
			n := 0
			for _, r := range rs {
				if r.Path == "/Groups" && r.Method == "GET" {
					n++
				}
			}
			return n == 100
		})
		if len(kept) != 100 || kept[0].Path != "/Groups" {
			t.Fatalf("%d requests kept, want 100", len(kept))
		}
		res = b.get(dirPath)
		if n := strings.Count(res.body, `<td>GET</td><td><code>/Groups</code></td><td>200</td>`); n != 100 {
			t.Fatalf("%d requests shown, want 100", n)
		}

		// Another organization's directory is not found under this one.
		other, _ := c.dir.CreateOrganization(ctx, c.env, roster.NewOrganization{DisplayName: "Globex"})
		wantStatus(t, "a directory under another organization", b.get("/dashboard/organizations/"+other.ID+"/directories/"+dirID), 404)
		// The record goes with its directory.
		if err := c.dir.DeleteDirectory(ctx, c.env, o.ID, dirID); err != nil {
			t.Fatal(err)
		}
		if kept, err := c.dir.Store().ListSCIMRequests(ctx, dirID, 1000); err != nil || len(kept) != 0 {
			t.Fatalf("requests of a deleted directory: %d %v", len(kept), err)
		}
	})
}

// waitRequests polls a directory's SCIM request record (written in the background) until ok.
func waitRequests(t *testing.T, c *console, dirID string, ok func([]store.SCIMRequest) bool) []store.SCIMRequest {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		rs, err := c.dir.Store().ListSCIMRequests(context.Background(), dirID, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if ok(rs) {
			return rs
		}
		if time.Now().After(deadline) {
			t.Fatalf("the SCIM request record: %d rows", len(rs))
		}
	}
}
