package scim

// Third-party oracles decide what PATCH and filters must do: scim-patch 0.8.3 (npm, Unlicense)
// for PATCH results and SCIMMY 1.3.5 (npm, MIT) for filter matches, run by
// testdata/oracle/oracle.mjs. Every case says who decided it: "scim-patch" or "scimmy" (our
// answer must equal the oracle's), or "roster: <why>" where Roster deliberately departs from
// the oracle (an IdP quirk it accepts, or an RFC rule the oracle does not apply); then the
// expected answer is written in the case, and the oracle's answer is logged beside it.
//
// Node.js and npm are required (like the e2e suites): a missing tool fails the test.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// oracleDir holds package.json, package-lock.json and oracle.mjs.
const oracleDir = "testdata/oracle"

func oracleDeps(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on PATH: the oracle tests need Node.js and npm (%v)", tool, err)
		}
	}
	installed := true
	for _, pkg := range []string{"scim-patch", "scimmy"} {
		if _, err := os.Stat(filepath.Join(oracleDir, "node_modules", pkg, "package.json")); err != nil {
			installed = false
		}
	}
	if installed {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = oracleDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", oracleDir, err, out)
	}
}

type oracleIn struct {
	Patch    []oraclePatchIn    `json:"patch"`
	Filter   []oracleFilterIn   `json:"filter"`
	Validate []oracleValidateIn `json:"validate"`
}

type oracleValidateIn struct {
	Type     string         `json:"type"`
	Resource map[string]any `json:"resource"`
}

type oraclePatchIn struct {
	Resource map[string]any `json:"resource"`
	Ops      []any          `json:"ops"`
}

// the lists are never null in JSON
func (in oracleIn) withEmpty() oracleIn {
	if in.Patch == nil {
		in.Patch = []oraclePatchIn{}
	}
	if in.Filter == nil {
		in.Filter = []oracleFilterIn{}
	}
	return in
}

type oracleFilterIn struct {
	Filter    string           `json:"filter"`
	Resources []map[string]any `json:"resources"`
}

type oracleOut struct {
	Patch []struct {
		Result map[string]any `json:"result"`
		Error  string         `json:"error"`
	} `json:"patch"`
	Filter []struct {
		Matched []string `json:"matched"`
		Error   string   `json:"error"`
	} `json:"filter"`
	Validate []struct {
		Error string `json:"error"`
	} `json:"validate"`
}

func runOracle(t *testing.T, in oracleIn) oracleOut {
	t.Helper()
	oracleDeps(t)
	data, err := json.Marshal(in.withEmpty())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "oracle.mjs")
	cmd.Dir = oracleDir
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outData, err := cmd.Output()
	if err != nil {
		t.Fatalf("node oracle.mjs: %v\n%s", err, stderr.String())
	}
	var out oracleOut
	dec := json.NewDecoder(bytes.NewReader(outData))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("oracle output: %v\n%s", err, outData)
	}
	return out
}

func mustJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%v in %s", err, s)
	}
	return m
}

// canon normalizes a User body as the handler does, so that both sides compare in one form.
func canon(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	// through JSON, so numbers are json.Number on both sides
	data, _ := json.Marshal(m)
	out, err := normalize(Users, mustJSON(t, string(data)), bodyMode)
	if err != nil {
		t.Fatalf("normalize %s: %v", data, err)
	}
	return out
}

