package dashboard_test

import (
	"context"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/dashboard"
	"github.com/rosterhq/roster/directory"
)

// wantBody fails unless the body holds every string.
func wantBody(t *testing.T, what string, res response, want ...string) {
	t.Helper()
	for _, s := range want {
		if !strings.Contains(res.body, s) {
			t.Fatalf("%s: no %q in\n%s", what, s, res.body)
		}
	}
}

// violation is the API's description of the one violation its error names.
func violation(t *testing.T, err error) (field, description string) {
	t.Helper()
	var e *roster.Error
	if !asError(err, &e) || len(e.Violations) != 1 {
		t.Fatalf("the API's error: %v", err)
	}
	return e.Violations[0].Field, e.Violations[0].Description
}

func fieldError(input, description string) string {
	return `<span id="` + input + `-error"><span class="field-error">` + template(description) + `</span>`
}

// The test: create an organization with an external ID and metadata, find it by the
// external ID; then every part of its page, its edits with the API's messages beside the
// fields, and its delete confirmation.
func TestOrganizationsScreen(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *console) {
		ctx := context.Background()
		b := c.browser(t)
		b.signIn()
		res := b.get("/dashboard/organizations")
		wantStatus(t, "organizations", res, 200)
		wantBody(t, "an empty list", res, `id="organizations-empty"`, `<a href="/dashboard/organizations" aria-current="page">Organizations</a>`, `id="total">(0)`)
		tok := csrfField.FindStringSubmatch(res.body)[1]

		// A blank display name: the API's message beside the field, what was typed kept.
		res = b.post("/dashboard/organizations", url.Values{"csrf": {tok}, "display_name": {"  "}, "external_id": {"acme-42"}})
		wantStatus(t, "a blank name", res, 400)
		_, apiErr := c.dir.CreateOrganization(ctx, c.env, roster.NewOrganization{DisplayName: "  ", ExternalID: "acme-42"})
		_, desc := violation(t, apiErr)
		wantBody(t, "a blank name", res, fieldError("display_name", desc), `<p class="error" role="alert" id="error">`+template(roster.ErrorMessage(apiErr)), `value="acme-42"`)
		if l, _ := c.dir.ListOrganizations(ctx, c.env, directory.ListOrganizationsInput{}); l.Total != 0 {
			t.Fatalf("a refused create wrote %d organizations", l.Total)
		}

		// Create with an external ID.
		res = b.post("/dashboard/organizations", url.Values{"csrf": {tok}, "display_name": {"Acme Corp"}, "external_id": {"acme-42"}})
		if res.status != 303 || !strings.HasPrefix(res.header.Get("Location"), "/dashboard/organizations/org_") {
			t.Fatalf("create: %d %q", res.status, res.header.Get("Location"))
		}
		orgPath := strings.TrimSuffix(res.header.Get("Location"), "?done=created")
		id := strings.TrimPrefix(orgPath, "/dashboard/organizations/")
		res = b.get(res.header.Get("Location"))
		wantStatus(t, "the new organization", res, 200)
		wantBody(t, "the new organization", res, "Organization created.", "<h1>Acme Corp</h1>", `<code id="org-id">`+id+`</code>`,
			`<dd id="org-external-id"><code>acme-42</code></dd>`, `id="metadata-empty"`, `id="domains-empty"`, `id="members-empty"`,
			`id="connections-empty"`, `id="directories-empty"`)

		// The same external ID again: the API's conflict, beside the external ID.
		res = b.post("/dashboard/organizations", url.Values{"csrf": {tok}, "display_name": {"Other"}, "external_id": {"acme-42"}})
		wantStatus(t, "a taken external ID", res, 409)
		wantBody(t, "a taken external ID", res, fieldError("external_id", "must be unique in the environment"),
			template(`an organization with external_id "acme-42" already exists`))

		// Metadata: add two pairs, a key the API refuses (its message beside the pair form),
		// change one, remove one.
		wantRedirect(t, "add metadata", b.post(orgPath+"/metadata", url.Values{"csrf": {tok}, "key": {"plan"}, "value": {"enterprise"}}), orgPath+"?done=metadata")
		wantRedirect(t, "add metadata", b.post(orgPath+"/metadata", url.Values{"csrf": {tok}, "key": {"region"}, "value": {"emea"}}), orgPath+"?done=metadata")
		res = b.post(orgPath+"/metadata", url.Values{"csrf": {tok}, "key": {"ab"}, "value": {"x"}})
		wantStatus(t, "a short key", res, 400)
		_, apiErr = c.dir.UpdateOrganization(ctx, c.env, roster.OrganizationRef{ID: id}, roster.OrganizationPatch{Metadata: map[string]string{"ab": "x"}})
		_, desc = violation(t, apiErr)
		wantBody(t, "a short key", res, fieldError("metadata", desc), `id="meta-key" name="key" required maxlength="25" value="ab"`)
		wantRedirect(t, "change a value", b.post(orgPath+"/metadata", url.Values{"csrf": {tok}, "key": {"plan"}, "value": {"growth"}}), orgPath+"?done=metadata")
		wantRedirect(t, "remove a key", b.post(orgPath+"/metadata", url.Values{"csrf": {tok}, "key": {"region"}, "remove": {"1"}}), orgPath+"?done=metadata-gone")
		o, err := c.dir.GetOrganization(ctx, c.env, roster.OrganizationRef{ID: id})
		if err != nil || len(o.Metadata) != 1 || o.Metadata["plan"] != "growth" {
			t.Fatalf("metadata: %v %v", o.Metadata, err)
		}
		// The eleventh pair: the API's message.
		for i := range 9 {
			if _, err := c.dir.UpdateOrganization(ctx, c.env, roster.OrganizationRef{ID: id}, roster.OrganizationPatch{Metadata: map[string]string{fmt.Sprintf("key%d", i): "v"}}); err != nil {
				t.Fatal(err)
			}
		}
		res = b.post(orgPath+"/metadata", url.Values{"csrf": {tok}, "key": {"one_too_many"}, "value": {"v"}})
		wantStatus(t, "an eleventh pair", res, 400)
		wantBody(t, "an eleventh pair", res, template("the organization would have 11 pairs after this update; at most 10 are allowed"))
		for i := range 9 {
			if _, err := c.dir.UpdateOrganization(ctx, c.env, roster.OrganizationRef{ID: id}, roster.OrganizationPatch{Metadata: map[string]string{fmt.Sprintf("key%d", i): ""}}); err != nil {
				t.Fatal(err)
			}
		}
		res = b.get(orgPath)
		wantBody(t, "metadata", res, `<td><code>plan</code></td>`, `name="value" value="growth"`)

		// Find it by its external ID: exactly, and by the search.
		res = b.get("/dashboard/organizations?by=external_id&q=acme-42")
		wantStatus(t, "find by external ID", res, 200)
		wantBody(t, "find by external ID", res, `<td><a href="/dashboard/organizations/`+id+`">Acme Corp</a></td>`, `id="total">(1)`)
		res = b.get("/dashboard/organizations?by=external_id&q=acme-4")
		wantBody(t, "a part of the external ID, exactly", res, `id="organizations-empty"`)
		for _, q := range []string{"acme-4", "ACME", id, "corp"} {
			res = b.get("/dashboard/organizations?" + url.Values{"q": {q}}.Encode())
			wantStatus(t, "search "+q, res, 200)
			wantBody(t, "search "+q, res, `<a href="/dashboard/organizations/`+id+`">Acme Corp</a>`)
		}
		// A query the API refuses: its message beside the box.
		res = b.get("/dashboard/organizations?q=ac")
		wantStatus(t, "a short query", res, 400)
		_, apiErr = c.dir.ListOrganizations(ctx, c.env, directory.ListOrganizationsInput{Query: ptr("ac")})
		_, desc = violation(t, apiErr)
		wantBody(t, "a short query", res, fieldError("q", desc))

		// Name and external ID.
		res = b.post(orgPath, url.Values{"csrf": {tok}, "display_name": {strings.Repeat("x", 201)}, "external_id": {"acme-43"}})
		wantStatus(t, "a long name", res, 400)
		wantBody(t, "a long name", res, fieldError("display_name", "must be at most 200 characters, got 201"), `value="acme-43"`)
		other, err := c.dir.CreateOrganization(ctx, c.env, roster.NewOrganization{DisplayName: "Globex", ExternalID: "globex"})
		if err != nil {
			t.Fatal(err)
		}
		res = b.post(orgPath, url.Values{"csrf": {tok}, "display_name": {"Acme"}, "external_id": {"globex"}})
		wantStatus(t, "a taken external ID", res, 409)
		wantBody(t, "a taken external ID", res, fieldError("external_id", "must be unique in the environment"))
		wantRedirect(t, "rename", b.post(orgPath, url.Values{"csrf": {tok}, "display_name": {"Acme Inc"}, "external_id": {"acme-43"}}), orgPath+"?done=updated")
		if o, _ := c.dir.GetOrganization(ctx, c.env, roster.OrganizationRef{ExternalID: "acme-43"}); o.ID != id || o.DisplayName != "Acme Inc" {
			t.Fatalf("after rename: %+v", o)
		}

		// Domains: the API's refusal of a public provider beside the field; one taken by
		// another organization; add and remove.
		res = b.post(orgPath+"/domains", url.Values{"csrf": {tok}, "domain": {"gmail.com"}, "domain_type": {"ORGANIZATION_DOMAIN"}})
		wantStatus(t, "a public domain", res, 400)
		_, apiErr = c.dir.CreateDomain(ctx, c.env, roster.OrganizationRef{ID: id}, "gmail.com", "")
		_, desc = violation(t, apiErr)
		wantBody(t, "a public domain", res, fieldError("domain", desc))
		wantRedirect(t, "add a domain", b.post(orgPath+"/domains", url.Values{"csrf": {tok}, "domain": {"Acme.Example"}, "domain_type": {"ALLOWED_EMAIL_DOMAIN"}}), orgPath+"?done=domain")
		if _, err := c.dir.CreateDomain(ctx, c.env, roster.OrganizationRef{ID: other.ID}, "globex.example", ""); err != nil {
			t.Fatal(err)
		}
		res = b.post(orgPath+"/domains", url.Values{"csrf": {tok}, "domain": {"globex.example"}})
		if res.status < 400 || !strings.Contains(res.body, `<span id="domain-error"><span class="field-error">`) {
			t.Fatalf("another organization's domain: %d\n%s", res.status, res.body)
		}
		res = b.get(orgPath)
		wantBody(t, "domains", res, `<td><code>acme.example</code></td><td>ALLOWED_EMAIL_DOMAIN</td>`)
		domains, _ := c.dir.ListDomains(ctx, c.env, roster.OrganizationRef{ID: id}, "")
		if len(domains) != 1 {
			t.Fatalf("domains: %+v", domains)
		}
		wantRedirect(t, "remove a domain", b.post(orgPath+"/domains/"+domains[0].ID+"/delete", url.Values{"csrf": {tok}}), orgPath+"?done=domain-removed")
		wantStatus(t, "another organization's domain through this one", b.post(orgPath+"/domains/"+mustDomain(t, c, other.ID)+"/delete", url.Values{"csrf": {tok}}), 404)
		if d, _ := c.dir.ListDomains(ctx, c.env, roster.OrganizationRef{ID: other.ID}, ""); len(d) != 1 {
			t.Fatal("another organization's domain was removed")
		}
		if _, err := c.dir.CreateDomain(ctx, c.env, roster.OrganizationRef{ID: id}, "acme.example", ""); err != nil {
			t.Fatal(err)
		}

		// Members with their roles, connections and directories.
		no := false
		if _, err := c.dir.CreateUserAndMembership(ctx, c.env, id, roster.NewUser{Email: "wile@acme.example"},
			directory.NewMembership{MembershipInput: roster.MembershipInput{Roles: []string{"admin"}}, SendInvitation: &no}); err != nil {
			t.Fatal(err)
		}
		conn, err := c.dir.CreateConnection(ctx, c.env, id, roster.ConnectionOIDC, "OKTA")
		if err != nil {
			t.Fatal(err)
		}
		dir, err := c.dir.CreateDirectory(ctx, c.env, id, roster.DirectorySCIM, "OKTA")
		if err != nil {
			t.Fatal(err)
		}
		res = b.get(orgPath)
		wantBody(t, "members, connections, directories", res, "<td>wile@acme.example</td>", "(<code>admin</code>)", `id="member-total">(1)`,
			`<td><a href="`+orgPath+`/connections/`+conn.ID+`"><code>`+conn.ID+"</code></a></td><td>OIDC</td><td>OKTA</td>", `<td><a href="`+orgPath+`/directories/`+dir.ID+`"><code>`+dir.ID+`</code></a></td>`)

		// Delete: the confirmation lists what goes; without CSRF nothing happens.
		res = b.get(orgPath + "/delete")
		wantStatus(t, "confirm delete", res, 200)
		wantBody(t, "confirm delete", res, `<li id="gone-members">1 membership;`, `<li id="gone-connections">1 SSO connection,`,
			`<li id="gone-directories">1 SCIM directory,`, `<li id="gone-domains">1 domain</li>`, "the users whose only membership it is are deleted too")
		wantStatus(t, "delete without CSRF", b.post(orgPath+"/delete", nil), 403)
		if _, err := c.dir.GetOrganization(ctx, c.env, roster.OrganizationRef{ID: id}); err != nil {
			t.Fatalf("deleted without CSRF: %v", err)
		}
		wantRedirect(t, "delete", b.post(orgPath+"/delete", url.Values{"csrf": {tok}}), "/dashboard/organizations?done=deleted&id="+id)
		if _, err := c.dir.GetOrganization(ctx, c.env, roster.OrganizationRef{ID: id}); roster.ErrorCode(err) != roster.ENotFound {
			t.Fatalf("after delete: %v", err)
		}
		wantStatus(t, "a deleted organization's page", b.get(orgPath), 404)
		wantBody(t, "the list after delete", b.get("/dashboard/organizations?done=deleted&id="+id), "Organization "+id+" deleted", "Globex")
	})
}

