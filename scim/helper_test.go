package scim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/rosterhq/roster/scim"
	"github.com/rosterhq/roster/scim/scimtest"
)

const testToken = "secret-token-of-directory-one"

// env is a running SCIM endpoint on the in-memory Backend, mounted at /scim/v2.
type env struct {
	t   *testing.T
	srv *httptest.Server
	b   *scimtest.Backend
	dir *scimtest.Dir
	url string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	b := scimtest.New()
	dir := b.AddDirectory(testToken)
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", &scim.Handler{Backend: b}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, b: b, dir: dir, url: srv.URL + "/scim/v2"}
}

// resp is an answer: status, headers and the decoded JSON body (nil when empty).
type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *env) do(method, path, body string, headers ...string) resp {
	e.t.Helper()
	return e.doToken(testToken, method, path, body, headers...)
}

func (e *env) doToken(token, method, path, body string, headers ...string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, raw: string(data)}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &r.body); err != nil {
			e.t.Fatalf("%s %s: answer is not a JSON object: %v\n%s", method, path, err, data)
		}
		if ct := res.Header.Get("Content-Type"); ct != scim.ContentType {
			e.t.Errorf("%s %s: Content-Type %q, want %q", method, path, ct, scim.ContentType)
		}
	}
	if r.status >= 500 {
		e.t.Errorf("%s %s: %d %s", method, path, r.status, data)
	}
	return r
}

// must checks the status and returns the answer.
func (e *env) must(status int, method, path, body string, headers ...string) resp {
	e.t.Helper()
	r := e.do(method, path, body, headers...)
	if r.status != status {
		e.t.Fatalf("%s %s: status %d, want %d\n%s", method, path, r.status, status, r.raw)
	}
	return r
}

// wantError checks a SCIM error answer: status, scimType ("" = none) and the error schema.
func (e *env) wantError(r resp, status int, scimType string) {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status %d, want %d\n%s", r.status, status, r.raw)
	}
	if got, _ := r.body["scimType"].(string); got != scimType {
		e.t.Errorf("scimType %q, want %q\n%s", got, scimType, r.raw)
	}
	if s, _ := r.body["status"].(string); s != strconv.Itoa(status) {
		e.t.Errorf("status field %v, want %q", r.body["status"], strconv.Itoa(status))
	}
	schemas, _ := r.body["schemas"].([]any)
	if len(schemas) != 1 || schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
		e.t.Errorf("schemas %v, want the Error schema", r.body["schemas"])
	}
}

// get reads a dotted path ("name.givenName", "emails.0.value", a URN key then an attribute
// with "|": "urn:...:User|manager.value") from a decoded body.
func get(body map[string]any, path string) any {
	var cur any = body
	urn, rest, hasURN := strings.Cut(path, "|")
	if hasURN {
		cur = body[urn]
		path = rest
	}
	for _, part := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[part]
		case []any:
			i := 0
			for _, ch := range part {
				i = i*10 + int(ch-'0')
			}
			if i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

func (e *env) createUser(body string) string {
	e.t.Helper()
	r := e.must(http.StatusCreated, "POST", "/Users", body)
	return r.body["id"].(string)
}

func (e *env) createGroup(body string) string {
	e.t.Helper()
	r := e.must(http.StatusCreated, "POST", "/Groups", body)
	return r.body["id"].(string)
}

func toJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(data)
}
