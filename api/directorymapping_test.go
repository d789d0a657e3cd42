package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"testing"

	"connectrpc.com/connect"
	rosterv1 "github.com/rosterhq/roster/gen/roster/v1"
	"github.com/rosterhq/roster/gen/roster/v1/rosterv1connect"
	"github.com/rosterhq/roster/internal/rostertest"
)

// TestReapplyDirectoryMapping: users provisioned through the SCIM endpoint, then the
// directory's mapping changed with UpdateAttributes; roster.v1 ReapplyDirectoryMapping (REST,
// then gRPC) gives every user the custom attributes a fresh SCIM write would, changes nothing
// else, and a second call changes nothing. Another organization's directory is NOT_FOUND.
func TestReapplyDirectoryMapping(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		ctx := context.Background()
		for _, a := range []string{`{"key": "cost_center", "display_name": "Cost center"}`, `{"key": "team", "display_name": "Team"}`} {
			wantStatus(t, r.REST(t, token, "POST", "/api/v1/user-attributes", a), 200)
		}
		orgID := newOrgREST(t, r, token, "Acme")
		other := newOrgREST(t, r, token, "Globex")
		c, dirID := scimDirectory(t, r, token, orgID, "OKTA", "acme.test")
		base := "/api/v1/organizations/" + orgID + "/directories/" + dirID
		mapping := func(pairs ...string) {
			t.Helper()
			var entries []string
			for i := 0; i < len(pairs); i += 2 {
				entries = append(entries, fmt.Sprintf(`{"key": %q, "map_to": %q}`, pairs[i], pairs[i+1]))
			}
			body := `{"attributes": [` + join(entries) + `]}`
			wantStatus(t, r.REST(t, token, "PUT", base+"/attributes", body), 200)
		}
		const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
		const acme = "urn:ietf:params:scim:schemas:extension:Acme:2.0:User"
		mapping("cost_center", ent+":costCenter")

		const n = 5
		userIDs := make([]string, n)
		for i := range n {
			body := fmt.Sprintf(`{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", %q, %q],
				"userName": "u%d@acme.test", "name": {"givenName": "G%d", "familyName": "F%d"}, "active": true,
				%q: {"costCenter": "CC-%d", "department": "D%d"}, %q: {"team": "T%d"}}`, ent, acme, i, i, i, ent, i, i, acme, i)
			c.want(201, "POST", "/Users", body)
			userIDs[i] = rosterUserID(t, r, token, orgID, fmt.Sprintf("u%d@acme.test", i))
		}
		users := func() []map[string]any {
			t.Helper()
			out := make([]map[string]any, n)
			for i, id := range userIDs {
				res := r.REST(t, token, "GET", "/api/v1/users/"+id, "")
				wantStatus(t, res, 200)
				out[i] = obj(res.Body, "user")
			}
			return out
		}
		before := users()
		for i, u := range before {
			if got := obj(u, "user_profile", "custom_attributes"); !maps.Equal(strMap(got), map[string]string{"cost_center": fmt.Sprintf("CC-%d", i)}) {
				t.Fatalf("user %d before: %v", i, got)
			}
		}

		// the mapping changes: cost_center now comes from the department, team from the
		// customer extension
		mapping("cost_center", ent+":department", "team", acme+":team")
		res := r.REST(t, token, "POST", base+":reapply-mapping", "{}")
		wantStatus(t, res, 200)
		if got := counts(res.Body); got != (reapplyCounts{Examined: n, Changed: n}) || res.Body["failed"] != "0" || res.Body["batches"] != "1" {
			t.Fatalf("first call: %+v (%s)", got, res.Raw)
		}
		after := users()
		for i := range n {
			want := map[string]string{"cost_center": fmt.Sprintf("D%d", i), "team": fmt.Sprintf("T%d", i)}
			if got := strMap(obj(after[i], "user_profile", "custom_attributes")); !maps.Equal(got, want) {
				t.Errorf("user %d: custom attributes %v, want %v", i, got, want)
			}
			// nothing else changed
			b, a := maps.Clone(before[i]), maps.Clone(after[i])
			for _, m := range []map[string]any{b, a} {
				p := maps.Clone(obj(m, "user_profile"))
				delete(p, "custom_attributes")
				m["user_profile"] = p
				delete(m, "update_time")
			}
			if jb, ja := mustJSON(t, b), mustJSON(t, a); jb != ja {
				t.Errorf("user %d changed beyond its custom attributes:\n%s\n%s", i, jb, ja)
			}
		}

		// the same call over gRPC changes nothing now
		g := rosterv1connect.NewDirectoryMappingServiceClient(h2cClient(), r.URL, connect.WithGRPC(), connect.WithInterceptors(bearer(token)))
		out, err := g.ReapplyDirectoryMapping(ctx, connect.NewRequest(&rosterv1.ReapplyDirectoryMappingRequest{OrganizationId: orgID, DirectoryId: dirID}))
		if err != nil {
			t.Fatal(err)
		}
		if m := out.Msg; m.GetExamined() != n || m.GetChanged() != 0 || m.GetUnchanged() != n || m.GetSkipped() != 0 || m.GetFailed() != 0 || m.GetBatches() != 1 {
			t.Fatalf("second call: %v", m)
		}
		if again := users(); mustJSON(t, again) != mustJSON(t, after) {
			t.Fatalf("the second call changed users")
		}

		// another organization's directory, an unknown one, no token
		if _, err := g.ReapplyDirectoryMapping(ctx, connect.NewRequest(&rosterv1.ReapplyDirectoryMappingRequest{OrganizationId: other, DirectoryId: dirID})); connect.CodeOf(err) != connect.CodeNotFound {
			t.Fatalf("another organization's directory over gRPC: %v", err)
		}
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/organizations/"+other+"/directories/"+dirID+":reapply-mapping", "{}"), 404)
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/organizations/"+orgID+"/directories/dir_1:reapply-mapping", "{}"), 404)
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/organizations/"+orgID+"/directories/nope:reapply-mapping", "{}"), 400)
		wantStatus(t, r.REST(t, "", "POST", base+":reapply-mapping", "{}"), 401)
		anon := rosterv1connect.NewDirectoryMappingServiceClient(h2cClient(), r.URL, connect.WithGRPC())
		if _, err := anon.ReapplyDirectoryMapping(ctx, connect.NewRequest(&rosterv1.ReapplyDirectoryMappingRequest{OrganizationId: orgID, DirectoryId: dirID})); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("without a token: %v", err)
		}
	})
}