func mustDomain(t *testing.T, c *console, orgID string) string {
	t.Helper()
	d, err := c.dir.ListDomains(context.Background(), c.env, roster.OrganizationRef{ID: orgID}, "")
	if err != nil || len(d) == 0 {
		t.Fatalf("domains of %s: %v %v", orgID, d, err)
	}
	return d[0].ID
}

func ptr[T any](v T) *T { return &v }

// Every POST of the Organizations screens needs the session's CSRF token: without it, 403
// and nothing is written.
func TestOrganizationsCSRF(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *console) {
		ctx := context.Background()
		b := c.browser(t)
		b.signIn()
		o, err := c.dir.CreateOrganization(ctx, c.env, roster.NewOrganization{DisplayName: "Acme", ExternalID: "acme", Metadata: map[string]string{"plan": "pro"}})
		if err != nil {
			t.Fatal(err)
		}
		d, err := c.dir.CreateDomain(ctx, c.env, roster.OrganizationRef{ID: o.ID}, "acme.example", "")
		if err != nil {
			t.Fatal(err)
		}
		p := "/dashboard/organizations/" + o.ID
		for path, form := range map[string]url.Values{
			"/dashboard/organizations":         {"display_name": {"Evil"}, "external_id": {"evil"}},
			p:                                  {"display_name": {"Evil"}, "external_id": {"evil"}},
			p + "/metadata":                    {"key": {"plan"}, "remove": {"1"}},
			p + "/domains":                     {"domain": {"evil.example"}},
			p + "/domains/" + d.ID + "/delete": {},
			p + "/delete":                      {},
		} {
			wantStatus(t, "POST "+path+" without CSRF", b.post(path, form), 403)
			form.Set("csrf", "forged")
			wantStatus(t, "POST "+path+" with a forged CSRF", b.post(path, form), 403)
		}
		got, err := c.dir.GetOrganization(ctx, c.env, roster.OrganizationRef{ID: o.ID})
		if err != nil || got.DisplayName != "Acme" || deref(got.ExternalID) != "acme" || got.Metadata["plan"] != "pro" {
			t.Fatalf("after refused POSTs: %+v %v", got, err)
		}
		if l, _ := c.dir.ListOrganizations(ctx, c.env, directory.ListOrganizationsInput{}); l.Total != 1 {
			t.Fatalf("%d organizations after refused POSTs", l.Total)
		}
		if ds, _ := c.dir.ListDomains(ctx, c.env, roster.OrganizationRef{ID: o.ID}, ""); len(ds) != 1 || ds[0].Name != "acme.example" {
			t.Fatalf("domains after refused POSTs: %+v", ds)
		}
		// The security headers and no inline script or style on every screen; a notice takes
		// only an ID from the URL.
		for _, path := range []string{"/dashboard/organizations", "/dashboard/organizations?q=acme", p, p + "/delete"} {
			res := b.get(path)
			wantStatus(t, "GET "+path, res, 200)
			if res.header.Get("Content-Security-Policy") != dashboard.ContentSecurityPolicy || res.header.Get("X-Frame-Options") != "DENY" {
				t.Fatalf("GET %s: headers %v", path, res.header)
			}
			if strings.Contains(res.body, "<script") || strings.Contains(res.body, "<style") || strings.Contains(res.body, " style=") {
				t.Fatalf("GET %s: inline script or style", path)
			}
		}
		// (Words no ID, time or name on the page holds: an ID's digits could hold "0800".)
		if res := b.get("/dashboard/organizations?done=deleted&id=Call+Xyzzybank+now"); strings.Contains(res.body, "Xyzzybank") {
			t.Fatal("the deleted notice shows words from the URL")
		}
		// Signed out, a page sends to sign-in and comes back.
		wantRedirect(t, "no session", c.browser(t).get(p), "/dashboard/sign-in?next="+url.QueryEscape(p))
	})
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