const oracleUser = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "userName": "bjensen",
  "name": {"givenName": "Barbara", "familyName": "Jensen"},
  "emails": [{"value": "bj@work.test", "type": "work", "primary": true}, {"value": "bj@home.test", "type": "home"}],
  "active": true,
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Eng", "employeeNumber": "7"}
}`

type patchCase struct {
	name    string
	ops     string // JSON array of operations
	decided string // "scim-patch", or "roster: why"
	want    string // for roster: the expected resource (JSON), or "" with wantErr
	wantErr string // for roster: the expected scimType of the error
}

var patchCases = []patchCase{
	{name: "replace sub-attribute", ops: `[{"op":"replace","path":"name.familyName","value":"Jensen-Smith"}]`, decided: "scim-patch"},
	{name: "replace filtered sub-attribute (Entra)", ops: `[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"new@work.test"}]`, decided: "scim-patch"},
	{name: "add a simple attribute", ops: `[{"op":"Add","path":"nickName","value":"Babs"}]`, decided: "scim-patch"},
	{name: "replace userName", ops: `[{"op":"replace","path":"userName","value":"barbara"}]`, decided: "scim-patch"},
	{name: "path-less replace (Okta deactivate)", ops: `[{"op":"replace","value":{"active":false}}]`, decided: "scim-patch"},
	{name: "path-less replace with dotted keys", ops: `[{"op":"replace","value":{"name.givenName":"Babs","displayName":"Babs J"}}]`, decided: "scim-patch"},
	{name: "replace an enterprise attribute by URN path", ops: `[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Sales"}]`, decided: "scim-patch"},
	{name: "remove a filtered element", ops: `[{"op":"remove","path":"emails[type eq \"home\"]"}]`, decided: "scim-patch"},
	{name: "add to a multi-valued attribute", ops: `[{"op":"add","path":"emails","value":[{"value":"bj@other.test","type":"other"}]}]`, decided: "scim-patch"},
	{name: "remove a sub-attribute", ops: `[{"op":"remove","path":"name.givenName"}]`, decided: "scim-patch"},
	{name: "replace a whole multi-valued attribute", ops: `[{"op":"replace","path":"emails","value":[{"value":"only@work.test","type":"work"}]}]`, decided: "scim-patch"},
	{name: "path-less add", ops: `[{"op":"add","value":{"title":"Engineer"}}]`, decided: "scim-patch"},
	{name: "remove with a value array names elements by value",
		ops:     `[{"op":"remove","path":"emails","value":[{"value":"bj@home.test"}]}]`,
		decided: "roster: Entra's Remove with a value array names the elements by their value sub-attribute; scim-patch removes only elements deep-equal to the ones given",
		want:    `{"userName":"bjensen","name":{"givenName":"Barbara","familyName":"Jensen"},"active":true,"emails":[{"value":"bj@work.test","type":"work","primary":true}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Eng","employeeNumber":"7"}}`},
	{name: "remove with a value array of whole elements", ops: `[{"op":"remove","path":"emails","value":[{"value":"bj@home.test","type":"home"}]}]`, decided: "scim-patch"},
	{name: "replace a complex attribute merges sub-attributes", ops: `[{"op":"replace","path":"name","value":{"givenName":"B"}}]`, decided: "scim-patch"},
	{name: "replace a filtered element", ops: `[{"op":"replace","path":"emails[type eq \"work\"]","value":{"value":"w2@work.test","type":"work"}}]`, decided: "scim-patch"},
	{name: "remove an enterprise attribute", ops: `[{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}]`, decided: "scim-patch"},
	{name: "path-less replace of the extension object",
		ops:     `[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Ops"}}}]`,
		decided: "roster: the extension is a complex value whose given attributes are replaced and the others kept (RFC 7644 3.5.2.3); scim-patch splits the URN at its dots into a new key",
		want:    `{"userName":"bjensen","name":{"givenName":"Barbara","familyName":"Jensen"},"active":true,"emails":[{"value":"bj@work.test","type":"work","primary":true},{"value":"bj@home.test","type":"home"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Ops","employeeNumber":"7"}}`},
	{name: "several operations in order", ops: `[{"op":"add","path":"title","value":"A"},{"op":"replace","path":"title","value":"B"},{"op":"remove","path":"nickName"}]`, decided: "scim-patch"},
	{name: "remove without path", ops: `[{"op":"remove"}]`, decided: "scim-patch"},

	{name: "filtered sub-attribute with no match creates the element (Entra)",
		ops:     `[{"op":"replace","path":"emails[type eq \"other\"].value","value":"bj@other.test"}]`,
		decided: "roster: Entra replaces emails[type eq \"work\"].value on users that have no such email yet; the element is created from the filter's eq conditions",
		want:    `{"userName":"bjensen","name":{"givenName":"Barbara","familyName":"Jensen"},"active":true,"emails":[{"value":"bj@work.test","type":"work","primary":true},{"value":"bj@home.test","type":"home"},{"value":"bj@other.test","type":"other"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Eng","employeeNumber":"7"}}`},
	{name: "remove of a filtered element that is not there",
		ops:     `[{"op":"remove","path":"emails[type eq \"fax\"]"}]`,
		decided: "roster: RFC 7644 3.5.2.2 asks noTarget only of replace; a remove that finds nothing is a no-op so that IdPs may repeat it",
		want:    oracleUser},
	{name: "manager as a bare string (Entra)",
		ops:     `[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"boss-id"}]`,
		decided: "roster: RFC 7643 4.3 manager is complex; Entra's bare string becomes {\"value\": ...}",
		want:    `{"userName":"bjensen","name":{"givenName":"Barbara","familyName":"Jensen"},"active":true,"emails":[{"value":"bj@work.test","type":"work","primary":true},{"value":"bj@home.test","type":"home"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Eng","employeeNumber":"7","manager":{"value":"boss-id"}}}`},
	{name: "boolean as a string (Entra)",
		ops:     `[{"op":"Replace","path":"active","value":"False"}]`,
		decided: "roster: active is a boolean (RFC 7643 4.1.1); Entra's \"False\" is read as false",
		want:    `{"userName":"bjensen","name":{"givenName":"Barbara","familyName":"Jensen"},"active":false,"emails":[{"value":"bj@work.test","type":"work","primary":true},{"value":"bj@home.test","type":"home"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Eng","employeeNumber":"7"}}`},
	{name: "add a new primary clears the old one",
		ops:     `[{"op":"add","path":"emails","value":[{"value":"new@work.test","type":"work","primary":true}]}]`,
		decided: "roster: RFC 7643 2.4, primary true appears no more than once",
		want:    `{"userName":"bjensen","name":{"givenName":"Barbara","familyName":"Jensen"},"active":true,"emails":[{"value":"bj@work.test","type":"work","primary":false},{"value":"bj@home.test","type":"home"},{"value":"new@work.test","type":"work","primary":true}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Eng","employeeNumber":"7"}}`},
	{name: "path-less replace with an id inside (Okta group rename shape)",
		ops:     `[{"op":"replace","value":{"id":"some-id","displayName":"BJ"}}]`,
		decided: "roster: id is read-only (RFC 7643 3.1) and ignored inside a path-less value",
		want:    `{"userName":"bjensen","displayName":"BJ","name":{"givenName":"Barbara","familyName":"Jensen"},"active":true,"emails":[{"value":"bj@work.test","type":"work","primary":true},{"value":"bj@home.test","type":"home"}],"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Eng","employeeNumber":"7"}}`},
}

