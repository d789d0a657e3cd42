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

// usersFixture is an organization with users, two custom attributes and one sign-in through
// an OIDC connection.
type usersFixture struct {
	org   roster.Organization
	john  roster.User // has an external ID, metadata and employee_id
	sso   roster.User // signed in through the connection
	conn  roster.Connection
	extra int // users beyond john and sso
}

func seedUsers(t *testing.T, c *console, extra int) usersFixture {
	t.Helper()
	ctx := context.Background()
	for _, d := range []roster.AttributeDefinition{
		{Key: "employee_id", DisplayName: "Employee Number", Type: roster.AttributeString},
		{Key: "badge_number", DisplayName: "Badge Number", Type: roster.AttributeInteger},
		{Key: "team", DisplayName: "Team", Type: roster.AttributeEnum, EnumValues: []string{"red", "blue"}},
	} {
		if _, err := c.dir.CreateAttribute(ctx, c.env, d); err != nil {
			t.Fatal(err)
		}
	}
	org, err := c.dir.CreateOrganization(ctx, c.env, roster.NewOrganization{DisplayName: "Megasoft Inc"})
	if err != nil {
		t.Fatal(err)
	}
	no := false
	add := func(email, external string, meta map[string]string, attrs map[string]string) roster.User {
		u, err := c.dir.CreateUserAndMembership(ctx, c.env, org.ID, roster.NewUser{Email: email, ExternalID: external, Metadata: meta,
			Profile: roster.ProfilePatch{CustomAttributes: attrs}}, directory.NewMembership{SendInvitation: &no})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	f := usersFixture{org: org, extra: extra}
	given := "John"
	f.john, err = c.dir.CreateUserAndMembership(ctx, c.env, org.ID, roster.NewUser{Email: "john@megasoft.example", ExternalID: "E7",
		Metadata: map[string]string{"plan": "gold", "region": "eu"},
		Profile:  roster.ProfilePatch{GivenName: &given, CustomAttributes: map[string]string{"employee_id": "E-1042"}}},
		directory.NewMembership{SendInvitation: &no})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < extra; i++ {
		add(fmt.Sprintf("user%03d@example.org", i), fmt.Sprintf("ext-%03d", i), nil, nil)
	}
	if _, err := c.dir.CreateDomain(ctx, c.env, roster.OrganizationRef{ID: org.ID}, "megasoft.example", roster.DomainOrganization); err != nil {
		t.Fatal(err)
	}
	f.conn, err = c.dir.CreateConnection(ctx, c.env, org.ID, roster.ConnectionOIDC, "OKTA")
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.dir.SignIn(ctx, c.env, directory.SignInInput{Connection: f.conn, Subject: "00u-okta-7",
		Claims: map[string]any{"sub": "00u-okta-7", "email": "sso@megasoft.example", "email_verified": true, "given_name": "Sam", "department": "Research"}},
		func() (string, string) { return "code", "hash" })
	if err != nil {
		t.Fatal(err)
	}
	f.sso = res.User
	return f
}

var userRow = regexp.MustCompile(`<a href="/dashboard/users/(usr_[^"]+)">`)

func rows(body string) []string {
	var out []string
	for _, m := range userRow.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func wantContains(t *testing.T, what, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Fatalf("%s: no %q in\n%s", what, w, body)
		}
	}
}

