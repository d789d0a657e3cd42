package scim_test

// One test per row of the Okta and Entra ID tables in ../shared/notes/scim-idp-requests.md:
// the request as the IdP documents it, and what the server must answer.

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"testing"
)

const enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

// oktaCreate is Okta's documented POST /Users body, with a customer extension.
const oktaCreate = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:okta:custom:2.0:User"],
  "userName": "test.user@okta.local",
  "name": {"givenName": "Test", "familyName": "User"},
  "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
  "displayName": "Test User",
  "locale": "en-US",
  "externalId": "00ujl29u0le5T6Aj10h7",
  "groups": [],
  "password": "1mz050nq",
  "active": true,
  "urn:okta:custom:2.0:User": {"costCode": "A-17", "badge": 4411}
}`

func wantPagingIntegers(t *testing.T, r resp) {
	t.Helper()
	for _, k := range []string{"totalResults", "startIndex", "itemsPerPage"} {
		if _, ok := r.body[k].(float64); !ok {
			t.Errorf("%s = %#v, want a JSON number", k, r.body[k])
		}
	}
	if s, _ := r.body["schemas"].([]any); len(s) != 1 || s[0] != "urn:ietf:params:scim:api:messages:2.0:ListResponse" {
		t.Errorf("schemas = %v", r.body["schemas"])
	}
}

func TestOktaTestConnection(t *testing.T) {
	e := newEnv(t)
	for _, q := range []string{"?startIndex=1&count=2", "?count=1&startIndex=1"} {
		r := e.must(200, "GET", "/Users"+q, "")
		wantPagingIntegers(t, r)
	}
	e.createUser(oktaCreate)
	r := e.must(200, "GET", "/Users?startIndex=1&count=2", "")
	if res, _ := r.body["Resources"].([]any); len(res) != 1 {
		t.Errorf("Resources = %v, want the one user", r.body["Resources"])
	}
}

func TestOktaUserExists(t *testing.T) {
	e := newEnv(t)
	q := "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100"
	r := e.must(200, "GET", q, "", "User-Agent", "Okta SCIM Client 1.0.0")
	wantPagingIntegers(t, r)
	if r.body["totalResults"] != 0.0 {
		t.Fatalf("totalResults = %v before create", r.body["totalResults"])
	}
	id := e.createUser(oktaCreate)
	r = e.must(200, "GET", q, "")
	if r.body["totalResults"] != 1.0 || get(r.body, "Resources.0.id") != id {
		t.Fatalf("after create: %s", r.raw)
	}
	// userName is case-insensitive
	r = e.must(200, "GET", "/Users?filter="+url.QueryEscape(`userName eq "TEST.User@OKTA.local"`), "")
	if r.body["totalResults"] != 1.0 {
		t.Fatalf("case-insensitive userName: %s", r.raw)
	}
}

func TestOktaCreate(t *testing.T) {
	e := newEnv(t)
	r := e.must(201, "POST", "/Users", oktaCreate)
	if r.body["id"] == "" || r.body["userName"] != "test.user@okta.local" || r.body["active"] != true {
		t.Fatalf("create answer: %s", r.raw)
	}
	if _, ok := r.body["password"]; ok {
		t.Error("the password is returned")
	}
	if r.header.Get("Location") != e.url+"/Users/"+r.body["id"].(string) || get(r.body, "meta.location") != r.header.Get("Location") {
		t.Errorf("Location %q, meta.location %v", r.header.Get("Location"), get(r.body, "meta.location"))
	}
	if get(r.body, "meta.resourceType") != "User" || get(r.body, "meta.created") == nil || get(r.body, "meta.lastModified") == nil {
		t.Errorf("meta = %v", r.body["meta"])
	}
	// the customer extension is kept raw, and listed in schemas
	if !reflect.DeepEqual(r.body["urn:okta:custom:2.0:User"], map[string]any{"costCode": "A-17", "badge": 4411.0}) {
		t.Errorf("custom extension = %v", r.body["urn:okta:custom:2.0:User"])
	}
	if !reflect.DeepEqual(r.body["schemas"], []any{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:okta:custom:2.0:User"}) {
		t.Errorf("schemas = %v", r.body["schemas"])
	}
	// a duplicate is 409 uniqueness (also in another case)
	e.wantError(e.do("POST", "/Users", oktaCreate), 409, "uniqueness")
	dup := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"TEST.USER@okta.local"}`
	e.wantError(e.do("POST", "/Users", dup), 409, "uniqueness")
}

