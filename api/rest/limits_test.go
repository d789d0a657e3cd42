package rest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster/gen/scalekit/v1/errdetails"
)

// deepBodies are bodies that nest far deeper than any message: the security report's 650 KB of
// unclosed '[' (which overflowed the stack inside hujson.Standardize and killed the process),
// and the same depth reached through objects.
func deepBodies() map[string]string {
	return map[string]string{
		"650 KB of [":      strings.Repeat("[", 650<<10),
		`{"a": repeated`:   strings.Repeat(`{"a":`, 130_000),
		"closed [ nesting": strings.Repeat("[", 10_000) + strings.Repeat("]", 10_000),
		"nesting in a field": `{"display_name": "x", "metadata": ` + strings.Repeat(`{"k":`, 1000) + `"v"` +
			strings.Repeat("}", 1000) + "}",
		"comment then nesting": "// [[[\n/* ]]] */" + strings.Repeat("[", 100),
	}
}

// TestDeepNestingRefused: a body that nests deeper than the limit is refused with 400 before any
// recursive parser sees it, whether or not it is otherwise well-formed.
func TestDeepNestingRefused(t *testing.T) {
	tr, fake := newOrgTranscoder(t)
	for name, body := range deepBodies() {
		t.Run(name, func(t *testing.T) {
			r := serve(t, tr, "POST", "/api/v1/organizations", body)
			wantError(t, r, http.StatusBadRequest, connect.CodeInvalidArgument, "nest deeper than 32 levels")
			if got, _ := fake.lastRequest(); got != nil {
				t.Errorf("handler was called with %v", got)
			}
		})
	}
}

// TestNestingWithinLimit: brackets inside strings and comments do not count, and bodies at the
// limit go through.
func TestNestingWithinLimit(t *testing.T) {
	tr, fake := newOrgTranscoder(t)
	for name, body := range map[string]string{
		"brackets in a string":  `{"display_name": "` + strings.Repeat("[{", 200) + `"}`,
		"escaped quote":         `{"display_name": "\"` + strings.Repeat("[", 200) + `\\"}`,
		"brackets in comments":  "// " + strings.Repeat("[", 200) + "\n{/* " + strings.Repeat("{", 200) + ` */"display_name": "x",}`,
		"block comment with /*": `/* /* [[[[ */ {"display_name": "x"}`,
	} {
		t.Run(name, func(t *testing.T) {
			r := serve(t, tr, "POST", "/api/v1/organizations", body)
			wantStatus(t, r, http.StatusOK)
			if got, _ := fake.lastRequest(); got == nil {
				t.Error("handler was not called")
			}
		})
	}
	tr, _ = newOrgTranscoder(t, WithMaxDepth(3))
	r := serve(t, tr, "POST", "/api/v1/organizations", `{"metadata": {"k": "v"}}`)
	wantStatus(t, r, http.StatusOK)
	r = serve(t, tr, "POST", "/api/v1/organizations", `{"metadata": {"k": {"x": []}}}`)
	wantError(t, r, http.StatusBadRequest, connect.CodeInvalidArgument, "nest deeper than 3 levels")
}

func TestCheckShape(t *testing.T) {
	for body, ok := range map[string]bool{
		``:                     true,
		`[[[]]]`:               true,
		`[[[[]]]]`:             false,
		`]]]][[[`:              true, // unbalanced closers do not earn credit
		`]]]][[[[`:             false,
		`"[[[[[["`:             true,
		`"\"[[[["`:             true,
		`"\\"[[[[`:             false,
		`"unterminated [[[[[[`: true,
		`// [[[[`:              true,
		"// [[[[\n[[[[":        false,
		`/* [[[[ */`:           true,
		`/* [[[[ *`:            true,
		`/*/ [[[[ */`:          true,
		`/`:                    true,
		`[[[/`:                 true,
		`{"a":{"b":{"c":1}}}`:  true,
		`{"a":{"b":{"c":{}}}}`: false,
	} {
		if err := checkShape([]byte(body), 3, 1000); (err == nil) != ok {
			t.Errorf("checkShape(%q, 3, 1000) = %v, want ok=%v", body, err, ok)
		}
	}
}

// countingBody records whether anything read it.
type countingBody struct {
	io.Reader
	read atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.Reader.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *countingBody) Close() error { return nil }

// refuseWithout is an authenticator that accepts only "Bearer good", as the API's does with
// real tokens, and answers UNAUTHENTICATED with an ErrorInfo detail otherwise.
func refuseWithout(r *http.Request) (context.Context, error) {
	if r.Header.Get("Authorization") != "Bearer good" {
		err := connect.NewError(connect.CodeUnauthenticated, errors.New("Token empty"))
		if d, derr := connect.NewErrorDetail(&errdetails.ErrorInfo{ErrorCode: "UNAUTHENTICATED"}); derr == nil {
			err.AddDetail(d)
		}
		return nil, err
	}
	return context.WithValue(r.Context(), authKey{}, "caller"), nil
}

