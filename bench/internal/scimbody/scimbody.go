// Package scimbody builds the SCIM request bodies of the load benchmark's SCIM rows, shaped
// like what Microsoft Entra ID and Okta send (../shared/notes/scim-idp-requests.md). The seeder
// (bench/cmd/seed --scim) and benchkit (benchkit scim) share it, so that a seeded user and a
// benchmarked create look the same.
package scimbody

import "fmt"

// Domain is the bench directory's organization's domain: every SCIM user's email is in it (a
// directory links and creates users of its organization's domains only).
const Domain = "scim.bench.example.com"

// URNs of the schemas the bodies carry.
const (
	CoreUser   = "urn:ietf:params:scim:schemas:core:2.0:User"
	CoreGroup  = "urn:ietf:params:scim:schemas:core:2.0:Group"
	Enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	// Customer is an undeclared customer extension, as Entra sends customer attributes
	// (the notes' "urn:…:CustomExtensionName:2.0:User:tag").
	Customer = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
	PatchOp  = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// Email is the work email (and userName) of the user named name.
func Email(name string) string { return name + "@" + Domain }

// CreateUser is Entra's POST /Users body (the documented create, with the older body's nulls)
// carrying the enterprise extension and a customer extension. name makes userName, the email
// and externalId unique; i varies the other values.
func CreateUser(name string, i int) map[string]any {
	email := Email(name)
	return map[string]any{
		"schemas":      []string{CoreUser, Enterprise, Customer},
		"externalId":   name,
		"userName":     email,
		"active":       true,
		"emails":       []any{map[string]any{"primary": true, "type": "work", "value": email}},
		"meta":         map[string]any{"resourceType": "User"},
		"name":         map[string]any{"formatted": fmt.Sprintf("Given%d Family%d", i, i), "familyName": fmt.Sprintf("Family%d", i), "givenName": fmt.Sprintf("Given%d", i)},
		"displayName":  fmt.Sprintf("Given%d Family%d", i, i),
		"roles":        []any{},
		"title":        nil,
		"addresses":    nil,
		"phoneNumbers": nil,
		Enterprise: map[string]any{
			"employeeNumber": fmt.Sprint(i),
			"department":     fmt.Sprintf("Department %d", i%20),
			"costCenter":     fmt.Sprintf("CC-%d", i%50),
			"organization":   "Bench",
			"division":       "R&D",
		},
		Customer: map[string]any{"tag": fmt.Sprintf("t%d", i%7)},
	}
}

// PutUser is Okta's PUT /Users/{id} (AIW apps: GET, then the whole object back, meta
// included) of the user seeded as name, with its profile changed (k varies it): same userName
// and email, active kept true.
func PutUser(id, name string, i, k int) map[string]any {
	email := Email(name)
	return map[string]any{
		"schemas":     []string{CoreUser, Enterprise, Customer},
		"id":          id,
		"externalId":  name,
		"userName":    email,
		"active":      true,
		"emails":      []any{map[string]any{"primary": true, "type": "work", "value": email}},
		"name":        map[string]any{"familyName": fmt.Sprintf("Family%d", i), "givenName": fmt.Sprintf("Put%d", k)},
		"displayName": fmt.Sprintf("Put%d Family%d", k, i),
		"locale":      "en-US",
		"title":       fmt.Sprintf("Title %d", k%30),
		"groups":      []any{},
		"meta":        map[string]any{"resourceType": "User"},
		Enterprise: map[string]any{
			"employeeNumber": fmt.Sprint(i),
			"department":     fmt.Sprintf("Department %d", k%20),
			"costCenter":     fmt.Sprintf("CC-%d", k%50),
		},
		Customer: map[string]any{"tag": fmt.Sprintf("p%d", k%7)},
	}
}

// PatchForms is how many Entra "Replace" forms PatchUser rotates through.
const PatchForms = 3

// PatchUser is one of Entra's "Replace" PATCHes of a user (form k % PatchForms):
//
//  0. the multi-valued update: `emails[type eq "work"].value` (to newEmail, which must be
//     unique to this request) and `name.familyName`;
//  1. an enterprise attribute by its URN path and a core single-valued one (`title`);
//  2. the path-less "flag" form with dotted and URN keys in its value.
func PatchUser(k int, newEmail string) map[string]any {
	var ops []any
	switch k % PatchForms {
	case 0:
		ops = []any{
			map[string]any{"op": "Replace", "path": `emails[type eq "work"].value`, "value": newEmail},
			map[string]any{"op": "Replace", "path": "name.familyName", "value": fmt.Sprintf("Patched%d", k)},
		}
	case 1:
		ops = []any{
			map[string]any{"op": "Replace", "path": Enterprise + ":department", "value": fmt.Sprintf("Department P%d", k%20)},
			map[string]any{"op": "Replace", "path": "title", "value": fmt.Sprintf("Title P%d", k%30)},
		}
	default:
		ops = []any{map[string]any{"op": "Replace", "value": map[string]any{
			"displayName":                  fmt.Sprintf("Flag%d", k),
			"name.givenName":               fmt.Sprintf("Flag%d", k),
			"name.familyName":              fmt.Sprintf("Form%d", k),
			Enterprise + ":employeeNumber": fmt.Sprintf("E%d", k),
		}}}
	}
	return map[string]any{"schemas": []string{PatchOp}, "Operations": ops}
}

// AddMembers is a PATCH adding members to a group, Entra's form (many per request, as its
// gallery checklist asks).
func AddMembers(ids []string) map[string]any {
	vals := make([]any, len(ids))
	for i, id := range ids {
		vals[i] = map[string]any{"$ref": nil, "value": id}
	}
	return map[string]any{"schemas": []string{PatchOp}, "Operations": []any{
		map[string]any{"op": "Add", "path": "members", "value": vals},
	}}
}

// OktaAddMember and OktaRemoveMember are Okta's membership PATCHes of one member.
func OktaAddMember(id, userName string) map[string]any {
	return map[string]any{"schemas": []string{PatchOp}, "Operations": []any{
		map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": id, "display": userName}}},
	}}
}

func OktaRemoveMember(id string) map[string]any {
	return map[string]any{"schemas": []string{PatchOp}, "Operations": []any{
		map[string]any{"op": "remove", "path": fmt.Sprintf(`members[value eq %q]`, id)},
	}}
}

// CreateGroup is Entra's POST /Groups (created with no members).
func CreateGroup(name string) map[string]any {
	return map[string]any{
		"schemas":     []string{CoreGroup, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"},
		"externalId":  name,
		"displayName": name,
		"meta":        map[string]any{"resourceType": "Group"},
	}
}
