package sso_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/oidctest"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/oauth"
	"github.com/rosterhq/roster/store"
)

const appCallback = "http://127.0.0.1:9/app/callback"

// fixture is a Roster with an organization whose OIDC connection points at a test provider.
type fixture struct {
	r     *rostertest.Roster
	token string
	idp   *oidctest.Provider
	org   string
	conn  string
}

func setup(t testing.TB, backend string) *fixture {
	t.Helper()
	r := rostertest.Start(t, backend)
	f := &fixture{r: r, token: r.Token(t), idp: oidctest.Start(t)}
	if err := r.Directory.SetRedirectURIs(context.Background(), r.ClientID, []string{appCallback}); err != nil {
		t.Fatal(err)
	}
	setupConnection(t, f)
	return f
}

// setupConnection creates the organization, its attributes, its enabled OIDC connection to
// the test provider and its domain acme.test.
func setupConnection(t testing.TB, f *fixture) {
	t.Helper()
	res := f.rest(t, "POST", "/api/v1/organizations", `{"display_name": "Acme"}`, 201, 200)
	f.org = res.Body["organization"].(map[string]any)["id"].(string)
	f.rest(t, "POST", "/api/v1/user-attributes", `{"key": "employee_number", "display_name": "Employee number", "type": "integer"}`, 200)
	f.rest(t, "POST", "/api/v1/user-attributes", `{"key": "cost_center", "display_name": "Cost center"}`, 200)
	res = f.rest(t, "POST", "/api/v1/organizations/"+f.org+"/connections", `{"provider": "OKTA", "type": "OIDC"}`, 200, 201)
	c := res.Body["connection"].(map[string]any)
	f.conn = c["id"].(string)
	if c["status"] != "DRAFT" || c["enabled"] != false {
		t.Fatalf("a new connection: %v", c)
	}
	// Not configured yet: it cannot be enabled.
	f.rest(t, "PATCH", "/api/v1/organizations/"+f.org+"/connections/"+f.conn+":enable", "", 400)
	res = f.rest(t, "PATCH", "/api/v1/organizations/"+f.org+"/connections/"+f.conn, fmt.Sprintf(`{
		"oidc_config": {"issuer": %q, "client_id": %q, "client_secret": %q, "scopes": ["openid", "profile", "email"], "pkce_enabled": true},
		"attribute_mapping": {"employee_number": "employee_no", "group:Admins": "admin"}}`, f.idp.URL, f.idp.ClientID, f.idp.ClientSecret), 200)
	c = res.Body["connection"].(map[string]any)
	cfg := c["oidc_config"].(map[string]any)
	if c["status"] != "COMPLETED" || cfg["client_secret"] != nil || cfg["redirect_uri"] != f.r.Issuer+"/sso/oidc/callback" {
		t.Fatalf("configured connection: %v", c)
	}
	if strings.Contains(res.Raw, f.idp.ClientSecret) {
		t.Fatal("the client secret came back in an answer")
	}
	f.rest(t, "PATCH", "/api/v1/organizations/"+f.org+"/connections/"+f.conn+":enable", "", 200)
	f.rest(t, "POST", "/api/v1/organizations/"+f.org+"/domains", `{"domain": "acme.test", "domain_type": "ORGANIZATION_DOMAIN"}`, 200, 201)
}

func (f *fixture) rest(t testing.TB, method, path, body string, want ...int) rostertest.Response {
	t.Helper()
	res := f.r.REST(t, f.token, method, path, body)
	for _, w := range want {
		if res.Status == w {
			return res
		}
	}
	t.Fatalf("%s %s: status %d, want %v: %s", method, path, res.Status, want, res.Raw)
	return res
}