type authKey struct{}

// TestAuthenticateBeforeBody: a request without a valid token is answered 401 without its body
// being read, however large or deep the body is; with a token, the body is judged (400) and the
// authenticator's context reaches the handler.
func TestAuthenticateBeforeBody(t *testing.T) {
	tr, fake := newOrgTranscoder(t, WithAuthenticate(refuseWithout))
	bodies := deepBodies()
	bodies["valid"] = `{"display_name": "x"}`
	bodies["too large"] = `{"display_name": "` + strings.Repeat("x", 2*DefaultMaxBodySize) + `"}`
	for name, body := range bodies {
		for _, auth := range []string{"", "Bearer bad"} {
			t.Run(name+"/"+auth, func(t *testing.T) {
				b := &countingBody{Reader: strings.NewReader(body)}
				req := httptest.NewRequest("POST", "/api/v1/organizations", b)
				req.Header.Set("Content-Type", "application/json")
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				rec := httptest.NewRecorder()
				tr.ServeHTTP(rec, req)
				if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), `"code":16`) ||
					!strings.Contains(rec.Body.String(), `"error_code":"UNAUTHENTICATED"`) {
					t.Fatalf("status %d, body %s", rec.Code, rec.Body)
				}
				if n := b.read.Load(); n != 0 {
					t.Errorf("%d bytes of the body were read before authentication", n)
				}
			})
		}
	}
	r := serve(t, tr, "POST", "/api/v1/organizations", bodies["650 KB of ["], "Authorization", "Bearer good")
	wantError(t, r, http.StatusBadRequest, connect.CodeInvalidArgument, "nest deeper")
	r = serve(t, tr, "POST", "/api/v1/organizations", bodies["valid"], "Authorization", "Bearer good")
	wantStatus(t, r, http.StatusOK)
	if fake.caller != "caller" {
		t.Error("the authenticator's context did not reach the handler")
	}
	// Unmatched routes stay 404 without a token, as before.
	r = serve(t, tr, "POST", "/api/v1/nowhere", bodies["valid"])
	wantStatus(t, r, http.StatusNotFound)
}

// TestTooManyValuesRefused: the work a body can buy is bounded too. A 1 MiB body of tiny
// members (`"k":"v",` repeated) made the standardizer build half a million values, about a
// second and a hundred megabytes per request; bodies with more members and elements than the
// limit are now refused before any parser runs.
func TestTooManyValuesRefused(t *testing.T) {
	tr, fake := newOrgTranscoder(t)
	for name, body := range map[string]string{
		"metadata pairs": `{"display_name": "a", "metadata": {` + strings.Repeat(`"k":"v",`, DefaultMaxValues) + `"z":"v"}}`,
		"array elements": `{"display_name": "a", "x": [` + strings.Repeat(`1,`, DefaultMaxValues) + `1]}`,
		"with comments":  `{"display_name": "a", /* c */ "x": [` + strings.Repeat(`[],`, DefaultMaxValues) + `]}`,
	} {
		t.Run(name, func(t *testing.T) {
			r := serve(t, tr, "POST", "/api/v1/organizations", body)
			wantError(t, r, http.StatusBadRequest, connect.CodeInvalidArgument, "more than 10000 members and elements")
			if got, _ := fake.lastRequest(); got != nil {
				t.Errorf("handler was called with %v", got)
			}
		})
	}
	// Under the limit, the body is parsed as usual (commas in strings and comments do not count).
	body := `{"display_name": "` + strings.Repeat(",", 2*DefaultMaxValues) + `", // ` + strings.Repeat(",", DefaultMaxValues) + "\n" +
		`"x": [` + strings.Repeat(`1,`, DefaultMaxValues/2) + `1],}`
	r := serve(t, tr, "POST", "/api/v1/organizations", body)
	wantStatus(t, r, http.StatusOK)
	tr, _ = newOrgTranscoder(t, WithMaxValues(3))
	wantStatus(t, serve(t, tr, "POST", "/api/v1/organizations", `{"display_name": "a", "metadata": {"k": "v"}}`), http.StatusOK)
	r = serve(t, tr, "POST", "/api/v1/organizations", `{"display_name": "a", "metadata": {"k": "v", "j": "w"}}`)
	wantError(t, r, http.StatusBadRequest, connect.CodeInvalidArgument, "more than 3 members and elements")
}
