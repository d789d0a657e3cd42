package scim_test

import (
	"fmt"
	"testing"

	"github.com/rosterhq/roster/scim"
)

// TestAnswersAreRFC7643: what the handler answers after the IdPs' quirky writes validates
// against SCIMMY 1.3.5's User (+ enterprise extension) and Group definitions: booleans as
// booleans, manager as an object, members as an array of objects.
func TestAnswersAreRFC7643(t *testing.T) {
	e := newEnv(t)
	okta := e.createUser(oktaCreate)
	entra := e.createUser(entraCreate)
	e.must(200, "PATCH", "/Users/"+entra, patchOps(fmt.Sprintf(
		`{"op":"Replace","path":"active","value":"False"},{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"%s"},`+
			`{"op":"replace","value":{"name.givenName":"G","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"1"}}`, okta)))
	e.must(200, "PATCH", "/Users/"+okta, patchOps(`{"op":"replace","value":{"active":false}}`))
	gid := e.createGroup(`{"displayName":"G","members":[{"value":"` + okta + `"}]}`)
	empty := e.createGroup(`{"displayName":"Empty","members":[]}`)

	var types []string
	var answers []map[string]any
	for _, id := range []string{okta, entra} {
		types = append(types, "User")
		answers = append(answers, e.must(200, "GET", "/Users/"+id, "").body)
	}
	for _, id := range []string{gid, empty} {
		types = append(types, "Group")
		answers = append(answers, e.must(200, "GET", "/Groups/"+id, "").body)
	}
	for i, err := range scim.ValidateWithSCIMMY(t, types, answers) {
		if err != "" {
			t.Errorf("%s answer is not valid RFC 7643 for SCIMMY: %s\n%s", types[i], err, toJSON(answers[i]))
		}
	}
	// and SCIMMY does reject the IdPs' shapes, so the check has teeth
	bad := map[string]any{"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:User"}, "id": "x", "userName": "a", "active": "False"}
	if errs := scim.ValidateWithSCIMMY(t, []string{"User"}, []map[string]any{bad}); errs[0] == "" {
		t.Error(`SCIMMY accepted active "False"`)
	}
}
