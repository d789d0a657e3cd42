package dashboard_test

import (
	"context"
	"encoding/json"
	"html"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// A write made from the dashboard names its operator as the event's actor.
func TestDashboardWriteEventActor(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		c := newConsole(t, st)
		b := c.browser(t)
		b.signIn()
		op, err := c.ops.Get(context.Background(), adaEmail)
		if err != nil {
			t.Fatal(err)
		}
		tok := b.csrf("/dashboard/organizations")
		res := b.post("/dashboard/organizations", url.Values{"csrf": {tok}, "display_name": {"Acme"}})
		wantStatus(t, "create", res, 303)
		var evs []store.StoredEvent
		for deadline := time.Now().Add(10 * time.Second); len(evs) == 0; time.Sleep(10 * time.Millisecond) {
			if evs, err = st.ListEvents(context.Background(), c.env.ID, store.EventQuery{Types: []string{roster.EventOrganizationCreated}, Limit: 10}); err != nil {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				t.Fatal("no organization.created event")
			}
		}
		var e struct{ Actor roster.Actor }
		if err := json.Unmarshal(evs[0].Body, &e); err != nil {
			t.Fatal(err)
		}
		if want := (roster.Actor{Type: roster.ActorOperator, ID: op.ID}); e.Actor != want {
			t.Fatalf("actor %+v, want %+v", e.Actor, want)
		}
	})
}

var (
	eventItem = regexp.MustCompile(`<h2 class="event-head"><code>([^<]+)</code>`)
	nextLink  = regexp.MustCompile(`href="([^"]+)" id="next"`)
)

// eventsPage GETs the Events screen until it lists want events (on PostgreSQL an event shows
// once every older transaction has ended) and returns the page and the types it lists.
func eventsPage(t *testing.T, b *browser, path string, want int) (response, []string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		res := b.get(path)
		wantStatus(t, path, res, 200)
		var types []string
		for _, m := range eventItem.FindAllStringSubmatch(res.body, -1) {
			types = append(types, m[1])
		}
		if len(types) == want || time.Now().After(deadline) {
			if len(types) != want {
				t.Fatalf("%s: %d events %v, want %d\n%s", path, len(types), types, want, res.body)
			}
			return res, types
		}
	}
}

func TestEventsScreen(t *testing.T) {
	eachBackend(t, func(t *testing.T, c *console) {
		ctx := context.Background()
		b := c.browser(t)
		b.signIn()
		acme, err := c.dir.CreateOrganization(ctx, c.env, roster.NewOrganization{DisplayName: `<b>Acme</b> "&"`})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 29 {
			if _, err := c.dir.CreateOrganization(ctx, c.env, roster.NewOrganization{DisplayName: "Org " + strconv.Itoa(i)}); err != nil {
				t.Fatal(err)
			}
		}
		name := "Acme 2"
		if _, err := c.dir.UpdateOrganization(ctx, c.env, roster.OrganizationRef{ID: acme.ID}, roster.OrganizationPatch{DisplayName: &name}); err != nil {
			t.Fatal(err)
		}
		// Another environment's event is never shown.
		other := otherEnvironment(t, c)
		if _, err := c.dir.CreateOrganization(ctx, other, roster.NewOrganization{DisplayName: "Elsewhere Inc"}); err != nil {
			t.Fatal(err)
		}

		// Filtered by type, paged by the feed's cursor: 25, then 5.
		res, types := eventsPage(t, b, "/dashboard/events?types=organization.created", 25)
		for _, ty := range types {
			if ty != roster.EventOrganizationCreated {
				t.Fatalf("types filter shows %v", types)
			}
		}
		wantContains(t, "first page", res.body, `value="organization.created" checked`, `href="/dashboard/events" aria-current="page"`,
			`href="/dashboard/organizations/`+acme.ID+`"`, `\u003cb\u003eAcme\u003c/b\u003e \&#34;\u0026\&#34;`)
		if strings.Contains(res.body, "<b>Acme") || strings.Contains(res.body, "Elsewhere") {
			t.Fatalf("the envelope is not escaped, or another environment's event shows\n%s", res.body)
		}
		m := nextLink.FindStringSubmatch(res.body)
		if m == nil {
			t.Fatalf("no next link\n%s", res.body)
		}
		res, _ = eventsPage(t, b, html.UnescapeString(m[1]), 5)
		wantContains(t, "second page", res.body, `id="start"`, `id="newer"`, `id="after"`)
		if nextLink.MatchString(res.body) {
			t.Fatalf("a next link on the last page\n%s", res.body)
		}

		// A prefix and an organization: Acme's created and updated.
		_, types = eventsPage(t, b, "/dashboard/events?types=organization.*&organization_id="+acme.ID, 2)
		if !reflect.DeepEqual(types, []string{roster.EventOrganizationCreated, roster.EventOrganizationUpdated}) {
			t.Fatalf("Acme's events: %v", types)
		}
		// Unfiltered, the environment's events from the start; none of the other's.
		res = b.get("/dashboard/events")
		if strings.Contains(res.body, "Elsewhere") {
			t.Fatalf("another environment's event\n%s", res.body)
		}

		// The API's messages: an unknown type, a forged cursor, a bad organization ID.
		for q, field := range map[string]string{"types=organization.nope": "types", "after=AAAA": "after", "organization_id=nope": "organization_id"} {
			res := b.get("/dashboard/events?" + q)
			wantStatus(t, q, res, 400)
			wantContains(t, q, res.body, `<span id="`+field+`-error"><span class="field-error">`)
		}
	})
}
