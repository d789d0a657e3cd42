package api_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rosterhq/roster/internal/rostertest"
)

// readCounter counts the bytes that the server read of a request body.
type readCounter struct {
	io.Reader
	n atomic.Int64
}

func (c *readCounter) Read(p []byte) (int, error) {
	n, err := c.Reader.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *readCounter) Close() error { return nil }

// TestDeepBodyDoesNotKillTheServer is the security report's reproduction: about 650 KB of
// unclosed '[' (or of `{"a":`) sent to a REST route with a body overflowed the stack inside the
// JSON standardizer and killed the process, before authentication. Now: without a valid token,
// 401 and the body is never read; with one, 400 naming the problem; and the server still answers.
func TestDeepBodyDoesNotKillTheServer(t *testing.T) {
	r := rostertest.Start(t, "sqlite")
	token := r.Token(t)
	bodies := map[string]string{
		"brackets": strings.Repeat("[", 650<<10),
		"objects":  strings.Repeat(`{"a":`, 130_000),
	}
	routes := []struct{ method, path string }{
		{"POST", "/api/v1/organizations"},
		{"PATCH", "/api/v1/organizations/org_1"},
		{"POST", "/api/v1/organizations/org_1/users"},
		{"PUT", "/api/v1/connections/conn_1/contexts"},
	}
	for name, body := range bodies {
		for _, rt := range routes {
			for _, auth := range []string{"", "Bearer " + token, "Bearer garbage"} {
				b := &readCounter{Reader: strings.NewReader(body)}
				req := httptest.NewRequest(rt.method, rt.path, b)
				req.Header.Set("Content-Type", "application/json")
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				rec := httptest.NewRecorder()
				r.Handler.ServeHTTP(rec, req)
				want := http.StatusUnauthorized
				if auth == "Bearer "+token {
					want = http.StatusBadRequest
				}
				if rec.Code != want {
					t.Fatalf("%s %s %s (auth %t): status %d, want %d: %.300s", name, rt.method, rt.path, auth != "", rec.Code, want, rec.Body)
				}
				if want == http.StatusBadRequest && !strings.Contains(rec.Body.String(), "nest deeper than") {
					t.Errorf("%s %s %s: the message does not name the problem: %s", name, rt.method, rt.path, rec.Body)
				}
				if want == http.StatusUnauthorized && b.n.Load() != 0 {
					t.Errorf("%s %s %s: %d bytes read without a valid token", name, rt.method, rt.path, b.n.Load())
				}
			}
		}
	}
	// Over the network too, and the server is still there afterwards.
	res := r.REST(t, "", "POST", "/api/v1/organizations", bodies["brackets"])
	wantStatus(t, res, http.StatusUnauthorized)
	res = r.REST(t, token, "POST", "/api/v1/organizations", bodies["brackets"])
	wantStatus(t, res, http.StatusBadRequest)
	if v := errorInfo(t, res)["error_code"]; v != "INVALID_ARGUMENT" {
		t.Errorf("error_code %v", v)
	}
	wantStatus(t, r.REST(t, token, "GET", "/api/v1/organizations", ""), http.StatusOK)
}

// TestConnectJSONBodiesBounded: connect-go decodes a Connect JSON body before any interceptor
// runs, so the REST bounds on nesting and size apply to that codec too: 1 MiB of tiny unknown
// elements used to be parsed whole (about 0.4 s on a loaded machine) before a missing token was
// noticed.
func TestConnectJSONBodiesBounded(t *testing.T) {
	r := rostertest.Start(t, "sqlite")
	token := r.Token(t)
	for name, body := range map[string]string{
		"elements": `{"organization":{"display_name":"a","x":[` + strings.Repeat(`1,`, 500_000) + `1]}}`,
		"nesting":  `{"organization":{"x":` + strings.Repeat(`[`, 600_000),
	} {
		for _, ct := range []string{"application/json", "application/json; charset=utf-8"} {
			req, _ := http.NewRequest("POST", r.URL+"/scalekit.v1.organizations.OrganizationService/CreateOrganization", strings.NewReader(body))
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 400 || !strings.Contains(string(b), "invalid_argument") ||
				!strings.Contains(string(b), "members and elements") && !strings.Contains(string(b), "nest deeper") {
				t.Errorf("%s (%s): %d %.300s", name, ct, res.StatusCode, b)
			}
		}
	}
}
