package api_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/rostertest"
)

// Replays of a full Okta and a full Entra ID provisioning session, shaped like the requests
// of ../shared/notes/scim-idp-requests.md, against `roster serve` on both backends, then
// checked through the API (GetUser, ListDirectoryUsers, ListDirectoryGroups).

type replay struct {
	t     *testing.T
	r     *rostertest.Roster
	token string // the API's
	orgID string
	dirID string
	c     scimClient
}

func newReplay(t *testing.T, backend, provider string) *replay {
	r := rostertest.Start(t, backend)
	token := r.Token(t)
	orgID := newOrgREST(t, r, token, "Acme")
	c, dirID := scimDirectory(t, r, token, orgID, provider, "acme.test")
	return &replay{t: t, r: r, token: token, orgID: orgID, dirID: dirID, c: c}
}

// rosterUser reads the Roster user a SCIM user is linked to, through the API.
func (p *replay) rosterUser(scimID string) map[string]any {
	p.t.Helper()
	env, err := p.r.Directory.EnsureEnvironment(context.Background())
	if err != nil {
		p.t.Fatal(err)
	}
	// the SCIM id's link is the store's (the Scalekit DirectoryUser message has no user ID)
	row, err := p.r.Store.GetDirectoryUser(context.Background(), env.ID, p.dirID, scimID)
	if err != nil {
		p.t.Fatalf("directory user %s: %v", scimID, err)
	}
	res := p.r.REST(p.t, p.token, "GET", "/api/v1/users/"+row.UserID, "")
	wantStatus(p.t, res, 200)
	return obj(res.Body, "user")
}

func (p *replay) directoryUsers() []any {
	p.t.Helper()
	res := p.r.REST(p.t, p.token, "GET", "/api/v1/organizations/"+p.orgID+"/directories/"+p.dirID+"/users?page_size=30&include_detail=true", "")
	wantStatus(p.t, res, 200)
	return res.Body["users"].([]any)
}

func (p *replay) directoryGroups() []any {
	p.t.Helper()
	res := p.r.REST(p.t, p.token, "GET", "/api/v1/organizations/"+p.orgID+"/directories/"+p.dirID+"/groups?page_size=30&include_detail=true", "")
	wantStatus(p.t, res, 200)
	return res.Body["groups"].([]any)
}

func membershipStatus(u map[string]any, orgID string) string {
	for _, m := range u["memberships"].([]any) {
		if obj(m)["organization_id"] == orgID {
			s, _ := obj(m)["membership_status"].(string)
			return s
		}
	}
	return ""
}

func listTotal(p *replay, a scimAnswer) int {
	p.t.Helper()
	n, ok := a.Body["totalResults"].(float64)
	if !ok {
		p.t.Fatalf("totalResults is not a number: %s", a.Raw)
	}
	return int(n)
}