func TestOktaReadAndPut(t *testing.T) {
	e := newEnv(t)
	id := e.createUser(oktaCreate)
	r := e.must(200, "GET", "/Users/"+id, "")
	if r.body["active"] != true {
		t.Fatalf("active = %v", r.body["active"])
	}
	// PUT the whole object back (meta included) with a change
	full := r.body
	full["displayName"] = "Tess User"
	full["name"] = map[string]any{"givenName": "Tess", "familyName": "User"}
	delete(full, "locale") // left out: cleared
	r = e.must(200, "PUT", "/Users/"+id, toJSON(full))
	if r.body["displayName"] != "Tess User" || get(r.body, "name.givenName") != "Tess" || r.body["id"] != id {
		t.Fatalf("PUT answer: %s", r.raw)
	}
	if _, ok := r.body["locale"]; ok {
		t.Errorf("locale left out of the PUT is still there")
	}
	if get(r.body, "meta.created") != get(full, "meta.created") {
		t.Errorf("created changed: %v -> %v", get(full, "meta.created"), get(r.body, "meta.created"))
	}
	// AIW apps deactivate by PUT with active false
	full = r.body
	full["active"] = false
	r = e.must(200, "PUT", "/Users/"+id, toJSON(full))
	if r.body["active"] != false {
		t.Fatalf("active after PUT false: %v", r.body["active"])
	}
	// PUT of an unknown id is 404
	e.wantError(e.do("PUT", "/Users/nope", toJSON(full)), 404, "")
}

func TestOktaDeactivateReactivate(t *testing.T) {
	e := newEnv(t)
	id := e.createUser(oktaCreate)
	for _, active := range []bool{false, true, false} {
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":%v}}]}`, active)
		r := e.must(200, "PATCH", "/Users/"+id, body)
		if r.body["active"] != active {
			t.Fatalf("active = %v, want %v", r.body["active"], active)
		}
		r = e.must(200, "GET", "/Users/"+id, "") // the user stays readable
		if r.body["active"] != active {
			t.Fatalf("GET active = %v, want %v", r.body["active"], active)
		}
	}
	// deactivated users are still found by filters
	r := e.must(200, "GET", "/Users?filter="+url.QueryEscape(`userName eq "test.user@okta.local"`), "")
	if r.body["totalResults"] != 1.0 {
		t.Fatalf("deactivated user not found: %s", r.raw)
	}
}

func TestOktaImportPaging(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := range 7 {
		ids = append(ids, e.createUser(fmt.Sprintf(`{"userName":"u%d@x.test"}`, i)))
	}
	for _, count := range []int{1, 2, 3, 100} {
		var got []string
		for start := 1; start <= 7; start += count {
			r := e.must(200, "GET", fmt.Sprintf("/Users?startIndex=%d&count=%d", start, count), "")
			wantPagingIntegers(t, r)
			if r.body["totalResults"] != 7.0 || r.body["startIndex"] != float64(start) {
				t.Fatalf("page %d/%d: %s", start, count, r.raw)
			}
			for _, res := range r.body["Resources"].([]any) {
				got = append(got, res.(map[string]any)["id"].(string))
			}
		}
		if !reflect.DeepEqual(got, ids) {
			t.Fatalf("count=%d: pages %v, want creation order %v", count, got, ids)
		}
	}
	// count=0: the total only; past the end: empty page
	r := e.must(200, "GET", "/Users?count=0", "")
	if r.body["totalResults"] != 7.0 || r.body["itemsPerPage"] != 0.0 || len(r.body["Resources"].([]any)) != 0 {
		t.Fatalf("count=0: %s", r.raw)
	}
	r = e.must(200, "GET", "/Users?startIndex=50&count=10", "")
	if r.body["itemsPerPage"] != 0.0 {
		t.Fatalf("past the end: %s", r.raw)
	}
	// startIndex < 1 is 1; a huge count is capped
	r = e.must(200, "GET", "/Users?startIndex=-4&count=100000", "")
	if r.body["startIndex"] != 1.0 || r.body["itemsPerPage"] != 7.0 {
		t.Fatalf("startIndex=-4: %s", r.raw)
	}
	e.wantError(e.do("GET", "/Users?count=ten", ""), 400, "invalidValue")
}

