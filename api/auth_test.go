package api_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/rostertest"
)

func postToken(t *testing.T, r *rostertest.Roster, form url.Values, basicID, basicSecret string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", r.URL+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(basicID, basicSecret)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestTokenEndpoint(t *testing.T) {
	r := rostertest.Start(t, "sqlite")
	cc := url.Values{"grant_type": {"client_credentials"}}
	with := func(id, secret string) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
		return v
	}
	if s, body := postToken(t, r, with(r.ClientID, r.ClientSecret), "", ""); s != 200 || !strings.Contains(body, `"token_type":"Bearer"`) || !strings.Contains(body, `"expires_in":3600`) {
		t.Fatalf("form credentials: %d %s", s, body)
	}
	if s, body := postToken(t, r, cc, r.ClientID, r.ClientSecret); s != 200 {
		t.Fatalf("HTTP Basic: %d %s", s, body)
	}
	for name, c := range map[string]struct {
		form   url.Values
		status int
		error  string
	}{
		"wrong secret":   {with(r.ClientID, r.ClientSecret+"x"), 401, "invalid_client"},
		"unknown client": {with("skc_1", r.ClientSecret), 401, "invalid_client"},
		"no credentials": {cc, 401, "invalid_client"},
		"bad grant":      {url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type"},
		"no grant":       {url.Values{}, 400, "invalid_request"},
	} {
		s, body := postToken(t, r, c.form, "", "")
		if s != c.status || !strings.Contains(body, `"error":"`+c.error+`"`) {
			t.Errorf("%s: %d %s", name, s, body)
		}
		if strings.Contains(body, r.ClientSecret) {
			t.Errorf("%s: answer echoes the secret", name)
		}
	}
}

func TestRevokedClientIsRefused(t *testing.T) {
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			r := rostertest.Start(t, backend)
			token := r.Token(t)
			wantStatus(t, r.REST(t, token, "GET", "/api/v1/organizations", ""), 200)
			if err := r.Directory.RevokeClient(t.Context(), r.ClientID); err != nil {
				t.Fatal(err)
			}
			// A node trusts its memory of an active client for at most one second.
			time.Sleep(1100 * time.Millisecond)
			res := r.REST(t, token, "GET", "/api/v1/organizations", "")
			wantStatus(t, res, 401)
			if !strings.Contains(res.Raw, "revoked") {
				t.Fatalf("answer: %s", res.Raw)
			}
			if s, body := postToken(t, r, url.Values{"grant_type": {"client_credentials"}, "client_id": {r.ClientID}, "client_secret": {r.ClientSecret}}, "", ""); s != 401 {
				t.Fatalf("revoked client got a token: %d %s", s, body)
			}
		})
	}
}

func TestBadTokensAreRefused(t *testing.T) {
	r := rostertest.Start(t, "sqlite")
	token := r.Token(t)
	other := rostertest.Start(t, "sqlite") // another deployment, other keys
	foreign := other.Token(t)
	parts := strings.Split(token, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]
	for name, h := range map[string]string{
		"garbage":       "Bearer abc",
		"foreign":       "Bearer " + foreign,
		"tampered":      "Bearer " + tampered,
		"wrong scheme":  "Basic " + token,
		"alg none":      "Bearer eyJhbGciOiJub25lIn0." + parts[1] + ".",
		"empty bearer":  "Bearer ",
		"no credential": "",
	} {
		req, _ := http.NewRequest("GET", r.URL+"/api/v1/organizations", nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 401 {
			t.Errorf("%s: status %d", name, res.StatusCode)
		}
	}
}

func TestHealthReadyMetricsAndJWKS(t *testing.T) {
	r := rostertest.Start(t, "sqlite")
	r.REST(t, r.Token(t), "GET", "/api/v1/organizations", "")
	get := func(path string) (int, string) {
		res, err := http.Get(r.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if s, _ := get("/healthz"); s != 200 {
		t.Fatalf("healthz %d", s)
	}
	if s, _ := get("/readyz"); s != 200 {
		t.Fatalf("readyz %d", s)
	}
	// Metrics are on the management listener (the API port does not serve them).
	res, err := http.Get(r.MetricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	s, body := res.StatusCode, string(raw)
	for _, want := range []string{
		`roster_http_requests_total{route="/scalekit.v1.organizations.OrganizationService/ListOrganization",status="200"} 1`,
		`roster_rpc_duration_seconds_count{code="ok",procedure="/scalekit.v1.organizations.OrganizationService/ListOrganization"} 1`,
		`roster_http_requests_total{route="/oauth/token",status="200"} 1`,
		"roster_db_open_connections",
	} {
		if s != 200 || !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if s, body := get("/keys"); s != 200 || !strings.Contains(body, `"alg":"RS256"`) || strings.Contains(body, `"d":`) {
		t.Fatalf("jwks: %d %s", s, body)
	}
	if s, body := get("/.well-known/openid-configuration"); s != 200 || !strings.Contains(body, `"jwks_uri":"`+r.URL+`/keys"`) {
		t.Fatalf("discovery: %d %s", s, body)
	}
	// The store going away makes the node unready but keeps it alive.
	r.Store.Close()
	if s, _ := get("/readyz"); s != 503 {
		t.Fatalf("readyz with a closed database: %d", s)
	}
	if s, _ := get("/healthz"); s != 200 {
		t.Fatalf("healthz with a closed database: %d", s)
	}
}