func TestUsersList(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *console) {
		f := seedUsers(t, c, 55)
		b := c.browser(t)
		wantRedirect(t, "no session", b.get("/dashboard/users"), "/dashboard/sign-in?next=%2Fdashboard%2Fusers")
		b.signIn()

		// The list pages on the server, 50 a page, with the API's page tokens.
		res := b.get("/dashboard/users")
		wantStatus(t, "list", res, 200)
		wantContains(t, "list", res.body, "57 users in this environment.", `aria-current="page">Users</a>`)
		first := rows(res.body)
		if len(first) != 50 || first[0] != f.john.ID {
			t.Fatalf("first page: %d rows starting %v", len(first), first[:1])
		}
		next := regexp.MustCompile(`href="(/dashboard/users\?page_token=[^"]+)"[^>]*id="next-page"`).FindStringSubmatch(res.body)
		if next == nil {
			t.Fatalf("no next page link:\n%s", res.body)
		}
		res = b.get(html.UnescapeString(next[1]))
		wantStatus(t, "page 2", res, 200)
		second := rows(res.body)
		if len(second) != 7 || second[6] != f.sso.ID {
			t.Fatalf("second page: %d rows %v", len(second), second)
		}
		wantContains(t, "page 2", res.body, `id="prev-page"`)

		// Search: part of an email, a whole user ID, part of an external ID (the API's search).
		for q, want := range map[string][]string{
			"megasoft":     {f.john.ID, f.sso.ID},
			f.sso.ID:       {f.sso.ID},
			"ext-05":       nil,         // 5 users: checked by count below
			"E7":           {f.john.ID}, // shorter than a search: looked up as a whole external ID
			"nobody-at-al": {},
		} {
			res := b.get("/dashboard/users?" + url.Values{"q": {q}}.Encode())
			wantStatus(t, "search "+q, res, 200)
			got := rows(res.body)
			if want == nil {
				if len(got) != 5 {
					t.Fatalf("search %q: %v", q, got)
				}
				continue
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("search %q: %v, want %v\n%s", q, got, want, res.body)
			}
		}
		// A search that more users match than the count goes to: "N+" (usersSearchCountUpTo,
		// 1,000, lowered here), the page and its next link as before.
		dashboard.SetSearchCountUpTo(c.h, 20)
		res = b.get("/dashboard/users?" + url.Values{"q": {"example.org"}}.Encode())
		wantStatus(t, "a search past the count", res, 200)
		wantContains(t, "a search past the count", res.body, "20+ matching users.", `id="next-page"`)
		if got := rows(res.body); len(got) != directory.MaxSearchPageSize {
			t.Fatalf("a search past the count: %d rows", len(got))
		}
		dashboard.SetSearchCountUpTo(c.h, 1000)
		res = b.get("/dashboard/users?" + url.Values{"q": {"example.org"}}.Encode())
		wantContains(t, "a search under the count", res.body, "55 matching users.")
		// A query the API refuses: its message, beside the search box.
		bad := "ab"
		_, apiErr := c.dir.ListUsers(context.Background(), c.env, directory.ListUsersInput{Query: &bad})
		res = b.get("/dashboard/users?q=ab")
		wantStatus(t, "short query", res, 400)
		wantBeside(t, res.body, "q", apiErr.(*roster.Error).Violations[0].Description)
		wantPageError(t, res.body, roster.ErrorMessage(apiErr))
		// A forged page token is the API's refusal too.
		res = b.get("/dashboard/users?page_token=forged")
		wantStatus(t, "forged token", res, 400)
		wantContains(t, "forged token", res.body, "is not a page token of this query")
	})
}

// wantBeside checks the error shown beside the input whose id is id: word for word the API's.
func wantBeside(t *testing.T, body, id, want string) {
	t.Helper()
	m := regexp.MustCompile(`<span id="` + regexp.QuoteMeta(id) + `-error"><span class="field-error">([^<]*)</span>`).FindStringSubmatch(body)
	if m == nil || html.UnescapeString(m[1]) != want {
		t.Fatalf("beside %s: %v; the API says %q\n%s", id, m, want, body)
	}
}

// wantPageError checks the page's message: the API's error message.
func wantPageError(t *testing.T, body, want string) {
	t.Helper()
	m := regexp.MustCompile(`id="error">([^<]*)</p>`).FindStringSubmatch(body)
	if m == nil || html.UnescapeString(m[1]) != want {
		t.Fatalf("the page's message: %v; the API says %q\n%s", m, want, body)
	}
}

