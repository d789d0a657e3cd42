package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster"
	rosterv1 "github.com/rosterhq/roster/gen/roster/v1"
	"github.com/rosterhq/roster/gen/roster/v1/rosterv1connect"
	"github.com/rosterhq/roster/internal/oidctest"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/oauth"
	"github.com/rosterhq/roster/secretbox"
)

// Provenance (docs/provenance.md): each profile field and custom attribute of a user records
// which source last set it to its current value, read through roster.v1
// UserProvenanceService (GET /api/v1/users/{id}/provenance).

const provenanceCallback = "http://127.0.0.1:9/app/callback"

// provenanceWorld is a server with organization Acme (domain acme.test, custom attribute
// cost_center), an OIDC connection to a test provider and a SCIM directory that maps the
// enterprise costCenter onto cost_center.
type provenanceWorld struct {
	r          *rostertest.Roster
	token      string
	org, conn  string
	idp        *oidctest.Provider
	scim       scimClient
	dir        string
	userID     string
	scimUserID string
}

const entURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

func newProvenanceWorld(t *testing.T, backend string, opts ...rostertest.Option) *provenanceWorld {
	t.Helper()
	r := rostertest.Start(t, backend, opts...)
	w := &provenanceWorld{r: r, token: r.Token(t), idp: oidctest.Start(t)}
	if err := r.Directory.SetRedirectURIs(context.Background(), r.ClientID, []string{provenanceCallback}); err != nil {
		t.Fatal(err)
	}
	w.org = newOrgREST(t, r, w.token, "Acme")
	defineAttribute(t, r, w.token, `{"key": "cost_center", "display_name": "Cost center"}`)
	res := r.REST(t, w.token, "POST", "/api/v1/organizations/"+w.org+"/connections", `{"provider": "OKTA", "type": "OIDC"}`)
	wantStatus(t, res, 200)
	w.conn = obj(res.Body, "connection")["id"].(string)
	wantStatus(t, r.REST(t, w.token, "PATCH", "/api/v1/organizations/"+w.org+"/connections/"+w.conn, fmt.Sprintf(`{"oidc_config":
		{"issuer": %q, "client_id": %q, "client_secret": %q, "scopes": ["openid", "profile", "email"], "pkce_enabled": true}}`,
		w.idp.URL, w.idp.ClientID, w.idp.ClientSecret)), 200)
	wantStatus(t, r.REST(t, w.token, "PATCH", "/api/v1/organizations/"+w.org+"/connections/"+w.conn+":enable", ""), 200)
	w.scim, w.dir = scimDirectory(t, r, w.token, w.org, "OKTA", "acme.test")
	wantStatus(t, r.REST(t, w.token, "PUT", "/api/v1/organizations/"+w.org+"/directories/"+w.dir+"/attributes",
		`{"attributes": [{"key": "cost_center", "map_to": "`+entURN+`:costCenter"}]}`), 200)
	return w
}