type filterCase struct {
	filter  string
	decided string // "scimmy", or "roster: why"
	want    []string
}

// oracleUsers are the resources filters run on; ids a, b, c.
var oracleUsers = []string{
	`{"id":"a","userName":"bjensen","name":{"givenName":"Barbara","familyName":"Jensen"},"title":"Tour Guide","active":true,
	  "emails":[{"value":"bj@work.test","type":"work","primary":true},{"value":"bj@home.test","type":"home"}],
	  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"7","department":"Eng"}}`,
	`{"id":"b","userName":"jsmith","name":{"givenName":"John","familyName":"Smith"},"active":false,
	  "emails":[{"value":"js@home.test","type":"home"}],
	  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"8"}}`,
	`{"id":"c","userName":"mdoe","displayName":"Mary Doe","active":true,"emails":[{"value":"md@work.test","type":"work"}]}`,
}

var filterCases = []filterCase{
	{filter: `userName eq "bjensen"`, decided: "scimmy"},
	{filter: `name.familyName co "mit"`, want: []string{"b"},
		decided: "roster: SCIMMY throws (TypeError) on a resource without name; a missing attribute simply does not match"},
	{filter: `name pr and name.familyName co "mit"`, want: []string{"b"},
		decided: "roster: pr applies to a complex attribute (RFC 7644 3.4.2.2); SCIMMY throws (TypeError) on it"},
	{filter: `userName sw "j"`, decided: "scimmy"},
	{filter: `userName ew "doe"`, decided: "scimmy"},
	{filter: `title pr`, decided: "scimmy"},
	{filter: `displayName pr`, decided: "scimmy"},
	{filter: `emails[type eq "work" and value co "@work"]`, decided: "scimmy"},
	{filter: `emails.value ew "home.test"`, decided: "scimmy"},
	{filter: `emails.type eq "work"`, decided: "scimmy"},
	{filter: `active eq false`, decided: "scimmy"},
	{filter: `active eq true and emails[type eq "work"]`, decided: "scimmy"},
	{filter: `not (userName eq "bjensen")`, decided: "scimmy"},
	{filter: `userName eq "bjensen" or userName eq "mdoe"`, decided: "scimmy"},
	{filter: `userName gt "jsmith"`, decided: "scimmy"},
	{filter: `userName le "jsmith"`, decided: "scimmy"},
	{filter: `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "8"`, want: []string{"b"},
		decided: "roster: URN-qualified attribute names (RFC 7644 3.10); SCIMMY's Filter, used without a schema, matches nothing"},
	{filter: `userName eq "bjensen" and (active eq false or title pr)`, decided: "scimmy"},
	{filter: `userName ne "bjensen"`, decided: "scimmy"},

	{filter: `userName eq "BJENSEN"`, want: []string{"a"},
		decided: "roster: userName is caseExact false (RFC 7643 4.1.1), so eq ignores case; SCIMMY compares exactly"},
	{filter: `emails[type eq "work"].value eq "md@work.test"`, want: []string{"c"},
		decided: "roster: Entra's form (not RFC 7644 grammar), read as emails[type eq \"work\" and value eq \"...\"]"},
	{filter: `emails co "home"`, want: []string{"a", "b"},
		decided: "roster: a multi-valued complex attribute compared as a whole compares its value sub-attribute (RFC 7644 3.4.2.2)"},
}