// signIn follows the sign-in from Roster's authorize endpoint through the provider and back,
// and returns where Roster finally sends the browser (the application's callback, not
// fetched) or the page it shows.
func (f *fixture) signIn(t testing.TB, path string, params url.Values) (*url.URL, int, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host == "127.0.0.1:9" {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	res, err := client.Get(f.r.URL + path + "?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusFound {
		return nil, res.StatusCode, string(body)
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc, res.StatusCode, ""
}

func authParams(f *fixture, verifier string, extra ...string) url.Values {
	sum := sha256.Sum256([]byte(verifier))
	v := url.Values{"response_type": {"code"}, "client_id": {f.r.ClientID}, "redirect_uri": {appCallback},
		"scope": {"openid profile email"}, "state": {"app-state-1"}, "nonce": {"app-nonce-1"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

const verifier = "a-verifier-of-the-application-that-is-long-enough-43"

func (f *fixture) exchange(t testing.TB, code, verifier string) (int, map[string]any) {
	t.Helper()
	res, err := http.PostForm(f.r.URL+"/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {appCallback}, "client_id": {f.r.ClientID}, "client_secret": {f.r.ClientSecret}, "code_verifier": {verifier}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}

// verifyIDToken checks the ID token's signature against Roster's /keys and returns its claims.
func (f *fixture) verifyIDToken(t *testing.T, raw string) map[string]any {
	t.Helper()
	claims := f.verifyJWT(t, raw)
	var std jwt.Claims
	b, _ := json.Marshal(claims)
	_ = json.Unmarshal(b, &std)
	if err := std.Validate(jwt.Expected{Issuer: f.r.Issuer, AnyAudience: jwt.Audience{f.r.ClientID}, Time: time.Now()}); err != nil {
		t.Fatalf("ID token claims: %v", err)
	}
	return claims
}

// verifyJWT checks a JWT's signature against Roster's /keys, its issuer and expiry, and
// returns its claims.
func (f *fixture) verifyJWT(t *testing.T, raw string) map[string]any {
	t.Helper()
	res, err := http.Get(f.r.URL + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("ID token key %q is not in /keys", tok.Headers[0].KeyID)
	}
	claims := map[string]any{}
	var std jwt.Claims
	if err := tok.Claims(keys[0].Key, &claims, &std); err != nil {
		t.Fatalf("JWT signature: %v", err)
	}
	if err := std.Validate(jwt.Expected{Issuer: f.r.Issuer, Time: time.Now()}); err != nil {
		t.Fatalf("JWT claims: %v", err)
	}
	return claims
}

func TestOIDCSignIn(t *testing.T) {
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			f := setup(t, backend)
			ctx := context.Background()
			f.idp.SetUser("00u-ada", map[string]any{"email": "ada@acme.test", "email_verified": true, "given_name": "Ada",
				"family_name": "Lovelace", "locale": "en-gb", "employee_no": "1815", "groups": []string{"Admins", "Staff"}})
			loc, _, page := f.signIn(t, "/oauth/authorize", authParams(f, verifier, "organization_id", f.org))
			if loc == nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "app-state-1" {
				t.Fatalf("no code for the application: %v %s", loc, page)
			}
			status, body := f.exchange(t, loc.Query().Get("code"), verifier)
			if status != 200 || body["access_token"] == "" || body["refresh_token"] == "" || body["expires_in"] == nil {
				t.Fatalf("exchange: %d %v", status, body)
			}
			claims := f.verifyIDToken(t, body["id_token"].(string))
			userID := claims["sub"].(string)
			want := map[string]any{"email": "ada@acme.test", "email_verified": true, "given_name": "Ada", "family_name": "Lovelace",
				"name": "Ada Lovelace", "locale": "en-GB", "oid": f.org, "azp": f.r.ClientID, "nonce": "app-nonce-1"}
			for k, v := range want {
				if claims[k] != v {
					t.Errorf("ID token %s = %v, want %v", k, claims[k], v)
				}
			}
			if amr := claims["amr"].([]any); len(amr) != 1 || amr[0] != f.conn {
				t.Errorf("amr = %v, want [%s]", amr, f.conn)
			}
			if ca := claims["custom_attributes"].(map[string]any); ca["employee_number"] != "1815" {
				t.Errorf("custom attributes in the ID token: %v", ca)
			}
			for _, k := range []string{"at_hash", "c_hash", "iat", "exp"} {
				if claims[k] == nil {
					t.Errorf("ID token lacks %s", k)
				}
			}
			// The stored profile, membership and identity.
			u, err := f.r.Store.GetUser(ctx, "", roster.UserRef{ID: userID})
			if err == nil {
				t.Fatal("GetUser ignored the environment")
			}
			res := f.rest(t, "GET", "/api/v1/users/"+userID, "", 200)
			user := res.Body["user"].(map[string]any)
			prof := user["user_profile"].(map[string]any)
			if prof["custom_attributes"].(map[string]any)["employee_number"] != "1815" || user["last_login_time"] == nil {
				t.Fatalf("stored user: %s", res.Raw)
			}
			ext := prof["external_identities"].([]any)
			if len(ext) != 1 || ext[0].(map[string]any)["connection_id"] != f.conn || ext[0].(map[string]any)["connection_user_id"] != "00u-ada" ||
				ext[0].(map[string]any)["connection_type"] != "OIDC" || ext[0].(map[string]any)["connection_provider"] != "OKTA" {
				t.Fatalf("external identities: %v", ext)
			}
			m := user["memberships"].([]any)[0].(map[string]any)
			if m["provisioning_method"] != "jit_using_sso" || m["roles"].([]any)[0].(map[string]any)["name"] != "admin" {
				t.Fatalf("membership: %v", m)
			}
			ids, _ := f.r.Store.ListIdentities(ctx, userID)
			if len(ids) != 1 || ids[0].Subject != "00u-ada" || !strings.Contains(string(ids[0].RawClaims), "employee_no") {
				t.Fatalf("identity: %+v", ids)
			}
			_ = u

			// An attribute set through the API and not mapped survives the next sign-in; the
			// mapped ones follow the provider, and attributes it stops sending keep their values.
			f.rest(t, "PATCH", "/api/v1/users/"+userID, `{"user_profile": {"custom_attributes": {"cost_center": "CC-7"}, "phone_number": "+14155550100"}}`, 200)
			f.idp.SetUser("00u-ada", map[string]any{"email": "ada@acme.test", "given_name": "Augusta", "family_name": "King",
				"employee_no": 1816, "groups": []string{"Staff"}})
			loc, _, page = f.signIn(t, "/oauth/authorize", authParams(f, verifier, "login_hint", "ada@acme.test"))
			if loc == nil || loc.Query().Get("code") == "" {
				t.Fatalf("second sign-in: %v %s", loc, page)
			}
			status, body = f.exchange(t, loc.Query().Get("code"), verifier)
			if status != 200 {
				t.Fatalf("second exchange: %d %v", status, body)
			}
			claims = f.verifyIDToken(t, body["id_token"].(string))
			if claims["sub"] != userID || claims["given_name"] != "Augusta" || claims["custom_attributes"].(map[string]any)["employee_number"] != "1816" {
				t.Fatalf("second ID token: %v", claims)
			}
			res = f.rest(t, "GET", "/api/v1/users/"+userID, "", 200)
			prof = res.Body["user"].(map[string]any)["user_profile"].(map[string]any)
			ca := prof["custom_attributes"].(map[string]any)
			if prof["given_name"] != "Augusta" || prof["family_name"] != "King" || ca["employee_number"] != "1816" || ca["cost_center"] != "CC-7" ||
				prof["phone_number"] != "+14155550100" || prof["locale"] != "en-GB" {
				t.Fatalf("profile after the second sign-in: %s", res.Raw)
			}

			// Refresh rotates: the new refresh token works, the old one is refused.
			refresh := body["refresh_token"].(string)
			r1 := postForm(t, f.r.URL+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh},
				"client_id": {f.r.ClientID}, "client_secret": {f.r.ClientSecret}})
			if r1.status != 200 || r1.body["refresh_token"] == refresh || r1.body["access_token"] == nil {
				t.Fatalf("refresh: %+v", r1)
			}
			r2 := postForm(t, f.r.URL+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh},
				"client_id": {f.r.ClientID}, "client_secret": {f.r.ClientSecret}})
			if r2.status != 400 || r2.body["error"] != "invalid_grant" {
				t.Fatalf("reused refresh token: %+v", r2)
			}
			// A user's access token does not call the API.
			if res := f.r.REST(t, body["access_token"].(string), "GET", "/api/v1/organizations/"+f.org, ""); res.Status != 401 {
				t.Fatalf("user token on the API: %d", res.Status)
			}
		})
	}
}