// signIn signs ann@acme.test in through the connection with these claims.
func (w *provenanceWorld) signIn(t *testing.T, claims map[string]any) {
	t.Helper()
	c := map[string]any{"email": "ann@acme.test", "email_verified": true}
	for k, v := range claims {
		c[k] = v
	}
	w.idp.SetUser("00u-ann", c)
	sum := sha256.Sum256([]byte("a-verifier-of-the-application-that-is-long-enough-43"))
	q := url.Values{"response_type": {"code"}, "client_id": {w.r.ClientID}, "redirect_uri": {provenanceCallback},
		"scope": {"openid profile email"}, "state": {"s"}, "nonce": {"n"}, "organization_id": {w.org},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host == "127.0.0.1:9" {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	res, err := client.Get(w.r.URL + "/oauth/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("sign-in: %d %v", res.StatusCode, loc)
	}
}

// story writes ann@acme.test through each source in turn, pausing between the writes so that
// their times differ:
//  1. the API creates her: email, given_name Ann, family_name Api, name, cost_center C1;
//  2. an SSO sign-in says given_name Annie and family_name Api (the same value);
//  3. SCIM provisions her (userName, given name Annie again) and then PATCHes familyName to
//     Scim and the mapped enterprise costCenter to C9.
func (w *provenanceWorld) story(t *testing.T) (times [4]time.Time) {
	t.Helper()
	times[0] = time.Now()
	res := w.r.REST(t, w.token, "POST", "/api/v1/organizations/"+w.org+"/users", `{"email": "ann@acme.test", "external_id": "ann-1",
		"send_invitation_email": false, "user_profile": {"given_name": "Ann", "family_name": "Api", "custom_attributes": {"cost_center": "C1"}}}`)
	wantStatus(t, res, 200)
	w.userID = user(res)["id"].(string)
	time.Sleep(2 * time.Millisecond)
	times[1] = time.Now()
	w.signIn(t, map[string]any{"given_name": "Annie", "family_name": "Api"})
	time.Sleep(2 * time.Millisecond)
	times[2] = time.Now()
	a := w.scim.want(201, "POST", "/Users", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ann@acme.test",
		"name": {"givenName": "Annie"}, "emails": [{"value": "ann@acme.test", "primary": true}], "active": true}`)
	w.scimUserID = a.Body["id"].(string)
	time.Sleep(2 * time.Millisecond)
	times[3] = time.Now()
	w.scim.want(200, "PATCH", "/Users/"+w.scimUserID, `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
		{"op": "replace", "path": "name.familyName", "value": "Scim"},
		{"op": "add", "path": "`+entURN+`:costCenter", "value": "C9"}]}`)
	return times
}

// entry is one field's provenance as the REST answer shows it.
type entry struct {
	Source, SourceID string
	UpdateTime       time.Time
}

func restEntries(t *testing.T, m map[string]any) map[string]entry {
	t.Helper()
	out := map[string]entry{}
	for k, v := range m {
		e := v.(map[string]any)
		at, err := time.Parse(time.RFC3339Nano, e["update_time"].(string))
		if err != nil {
			t.Fatalf("%s: update_time %v", k, e["update_time"])
		}
		id, _ := e["source_id"].(string)
		out[k] = entry{Source: e["source"].(string), SourceID: id, UpdateTime: at}
	}
	return out
}

// checkStory checks the provenance after story: fields and custom attributes.
func (w *provenanceWorld) checkStory(t *testing.T, times [4]time.Time, fields, custom map[string]entry) {
	t.Helper()
	api, sso, scim := entry{"API", w.r.ClientID, times[0]}, entry{"SSO", w.conn, times[1]}, entry{"SCIM", w.dir, times[2]}
	patch := entry{"SCIM", w.dir, times[3]}
	want := map[string]entry{
		"email":              api,   // the same address at every write since
		"given_name":         sso,   // Annie from the sign-in; SCIM's Annie left it as it was
		"family_name":        patch, // the sign-in's Api changed nothing; the PATCH did
		"name":               patch, // follows given and family name: Annie Api, then Annie Scim
		"preferred_username": scim,  // userName
		"email_verified":     sso,   // the provider said true
	}
	check := func(what string, got, want map[string]entry) {
		t.Helper()
		for k, e := range want {
			g, ok := got[k]
			if !ok || g.Source != e.Source || g.SourceID != e.SourceID || g.UpdateTime.Before(e.UpdateTime.Add(-time.Millisecond)) {
				t.Errorf("%s %s: %+v, want %s %s after %s", what, k, g, e.Source, e.SourceID, e.UpdateTime.Format(time.RFC3339Nano))
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s %s: %+v, want no entry (never written)", what, k, got[k])
			}
		}
	}
	check("field", fields, want)
	check("custom attribute", custom, map[string]entry{"cost_center": patch})
	if !fields["given_name"].UpdateTime.Before(fields["family_name"].UpdateTime) || !fields["email"].UpdateTime.Before(fields["given_name"].UpdateTime) {
		t.Errorf("times out of order: %+v", fields)
	}
}

// TestUserProvenanceREST: a user written by the API, an SSO sign-in and SCIM shows, field by
// field, the source that last set each value; another environment's user is NOT_FOUND, and
// the call needs a token.
func TestUserProvenanceREST(t *testing.T) {
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			key := bytes.Repeat([]byte{3}, secretbox.KeySize)
			w := newProvenanceWorld(t, backend, rostertest.WithNode(rostertest.Open(t, backend), key, ""))
			times := w.story(t)
			res := w.r.REST(t, w.token, "GET", "/api/v1/users/"+w.userID+"/provenance", "")
			wantStatus(t, res, 200)
			p := obj(res.Body, "provenance")
			if p["user_id"] != w.userID {
				t.Fatalf("user_id: %s", res.Raw)
			}
			w.checkStory(t, times, restEntries(t, obj(p, "fields")), restEntries(t, obj(p, "custom_attributes")))
			// by external ID, the same answer
			byExt := w.r.REST(t, w.token, "GET", "/api/v1/users:external/ann-1/provenance", "")
			wantStatus(t, byExt, 200)
			if byExt.Raw != res.Raw {
				t.Errorf("by external ID:\n%s\nby ID:\n%s", byExt.Raw, res.Raw)
			}

			// No token; a malformed ID; a user that does not exist.
			wantStatus(t, w.r.REST(t, "", "GET", "/api/v1/users/"+w.userID+"/provenance", ""), 401)
			wantStatus(t, w.r.REST(t, w.token, "GET", "/api/v1/users/org_123/provenance", ""), 400)
			wantStatus(t, w.r.REST(t, w.token, "GET", "/api/v1/users/usr_123/provenance", ""), 404)

			// Another environment's client does not see the user's provenance.
			other := otherEnvironmentToken(t, w.r, key)
			if res := w.r.REST(t, other, "GET", "/api/v1/users/"+w.userID+"/provenance", ""); res.Status != 404 || errorInfo(t, res)["error_code"] != "NOT_FOUND" {
				t.Fatalf("from another environment: %d %s", res.Status, res.Raw)
			}
			wantStatus(t, w.r.REST(t, other, "GET", "/api/v1/users:external/ann-1/provenance", ""), 404)
		})
	}
}

// TestUserProvenanceGRPC reads the same story over gRPC.
func TestUserProvenanceGRPC(t *testing.T) {
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			key := bytes.Repeat([]byte{4}, secretbox.KeySize)
			w := newProvenanceWorld(t, backend, rostertest.WithNode(rostertest.Open(t, backend), key, ""))
			times := w.story(t)
			ctx := context.Background()
			c := rosterv1connect.NewUserProvenanceServiceClient(h2cClient(), w.r.URL, connect.WithGRPC(), connect.WithInterceptors(bearer(w.token)))
			got, err := c.GetUserProvenance(ctx, connect.NewRequest(&rosterv1.GetUserProvenanceRequest{
				Identities: &rosterv1.GetUserProvenanceRequest_Id{Id: w.userID}}))
			if err != nil {
				t.Fatal(err)
			}
			p := got.Msg.GetProvenance()
			conv := func(m map[string]*rosterv1.FieldProvenance) map[string]entry {
				out := map[string]entry{}
				for k, v := range m {
					out[k] = entry{Source: v.GetSource().String(), SourceID: v.GetSourceId(), UpdateTime: v.GetUpdateTime().AsTime()}
				}
				return out
			}
			if p.GetUserId() != w.userID {
				t.Fatalf("user_id %q", p.GetUserId())
			}
			w.checkStory(t, times, conv(p.GetFields()), conv(p.GetCustomAttributes()))
			if got, err := c.GetUserProvenance(ctx, connect.NewRequest(&rosterv1.GetUserProvenanceRequest{
				Identities: &rosterv1.GetUserProvenanceRequest_ExternalId{ExternalId: "ann-1"}})); err != nil ||
				got.Msg.GetProvenance().GetFields()["family_name"].GetSource() != rosterv1.FieldSource_SCIM {
				t.Fatalf("by external ID: %v %v", got, err)
			}

			anon := rosterv1connect.NewUserProvenanceServiceClient(h2cClient(), w.r.URL, connect.WithGRPC())
			if _, err := anon.GetUserProvenance(ctx, connect.NewRequest(&rosterv1.GetUserProvenanceRequest{
				Identities: &rosterv1.GetUserProvenanceRequest_Id{Id: w.userID}})); connect.CodeOf(err) != connect.CodeUnauthenticated {
				t.Fatalf("without a token: %v", err)
			}
			if _, err := c.GetUserProvenance(ctx, connect.NewRequest(&rosterv1.GetUserProvenanceRequest{})); connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Fatalf("no user named: %v", err)
			}
			other := rosterv1connect.NewUserProvenanceServiceClient(h2cClient(), w.r.URL, connect.WithGRPC(),
				connect.WithInterceptors(bearer(otherEnvironmentToken(t, w.r, key))))
			if _, err := other.GetUserProvenance(ctx, connect.NewRequest(&rosterv1.GetUserProvenanceRequest{
				Identities: &rosterv1.GetUserProvenanceRequest_Id{Id: w.userID}})); connect.CodeOf(err) != connect.CodeNotFound {
				t.Fatalf("from another environment: %v", err)
			}
		})
	}
}

// TestProvenanceSCIMAndSSODisagree: between sources of one organization the last write wins
// and is recorded. A sign-in overwrites a field that SCIM set; the next SCIM write of that
// user, even one that changes another attribute, writes the SCIM resource's value back
// (a SCIM write applies the whole stored resource). A source of another organization never
// changes the profile, so it records nothing.
func TestProvenanceSCIMAndSSODisagree(t *testing.T) {
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			w := newProvenanceWorld(t, backend)
			w.story(t)
			get := func() (map[string]any, map[string]entry) {
				t.Helper()
				res := w.r.REST(t, w.token, "GET", "/api/v1/users/"+w.userID+"/provenance", "")
				wantStatus(t, res, 200)
				u := w.r.REST(t, w.token, "GET", "/api/v1/users/"+w.userID, "")
				wantStatus(t, u, 200)
				return obj(u.Body, "user", "user_profile"), restEntries(t, obj(res.Body, "provenance", "fields"))
			}
			// The provider disagrees with SCIM on the family name: the sign-in wins, recorded.
			w.signIn(t, map[string]any{"given_name": "Annie", "family_name": "Lovelace"})
			prof, fields := get()
			if prof["family_name"] != "Lovelace" || fields["family_name"].Source != "SSO" || fields["family_name"].SourceID != w.conn {
				t.Fatalf("after the sign-in: %v %+v", prof["family_name"], fields["family_name"])
			}
			// A SCIM PATCH of another attribute writes the resource's family name back.
			w.scim.want(200, "PATCH", "/Users/"+w.scimUserID, `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "replace", "path": "title", "value": "Engineer"}]}`)
			prof, fields = get()
			if prof["family_name"] != "Scim" || fields["family_name"].Source != "SCIM" || fields["family_name"].SourceID != w.dir {
				t.Fatalf("after the SCIM write: %v %+v", prof["family_name"], fields["family_name"])
			}
			if fields["given_name"].Source != "SSO" {
				t.Errorf("given_name: %+v; the SCIM write sent the same value, so the sign-in's record stays", fields["given_name"])
			}
			// The API changes it last: recorded as the API.
			wantStatus(t, w.r.REST(t, w.token, "PATCH", "/api/v1/users/"+w.userID, `{"user_profile": {"family_name": "Byron"}}`), 200)
			if _, fields = get(); fields["family_name"].Source != "API" || fields["family_name"].SourceID != w.r.ClientID {
				t.Fatalf("after the API: %+v", fields["family_name"])
			}

			// Another organization's directory links Ann (its organization holds the domain now)
			// but never changes her profile: nothing is recorded for it.
			globex := newOrgREST(t, w.r, w.token, "Globex")
			domains := w.r.REST(t, w.token, "GET", "/api/v1/organizations/"+w.org+"/domains", "")
			for _, d := range domains.Body["domains"].([]any) {
				wantStatus(t, w.r.REST(t, w.token, "DELETE", "/api/v1/organizations/"+w.org+"/domains/"+d.(map[string]any)["id"].(string), ""), 200)
			}
			gscim, gdir := scimDirectory(t, w.r, w.token, globex, "OKTA", "acme.test")
			gscim.want(201, "POST", "/Users", `{"userName": "ann@acme.test", "name": {"givenName": "Globex Ann", "familyName": "G"}, "active": true}`)
			prof, fields = get()
			if prof["given_name"] != "Annie" || prof["family_name"] != "Byron" {
				t.Fatalf("another organization's directory changed the profile: %v", prof)
			}
			for k, e := range fields {
				if e.SourceID == gdir {
					t.Errorf("%s recorded as written by another organization's directory: %+v", k, e)
				}
			}
		})
	}
}

// TestProvenanceFollowsAttributeDefinitions: deleting a custom attribute's definition deletes
// its values and their provenance; a definition made again with the same key starts with none.
func TestProvenanceFollowsAttributeDefinitions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		orgID := newOrgREST(t, r, token, "Acme")
		defineAttribute(t, r, token, `{"key": "shoe_size", "display_name": "Shoe size"}`)
		res := r.REST(t, token, "POST", "/api/v1/organizations/"+orgID+"/users", `{"email": "bo@example.com",
			"user_profile": {"custom_attributes": {"shoe_size": "44"}}}`)
		wantStatus(t, res, 200)
		id := user(res)["id"].(string)
		wantStatus(t, r.REST(t, token, "PATCH", "/api/v1/users/"+id, `{"user_profile": {"custom_attributes": {"shoe_size": "45"}}}`), 200)
		p := r.REST(t, token, "GET", "/api/v1/users/"+id+"/provenance", "")
		wantStatus(t, p, 200)
		if _, ok := obj(p.Body, "provenance", "custom_attributes")["shoe_size"]; !ok {
			t.Fatalf("no shoe_size entry: %s", p.Raw)
		}
		wantStatus(t, r.REST(t, token, "DELETE", "/api/v1/user-attributes/shoe_size", ""), 200)
		defineAttribute(t, r, token, `{"key": "shoe_size", "display_name": "Shoe size"}`)
		p = r.REST(t, token, "GET", "/api/v1/users/"+id+"/provenance", "")
		wantStatus(t, p, 200)
		if ca := obj(p.Body, "provenance", "custom_attributes"); len(ca) != 0 {
			t.Fatalf("provenance outlived its definition: %s", p.Raw)
		}
		if f := obj(p.Body, "provenance", "fields"); f["email"] == nil {
			t.Fatalf("the user's other fields lost their provenance: %s", p.Raw)
		}
	})
}

// otherEnvironmentToken creates a second environment in r's database (r must run with
// rostertest.WithNode and this key) and returns a token of a client of it.
func otherEnvironmentToken(t *testing.T, r *rostertest.Roster, key []byte) string {
	t.Helper()
	ctx := context.Background()
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	env2 := roster.Environment{ID: dirIDs.New(roster.PrefixEnvironment), Name: "second", CursorKey: bytes.Repeat([]byte{7}, 32), CreateTime: time.Now().UTC()}
	if err := r.Store.CreateEnvironment(ctx, env2); err != nil {
		t.Fatal(err)
	}
	if err := oauth.EnsureSigningKey(ctx, r.Store, box, env2.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	c, err := r.Directory.CreateClient(ctx, env2, "second", "", "")
	if err != nil {
		t.Fatal(err)
	}
	tr := *r
	tr.ClientID, tr.ClientSecret = c.Client.ID, c.Secret
	return tr.Token(t)
}

// TestProvenanceOfImports: a REST import records IMPORT and the API client whose token sent
// it; a line that changes an imported user records the fields it changed.
func TestProvenanceOfImports(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		orgID := newOrgREST(t, r, token, "Acme")
		line := func(family string) string {
			return `{"email": "cy@example.com", "external_id": "cy-1", "user_profile": {"given_name": "Cy", "family_name": "` + family +
				`"}, "memberships": [{"organization_id": "` + orgID + `"}]}` + "\n"
		}
		if a := importREST(t, r, token, strings.NewReader(line("Young"))); a.status != 200 || len(a.failed) != 0 {
			t.Fatalf("import: %d %s", a.status, a.raw)
		}
		res := r.REST(t, token, "GET", "/api/v1/users:external/cy-1/provenance", "")
		wantStatus(t, res, 200)
		fields := restEntries(t, obj(res.Body, "provenance", "fields"))
		for _, f := range []string{"email", "given_name", "family_name", "name"} {
			if e := fields[f]; e.Source != "IMPORT" || e.SourceID != r.ClientID {
				t.Errorf("%s: %+v, want IMPORT by %s", f, e, r.ClientID)
			}
		}
		created := fields["given_name"].UpdateTime
		if a := importREST(t, r, token, strings.NewReader(line("Old"))); a.status != 200 || len(a.failed) != 0 {
			t.Fatalf("second import: %d %s", a.status, a.raw)
		}
		res = r.REST(t, token, "GET", "/api/v1/users:external/cy-1/provenance", "")
		wantStatus(t, res, 200)
		fields = restEntries(t, obj(res.Body, "provenance", "fields"))
		if !fields["given_name"].UpdateTime.Equal(created) || !fields["family_name"].UpdateTime.After(created) || fields["family_name"].Source != "IMPORT" {
			t.Errorf("after a line that changed the family name: %+v", fields)
		}
	})
}