var pageLink = regexp.MustCompile(`<a href="([^"]+)" rel="(next|prev)"`)

// links returns the page's next and previous links, unescaped.
func links(body string) (next, prev string) {
	for _, m := range pageLink.FindAllStringSubmatch(body, -1) {
		u := html.UnescapeString(m[1])
		if m[2] == "next" {
			next = u
		} else {
			prev = u
		}
	}
	return
}

// The list pages 50 at a time and a search 30 at a time, on the server, with next and
// previous links; the members of an organization page 50 at a time too.
func TestOrganizationsPaging(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *console) {
		ctx := context.Background()
		for i := range 120 {
			if _, err := c.dir.CreateOrganization(ctx, c.env, roster.NewOrganization{DisplayName: fmt.Sprintf("Org %03d", i), ExternalID: fmt.Sprintf("ext-%03d", i)}); err != nil {
				t.Fatal(err)
			}
		}
		b := c.browser(t)
		b.signIn()
		rows := func(body string) int { return strings.Count(body, `<td><a href="/dashboard/organizations/org_`) }
		res := b.get("/dashboard/organizations")
		if n := rows(res.body); n != 50 {
			t.Fatalf("first page: %d rows", n)
		}
		wantBody(t, "first page", res, ">Org 000<", ">Org 049<", `id="total">(120)`)
		next, prev := links(res.body)
		if next == "" || prev != "" {
			t.Fatalf("first page links: next %q prev %q", next, prev)
		}
		res = b.get(next)
		wantBody(t, "second page", res, ">Org 050<", ">Org 099<")
		next, prev = links(res.body)
		res = b.get(next)
		if n := rows(res.body); n != 20 || !strings.Contains(res.body, ">Org 119<") {
			t.Fatalf("third page: %d rows\n%s", n, res.body)
		}
		if n, _ := links(res.body); n != "" {
			t.Fatalf("the last page has a next link %q", n)
		}
		res = b.get(prev)
		wantBody(t, "back to the first page", res, ">Org 000<", ">Org 049<")

		// A search: 30 per page (the API's limit), its links keep the query.
		res = b.get("/dashboard/organizations?q=org+")
		if n := rows(res.body); n != 30 {
			t.Fatalf("search page: %d rows", n)
		}
		next, _ = links(res.body)
		if !strings.Contains(next, "q=org") {
			t.Fatalf("the search's next link lost the query: %q", next)
		}
		res = b.get(next)
		wantBody(t, "search page 2", res, ">Org 030<", ">Org 059<", `id="total">(120)`)
		// A token of the list does not work with another query: the API's message.
		listNext, _ := links(b.get("/dashboard/organizations").body)
		u, _ := url.Parse(listNext)
		res = b.get("/dashboard/organizations?q=org+&page_token=" + url.QueryEscape(u.Query().Get("page_token")))
		wantStatus(t, "a token of another query", res, 400)

		// Members.
		l, _ := c.dir.ListOrganizations(ctx, c.env, directory.ListOrganizationsInput{PageInput: directory.PageInput{PageSize: 1}})
		org := l.Items[0].ID
		no := false
		for i := range 55 {
			if _, err := c.dir.CreateUserAndMembership(ctx, c.env, org, roster.NewUser{Email: fmt.Sprintf("u%02d@example.com", i)}, directory.NewMembership{SendInvitation: &no}); err != nil {
				t.Fatal(err)
			}
		}
		res = b.get("/dashboard/organizations/" + org)
		if n := strings.Count(res.body, "@example.com</td>"); n != 50 {
			t.Fatalf("members page: %d rows", n)
		}
		wantBody(t, "members", res, `id="member-total">(55)`, "<td>u00@example.com</td>", "<td>ACTIVE</td>")
		next, _ = links(res.body)
		res = b.get(next)
		if n := strings.Count(res.body, "@example.com</td>"); n != 5 || !strings.Contains(res.body, "<td>u54@example.com</td>") {
			t.Fatalf("members page 2: %d rows", n)
		}
	})
}
