package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/oauth"
	"github.com/rosterhq/roster/secretbox"
)

// lockedBuffer collects a server's log from its many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var dirIDs = roster.NewIDGenerator()

// seedDirectory stores users and groups in a directory as the SCIM endpoint will, so that
// the lists have something to show.
func seedDirectory(t *testing.T, r *rostertest.Roster, directoryID string, users int, groups ...string) ([]roster.DirectoryUser, []roster.DirectoryGroup) {
	t.Helper()
	ctx := context.Background()
	env, err := r.Directory.DefaultEnvironment(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var us []roster.DirectoryUser
	for i := range users {
		at := time.Now().UTC().Truncate(time.Microsecond)
		name := fmt.Sprintf("user%02d@acme.com", i)
		u := roster.DirectoryUser{ID: dirIDs.New(roster.PrefixDirectoryUser), EnvironmentID: env.ID, DirectoryID: directoryID,
			UserName: name, ExternalID: fmt.Sprintf("00u%02d", i), Active: true, Email: name, PreferredUsername: name,
			GivenName: "Given", FamilyName: fmt.Sprintf("Family%02d", i), Emails: []string{name},
			Raw: json.RawMessage(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"` + name +
				`","urn:example:custom:1.0:User":{"badge":"B` + fmt.Sprint(i) + `"}}`), CreateTime: at, UpdateTime: at}
		if err := r.Store.CreateDirectoryUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		us = append(us, u)
	}
	var gs []roster.DirectoryGroup
	for _, name := range groups {
		at := time.Now().UTC().Truncate(time.Microsecond)
		g := roster.DirectoryGroup{ID: dirIDs.New(roster.PrefixDirectoryGroup), EnvironmentID: env.ID, DirectoryID: directoryID,
			DisplayName: name, Raw: json.RawMessage(`{"displayName":"` + name + `"}`), CreateTime: at, UpdateTime: at}
		if err := r.Store.CreateDirectoryGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		gs = append(gs, g)
	}
	return us, gs
}

// TestDirectoriesREST covers every DirectoryService RPC over REST on both backends: bad input
// names its field, another organization's directory is NOT_FOUND, a secret is shown once and
// never again (nor logged), lists page with tokens and filters.
func TestDirectoriesREST(t *testing.T) {
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			logs := &lockedBuffer{}
			r := rostertest.Start(t, backend, rostertest.WithLogOutput(logs))
			token := r.Token(t)
			orgID := newOrgREST(t, r, token, "Acme")
			other := newOrgREST(t, r, token, "Globex")
			base := "/api/v1/organizations/" + orgID + "/directories"

			// Create: bad input names the field; unknown organization is NOT_FOUND.
			for _, c := range []struct{ path, body, field string }{
				{base, `{"directory_provider": "OKTA"}`, "directory.directory_type"},
				{base, `{"directory_type": "LDAP", "directory_provider": "OKTA"}`, "directory.directory_type"},
				{"/api/v1/organizations/acme/directories", `{"directory_type": "SCIM"}`, "organization_id"},
			} {
				res := r.REST(t, token, "POST", c.path, c.body)
				wantStatus(t, res, 400)
				if f := violationFields(t, res); !slices.Contains(f, c.field) {
					t.Fatalf("%s: fields %v, want %s: %s", c.body, f, c.field, res.Raw)
				}
			}
			wantStatus(t, r.REST(t, token, "POST", "/api/v1/organizations/org_1/directories", `{"directory_type": "SCIM"}`), 404)
			res := r.REST(t, token, "POST", base, `{"directory_type": "SCIM", "directory_provider": "OKTA"}`)
			wantStatus(t, res, 200)
			d := obj(res.Body, "directory")
			id, _ := d["id"].(string)
			if !strings.HasPrefix(id, "dir_") || d["directory_type"] != "SCIM" || d["directory_provider"] != "OKTA" || d["enabled"] != true ||
				d["status"] != "DRAFT" || d["organization_id"] != orgID || d["directory_endpoint"] != r.Issuer+"/scim/v2/"+id {
				t.Fatalf("created: %s", res.Raw)
			}
			// One per provider: a second Okta directory conflicts, an Entra one is fine.
			res = r.REST(t, token, "POST", base, `{"directory_type": "SCIM", "directory_provider": "OKTA"}`)
			wantStatus(t, res, 409)
			if f := violationFields(t, res); !slices.Contains(f, "directory.directory_provider") {
				t.Fatalf("conflict fields %v", f)
			}
			res = r.REST(t, token, "POST", base, `{"directory_type": "SCIM", "directory_provider": "MICROSOFT_AD"}`)
			wantStatus(t, res, 200)
			entraID := obj(res.Body, "directory")["id"].(string)
			res = r.REST(t, token, "GET", base, "")
			wantStatus(t, res, 200)
			if list, _ := res.Body["directories"].([]any); len(list) != 2 || obj(list[0])["id"] != id || obj(list[1])["id"] != entraID {
				t.Fatalf("list: %s", res.Raw)
			}
			res = r.REST(t, token, "GET", "/api/v1/organizations/"+other+"/directories", "")
			wantStatus(t, res, 200)
			if list, _ := res.Body["directories"].([]any); len(list) != 0 {
				t.Fatalf("another organization lists: %s", res.Raw)
			}

			// Another organization never reaches the directory.
			otherBase := "/api/v1/organizations/" + other + "/directories/" + id
			for _, c := range []struct{ method, path, body string }{
				{"GET", otherBase, ""},
				{"PATCH", otherBase, `{"name": "x"}`},
				{"PATCH", otherBase + ":disable", ""},
				{"POST", otherBase + "/secrets", ""},
				{"POST", otherBase + "/secrets:regenerate", ""},
				{"PUT", otherBase + "/attributes", `{"attributes": []}`},
				{"PUT", otherBase + "/groups/-/roles:assign", `{"assignments": []}`},
				{"GET", otherBase + "/users", ""},
				{"GET", otherBase + "/groups", ""},
				{"DELETE", otherBase, ""},
			} {
				if res := r.REST(t, token, c.method, c.path, c.body); res.Status != 404 {
					t.Fatalf("%s %s from another organization: %d %s", c.method, c.path, res.Status, res.Raw)
				}
			}
			res = r.REST(t, token, "GET", base+"/conn_1", "")
			wantStatus(t, res, 400)
			if f := violationFields(t, res); !slices.Contains(f, "id") {
				t.Fatalf("bad id fields %v", f)
			}

			// Update: name, mappings; a refused update changes nothing.
			res = r.REST(t, token, "PATCH", base+"/"+id, `{"name": "Okta production"}`)
			wantStatus(t, res, 200)
			if obj(res.Body, "directory")["name"] != "Okta production" || obj(res.Body, "directory")["enabled"] != true {
				t.Fatalf("update: %s", res.Raw)
			}
			res = r.REST(t, token, "PATCH", base+"/"+id, `{"name": "`+strings.Repeat("n", 257)+`"}`)
			wantStatus(t, res, 400)
			if f := violationFields(t, res); !slices.Contains(f, "directory.name") {
				t.Fatalf("long name fields %v", f)
			}
			wantStatus(t, r.REST(t, token, "PATCH", base+"/"+id, `{"directory_provider": "MICROSOFT_AD"}`), 409)
			wantStatus(t, r.REST(t, token, "PATCH", base+"/"+id, `{"groups": [{"external_id": "g1"}]}`), 501)

			// Enable / disable.
			res = r.REST(t, token, "PATCH", base+"/"+id+":disable", "")
			wantStatus(t, res, 200)
			if res.Body["enabled"] != false {
				t.Fatalf("disable: %s", res.Raw)
			}
			if res = r.REST(t, token, "GET", base+"/"+id, ""); obj(res.Body, "directory")["enabled"] != false {
				t.Fatalf("after disable: %s", res.Raw)
			}
			res = r.REST(t, token, "PATCH", base+"/"+id+":enable", "")
			wantStatus(t, res, 200)
			if res.Body["enabled"] != true {
				t.Fatalf("enable: %s", res.Raw)
			}

			// Secrets: shown once, then only the suffix; a regenerated one replaces it at once.
			res = r.REST(t, token, "POST", base+"/"+id+"/secrets", "")
			wantStatus(t, res, 200)
			plain, _ := res.Body["plain_secret"].(string)
			sec := obj(res.Body, "secret")
			if !strings.HasPrefix(plain, roster.DirectorySecretPrefix) || sec["secret_suffix"] != plain[len(plain)-4:] ||
				sec["directory_id"] != id || sec["status"] != "ACTIVE" || !strings.HasPrefix(sec["id"].(string), "sec_") {
				t.Fatalf("create secret: %s", res.Raw)
			}
			wantStatus(t, r.REST(t, token, "POST", base+"/"+id+"/secrets", ""), 409)
			res = r.REST(t, token, "GET", base+"/"+id, "")
			wantStatus(t, res, 200)
			secrets, _ := obj(res.Body, "directory")["secrets"].([]any)
			if len(secrets) != 1 || obj(secrets[0])["secret_suffix"] != plain[len(plain)-4:] || strings.Contains(res.Raw, plain) ||
				strings.Contains(res.Raw, "plain_secret") || obj(res.Body, "directory")["status"] != "IN_PROGRESS" {
				t.Fatalf("get with a secret: %s", res.Raw)
			}
			if res = r.REST(t, token, "GET", base, ""); strings.Contains(res.Raw, plain) {
				t.Fatalf("list shows the secret: %s", res.Raw)
			}
			res = r.REST(t, token, "POST", base+"/"+id+"/secrets:regenerate", "")
			wantStatus(t, res, 200)
			plain2, _ := res.Body["plain_secret"].(string)
			if plain2 == "" || plain2 == plain {
				t.Fatalf("regenerate: %s", res.Raw)
			}
			ctx := context.Background()
			if _, err := r.Store.FindDirectoryBySecret(ctx, roster.HashDirectorySecret(plain), time.Now()); roster.ErrorCode(err) != roster.ENotFound {
				t.Fatalf("the old secret still finds its directory: %v", err)
			}
			if a, err := r.Store.FindDirectoryBySecret(ctx, roster.HashDirectorySecret(plain2), time.Now()); err != nil || a.Directory.ID != id {
				t.Fatalf("the new secret: %+v, %v", a, err)
			}

			// Attribute mapping: unknown custom attribute keys are refused, naming the entry.
			res = r.REST(t, token, "PUT", base+"/"+id+"/attributes", `{"attributes": [{"key": "given_name", "map_to": "name.givenName"}, {"key": "cost_center", "map_to": "costCenter"}]}`)
			wantStatus(t, res, 400)
			if f := violationFields(t, res); !slices.Contains(f, "attribute_mapping.attributes[1].key") || !strings.Contains(res.Raw, "define it first") {
				t.Fatalf("unknown key: %v %s", f, res.Raw)
			}
			defineAttribute(t, r, token, `{"key": "cost_center", "display_name": "Cost center"}`)
			const entURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter"
			res = r.REST(t, token, "PUT", base+"/"+id+"/attributes", `{"attributes": [{"key": "given_name", "map_to": "name.givenName"}, {"key": "cost_center", "map_to": "`+entURN+`"}]}`)
			wantStatus(t, res, 200)
			attrs, _ := obj(res.Body, "attribute_mappings")["attributes"].([]any)
			if len(attrs) != 2 || obj(attrs[1])["map_to"] != entURN {
				t.Fatalf("update attributes: %s", res.Raw)
			}
			res = r.REST(t, token, "GET", base+"/"+id, "")
			if attrs, _ := obj(res.Body, "directory", "attribute_mappings")["attributes"].([]any); len(attrs) != 2 {
				t.Fatalf("mappings after update: %s", res.Raw)
			}

			// Users and groups (stored as the SCIM endpoint will store them).
			users, groups := seedDirectory(t, r, id, 35, "Engineering", "Sales")
			_, foreign := seedDirectory(t, r, entraID, 0, "Foreign")
			env, _ := r.Directory.DefaultEnvironment(ctx)
			var eng []string
			for _, u := range users[:12] {
				eng = append(eng, u.ID)
			}
			if _, _, err := r.Store.AddDirectoryGroupMembers(ctx, env.ID, id, groups[0].ID, eng, time.Now()); err != nil {
				t.Fatal(err)
			}

			// Role assignments: the role must exist, the group must be the directory's.
			res = r.REST(t, token, "PUT", base+"/"+id+"/groups/-/roles:assign", `{"assignments": [{"group_id": "`+groups[0].ID+`", "role_name": "no_such_role"}]}`)
			wantStatus(t, res, 400)
			if f := violationFields(t, res); !slices.Contains(f, "role_assignments.assignments[0].role_name") {
				t.Fatalf("unknown role fields %v", f)
			}
			res = r.REST(t, token, "PUT", base+"/"+id+"/groups/-/roles:assign", `{"assignments": [{"group_id": "`+foreign[0].ID+`", "role_name": "admin"}]}`)
			wantStatus(t, res, 404)
			res = r.REST(t, token, "PUT", base+"/"+id+"/groups/-/roles:assign", `{"assignments": [{"group_id": "grp_1", "role_name": "admin"}]}`)
			wantStatus(t, res, 400)
			res = r.REST(t, token, "PUT", base+"/"+id+"/groups/-/roles:assign", `{"assignments": [{"group_id": "`+groups[0].ID+`", "role_name": "admin"}, {"group_id": "`+groups[1].ID+`", "role_name": "member"}]}`)
			wantStatus(t, res, 200)
			as, _ := obj(res.Body, "role_assignments")["assignments"].([]any)
			if len(as) != 2 || obj(as[0])["role_name"] == nil || !strings.HasPrefix(obj(as[0])["role_id"].(string), "role_") {
				t.Fatalf("assign roles: %s", res.Raw)
			}

			// GetDirectory's counts.
			res = r.REST(t, token, "GET", base+"/"+id, "")
			gd := obj(res.Body, "directory")
			if gd["total_users"] != float64(35) || gd["total_groups"] != float64(2) || obj(gd, "stats")["total_users"] != float64(35) ||
				len(obj(gd, "role_assignments")["assignments"].([]any)) != 2 {
				t.Fatalf("get with users: %s", res.Raw)
			}

			// ListDirectoryUsers: page_size at most 30; tokens walk the list; filters.
			res = r.REST(t, token, "GET", base+"/"+id+"/users?page_size=31", "")
			wantStatus(t, res, 400)
			if f := violationFields(t, res); !slices.Contains(f, "page_size") {
				t.Fatalf("page_size fields %v", f)
			}
			res = r.REST(t, token, "GET", base+"/"+id+"/users", "")
			wantStatus(t, res, 200)
			if list := res.Body["users"].([]any); len(list) != 10 || res.Body["total_size"] != float64(35) || obj(list[0])["user_detail"] != nil {
				t.Fatalf("default page: %s", res.Raw)
			}
			var seen []string
			next := ""
			for page := 0; ; page++ {
				res = r.REST(t, token, "GET", base+"/"+id+"/users?page_size=30&include_detail=true&page_token="+url.QueryEscape(next), "")
				wantStatus(t, res, 200)
				for _, u := range res.Body["users"].([]any) {
					seen = append(seen, obj(u)["id"].(string))
				}
				if page == 0 {
					u0 := obj(res.Body["users"].([]any)[0])
					if u0["email"] != users[0].Email || u0["given_name"] != "Given" || u0["family_name"] != "Family00" ||
						obj(u0, "user_detail", "urn:example:custom:1.0:User")["badge"] != "B0" || len(u0["emails"].([]any)) != 1 ||
						len(u0["groups"].([]any)) != 1 || obj(u0["groups"].([]any)[0])["display_name"] != "Engineering" {
						t.Fatalf("first user: %s", res.Raw)
					}
				}
				next, _ = res.Body["next_page_token"].(string)
				if next == "" {
					break
				}
			}
			if len(seen) != 35 || seen[0] != users[0].ID || seen[34] != users[34].ID {
				t.Fatalf("paged through %d users", len(seen))
			}
			// A token is bound to its filters.
			res = r.REST(t, token, "GET", base+"/"+id+"/users?page_size=5", "")
			tok := res.Body["next_page_token"].(string)
			res = r.REST(t, token, "GET", base+"/"+id+"/users?page_size=5&directory_group_id="+groups[0].ID+"&page_token="+url.QueryEscape(tok), "")
			wantStatus(t, res, 400)
			res = r.REST(t, token, "GET", base+"/"+id+"/users?page_size=30&directory_group_id="+groups[0].ID, "")
			wantStatus(t, res, 200)
			if res.Body["total_size"] != float64(12) || len(res.Body["users"].([]any)) != 12 {
				t.Fatalf("group members: %s", res.Raw)
			}
			wantStatus(t, r.REST(t, token, "GET", base+"/"+id+"/users?directory_group_id=grp_1", ""), 400)
			wantStatus(t, r.REST(t, token, "GET", base+"/"+id+"/users?directory_group_id="+foreign[0].ID, ""), 404)
			// updated_after: only what changed later.
			cut := time.Now().UTC()
			time.Sleep(5 * time.Millisecond)
			if _, err := r.Store.UpdateDirectoryUser(ctx, env.ID, id, users[7].ID, func(u *roster.DirectoryUser) error {
				u.GivenName, u.UpdateTime = "Changed", time.Now().UTC()
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			res = r.REST(t, token, "GET", base+"/"+id+"/users?updated_after="+cut.Format(time.RFC3339Nano), "")
			wantStatus(t, res, 200)
			if list := res.Body["users"].([]any); len(list) != 1 || obj(list[0])["id"] != users[7].ID || obj(list[0])["given_name"] != "Changed" {
				t.Fatalf("updated after: %s", res.Raw)
			}

			// ListDirectoryGroups.
			res = r.REST(t, token, "GET", base+"/"+id+"/groups?include_detail=true", "")
			wantStatus(t, res, 200)
			gl := res.Body["groups"].([]any)
			if len(gl) != 2 || res.Body["total_size"] != float64(2) || obj(gl[0])["display_name"] != "Engineering" ||
				obj(gl[0])["total_users"] != float64(12) || obj(gl[0], "group_detail")["displayName"] != "Engineering" {
				t.Fatalf("groups: %s", res.Raw)
			}
			res = r.REST(t, token, "GET", base+"/"+id+"/groups?page_size=1", "")
			if len(res.Body["groups"].([]any)) != 1 || res.Body["next_page_token"] == "" || obj(res.Body["groups"].([]any)[0])["group_detail"] != nil {
				t.Fatalf("groups page: %s", res.Raw)
			}
			wantStatus(t, r.REST(t, token, "GET", base+"/"+id+"/groups?page_size=40", ""), 400)

			// What Roster does not serve says so.
			for _, c := range []struct{ method, path, body string }{
				{"GET", base + "/" + id + ":sync", ""},
				{"GET", base + "/" + id + "/contexts", ""},
				{"PUT", base + "/" + id + "/contexts", `{}`},
				{"GET", base + "/" + id + "/groups/summary", ""},
				{"PUT", base + "/" + id + "/groups:assign", `{"external_ids": ["a"]}`},
			} {
				res := r.REST(t, token, c.method, c.path, c.body)
				wantStatus(t, res, 501)
				if msg, _ := res.Body["message"].(string); msg == "" {
					t.Fatalf("%s %s: no message: %s", c.method, c.path, res.Raw)
				}
			}

			// Delete: the directory, its users and groups and its secret go.
			wantStatus(t, r.REST(t, token, "DELETE", base+"/"+id, ""), 200)
			wantStatus(t, r.REST(t, token, "GET", base+"/"+id, ""), 404)
			wantStatus(t, r.REST(t, token, "GET", base+"/"+id+"/users", ""), 404)
			if _, err := r.Store.FindDirectoryBySecret(ctx, roster.HashDirectorySecret(plain2), time.Now()); roster.ErrorCode(err) != roster.ENotFound {
				t.Fatalf("a deleted directory's secret: %v", err)
			}
			if _, err := r.Store.GetDirectoryUser(ctx, env.ID, id, users[0].ID); roster.ErrorCode(err) != roster.ENotFound {
				t.Fatalf("a deleted directory's user: %v", err)
			}

			// No secret ever reached the log.
			if l := logs.String(); strings.Contains(l, plain) || strings.Contains(l, plain2) || strings.Contains(l, roster.DirectorySecretPrefix) {
				t.Fatalf("a secret is in the log:\n%s", l)
			}
		})
	}
}