type reapplyCounts struct{ Examined, Changed, Unchanged, Skipped, Failed int }

// counts reads a REST answer's counts (protojson writes uint64 as strings).
func counts(body map[string]any) reapplyCounts {
	get := func(k string) int {
		var n int
		switch v := body[k].(type) {
		case string:
			fmt.Sscan(v, &n)
		case float64:
			n = int(v)
		}
		return n
	}
	return reapplyCounts{get("examined"), get("changed"), get("unchanged"), get("skipped"), get("failed")}
}

// rosterUserID returns the ID of the Roster user of an organization with this email
// (ListOrganizationUsers).
func rosterUserID(t *testing.T, r *rostertest.Roster, token, orgID, email string) string {
	t.Helper()
	res := r.REST(t, token, "GET", "/api/v1/organizations/"+orgID+"/users?page_size=100", "")
	wantStatus(t, res, 200)
	list, _ := res.Body["users"].([]any)
	for _, u := range list {
		m, _ := u.(map[string]any)
		if m["email"] == email {
			return m["id"].(string)
		}
	}
	t.Fatalf("no user %s: %s", email, res.Raw)
	return ""
}

func strMap(m map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k], _ = v.(string)
	}
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func join(s []string) string {
	out := ""
	for i, e := range s {
		if i > 0 {
			out += ", "
		}
		out += e
	}
	return out
}