func TestOktaGroups(t *testing.T) {
	e := newEnv(t)
	alice := e.createUser(`{"userName":"alice@x.test"}`)
	bob := e.createUser(`{"userName":"bob@x.test"}`)
	carol := e.createUser(`{"userName":"carol@x.test"}`)

	// group push
	r := e.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Test SCIMv2","members":[]}`)
	gid := r.body["id"].(string)
	if r.body["displayName"] != "Test SCIMv2" {
		t.Fatalf("group push: %s", r.raw)
	}
	patch := func(ops string) {
		t.Helper()
		e.must(204, "PATCH", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`+ops+`]}`)
	}
	members := func(want ...string) {
		t.Helper()
		got := e.dir.MemberIDs(gid)
		if !sameSet(got, want) {
			t.Fatalf("members %v, want %v", got, want)
		}
	}
	// full push
	patch(fmt.Sprintf(`{"op":"replace","path":"members","value":[{"value":"%s","display":"alice@x.test"},{"value":"%s","display":"bob@x.test"}]}`, alice, bob))
	members(alice, bob)
	// membership update: remove one and add one in a single PATCH
	patch(fmt.Sprintf(`{"op":"remove","path":"members[value eq \"%s\"]"},{"op":"add","path":"members","value":[{"value":"%s","display":"carol@x.test"}]}`, alice, carol))
	members(bob, carol)
	// group rename by a path-less replace with the id inside: members kept
	patch(fmt.Sprintf(`{"op":"replace","value":{"id":"%s","displayName":"Renamed"}}`, gid))
	members(bob, carol)
	r = e.must(200, "GET", "/Groups/"+gid, "")
	if r.body["displayName"] != "Renamed" || len(r.body["members"].([]any)) != 2 {
		t.Fatalf("after rename: %s", r.raw)
	}
	if get(r.body, "members.0.value") != bob || get(r.body, "members.0.display") != "bob@x.test" || get(r.body, "members.0.$ref") != e.url+"/Users/"+bob {
		t.Errorf("members[0] = %v", get(r.body, "members.0"))
	}
	// AIW apps: PUT /Groups/{id} replaces the members
	r = e.must(200, "PUT", "/Groups/"+gid, fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"%s","displayName":"Renamed","members":[{"value":"%s"}]}`, gid, alice))
	members(alice)
	// group delete
	e.must(204, "DELETE", "/Groups/"+gid, "")
	e.wantError(e.do("GET", "/Groups/"+gid, ""), 404, "")
}

// Entra ID