func TestUserPage(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *console) {
		ctx := context.Background()
		f := seedUsers(t, c, 0)
		b := c.browser(t)
		wantRedirect(t, "no session", b.get("/dashboard/users/"+f.john.ID), "/dashboard/sign-in?next=%2Fdashboard%2Fusers%2F"+f.john.ID)
		b.signIn()
		path := "/dashboard/users/" + f.john.ID

		// Profile, custom attributes with inputs of their types, metadata, membership.
		res := b.get(path)
		wantStatus(t, "user page", res, 200)
		wantContains(t, "user page", res.body,
			"<title>john@megasoft.example · Roster</title>", `id="external_id" name="external_id" value="E7"`, `id="given_name" name="given_name" value="John"`,
			`<input id="attr-employee_id" name="attr.employee_id" type="text" value="E-1042"`,
			`<input id="attr-badge_number" name="attr.badge_number" type="number" value=""`,
			`<select id="attr-team" name="attr.team"`, `<option value="red">red</option>`,
			`name="meta.plan" value="gold"`, `name="meta.region" value="eu"`,
			"Megasoft Inc <code>"+f.org.ID+"</code></td><td>ACTIVE</td>", "No sign-in through an identity provider yet.")

		// The standard fields: the API's rules and messages, beside the field.
		tok := b.csrf(path)
		prof := url.Values{"csrf": {tok}, "external_id": {"E7"}, "given_name": {"Johnny"}, "family_name": {"Doe"}, "phone_number": {"555-1234"}, "locale": {"en-us"}}
		bad := "555-1234"
		_, apiErr := c.dir.UpdateUser(ctx, c.env, roster.UserRef{ID: f.john.ID}, roster.UserPatch{Profile: roster.ProfilePatch{PhoneNumber: &bad}})
		res = b.post(path+"/profile", prof)
		wantStatus(t, "bad phone number", res, 400)
		wantBeside(t, res.body, "phone_number", apiErr.(*roster.Error).Violations[0].Description)
		wantContains(t, "bad phone number", res.body, `value="Johnny"`)
		wantPageError(t, res.body, roster.ErrorMessage(apiErr))
		if u, _ := c.dir.GetUser(ctx, c.env, roster.UserRef{ID: f.john.ID}); u.Profile.GivenName != "John" {
			t.Fatalf("a refused profile edit wrote %+v", u.Profile)
		}
		// Another user's external ID: the API's conflict, beside the external ID.
		prof.Set("phone_number", "+14155552671")
		prof.Set("external_id", "E-SSO")
		if _, err := c.dir.UpdateUser(ctx, c.env, roster.UserRef{ID: f.sso.ID}, roster.UserPatch{ExternalID: &[]string{"E-SSO"}[0]}); err != nil {
			t.Fatal(err)
		}
		res = b.post(path+"/profile", prof)
		wantStatus(t, "taken external ID", res, 409)
		_, apiErr = c.dir.UpdateUser(ctx, c.env, roster.UserRef{ID: f.john.ID}, roster.UserPatch{ExternalID: &[]string{"E-SSO"}[0]})
		wantPageError(t, res.body, roster.ErrorMessage(apiErr))
		if e := apiErr.(*roster.Error); len(e.Violations) > 0 {
			wantBeside(t, res.body, "external_id", e.Violations[0].Description)
		} else {
			wantBeside(t, res.body, "external_id", e.Message)
		}
		wantStatus(t, "profile without CSRF", b.post(path+"/profile", url.Values{"given_name": {"Mallory"}}), 403)
		wantStatus(t, "profile with another session's CSRF", b.post(path+"/profile", url.Values{"csrf": {c.browser(t).csrf("/dashboard/sign-in")}, "given_name": {"Mallory"}}), 403)
		if u, _ := c.dir.GetUser(ctx, c.env, roster.UserRef{ID: f.john.ID}); u.Profile.GivenName != "John" {
			t.Fatalf("written without CSRF: %+v", u.Profile)
		}
		wantStatus(t, "an unknown user's profile", b.post("/dashboard/users/usr_000000000000000000000/profile", prof), 404)
		prof.Set("external_id", "E7")
		wantRedirect(t, "save profile", b.post(path+"/profile", prof), path+"?done=profile")
		u, _ := c.dir.GetUser(ctx, c.env, roster.UserRef{ID: f.john.ID})
		if p := u.Profile; p.GivenName != "Johnny" || p.FamilyName != "Doe" || p.Name != "Johnny Doe" || p.PhoneNumber != "+14155552671" || p.Locale != "en-US" {
			t.Fatalf("profile after the edit: %+v", p)
		}

		// An unknown user and another environment's ID are not found.
		wantStatus(t, "unknown user", b.get("/dashboard/users/usr_000000000000000000000"), 404)

		// A wrong type: the API's message beside the attribute, and nothing written.
		form := url.Values{"csrf": {tok}, "attr.employee_id": {"E-2000"}, "attr.badge_number": {"twelve"}, "attr.team": {""}}
		_, apiErr = c.dir.UpdateUser(ctx, c.env, roster.UserRef{ID: f.john.ID}, roster.UserPatch{Profile: roster.ProfilePatch{
			CustomAttributes: map[string]string{"employee_id": "E-2000", "badge_number": "twelve"}}})
		if apiErr == nil {
			t.Fatal("the API took an integer attribute of twelve")
		}
		res = b.post(path+"/attributes", form)
		wantStatus(t, "wrong type", res, 400)
		wantBeside(t, res.body, "attr-badge_number", apiErr.(*roster.Error).Violations[0].Description)
		wantPageError(t, res.body, roster.ErrorMessage(apiErr))
		wantContains(t, "wrong type", res.body, `name="attr.badge_number" type="number" value="twelve"`, `value="E-2000"`)
		if u, _ := c.dir.GetUser(ctx, c.env, roster.UserRef{ID: f.john.ID}); u.Profile.CustomAttributes["employee_id"] != "E-1042" {
			t.Fatalf("a refused edit wrote %v", u.Profile.CustomAttributes)
		}

		// Without the CSRF token nothing is written.
		delete(form, "csrf")
		form.Set("attr.badge_number", "12")
		wantStatus(t, "attributes without CSRF", b.post(path+"/attributes", form), 403)
		form.Set("csrf", "forged")
		wantStatus(t, "attributes with a forged CSRF", b.post(path+"/attributes", form), 403)
		if u, _ := c.dir.GetUser(ctx, c.env, roster.UserRef{ID: f.john.ID}); u.Profile.CustomAttributes["badge_number"] != "" {
			t.Fatalf("written without CSRF: %v", u.Profile.CustomAttributes)
		}

		// The right types: saved; an emptied value is removed.
		form.Set("csrf", tok)
		form.Set("attr.team", "blue")
		form.Set("attr.employee_id", "")
		wantRedirect(t, "save attributes", b.post(path+"/attributes", form), path+"?done=attributes")
		u, _ = c.dir.GetUser(ctx, c.env, roster.UserRef{ID: f.john.ID})
		if got := u.Profile.CustomAttributes; got["badge_number"] != "12" || got["team"] != "blue" || got["employee_id"] != "" || len(got) != 2 {
			t.Fatalf("custom attributes after the edit: %v", got)
		}
		wantContains(t, "after save", b.get(path+"?done=attributes").body, "Custom attributes saved.", `<option value="blue" selected>blue</option>`)

		// Metadata: edit one, remove one, add one, in one merge.
		meta := url.Values{"csrf": {tok}, "meta.plan": {"platinum"}, "meta.region": {"eu"}, "remove.region": {"1"}, "new_key": {"tier"}, "new_value": {"3"}}
		wantRedirect(t, "save metadata", b.post(path+"/metadata", meta), path+"?done=metadata")
		u, _ = c.dir.GetUser(ctx, c.env, roster.UserRef{ID: f.john.ID})
		if fmt.Sprint(u.Metadata) != "map[plan:platinum tier:3]" {
			t.Fatalf("metadata: %v", u.Metadata)
		}
		// A key the API refuses: its message beside the metadata, nothing written.
		meta = url.Values{"csrf": {tok}, "meta.plan": {"platinum"}, "meta.tier": {"3"}, "new_key": {"ab"}, "new_value": {"x"}}
		_, apiErr = c.dir.UpdateUser(ctx, c.env, roster.UserRef{ID: f.john.ID}, roster.UserPatch{Metadata: map[string]string{"ab": "x"}})
		res = b.post(path+"/metadata", meta)
		wantStatus(t, "bad metadata key", res, 400)
		wantBeside(t, res.body, "metadata", apiErr.(*roster.Error).Violations[0].Description)
		wantContains(t, "bad metadata key", res.body, `id="new_key" name="new_key" value="ab"`)
		// The pair limit is the API's: 20.
		meta = url.Values{"csrf": {tok}}
		many := map[string]string{}
		for i := 0; i < 19; i++ {
			many[fmt.Sprintf("key%02d", i)] = "v"
		}
		if _, err := c.dir.UpdateUser(ctx, c.env, roster.UserRef{ID: f.john.ID}, roster.UserPatch{Metadata: many}); err == nil {
			t.Fatal("the API took 21 pairs")
		}
		delete(many, "key18")
		if _, err := c.dir.UpdateUser(ctx, c.env, roster.UserRef{ID: f.john.ID}, roster.UserPatch{Metadata: many}); err != nil {
			t.Fatal(err)
		}
		_, apiErr = c.dir.UpdateUser(ctx, c.env, roster.UserRef{ID: f.john.ID}, roster.UserPatch{Metadata: map[string]string{"one_more": "x"}})
		meta.Set("new_key", "one_more")
		meta.Set("new_value", "x")
		res = b.post(path+"/metadata", meta)
		wantStatus(t, "21st pair", res, 400)
		wantBeside(t, res.body, "metadata", apiErr.(*roster.Error).Violations[0].Description)
		wantStatus(t, "metadata without CSRF", b.post(path+"/metadata", url.Values{"new_key": {"zzz"}, "new_value": {"1"}}), 403)
		if u, _ := c.dir.GetUser(ctx, c.env, roster.UserRef{ID: f.john.ID}); len(u.Metadata) != 20 {
			t.Fatalf("metadata after refusals: %d pairs", len(u.Metadata))
		}

		// The SSO user: the identity with the raw claims the provider sent.
		res = b.get("/dashboard/users/" + f.sso.ID)
		wantStatus(t, "sso user", res, 200)
		wantContains(t, "sso user", res.body, "<code>"+f.conn.ID+"</code> (OIDC, OKTA)", "<code>00u-okta-7</code>",
			`&#34;department&#34;: &#34;Research&#34;`, "<td>ACTIVE</td>")
	})
}