type formAnswer struct {
	status int
	body   map[string]any
}

func postForm(t *testing.T, u string, v url.Values) formAnswer {
	t.Helper()
	res, err := http.PostForm(u, v)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	return formAnswer{res.StatusCode, body}
}

// TestClaimSetsNormalize signs in with Google-, Entra- and generic-shaped claims and expects
// the same normalized profile from each, with no mapping configured.
func TestClaimSetsNormalize(t *testing.T) {
	f := setup(t, "sqlite")
	sets := map[string]map[string]any{
		"google":  {"email": "g@acme.test", "email_verified": true, "given_name": "Grace", "family_name": "Hopper", "picture": "https://img.example/g.png", "locale": "en"},
		"entra":   {"upn": "e@acme.test", "givenName": "Grace", "surname": "Hopper", "preferredLanguage": "en", "picture": "https://img.example/g.png"},
		"generic": {"mail": "o@acme.test", "firstName": "Grace", "lastName": "Hopper", "locale": "en", "picture": "https://img.example/g.png"},
	}
	for name, claims := range sets {
		f.idp.SetUser("sub-"+name, claims)
		loc, _, page := f.signIn(t, "/oauth/authorize", authParams(f, verifier, "connection_id", f.conn))
		if loc == nil || loc.Query().Get("code") == "" {
			t.Fatalf("%s: %v %s", name, loc, page)
		}
		status, body := f.exchange(t, loc.Query().Get("code"), verifier)
		if status != 200 {
			t.Fatalf("%s: %d %v", name, status, body)
		}
		c := f.verifyIDToken(t, body["id_token"].(string))
		if c["given_name"] != "Grace" || c["family_name"] != "Hopper" || c["name"] != "Grace Hopper" || c["locale"] != "en" ||
			c["picture"] != "https://img.example/g.png" || !strings.HasSuffix(c["email"].(string), "@acme.test") {
			t.Errorf("%s normalized to %v", name, c)
		}
	}
}