const entraCreate = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
  "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@testuser.com",
  "active": true,
  "addresses": null,
  "displayName": "Test User",
  "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],
  "meta": {"resourceType": "User"},
  "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
  "phoneNumbers": null,
  "roles": [],
  "title": null,
  "manager": null,
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Eng", "employeeNumber": "701984"}
}`

func patchOps(ops string) string {
	return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + ops + `]}`
}

func TestEntraMatch(t *testing.T) {
	e := newEnv(t)
	// Test Connection: a random GUID as the matching attribute, 200 and an empty list
	r := e.must(200, "GET", "/Users?filter=userName+eq+%22"+"6f9619ff-8b86-d011-b42d-00cf4fc964ff"+"%22", "")
	if r.body["totalResults"] != 0.0 {
		t.Fatalf("test connection: %s", r.raw)
	}
	id := e.createUser(entraCreate)
	for _, f := range []string{
		"userName+eq+%22Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1%40testuser.com%22",
		"externalId+eq+%220a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef%22",
		url.QueryEscape(`emails[type eq "work"].value eq "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"`),
		url.QueryEscape(`emails[type eq "work" and value eq "test_user_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"]`),
	} {
		r := e.must(200, "GET", "/Users?filter="+f, "")
		if r.body["totalResults"] != 1.0 || get(r.body, "Resources.0.id") != id {
			t.Errorf("filter %s: %s", f, r.raw)
		}
	}
	// the work-email filter does not match a home email with that value
	r = e.must(200, "GET", "/Users?filter="+url.QueryEscape(`emails[type eq "home"].value eq "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"`), "")
	if r.body["totalResults"] != 0.0 {
		t.Errorf("home email filter matched: %s", r.raw)
	}
	// externalId is case-exact
	r = e.must(200, "GET", "/Users?filter="+url.QueryEscape(`externalId eq "0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF"`), "")
	if r.body["totalResults"] != 0.0 {
		t.Errorf("externalId matched case-insensitively: %s", r.raw)
	}
}

func TestEntraCreate(t *testing.T) {
	e := newEnv(t)
	r := e.must(201, "POST", "/Users", entraCreate)
	for _, k := range []string{"addresses", "phoneNumbers", "title", "roles", "manager"} {
		if _, ok := r.body[k]; ok {
			t.Errorf("%s (null or empty) is in the answer: %v", k, r.body[k])
		}
	}
	if get(r.body, enterpriseURN+"|department") != "Eng" || get(r.body, "name.formatted") != "givenName familyName" {
		t.Errorf("answer: %s", r.raw)
	}
	if !reflect.DeepEqual(r.body["schemas"], []any{"urn:ietf:params:scim:schemas:core:2.0:User", enterpriseURN}) {
		t.Errorf("schemas = %v", r.body["schemas"])
	}
	// application/json is accepted as well
	r = e.must(201, "POST", "/Users", `{"userName":"plain@json.test"}`, "Content-Type", "application/json")
}

func TestEntraUpdates(t *testing.T) {
	e := newEnv(t)
	id := e.createUser(entraCreate)
	p := func(ops string) resp {
		t.Helper()
		return e.must(200, "PATCH", "/Users/"+id, patchOps(ops))
	}
	// update multi-valued
	r := p(`{"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"},{"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}`)
	if get(r.body, "emails.0.value") != "updatedEmail@microsoft.com" || get(r.body, "emails.0.type") != "work" || get(r.body, "name.familyName") != "updatedFamilyName" || get(r.body, "name.givenName") != "givenName" {
		t.Fatalf("multi-valued update: %s", r.raw)
	}
	// update single-valued; Add of an attribute not set yet
	r = p(`{"op":"Replace","path":"userName","value":"5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"},{"op":"Add","path":"nickName","value":"Babs"}`)
	if r.body["userName"] != "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com" || r.body["nickName"] != "Babs" {
		t.Fatalf("single-valued update: %s", r.raw)
	}
	// enterprise attributes by URN path
	r = p(`{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Sales"}`)
	if get(r.body, enterpriseURN+"|department") != "Sales" || get(r.body, enterpriseURN+"|employeeNumber") != "701984" {
		t.Fatalf("department: %s", r.raw)
	}
	// manager as a bare string, answered as an object
	mgr := e.createUser(`{"userName":"boss@testuser.com"}`)
	r = p(fmt.Sprintf(`{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"%s"}`, mgr))
	if !reflect.DeepEqual(get(r.body, enterpriseURN+"|manager"), map[string]any{"value": mgr}) {
		t.Fatalf("manager from a string: %v", get(r.body, enterpriseURN+"|manager"))
	}
	// the doc's example 5: unqualified path, a one-element array with $ref
	r = p(fmt.Sprintf(`{"op":"Add","path":"manager","value":[{"$ref":"../Users/%s","value":"%s"}]}`, mgr, mgr))
	if !reflect.DeepEqual(get(r.body, enterpriseURN+"|manager"), map[string]any{"value": mgr, "$ref": "../Users/" + mgr}) {
		t.Fatalf("manager from an array: %v", get(r.body, enterpriseURN+"|manager"))
	}
	// disable with the string "False" (default client), then the flag form with a boolean
	r = p(`{"op":"Replace","path":"active","value":"False"}`)
	if r.body["active"] != false {
		t.Fatalf(`active "False": %v`, r.body["active"])
	}
	r = p(`{"op":"replace","path":"active","value":true}`)
	if r.body["active"] != true {
		t.Fatalf("active true: %v", r.body["active"])
	}
	// the flag form of a multi-replace: dotted and URN keys in a path-less value
	r = p(`{"op":"replace","value":{"displayName":"New Name","name.givenName":"Newgiven","name.familyName":"Newfamily","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"42","active":"True"}}`)
	if r.body["displayName"] != "New Name" || get(r.body, "name.givenName") != "Newgiven" || get(r.body, "name.familyName") != "Newfamily" ||
		get(r.body, enterpriseURN+"|employeeNumber") != "42" || get(r.body, "name.formatted") != "givenName familyName" || r.body["active"] != true {
		t.Fatalf("flag form: %s", r.raw)
	}
	// delete
	e.must(204, "DELETE", "/Users/"+id, "")
	e.wantError(e.do("GET", "/Users/"+id, ""), 404, "")
	e.wantError(e.do("DELETE", "/Users/"+id, ""), 404, "")
}

