package server_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/server"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// /metrics is served on the management listener, not on the API port; the health checks
// stay on the API port (and are on the management listener too).
func TestMetricsOnManagementListener(t *testing.T) {
	r := rostertest.Start(t, "sqlite")
	r.Token(t)
	if s, body := get(t, r.URL+"/metrics"); s != 404 || strings.Contains(body, "roster_") {
		t.Fatalf("the API port serves /metrics: %d", s)
	}
	if s, body := get(t, r.MetricsURL+"/metrics"); s != 200 || !strings.Contains(body, `roster_http_requests_total{route="/oauth/token",status="200"} 1`) {
		t.Fatalf("management listener: %d\n%s", s, body)
	}
	for _, base := range []string{r.URL, r.MetricsURL} {
		for _, p := range []string{"/healthz", "/readyz"} {
			if s, _ := get(t, base+p); s != 200 {
				t.Fatalf("%s%s: %d", base, p, s)
			}
		}
	}
	// The management listener serves nothing else.
	if s, _ := get(t, r.MetricsURL+"/api/v1/organizations"); s != 404 {
		t.Fatalf("management listener serves the API: %d", s)
	}
}

// The old behaviour, /metrics on the API port, is an explicit option.
func TestMetricsOnAPIPort(t *testing.T) {
	r := rostertest.Start(t, "sqlite", rostertest.WithServer(func(c *server.Config) {
		c.MetricsOnAPIPort, c.MetricsListener = true, nil
	}))
	r.Token(t)
	if s, body := get(t, r.URL+"/metrics"); s != 200 || !strings.Contains(body, `roster_http_requests_total{route="/oauth/token",status="200"} 1`) {
		t.Fatalf("API port: %d\n%s", s, body)
	}
}

// The SQLite user cache's users and bytes are exported, so that the bytes per cached user can
// be read from a running server (bench/run.sh reports them).
func TestUserCacheMetrics(t *testing.T) {
	r := rostertest.Start(t, "sqlite")
	tok := r.Token(t)
	org := r.REST(t, tok, "POST", "/api/v1/organizations", `{"display_name": "Cache Co"}`).Body["organization"].(map[string]any)["id"].(string)
	res := r.REST(t, tok, "POST", "/api/v1/organizations/"+org+"/users", `{"email": "cached@example.com"}`)
	id := res.Body["user"].(map[string]any)["id"].(string)
	if res := r.REST(t, tok, "GET", "/api/v1/users/"+id, ""); res.Status != 200 {
		t.Fatalf("get user: %d %s", res.Status, res.Raw)
	}
	_, body := get(t, r.MetricsURL+"/metrics")
	metric := func(name string) float64 {
		for _, line := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatal(err)
				}
				return f
			}
		}
		t.Fatalf("no %s in /metrics", name)
		return 0
	}
	users, bytes := metric("roster_user_cache_users"), metric("roster_user_cache_bytes")
	if users < 1 || bytes < 100*users {
		t.Fatalf("user cache: %v users, %v bytes", users, bytes)
	}
	// The two writes above (and the token's client, made at start) ran in group-commit batches.
	batches, writes := metric("roster_db_write_batches_total"), metric("roster_db_batched_writes_total")
	if batches < 2 || writes < batches {
		t.Fatalf("group commit: %v batches of %v writes", batches, writes)
	}
}
