package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/dashboard"
	"github.com/rosterhq/roster/operators"
	"github.com/rosterhq/roster/scim/scimdir"
)

// BenchmarkDirectoryPage renders a SCIM directory's page against a SQLite store whose
// directory has 20,000 users provisioned through the SCIM endpoint (scimdir.Handler, as an
// identity provider would), 50 groups of 100 members each: the first page, a page deep in the
// users (by its next links), and a page of groups. It calls the handler directly (no network)
// with a signed-in session, so ns/op is the server's time per page, session check included.
//
//	go test -run '^$' -bench BenchmarkDirectoryPage -benchtime 200x ./dashboard
func BenchmarkDirectoryPage(b *testing.B) {
	const users, groups, perGroup = 20_000, 50, 100
	ctx := context.Background()
	st, _, dir, env := sqliteConsole(b)
	o, err := dir.CreateOrganization(ctx, env, roster.NewOrganization{DisplayName: "Acme"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := dir.CreateDomain(ctx, env, roster.OrganizationRef{ID: o.ID}, "acme.example", roster.DomainOrganization); err != nil {
		b.Fatal(err)
	}
	d, err := dir.CreateDirectory(ctx, env, o.ID, roster.DirectorySCIM, "OKTA")
	if err != nil {
		b.Fatal(err)
	}
	_, token, err := dir.CreateDirectorySecret(ctx, env, o.ID, d.ID, false)
	if err != nil {
		b.Fatal(err)
	}
	scimH := scimdir.Handler(dir, "http://roster.test", nil)
	call := func(method, path, body string) map[string]any {
		req := httptest.NewRequest(method, "/scim/v2/"+d.ID+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		rec := httptest.NewRecorder()
		scimH.ServeHTTP(rec, req)
		if rec.Code != 201 {
			b.Fatalf("SCIM %s %s: %d %s", method, path, rec.Code, rec.Body.String())
		}
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return out
	}
	start := time.Now()
	ids := make([]string, 0, users)
	for i := range users {
		out := call("POST", "/Users", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u%05d@acme.example",`+
			`"name":{"givenName":"User","familyName":"N%05d"},"emails":[{"value":"u%05d@acme.example","primary":true}],"active":true}`, i, i, i))
		ids = append(ids, out["id"].(string))
	}
	for g := range groups {
		var m []string
		for j := range perGroup {
			m = append(m, `{"value":"`+ids[(g*perGroup+j)%users]+`"}`)
		}
		call("POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Group %02d","members":[%s]}`, g, strings.Join(m, ",")))
	}
	b.Logf("seeded %d SCIM users and %d groups in %s", users, groups, time.Since(start).Round(time.Millisecond))
	get := signedInGet(b, dashboard.Config{Directory: dir, Environment: env, Operators: operators.New(st, operators.Settings{Password: cheap}), Issuer: "http://roster.test"})
	page := "/dashboard/organizations/" + o.ID + "/directories/" + d.ID
	nextUsers := regexp.MustCompile(`href="([^"]+)" id="users-next"`)
	// A page deep in the users: follow next links 300 pages in (rows 9001-9030).
	deep := page
	for range 300 {
		m := nextUsers.FindStringSubmatch(get(b, deep))
		if m == nil {
			b.Fatal("no next link")
		}
		deep, _, _ = strings.Cut(strings.ReplaceAll(m[1], "&amp;", "&"), "#") // a browser sends no fragment
	}
	for _, c := range []struct{ name, path, want string }{
		{"first", page, "u00029@acme.example"},
		{"users-page-301", deep, "u09029@acme.example"},
	} {
		b.Run(c.name, func(b *testing.B) {
			body := get(b, c.path)
			if !strings.Contains(body, c.want) || !strings.Contains(body, `id="users-total">(20000)`) {
				b.Fatalf("GET %s: no %q", c.path, c.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				get(b, c.path)
			}
		})
	}
}
