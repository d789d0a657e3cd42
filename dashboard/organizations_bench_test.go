package dashboard_test

import (
	"context"
	"fmt"
	"html"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/dashboard"
	"github.com/rosterhq/roster/operators"
)

// BenchmarkOrganizationsPage renders the Organizations screens against a SQLite store seeded
// with 10,000 organizations (issue 14: every page under 50 ms server time): the first page
// of the list, a page deep in it (by its next link), a search by part of the name, the
// exact external ID look-up, and one organization's page. It calls the handler directly
// (no network), with a signed-in session, so ns/op is the server's time per page, session
// check included.
//
//	go test -run '^$' -bench BenchmarkOrganizationsPage -benchtime 200x ./dashboard
func BenchmarkOrganizationsPage(b *testing.B) {
	const orgs = 10_000
	ctx := context.Background()
	st, _, dir, env := sqliteConsole(b)
	start := time.Now()
	var someID string
	for i := range orgs {
		o, err := dir.CreateOrganization(ctx, env, roster.NewOrganization{DisplayName: fmt.Sprintf("Organization %05d", i),
			ExternalID: fmt.Sprintf("ext-%05d", i), Metadata: map[string]string{"plan": "enterprise"}})
		if err != nil {
			b.Fatal(err)
		}
		if i == orgs/2 {
			someID = o.ID
		}
	}
	b.Logf("seeded %d organizations in %s", orgs, time.Since(start).Round(time.Millisecond))
	get := signedInGet(b, dashboard.Config{Directory: dir, Environment: env, Operators: operators.New(st, operators.Settings{Password: cheap})})
	// A page deep in the list: follow next links 100 pages in (rows 5001-5050).
	deep := "/dashboard/organizations"
	for range 100 {
		body := get(b, deep)
		next, _ := links(body)
		if next == "" {
			b.Fatal("no next link")
		}
		deep = next
	}
	if body := get(b, deep); !strings.Contains(body, ">Organization 05000<") {
		b.Fatalf("page 101 does not start at row 5001")
	}
	for _, c := range []struct{ name, path, want string }{
		{"list-first", "/dashboard/organizations", ">Organization 00049<"},
		{"list-page-101", deep, ">Organization 05049<"},
		{"search-name", "/dashboard/organizations?" + url.Values{"q": {"zation 0999"}}.Encode(), ">Organization 09999<"},
		{"search-external-id", "/dashboard/organizations?" + url.Values{"q": {"ext-07777"}, "by": {"external_id"}}.Encode(), ">Organization 07777<"},
		{"organization", "/dashboard/organizations/" + someID, html.EscapeString("Organization 05000")},
	} {
		b.Run(c.name, func(b *testing.B) {
			if body := get(b, c.path); !strings.Contains(body, c.want) {
				b.Fatalf("GET %s: no %q", c.path, c.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				get(b, c.path)
			}
		})
	}
}
