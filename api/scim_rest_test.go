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