func TestOracles(t *testing.T) {
	var in oracleIn
	for _, c := range patchCases {
		var ops []any
		if err := json.Unmarshal([]byte(c.ops), &ops); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		in.Patch = append(in.Patch, oraclePatchIn{Resource: mustJSON(t, oracleUser), Ops: ops})
	}
	var users []map[string]any
	for _, u := range oracleUsers {
		users = append(users, mustJSON(t, u))
	}
	for _, c := range filterCases {
		in.Filter = append(in.Filter, oracleFilterIn{Filter: c.filter, Resources: users})
	}
	out := runOracle(t, in)
	if len(out.Patch) != len(patchCases) || len(out.Filter) != len(filterCases) {
		t.Fatalf("oracle answered %d/%d cases", len(out.Patch), len(out.Filter))
	}

	for i, c := range patchCases {
		t.Run("patch/"+c.name, func(t *testing.T) {
			oracle := out.Patch[i]
			before := &Resource{ID: "x", Attributes: canon(t, mustJSON(t, oracleUser))}
			body := mustJSON(t, `{"Operations":`+c.ops+`}`)
			var got map[string]any
			p, err := ParsePatch(Users, body)
			if err == nil {
				var res *Resource
				if res, err = p.Apply(before); err == nil {
					got = res.Attributes
				}
			}
			var gotType string
			if se, ok := err.(*Error); ok {
				gotType = se.ScimType
			} else if err != nil {
				t.Fatalf("not a SCIM error: %v", err)
			}
			if c.decided == "scim-patch" {
				if oracle.Error != "" {
					if err == nil {
						t.Fatalf("scim-patch refuses (%s), Roster gives %v", oracle.Error, got)
					}
					if !strings.HasPrefix(oracle.Error, gotType+":") {
						t.Errorf("scimType %q, scim-patch says %s", gotType, oracle.Error)
					}
					return
				}
				if err != nil {
					t.Fatalf("Roster refuses (%v), scim-patch gives %v", err, oracle.Result)
				}
				if want := canon(t, oracle.Result); !reflect.DeepEqual(got, want) {
					t.Fatalf("Roster:\n%s\nscim-patch:\n%s", toJSONString(got), toJSONString(want))
				}
				return
			}
			t.Logf("decided by %s; scim-patch gave %s%s", c.decided, toJSONString(oracle.Result), oracle.Error)
			if c.wantErr != "" {
				if gotType != c.wantErr {
					t.Fatalf("scimType %q, want %q (%v)", gotType, c.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := canon(t, mustJSON(t, c.want)); !reflect.DeepEqual(got, want) {
				t.Fatalf("Roster:\n%s\nwant:\n%s", toJSONString(got), toJSONString(want))
			}
		})
	}

	for i, c := range filterCases {
		t.Run("filter/"+c.filter, func(t *testing.T) {
			oracle := out.Filter[i]
			f, err := ParseFilter(Users, c.filter)
			if err != nil {
				t.Fatalf("Roster refuses: %v (SCIMMY: %v %s)", err, oracle.Matched, oracle.Error)
			}
			var got []string
			for _, u := range users {
				r := &Resource{ID: u["id"].(string), Attributes: canon(t, u)}
				if f.Match(r) {
					got = append(got, r.ID)
				}
			}
			want := c.want
			if c.decided == "scimmy" {
				if oracle.Error != "" {
					t.Fatalf("SCIMMY refuses: %s", oracle.Error)
				}
				want = oracle.Matched
			} else {
				t.Logf("decided by %s; SCIMMY matched %v%s", c.decided, oracle.Matched, oracle.Error)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("Roster matches %v, %s: %v", got, c.decided, want)
			}
		})
	}
}

func toJSONString(v any) string {
	data, _ := json.MarshalIndent(v, "", "  ")
	return string(data)
}
