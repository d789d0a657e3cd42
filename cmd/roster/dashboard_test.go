package main

import (
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// serve serves the dashboard on its own port with no other step: /dashboard sends to the
// sign-in, and the printed first-operator link opens the set-up form.
func TestServeServesTheDashboard(t *testing.T) {
	r := startServe(t, filepath.Join(t.TempDir(), "data"))
	m := regexp.MustCompile(`(?m)^\s+((http://[^/\s]+)/dashboard/setup\?token=\S+)$`).FindStringSubmatch(r.stdout.String())
	if m == nil {
		t.Fatalf("no set-up link printed:\n%s", r.stdout.String())
	}
	link, base := m[1], m[2]
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(url string) (*http.Response, string) {
		t.Helper()
		res, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res, string(body)
	}
	res, _ := get(base + "/dashboard")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/dashboard/attributes" {
		t.Fatalf("GET /dashboard: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	res, _ = get(base + "/dashboard/attributes")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/dashboard/sign-in?next=") {
		t.Fatalf("GET /dashboard/attributes without a session: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	res, body := get(link)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `name="password"`) || res.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("GET the printed link: %d\n%s", res.StatusCode, body)
	}
	// The API is still served beside it.
	res, _ = get(base + "/healthz")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", res.StatusCode)
	}
}
