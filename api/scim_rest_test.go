package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rosterhq/roster/internal/rostertest"
)

// scimClient sends SCIM requests to one directory endpoint with one token.
type scimClient struct {
	t        *testing.T
	r        *rostertest.Roster
	endpoint string
	token    string
}

type scimAnswer struct {
	Status int
	Body   map[string]any
	Raw    string
	Header http.Header
}

func (c scimClient) do(method, path, body string) scimAnswer {
	c.t.Helper()
	req, err := http.NewRequest(method, c.endpoint+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.r.Client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := scimAnswer{Status: res.StatusCode, Raw: string(raw), Header: res.Header}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &out.Body)
	}
	return out
}

func (c scimClient) want(status int, method, path, body string) scimAnswer {
	c.t.Helper()
	a := c.do(method, path, body)
	if a.Status != status {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, a.Status, a.Raw, status)
	}
	return a
}

// scimDirectory creates a directory of the organization (with domains as verified domains)
// and its secret, and returns the endpoint's client.
func scimDirectory(t *testing.T, r *rostertest.Roster, token, orgID, provider string, domains ...string) (scimClient, string) {
	t.Helper()
	base := "/api/v1/organizations/" + orgID
	for _, d := range domains {
		wantStatus(t, r.REST(t, token, "POST", base+"/domains", `{"domain": "`+d+`"}`), 200)
	}
	res := r.REST(t, token, "POST", base+"/directories", `{"directory_type": "SCIM", "directory_provider": "`+provider+`"}`)
	wantStatus(t, res, 200)
	d := obj(res.Body, "directory")
	id := d["id"].(string)
	res = r.REST(t, token, "POST", base+"/directories/"+id+"/secrets", "")
	wantStatus(t, res, 200)
	return scimClient{t: t, r: r, endpoint: d["directory_endpoint"].(string), token: res.Body["plain_secret"].(string)}, id
}

// TestSCIMMount: roster serve answers SCIM at each directory's directory_endpoint; a token
// opens only its own directory; a disabled or deleted directory and a deleted organization
// answer 401 and write nothing; bodies are bounded.
func TestSCIMMount(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			r := rostertest.Start(t, backend)
			token := r.Token(t)
			orgID := newOrgREST(t, r, token, "Acme")
			c, dirID := scimDirectory(t, r, token, orgID, "OKTA", "acme.test")
			other, _ := scimDirectory(t, r, token, orgID, "MICROSOFT_AD")
			if !strings.HasPrefix(c.endpoint, r.Issuer+"/scim/v2/dir_") {
				t.Fatalf("directory_endpoint %q", c.endpoint)
			}
			a := c.want(200, "GET", "/ServiceProviderConfig", "")
			if loc, _ := obj(a.Body, "meta")["location"].(string); loc != c.endpoint+"/ServiceProviderConfig" {
				t.Errorf("meta.location %q: the base URL must be the directory_endpoint", loc)
			}
			user := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@acme.test","active":true}`
			created := c.want(201, "POST", "/Users", user)
			if loc := created.Header.Get("Location"); !strings.HasPrefix(loc, c.endpoint+"/Users/diruser_") {
				t.Errorf("Location %q", loc)
			}
			// 8 parallel POSTs of one userName (in two spellings): one 201, seven 409 uniqueness
			statuses := make([]int, 8)
			var wg sync.WaitGroup
			for i := range statuses {
				wg.Add(1)
				go func() {
					defer wg.Done()
					name := "same@acme.test"
					if i%2 == 1 {
						name = "SAME@acme.test"
					}
					a := c.do("POST", "/Users", `{"userName":"`+name+`"}`)
					statuses[i] = a.Status
					if a.Status == 409 && a.Body["scimType"] != "uniqueness" {
						t.Errorf("409 without uniqueness: %s", a.Raw)
					}
				}()
			}
			wg.Wait()
			slices.Sort(statuses)
			if !slices.Equal(statuses, []int{201, 409, 409, 409, 409, 409, 409, 409}) {
				t.Fatalf("parallel POSTs of one userName: %v", statuses)
			}
			// another directory's token, no token, a token on another directory's URL
			swapped := c
			swapped.token = other.token
			swapped.want(401, "GET", "/Users", "")
			swapped.want(401, "POST", "/Users", `{"userName":"bob@acme.test"}`)
			anon := c
			anon.token = ""
			anon.want(401, "GET", "/Users", "")
			bad := c
			bad.endpoint = r.URL + "/scim/v2/not-a-directory"
			bad.want(404, "GET", "/Users", "")
			// bodies are bounded (413) before anything is written
			big := `{"userName":"big@acme.test","title":"` + strings.Repeat("x", 5<<20) + `"}`
			if a := c.do("POST", "/Users", big); a.Status != 413 {
				t.Errorf("a 5 MiB body: %d", a.Status)
			}
			count := func() int {
				res := r.REST(t, token, "GET", "/api/v1/organizations/"+orgID+"/directories/"+dirID+"/users?page_size=30", "")
				wantStatus(t, res, 200)
				n, _ := res.Body["total_size"].(float64)
				return int(n)
			}
			if n := count(); n != 2 {
				t.Fatalf("%d directory users, want 2", n)
			}
			base := "/api/v1/organizations/" + orgID + "/directories/" + dirID
			// disabled: 401, nothing written; enabled again: the same token works
			wantStatus(t, r.REST(t, token, "PATCH", base+":disable", ""), 200)
			c.want(401, "POST", "/Users", `{"userName":"cat@acme.test"}`)
			c.want(401, "GET", "/Users", "")
			wantStatus(t, r.REST(t, token, "PATCH", base+":enable", ""), 200)
			c.want(200, "GET", "/Users", "")
			if n := count(); n != 2 {
				t.Fatalf("a disabled directory wrote: %d users", n)
			}
			// deleted directory, deleted organization
			wantStatus(t, r.REST(t, token, "DELETE", "/api/v1/organizations/"+orgID+"/directories/"+dirID, ""), 200)
			c.want(401, "GET", "/Users", "")
			c.want(401, "POST", "/Users", `{"userName":"dan@acme.test"}`)
			other.want(200, "GET", "/Users", "")
			wantStatus(t, r.REST(t, token, "DELETE", "/api/v1/organizations/"+orgID, ""), 200)
			other.want(401, "GET", "/Users", "")
			other.want(401, "POST", "/Users", `{"userName":"eve@acme.test"}`)
		})
	}
}

