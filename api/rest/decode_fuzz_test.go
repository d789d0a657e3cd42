package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/rosterhq/roster/gen/scalekit/v1/connections"
	"github.com/rosterhq/roster/gen/scalekit/v1/organizations"
	"github.com/rosterhq/roster/gen/scalekit/v1/roles"
	"github.com/rosterhq/roster/gen/scalekit/v1/users"
)

// FuzzDecodeBody fuzzes the REST input path on its own: a body goes through the shape bound,
// the hujson standardizer, a JSON rewrite and protojson into a request message, the way
// decodeBodyAs does for every route with a body. Whatever the bytes: no panic and no stack
// overflow; a refusal is a client error (400, 413 or 415); a message that was decoded can be
// marshalled; and the depth bound judges exactly the bodies that nest too deeply (checked
// against encoding/json's own, non-recursive tokenizer on standard JSON).
// The corpus in testdata/fuzz/FuzzDecodeBody runs as a regression test with every `go test`.
func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []struct {
		kind byte
		body string
	}{
		{0, `{"display_name": "Megasoft Inc", "external_id": "CUST-12345-MGSFT",}`},
		{0, `{"display_name": "x", "metadata": {"k": "v"}} // trailing comment`},
		{0, `/* leading */ {"display_name": "x"}`},
		{0, `[1,2,3]`},
		{0, "{\"display_name\": \"\xff\xfe\"}"},
		{1, `{"email": "a@example.com", "membership": {"roles": "admin"}, "user_profile": {"custom_attributes": {"k": "v"}}}`},
		{1, `{"membership": {"roles": [{"name": "admin"}, "member"]}}`},
		{1, `{"membership": {"roles": [[[[[[]]]]]]}}`},
		{2, `{"connection_id": "conn_1", "context": {"a": {"b": [1, {"c": null}]}}}`},
		{2, `{"context": ` + strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40) + `}`},
		{3, `{"name": "admin", "permissions": ["read", "write",],}`},
		{4, `["a", "b"]`},
		{4, `[["a"]]`},
		{0, strings.Repeat("[", 1000)},
		{0, strings.Repeat(`{"a":`, 1000)},
		{0, `"` + strings.Repeat("[", 100) + `"`},
		{0, `{"display_name": "\"` + strings.Repeat("{", 100) + `"}`},
		{0, "// " + strings.Repeat("[", 100) + "\n{}"},
		{0, "/* " + strings.Repeat("[", 100)},
		{2, `{"context": {"a": 1e999}}`},
		{0, `{"display_name": "\u0000"}`},
	} {
		f.Add(seed.kind, []byte(seed.body))
	}
	tr := newTranscoder(nil,
		WithJSONRewrite("scalekit.v1.users.CreateUser", func(v any) any {
			// like api's createUserRoles: a role name becomes {"name": ...}
			if m, ok := v.(map[string]any); ok {
				if ms, ok := m["membership"].(map[string]any); ok {
					if s, ok := ms["roles"].(string); ok {
						ms["roles"] = []any{map[string]any{"name": s}}
					}
				}
			}
			return v
		}))
	kitchen := messageType(kitchenService(f).Methods().ByName("Echo").Input())
	f.Fuzz(func(t *testing.T, kind byte, body []byte) {
		var msg protoreflect.Message
		var list protoreflect.FieldDescriptor
		switch kind % 5 {
		case 0:
			msg = (&organizations.CreateOrganization{}).ProtoReflect()
		case 1:
			msg = (&users.CreateUser{}).ProtoReflect()
		case 2:
			msg = (&connections.UpdateConnectionContextRequest{}).ProtoReflect()
		case 3:
			msg = (&roles.CreateRole{}).ProtoReflect()
		case 4:
			msg = kitchen.New()
			list = msg.Descriptor().Fields().ByName("rs")
		}
		req := httptest.NewRequest("POST", "/x", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rerr := tr.decodeBodyAs(req, msg, list)
		if rerr != nil {
			switch rerr.status {
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			default:
				t.Fatalf("status %d for %q: %s", rerr.status, body, rerr.msg)
			}
		} else if _, err := proto.Marshal(msg.Interface()); err != nil {
			t.Fatalf("decoded %q into a message that does not marshal: %v", body, err)
		}
		if d, ok := jsonDepth(body); ok && len(body) <= DefaultMaxBodySize {
			forDepth := rerr != nil && strings.Contains(rerr.msg, "nest deeper than")
			forSize := rerr != nil && strings.Contains(rerr.msg, "members and elements")
			if forDepth && d <= DefaultMaxDepth || d > DefaultMaxDepth && !forDepth && !forSize {
				t.Fatalf("depth %d of %q: refused for depth: %v (%v)", d, body, forDepth, rerr)
			}
		}
	})
}

// jsonDepth is the nesting depth of standard JSON, measured with encoding/json's tokenizer
// (iterative, unlike the parsers that the depth bound protects); ok is false for anything that
// is not one standard JSON value.
func jsonDepth(data []byte) (depth int, ok bool) {
	if !json.Valid(data) {
		return 0, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	cur := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return depth, true
		}
		if err != nil {
			return 0, false
		}
		switch tok {
		case json.Delim('['), json.Delim('{'):
			cur++
			depth = max(depth, cur)
		case json.Delim(']'), json.Delim('}'):
			cur--
		}
	}
}
