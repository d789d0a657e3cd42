package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api/rest"
)

// A directory user's or group's event shows the SCIM resource spliced in as stored, not
// through a Struct: the same JSON values as the API's include_detail answer (a resource that
// is not an object, or none, takes the API's way or shows {}).
func TestEventDataDetailAsREST(t *testing.T) {
	at := time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)
	raws := []string{
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com","active":true,
		  "name":{"givenName":"Ada","familyName":"Lövelace \"<&>\""},"emails":[{"value":"ada@example.com","primary":true}],
		  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701","manager":{"value":"x"}},
		  "score":12.5,"n":3,"nothing":null,"text":"\"user_detail\":{}"}`,
		"",
		`   {}  `,
		`["not", "an object"]`,
	}
	for _, raw := range raws {
		u := roster.DirectoryUser{ID: "diru_1", Email: "ada@example.com", GivenName: "Ada", UpdateTime: at, Raw: []byte(raw)}
		g := roster.DirectoryGroup{ID: "dirg_1", DisplayName: "Eng", MemberCount: 3, UpdateTime: at, Raw: []byte(raw)}
		for _, c := range []struct {
			data any
			api  func() ([]byte, error)
		}{
			{u, func() ([]byte, error) {
				m, err := directoryUserToProto(u, nil, true)
				if err != nil {
					return nil, err
				}
				return rest.MarshalJSON(m)
			}},
			{g, func() ([]byte, error) {
				m, err := directoryGroupToProto(g, true)
				if err != nil {
					return nil, err
				}
				return rest.MarshalJSON(m)
			}},
		} {
			want, werr := c.api()
			got, gerr := EventData(c.data)
			if (werr != nil) != (gerr != nil) {
				t.Fatalf("%T %q: event data error %v, API error %v", c.data, raw, gerr, werr)
			}
			if werr != nil {
				continue
			}
			var g1, w1 any
			if err := json.Unmarshal(got, &g1); err != nil {
				t.Fatalf("%T %q: event data is not JSON: %v: %s", c.data, raw, err, got)
			}
			_ = json.Unmarshal(want, &w1)
			if !reflect.DeepEqual(g1, w1) {
				t.Errorf("%T %q:\n event %s\n   API %s", c.data, raw, got, want)
			}
			if strings.TrimSpace(raw) != "" && strings.HasPrefix(strings.TrimSpace(raw), "{") && strings.Contains(string(got), "\n") {
				t.Errorf("%T %q: the resource is not compacted: %s", c.data, raw, got)
			}
		}
	}
}