func TestEntraGroups(t *testing.T) {
	e := newEnv(t)
	u1 := e.createUser(`{"userName":"one@x.test"}`)
	u2 := e.createUser(`{"userName":"two@x.test"}`)
	u3 := e.createUser(`{"userName":"three@x.test"}`)
	r := e.must(201, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName","meta":{"resourceType":"Group"}}`)
	gid := r.body["id"].(string)
	if r.body["externalId"] != "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159" {
		t.Fatalf("group create: %s", r.raw)
	}
	r = e.must(200, "GET", "/Groups?excludedAttributes=members&filter="+url.QueryEscape(`displayName eq "displayName"`), "")
	if r.body["totalResults"] != 1.0 || get(r.body, "Resources.0.id") != gid {
		t.Fatalf("group match: %s", r.raw)
	}
	reads := e.dir.Reads() // the create answer listed the (empty) members
	// members add, then several memberships in one PATCH
	e.must(204, "PATCH", "/Groups/"+gid, patchOps(fmt.Sprintf(`{"op":"Add","path":"members","value":[{"$ref":null,"value":"%s"}]}`, u1)))
	e.must(204, "PATCH", "/Groups/"+gid, patchOps(fmt.Sprintf(`{"op":"Add","path":"members","value":[{"$ref":null,"value":"%s"},{"$ref":null,"value":"%s"}]}`, u2, u3)))
	if got := e.dir.MemberIDs(gid); !sameSet(got, []string{u1, u2, u3}) {
		t.Fatalf("members %v", got)
	}
	// idempotent add
	e.must(204, "PATCH", "/Groups/"+gid, patchOps(fmt.Sprintf(`{"op":"Add","path":"members","value":[{"value":"%s"}]}`, u1)))
	// remove (default client): Remove on members with a value array removes only those
	e.must(204, "PATCH", "/Groups/"+gid, patchOps(fmt.Sprintf(`{"op":"Remove","path":"members","value":[{"value":"%s"}]}`, u1)))
	if got := e.dir.MemberIDs(gid); !sameSet(got, []string{u2, u3}) {
		t.Fatalf("after Remove with value: %v", got)
	}
	// remove (flag)
	e.must(204, "PATCH", "/Groups/"+gid, patchOps(fmt.Sprintf(`{"op":"remove","path":"members[value eq \"%s\"]"}`, u2)))
	if got := e.dir.MemberIDs(gid); !sameSet(got, []string{u3}) {
		t.Fatalf("after remove by filter: %v", got)
	}
	// the member PATCHes read no member list
	if n := e.dir.Reads() - reads; n != 0 {
		t.Errorf("member PATCHes read the member list %d times", n)
	}
	// GET by id without members
	r = e.must(200, "GET", "/Groups/"+gid+"?excludedAttributes=members", "")
	if _, ok := r.body["members"]; ok || r.body["displayName"] != "displayName" {
		t.Fatalf("excludedAttributes=members: %s", r.raw)
	}
	if n := e.dir.Reads() - reads; n != 0 {
		t.Errorf("excludedAttributes=members read the member list %d times", n)
	}
	r = e.must(200, "GET", "/Groups/"+gid, "")
	if len(r.body["members"].([]any)) != 1 {
		t.Fatalf("members: %s", r.raw)
	}
}

// Entra's guidelines: "Groups must have uniqueness on the 'displayName' value to match with
// Azure AD and the SCIM application" (it matches groups by displayName eq, which compares
// case-insensitively): a create or a rename onto another group's name is 409 uniqueness and
// writes nothing.
func TestEntraGroupDisplayNameUnique(t *testing.T) {
	e := newEnv(t)
	u := e.createUser(`{"userName":"one@x.test"}`)
	sales := e.createGroup(`{"displayName":"Sales"}`)
	for _, name := range []string{"Sales", "sales", "SALES"} {
		e.wantError(e.do("POST", "/Groups", `{"displayName":"`+name+`","members":[{"value":"`+u+`"}]}`), 409, "uniqueness")
	}
	r := e.must(200, "GET", "/Groups?filter="+url.QueryEscape(`displayName eq "Sales"`), "")
	if r.body["totalResults"] != 1.0 || get(r.body, "Resources.0.id") != sales {
		t.Fatalf("after the refused creates: %s", r.raw)
	}
	emea := e.createGroup(`{"displayName":"Sales EMEA"}`)
	// renames onto Sales: Entra's Replace with a path, Okta's path-less replace, a PUT
	for _, body := range []string{
		patchOps(`{"op":"Replace","path":"displayName","value":"sales"}`),
		patchOps(`{"op":"replace","value":{"id":"` + emea + `","displayName":"Sales"}},{"op":"add","path":"members","value":[{"value":"` + u + `"}]}`),
	} {
		e.wantError(e.do("PATCH", "/Groups/"+emea, body), 409, "uniqueness")
	}
	e.wantError(e.do("PUT", "/Groups/"+emea, `{"displayName":"SALES","members":[{"value":"`+u+`"}]}`), 409, "uniqueness")
	r = e.must(200, "GET", "/Groups/"+emea, "")
	if r.body["displayName"] != "Sales EMEA" || r.body["members"] != nil {
		t.Fatalf("a refused rename wrote: %s", r.raw)
	}
	// a group keeps its own name (in any case), with members changing: Okta sends the
	// path-less rename with each membership update
	e.must(204, "PATCH", "/Groups/"+sales, patchOps(`{"op":"replace","value":{"id":"`+sales+`","displayName":"Sales"}},{"op":"add","path":"members","value":[{"value":"`+u+`"}]}`))
	e.must(204, "PATCH", "/Groups/"+sales, patchOps(`{"op":"Replace","path":"displayName","value":"SALES"}`))
	e.must(200, "PUT", "/Groups/"+sales, `{"displayName":"Sales","members":[{"value":"`+u+`"}]}`)
	// a free name is taken by a rename; the old name is free again, and so is a deleted group's
	e.must(204, "PATCH", "/Groups/"+emea, patchOps(`{"op":"Replace","path":"displayName","value":"Sales APAC"}`))
	e.createGroup(`{"displayName":"Sales EMEA"}`)
	e.must(204, "DELETE", "/Groups/"+sales, "")
	e.createGroup(`{"displayName":"sales"}`)
}

func TestEntraDiscoveryAndCustomExtension(t *testing.T) {
	e := newEnv(t)
	r := e.must(200, "GET", "/Schemas", "")
	wantPagingIntegers(t, r)
	ids := map[string]bool{}
	for _, s := range r.body["Resources"].([]any) {
		ids[s.(map[string]any)["id"].(string)] = true
	}
	for _, want := range []string{"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:core:2.0:Group", enterpriseURN} {
		if !ids[want] {
			t.Errorf("/Schemas lacks %s", want)
		}
	}
	// a customer attribute under a customer URN, by POST and by PATCH path
	const custom = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
	id := e.createUser(`{"userName":"c@x.test","` + custom + `":{"tag":"blue"}}`)
	r = e.must(200, "PATCH", "/Users/"+id, patchOps(`{"op":"Add","path":"`+custom+`:tag","value":"green"},{"op":"add","path":"`+custom+`:other","value":"x"}`))
	if !reflect.DeepEqual(r.body[custom], map[string]any{"tag": "green", "other": "x"}) {
		t.Fatalf("custom extension: %s", r.raw)
	}
}

func TestResponseShapes(t *testing.T) {
	e := newEnv(t)
	// 401 with no detail, for no token and a wrong one
	for _, tok := range []string{"", "wrong"} {
		r := e.doToken(tok, "GET", "/Users", "")
		e.wantError(r, 401, "")
		if _, ok := r.body["detail"]; ok {
			t.Errorf("401 has a detail: %s", r.raw)
		}
	}
	// another directory's token reaches only that directory
	other := e.b.AddDirectory("token-two")
	e.createUser(`{"userName":"mine@x.test"}`)
	r := e.doToken("token-two", "GET", "/Users", "")
	if r.status != 200 || r.body["totalResults"] != 0.0 {
		t.Fatalf("other directory sees: %s", r.raw)
	}
	other.SetDisabled(true)
	e.wantError(e.doToken("token-two", "GET", "/Users", ""), 401, "")
	// discovery
	r = e.must(200, "GET", "/ServiceProviderConfig", "")
	if get(r.body, "patch.supported") != true || get(r.body, "bulk.supported") != false || get(r.body, "filter.maxResults") != 1000.0 {
		t.Errorf("ServiceProviderConfig: %s", r.raw)
	}
	r = e.must(200, "GET", "/ResourceTypes", "")
	if r.body["totalResults"] != 2.0 || get(r.body, "Resources.0.schemaExtensions.0.schema") != enterpriseURN {
		t.Errorf("ResourceTypes: %s", r.raw)
	}
	r = e.must(200, "GET", "/Schemas/"+enterpriseURN, "")
	if r.body["id"] != enterpriseURN || get(r.body, "attributes.5.name") != "manager" {
		t.Errorf("enterprise schema: %s", r.raw)
	}
	r = e.must(200, "GET", "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", "")
	if get(r.body, "attributes.0.name") != "userName" || get(r.body, "attributes.0.uniqueness") != "server" || get(r.body, "attributes.0.caseExact") != false {
		t.Errorf("User schema: %s", r.raw)
	}
	e.wantError(e.do("GET", "/Schemas/urn:nope", ""), 404, "")
	e.wantError(e.do("GET", "/Nope", ""), 404, "")
	e.wantError(e.do("POST", "/Users/x", "{}"), 405, "")
}

func sameSet(a, b []string) bool {
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

var _ = http.StatusOK