// TestSCIMGroupPatchChecksTheToken: a group PATCH checks its bearer token inside its own write
// (docs/scim.md "A member PATCH's token"), and answers exactly as a checked-first request
// would: a wrong, another directory's, a regenerated or no token gets 401 whatever else is
// wrong with the request (its body, its group), and writes nothing; so do a disabled
// directory and a deleted organization.
func TestSCIMGroupPatchChecksTheToken(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			r := rostertest.Start(t, backend)
			token := r.Token(t)
			orgID := newOrgREST(t, r, token, "Acme")
			c, dirID := scimDirectory(t, r, token, orgID, "OKTA", "acme.test")
			other, _ := scimDirectory(t, r, token, orgID, "MICROSOFT_AD")
			ann := c.want(201, "POST", "/Users", `{"userName":"ann@acme.test"}`).Body["id"].(string)
			bob := c.want(201, "POST", "/Users", `{"userName":"bob@acme.test"}`).Body["id"].(string)
			group := c.want(201, "POST", "/Groups", `{"displayName":"Eng","members":[{"value":"`+ann+`"}]}`).Body["id"].(string)
			add := func(id string) string {
				return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"` + id + `"}]}]}`
			}
			remove := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"` + ann + `\"]"}]}`
			members := func() []string {
				var ids []string
				for _, m := range c.want(200, "GET", "/Groups/"+group, "").Body["members"].([]any) {
					ids = append(ids, obj(m)["value"].(string))
				}
				slices.Sort(ids)
				return ids
			}
			refused := func(cl scimClient, what string, body, path string) {
				t.Helper()
				a := cl.do("PATCH", path, body)
				if a.Status != 401 || a.Header.Get("WWW-Authenticate") == "" || a.Body["detail"] != nil {
					t.Fatalf("%s: %d %s %v, want a bare 401", what, a.Status, a.Raw, a.Header)
				}
			}
			swapped, anon, wrong := c, c, c
			swapped.token, anon.token, wrong.token = other.token, "", c.token+"x"
			for _, cl := range []scimClient{swapped, anon, wrong} {
				refused(cl, "a member add", add(bob), "/Groups/"+group)
				refused(cl, "a member remove", remove, "/Groups/"+group)
				refused(cl, "a body that is not JSON", `{"Operations":`, "/Groups/"+group)
				refused(cl, "a PATCH with a bad path", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"nope[","value":1}]}`, "/Groups/"+group)
				refused(cl, "an unknown group", add(bob), "/Groups/dirgroup_1")
				refused(cl, "a group of another path", add(bob), "/Groups/"+group+"/x")
			}
			if got := members(); !slices.Equal(got, []string{ann}) {
				t.Fatalf("refused PATCHes wrote: members %v", got)
			}
			// the right token: the same mistakes are told as they are
			c.want(400, "PATCH", "/Groups/"+group, `{"Operations":`)
			c.want(404, "PATCH", "/Groups/dirgroup_1", add(bob))
			c.want(204, "PATCH", "/Groups/"+group, add(bob))
			if got, want := members(), []string{ann, bob}; !slices.Equal(got, want) {
				t.Fatalf("members %v, want %v", got, want)
			}
			// a regenerated secret replaces the old one at once
			base := "/api/v1/organizations/" + orgID + "/directories/" + dirID
			res := r.REST(t, token, "POST", base+"/secrets:regenerate", "")
			wantStatus(t, res, 200)
			old := c
			c.token = res.Body["plain_secret"].(string)
			refused(old, "the old secret", remove, "/Groups/"+group)
			c.want(204, "PATCH", "/Groups/"+group, remove)
			// disabled: refused, nothing written; enabled: accepted
			wantStatus(t, r.REST(t, token, "PATCH", base+":disable", ""), 200)
			refused(c, "a disabled directory", add(ann), "/Groups/"+group)
			wantStatus(t, r.REST(t, token, "PATCH", base+":enable", ""), 200)
			if got := members(); !slices.Equal(got, []string{bob}) {
				t.Fatalf("members %v, want only %s", got, bob)
			}
			// a deleted organization's directory
			wantStatus(t, r.REST(t, token, "DELETE", "/api/v1/organizations/"+orgID, ""), 200)
			refused(c, "a deleted organization", add(ann), "/Groups/"+group)
		})
	}
}