func TestSCIMReplayOkta(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			p := newReplay(t, backend, "OKTA")
			c := p.c
			// Test Connection, then "user exists?"
			if a := c.want(200, "GET", "/Users?startIndex=1&count=2", ""); listTotal(p, a) != 0 || a.Body["itemsPerPage"] == nil {
				t.Fatalf("test connection: %s", a.Raw)
			}
			if a := c.want(200, "GET", "/Users?filter=userName%20eq%20%22ann%40acme.test%22&startIndex=1&count=100", ""); listTotal(p, a) != 0 {
				t.Fatalf("lookup: %s", a.Raw)
			}
			create := func(user, given, family string) string {
				body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:acme:2.0:User"],
					"userName":"%[1]s@acme.test","name":{"givenName":"%[2]s","familyName":"%[3]s"},
					"emails":[{"primary":true,"value":"%[1]s@acme.test","type":"work"}],"displayName":"%[2]s %[3]s","locale":"en-US",
					"externalId":"00u%[1]s","groups":[],"password":"Secr3t!","active":true,
					"urn:ietf:params:scim:schemas:extension:acme:2.0:User":{"badge":"B-%[1]s"}}`, user, given, family)
				a := c.want(201, "POST", "/Users", body)
				if a.Body["id"] == nil || a.Body["password"] != nil || a.Body["active"] != true {
					t.Fatalf("create: %s", a.Raw)
				}
				return a.Body["id"].(string)
			}
			ann := create("ann", "Ann", "Lee")
			bob := create("bob", "Bob", "Kay")
			c.want(409, "POST", "/Users", `{"userName":"ANN@acme.test","emails":[{"primary":true,"value":"ann@acme.test"}]}`)
			if a := c.want(200, "GET", "/Users?filter=userName%20eq%20%22ann%40acme.test%22&startIndex=1&count=100", ""); listTotal(p, a) != 1 {
				t.Fatalf("lookup after create: %s", a.Raw)
			}
			// update: GET then PUT of the whole object (meta included)
			got := c.want(200, "GET", "/Users/"+ann, "")
			put := strings.Replace(got.Raw, `"givenName":"Ann"`, `"givenName":"Annie"`, 1)
			if a := c.want(200, "PUT", "/Users/"+ann, put); obj(a.Body, "name")["givenName"] != "Annie" {
				t.Fatalf("PUT: %s", a.Raw)
			}
			// deactivate / reactivate: path-less replace
			deactivate := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`
			c.want(200, "PATCH", "/Users/"+bob, deactivate)
			if s := membershipStatus(p.rosterUser(bob), p.orgID); s != "INACTIVE" {
				t.Fatalf("bob after deactivate: %s", s)
			}
			if a := c.want(200, "GET", "/Users?filter=userName%20eq%20%22bob%40acme.test%22", ""); listTotal(p, a) != 1 || obj(a.Body["Resources"].([]any)[0])["active"] != false {
				t.Fatalf("a deactivated user must stay readable: %s", a.Raw)
			}
			c.want(200, "PATCH", "/Users/"+bob, strings.Replace(deactivate, "false", "true", 1))
			// AIW deactivation by PUT active:false, then back
			got = c.want(200, "GET", "/Users/"+bob, "")
			c.want(200, "PUT", "/Users/"+bob, strings.Replace(got.Raw, `"active":true`, `"active":false`, 1))
			if s := membershipStatus(p.rosterUser(bob), p.orgID); s != "INACTIVE" {
				t.Fatalf("bob after PUT active:false: %s", s)
			}
			c.want(200, "PUT", "/Users/"+bob, got.Raw)
			// group push, membership, full push, rename
			g := c.want(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Test SCIMv2","members":[]}`).Body["id"].(string)
			c.want(204, "PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
				{"op":"remove","path":"members[value eq \"`+bob+`\"]"},
				{"op":"add","path":"members","value":[{"value":"`+ann+`","display":"ann@acme.test"}]}]}`)
			c.want(204, "PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
				{"op":"replace","path":"members","value":[{"value":"`+ann+`"},{"value":"`+bob+`"}]}]}`)
			c.want(204, "PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
				{"op":"replace","value":{"id":"`+g+`","displayName":"Engineering"}}]}`)
			gs := p.directoryGroups()
			if len(gs) != 1 || obj(gs[0])["display_name"] != "Engineering" || obj(gs[0])["total_users"] != float64(2) {
				t.Fatalf("groups through the API: %v", gs)
			}
			// import: page by page
			if a := c.want(200, "GET", "/Users?startIndex=1&count=100", ""); listTotal(p, a) != 2 || len(a.Body["Resources"].([]any)) != 2 {
				t.Fatalf("import: %s", a.Raw)
			}
			// through the API
			us := p.directoryUsers()
			if len(us) != 2 {
				t.Fatalf("directory users: %v", us)
			}
			first := obj(us[0])
			if first["email"] != "ann@acme.test" || first["given_name"] != "Annie" || obj(first, "user_detail", "urn:ietf:params:scim:schemas:extension:acme:2.0:User")["badge"] != "B-ann" ||
				len(first["groups"].([]any)) != 1 {
				t.Fatalf("ann through ListDirectoryUsers: %v", first)
			}
			u := p.rosterUser(ann)
			if membershipStatus(u, p.orgID) != "ACTIVE" || obj(u, "user_profile")["given_name"] != "Annie" || obj(u, "user_profile")["family_name"] != "Lee" {
				t.Fatalf("ann through GetUser: %v", u)
			}
			// unlink pushed group → delete in the app
			c.want(204, "DELETE", "/Groups/"+g, "")
			if gs := p.directoryGroups(); len(gs) != 0 {
				t.Fatalf("groups after delete: %v", gs)
			}
		})
	}
}

func TestSCIMReplayEntra(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			p := newReplay(t, backend, "MICROSOFT_AD")
			c := p.c
			// Test Connection: a random GUID as the matching attribute
			if a := c.want(200, "GET", "/Users?filter=userName+eq+%2264b5a7a1-52f0-4ab4-93f7-0bfe2e0f2b45%22", ""); listTotal(p, a) != 0 {
				t.Fatalf("test connection: %s", a.Raw)
			}
			c.want(200, "GET", "/Schemas", "")
			c.want(200, "GET", "/Users?filter=externalId+eq+%22ann%22", "")
			create := func(user, given, family string) string {
				body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
					"externalId":"%[1]s","userName":"%[1]s@acme.test","active":true,
					"emails":[{"primary":true,"type":"work","value":"%[1]s@acme.test"}],"meta":{"resourceType":"User"},
					"name":{"formatted":"%[2]s %[3]s","familyName":"%[3]s","givenName":"%[2]s"},"roles":[],
					"addresses":null,"phoneNumbers":null,"title":null,"manager":null}`, user, given, family)
				return c.want(201, "POST", "/Users", body).Body["id"].(string)
			}
			ann := create("ann", "Ann", "Lee")
			bob := create("bob", "Bob", "Kay")
			patch := func(id string, ops string) scimAnswer {
				return c.want(200, "PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+ops+`]}`)
			}
			patch(ann, `{"op":"Replace","path":"emails[type eq \"work\"].value","value":"ann.lee@acme.test"},{"op":"Replace","path":"name.familyName","value":"Lee-Smith"}`)
			patch(ann, `{"op":"Replace","path":"userName","value":"ann.lee@acme.test"}`)
			patch(ann, `{"op":"Add","path":"nickName","value":"Annie"}`)
			a := patch(ann, `{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"`+bob+`"}`)
			if obj(a.Body, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "manager")["value"] != bob {
				t.Fatalf("manager: %s", a.Raw)
			}
			patch(ann, `{"op":"replace","value":{"displayName":"Ann Lee-Smith","name.givenName":"Ann","name.familyName":"Lee-Smith",
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"701984"}}`)
			q := "/Users?filter=" + url.QueryEscape(`emails[type eq "work"].value eq "ann.lee@acme.test"`)
			if a := c.want(200, "GET", q, ""); listTotal(p, a) != 1 {
				t.Fatalf("match by work email: %s", a.Raw)
			}
			// soft delete and restore: the user stays visible to every query
			patch(bob, `{"op":"Replace","path":"active","value":"False"}`)
			if s := membershipStatus(p.rosterUser(bob), p.orgID); s != "INACTIVE" {
				t.Fatalf("bob after active False: %s", s)
			}
			if a := c.want(200, "GET", "/Users?filter=userName+eq+%22bob%40acme.test%22", ""); listTotal(p, a) != 1 {
				t.Fatalf("a soft-deleted user must stay queryable: %s", a.Raw)
			}
			patch(bob, `{"op":"Replace","path":"active","value":"True"}`)
			if s := membershipStatus(p.rosterUser(bob), p.orgID); s != "ACTIVE" {
				t.Fatalf("bob after active True: %s", s)
			}
			// groups
			g := c.want(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
				"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"Sales","meta":{"resourceType":"Group"}}`).Body["id"].(string)
			if a := c.want(200, "GET", "/Groups?excludedAttributes=members&filter=displayName+eq+%22Sales%22", ""); listTotal(p, a) != 1 {
				t.Fatalf("group lookup: %s", a.Raw)
			}
			gpatch := func(ops string) {
				c.want(204, "PATCH", "/Groups/"+g, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+ops+`]}`)
			}
			gpatch(`{"op":"Add","path":"members","value":[{"$ref":null,"value":"` + ann + `"},{"$ref":null,"value":"` + bob + `"}]}`)
			gs := p.directoryGroups()
			if len(gs) != 1 || obj(gs[0])["total_users"] != float64(2) {
				t.Fatalf("after add: %v", gs)
			}
			gpatch(`{"op":"Remove","path":"members","value":[{"value":"` + bob + `"}]}`)
			gpatch(`{"op":"Add","path":"members","value":[{"$ref":null,"value":"` + bob + `"}]}`)
			gpatch(`{"op":"remove","path":"members[value eq \"` + ann + `\"]"}`)
			gpatch(`{"op":"Replace","path":"displayName","value":"Sales EMEA"}`)
			if a := c.want(200, "GET", "/Groups/"+g+"?excludedAttributes=members", ""); a.Body["displayName"] != "Sales EMEA" || a.Body["members"] != nil {
				t.Fatalf("group: %s", a.Raw)
			}
			gs = p.directoryGroups()
			if obj(gs[0])["total_users"] != float64(1) || obj(gs[0])["display_name"] != "Sales EMEA" {
				t.Fatalf("groups through the API: %v", gs)
			}
			// through the API
			u := p.rosterUser(ann)
			prof := obj(u, "user_profile")
			// the profile's name is name.formatted when sent (Entra left it at "Ann Lee"), else displayName
			if u["email"] != "ann.lee@acme.test" || prof["family_name"] != "Lee-Smith" || prof["name"] != "Ann Lee" ||
				prof["preferred_username"] != "ann.lee@acme.test" || membershipStatus(u, p.orgID) != "ACTIVE" {
				t.Fatalf("ann through GetUser: %v", u)
			}
			us := p.directoryUsers()
			if len(us) != 2 || obj(us[0])["email"] != "ann.lee@acme.test" ||
				obj(us[0], "user_detail", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")["employeeNumber"] != "701984" {
				t.Fatalf("directory users: %v", us)
			}
			// hard delete: the user, held by nothing else, is gone
			annUser := u["id"].(string)
			c.want(204, "DELETE", "/Users/"+ann, "")
			c.want(404, "GET", "/Users/"+ann, "")
			wantStatus(t, p.r.REST(t, p.token, "GET", "/api/v1/users/"+annUser, ""), 404)
			if us := p.directoryUsers(); len(us) != 1 {
				t.Fatalf("directory users after delete: %v", us)
			}
		})
	}
}