// TestSignInRefusals: every way a sign-in must fail, and fail safely.
func TestSignInRefusals(t *testing.T) {
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			f := setup(t, backend)
			f.idp.SetUser("00u-bob", map[string]any{"email": "bob@acme.test", "given_name": "Bob"})
			good := func() url.Values { return authParams(f, verifier, "organization_id", f.org) }

			t.Run("unregistered redirect URI", func(t *testing.T) {
				p := good()
				p.Set("redirect_uri", "https://evil.example/steal")
				loc, status, page := f.signIn(t, "/oauth/authorize", p)
				if loc != nil || status != 400 || !strings.Contains(page, "redirect_uri") {
					t.Fatalf("followed an unregistered redirect URI: %v %d %s", loc, status, page)
				}
			})
			t.Run("unknown client", func(t *testing.T) {
				p := good()
				p.Set("client_id", "skc_nobody")
				if loc, status, _ := f.signIn(t, "/oauth/authorize", p); loc != nil || status != 400 {
					t.Fatalf("unknown client: %v %d", loc, status)
				}
			})
			t.Run("wrong state", func(t *testing.T) {
				res, err := http.Get(f.r.URL + "/sso/oidc/callback?state=forged&code=x")
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != 400 || res.Header.Get("Location") != "" {
					t.Fatalf("forged state: %d", res.StatusCode)
				}
			})
			t.Run("reused code", func(t *testing.T) {
				loc, _, _ := f.signIn(t, "/oauth/authorize", good())
				code := loc.Query().Get("code")
				first, _ := f.exchange(t, code, verifier)
				status, body := f.exchange(t, code, verifier)
				if first != 200 || status != 400 || body["error"] != "invalid_grant" {
					t.Fatalf("reused code: %d then %d %v", first, status, body)
				}
			})
			t.Run("expired code", func(t *testing.T) {
				env, _ := f.r.Directory.DefaultEnvironment(context.Background())
				conn, _ := f.r.Store.GetConnection(context.Background(), env.ID, f.conn)
				old := time.Now().Add(-2 * time.Minute).UTC().Truncate(time.Microsecond)
				in := store.SignIn{Connection: conn, Email: "late@acme.test", NewUserID: "usr_1" + fmt.Sprint(old.UnixNano()%1e12),
					Identity: roster.Identity{Subject: "late", RawClaims: []byte(`{}`), CreateTime: old, LastLoginTime: old},
					Update:   func(*roster.User, store.SignInState, store.AttributeDefs) error { return nil },
					Membership: &roster.Membership{OrganizationID: f.org, Status: roster.MembershipActive, Metadata: map[string]string{},
						CreateTime: old, UpdateTime: old, ProvisioningMethod: roster.ProvisionedJITSSO},
					Code: roster.AuthCode{Hash: oauth.HashToken("stale-code"), ClientID: f.r.ClientID, RedirectURI: appCallback,
						OrganizationID: f.org, ConnectionID: f.conn, Flavor: roster.FlavorOIDC, Profile: []byte(`{}`),
						CreateTime: old, ExpireTime: old.Add(roster.AuthCodeLifetime)}}
				if _, err := f.r.Store.SignIn(context.Background(), in); err != nil {
					t.Fatal(err)
				}
				status, body := f.exchange(t, "stale-code", "")
				if status != 400 || body["error"] != "invalid_grant" || !strings.Contains(body["error_description"].(string), "expired") {
					t.Fatalf("expired code: %d %v", status, body)
				}
			})
			t.Run("wrong PKCE verifier", func(t *testing.T) {
				loc, _, _ := f.signIn(t, "/oauth/authorize", good())
				status, body := f.exchange(t, loc.Query().Get("code"), "another-verifier-that-is-long-enough-for-pkce-43")
				if status != 400 || body["error"] != "invalid_grant" {
					t.Fatalf("wrong verifier: %d %v", status, body)
				}
			})
			for _, tc := range []struct {
				fault oidctest.Fault
				want  string
			}{
				{oidctest.WrongAudience, "audience"},
				{oidctest.WrongIssuer, "issue"},
				{oidctest.Expired, "expired"},
				{oidctest.UnknownKey, "signature"},
				{oidctest.AlgNone, "ID token rejected"},
				{oidctest.WrongNonce, "nonce"},
			} {
				t.Run("ID token "+string(tc.fault), func(t *testing.T) {
					f.idp.SetFault(tc.fault)
					defer f.idp.SetFault(oidctest.None)
					loc, _, page := f.signIn(t, "/oauth/authorize", good())
					if loc == nil || loc.Query().Get("code") != "" || loc.Query().Get("error") != "access_denied" ||
						!strings.Contains(loc.Query().Get("error_description"), tc.want) || loc.Query().Get("state") != "app-state-1" {
						t.Fatalf("want access_denied about %q, got %v %s", tc.want, loc, page)
					}
				})
			}
			t.Run("connection of another organization", func(t *testing.T) {
				loc, _, _ := f.signIn(t, "/oauth/authorize", authParams(f, verifier, "connection_id", f.conn, "organization_id", "org_1"))
				if loc == nil || loc.Query().Get("error") != "invalid_request" || loc.Query().Get("code") != "" {
					t.Fatalf("connection and organization that do not match: %v", loc)
				}
			})
			t.Run("unknown domain", func(t *testing.T) {
				p := authParams(f, verifier, "domain_hint", "nobody.test")
				loc, _, _ := f.signIn(t, "/oauth/authorize", p)
				if loc == nil || loc.Query().Get("error") != "invalid_request" || !strings.Contains(loc.Query().Get("error_description"), "nobody.test") {
					t.Fatalf("unknown domain: %v", loc)
				}
			})
			t.Run("disabled connection", func(t *testing.T) {
				f.rest(t, "PATCH", "/api/v1/organizations/"+f.org+"/connections/"+f.conn+":disable", "", 200)
				defer f.rest(t, "PATCH", "/api/v1/organizations/"+f.org+"/connections/"+f.conn+":enable", "", 200)
				loc, _, _ := f.signIn(t, "/oauth/authorize", authParams(f, verifier, "login_hint", "bob@acme.test"))
				if loc == nil || loc.Query().Get("error") != "access_denied" || loc.Query().Get("code") != "" {
					t.Fatalf("disabled connection: %v", loc)
				}
			})
			t.Run("no email from the provider", func(t *testing.T) {
				f.idp.SetUser("00u-anon", map[string]any{"given_name": "Anon"})
				defer f.idp.SetUser("00u-bob", map[string]any{"email": "bob@acme.test", "given_name": "Bob"})
				loc, _, _ := f.signIn(t, "/oauth/authorize", good())
				if loc == nil || loc.Query().Get("error") != "access_denied" || !strings.Contains(loc.Query().Get("error_description"), "email") {
					t.Fatalf("no email: %v", loc)
				}
			})
		})
	}
}