// TestDirectoriesOtherEnvironmentREST: a client of another environment of the same database
// never reaches a directory, even with the right organization and directory IDs.
func TestDirectoriesOtherEnvironmentREST(t *testing.T) {
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			testDirectoriesOtherEnvironment(t, backend)
		})
	}
}

func testDirectoriesOtherEnvironment(t *testing.T, backend string) {
	ctx := context.Background()
	key := bytes.Repeat([]byte{9}, secretbox.KeySize)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	r := rostertest.Start(t, backend, rostertest.WithNode(rostertest.Open(t, backend), key, ""))
	token := r.Token(t)
	orgID := newOrgREST(t, r, token, "Acme")
	base := "/api/v1/organizations/" + orgID + "/directories"
	res := r.REST(t, token, "POST", base, `{"directory_type": "SCIM", "directory_provider": "OKTA"}`)
	wantStatus(t, res, 200)
	id := obj(res.Body, "directory")["id"].(string)

	env2 := roster.Environment{ID: dirIDs.New(roster.PrefixEnvironment), Name: "second", CursorKey: bytes.Repeat([]byte{7}, 32), CreateTime: time.Now().UTC()}
	if err := r.Store.CreateEnvironment(ctx, env2); err != nil {
		t.Fatal(err)
	}
	if err := oauth.EnsureSigningKey(ctx, r.Store, box, env2.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	c, err := r.Directory.CreateClient(ctx, env2, "second", "", "")
	if err != nil {
		t.Fatal(err)
	}
	tr := *r
	tr.ClientID, tr.ClientSecret = c.Client.ID, c.Secret
	other := tr.Token(t)
	// The second environment's client reaches the API (its own, empty, lists)...
	wantStatus(t, r.REST(t, other, "GET", "/api/v1/organizations", ""), 200)
	// ...but not the first environment's organization or directory.
	for _, c := range []struct{ method, path, body string }{
		{"GET", base, ""},
		{"POST", base, `{"directory_type": "SCIM", "directory_provider": "MICROSOFT_AD"}`},
		{"GET", base + "/" + id, ""},
		{"PATCH", base + "/" + id, `{"name": "stolen"}`},
		{"PATCH", base + "/" + id + ":disable", ""},
		{"POST", base + "/" + id + "/secrets", ""},
		{"GET", base + "/" + id + "/users", ""},
		{"GET", base + "/" + id + "/groups", ""},
		{"DELETE", base + "/" + id, ""},
	} {
		if res := r.REST(t, other, c.method, c.path, c.body); res.Status != 404 {
			t.Fatalf("%s %s from another environment: %d %s", c.method, c.path, res.Status, res.Raw)
		}
	}
	res = r.REST(t, token, "GET", base+"/"+id, "")
	wantStatus(t, res, 200)
	if d := obj(res.Body, "directory"); d["name"] == "stolen" || d["enabled"] != true || len(d["secrets"].([]any)) != 0 {
		t.Fatalf("changed from another environment: %s", res.Raw)
	}
}