// TestProfileSignIn drives the /sso/authorize, /sso/token and /sso/profile shape.
func TestProfileSignIn(t *testing.T) {
	f := setup(t, "sqlite")
	f.idp.SetUser("00u-cy", map[string]any{"email": "cy@acme.test", "given_name": "Cy", "family_name": "Young", "employee_no": "7",
		"groups": []string{"Admins"}})
	p := url.Values{"client_id": {f.r.ClientID}, "redirect_uri": {appCallback}, "response_type": {"code"}, "state": {"s1"},
		"organization": {f.org}}
	loc, _, page := f.signIn(t, "/sso/authorize", p)
	if loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("sso authorize: %v %s", loc, page)
	}
	code := loc.Query().Get("code")
	// A profile code is not an ID-token code.
	if status, _ := f.exchange(t, code, ""); status != 400 {
		t.Fatalf("a /sso code was accepted at /oauth/token: %d", status)
	}
	loc, _, _ = f.signIn(t, "/sso/authorize", p)
	req, _ := http.NewRequest("POST", f.r.URL+"/sso/token", strings.NewReader(url.Values{"client_id": {f.r.ClientID},
		"client_secret": {f.r.ClientSecret}, "grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+f.r.ClientSecret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		AccessToken string         `json:"access_token"`
		Profile     map[string]any `json:"profile"`
	}
	_ = json.NewDecoder(res.Body).Decode(&out)
	res.Body.Close()
	pr := out.Profile
	if res.StatusCode != 200 || pr["object"] != "profile" || pr["email"] != "cy@acme.test" || pr["first_name"] != "Cy" ||
		pr["last_name"] != "Young" || pr["idp_id"] != "00u-cy" || pr["connection_id"] != f.conn || pr["organization_id"] != f.org ||
		pr["connection_type"] != "GenericOIDC" || pr["role"].(map[string]any)["slug"] != "admin" ||
		pr["custom_attributes"].(map[string]any)["employee_number"] != "7" || pr["raw_attributes"].(map[string]any)["employee_no"] != "7" {
		t.Fatalf("profile: %d %v", res.StatusCode, pr)
	}
	req, _ = http.NewRequest("GET", f.r.URL+"/sso/profile", nil)
	req.Header.Set("Authorization", "Bearer "+out.AccessToken)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var again map[string]any
	_ = json.NewDecoder(res.Body).Decode(&again)
	res.Body.Close()
	if res.StatusCode != 200 || again["id"] != pr["id"] || again["idp_id"] != "00u-cy" {
		t.Fatalf("GET /sso/profile: %d %v", res.StatusCode, again)
	}
}

// TestOIDCManualEndpoints configures a connection without discovery: explicit endpoints, and
// an explicit discovery document URL.
func TestOIDCManualEndpoints(t *testing.T) {
	f := setup(t, "sqlite")
	base := "/api/v1/organizations/" + f.org + "/connections/" + f.conn
	f.idp.SetUser("00u-man", map[string]any{"email": "man@acme.test", "given_name": "Manu"})
	for name, body := range map[string]string{
		"manual": fmt.Sprintf(`{"configuration_type": "MANUAL", "oidc_config": {"issuer": %q, "authorize_uri": %q, "token_uri": %q,
			"jwks_uri": %q, "user_info_uri": %q, "token_auth_type": "BASIC_AUTH"}}`,
			f.idp.URL, f.idp.URL+"/authorize", f.idp.URL+"/token", f.idp.URL+"/jwks", f.idp.URL+"/userinfo"),
		"discovery endpoint": fmt.Sprintf(`{"configuration_type": "DISCOVERY", "oidc_config": {"discovery_endpoint": %q}}`,
			f.idp.URL+"/.well-known/openid-configuration"),
	} {
		res := f.rest(t, "PATCH", base, body, 200)
		if c := res.Body["connection"].(map[string]any); c["status"] != "COMPLETED" {
			t.Fatalf("%s: %s", name, res.Raw)
		}
		loc, _, page := f.signIn(t, "/oauth/authorize", authParams(f, verifier, "connection_id", f.conn))
		if loc == nil || loc.Query().Get("code") == "" {
			t.Fatalf("%s: %v %s", name, loc, page)
		}
		if status, body := f.exchange(t, loc.Query().Get("code"), verifier); status != 200 {
			t.Fatalf("%s: %d %v", name, status, body)
		}
	}
	// Manual without the endpoints it needs cannot be enabled.
	f.rest(t, "PATCH", base, `{"configuration_type": "MANUAL", "oidc_config": {"jwks_uri": ""}}`, 200)
	f.rest(t, "PATCH", base+":disable", "", 200)
	res := f.rest(t, "PATCH", base+":enable", "", 400)
	if !strings.Contains(res.Raw, "jwks_uri") {
		t.Fatalf("enable without jwks_uri: %s", res.Raw)
	}
}
