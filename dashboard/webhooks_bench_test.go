package dashboard_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/dashboard"
	"github.com/rosterhq/roster/operators"
	"github.com/rosterhq/roster/outbound"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/webhooks"
)

// BenchmarkWebhookPages renders the Webhooks and Events screens against a SQLite store with
// 20 endpoints (the most an environment has), each with a full delivery log (1,000 records),
// and 10,000 events: the server time of one page (target < 50 ms, as the other screens).
func BenchmarkWebhookPages(b *testing.B) {
	ctx := context.Background()
	st, box, dir, env := sqliteConsole(b)
	hooks := webhooks.New(st, box, outbound.New(outbound.Options{}))
	start := time.Now()
	var first roster.WebhookEndpoint
	for i := range roster.MaxWebhooksPerEnvironment {
		e, _, err := hooks.Create(ctx, env.ID, webhooks.NewEndpoint{URL: fmt.Sprintf("https://hooks.example.com/%d", i), EventTypes: []string{"organization.*"}})
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			first = e
		}
	}
	var org roster.Organization
	var err error
	for i := range 10_000 {
		if org, err = dir.CreateOrganization(ctx, env, roster.NewOrganization{DisplayName: fmt.Sprintf("Org %d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	leases, err := st.ClaimWebhookEndpoints(ctx, "bench", time.Now(), time.Hour, roster.MaxWebhooksPerEnvironment)
	if err != nil || len(leases) != roster.MaxWebhooksPerEnvironment {
		b.Fatalf("claimed %d: %v", len(leases), err)
	}
	at := time.Now().UTC().Add(-time.Hour)
	for _, l := range leases {
		log := make([]roster.WebhookDelivery, roster.WebhookDeliveryLogKeep)
		for i := range log {
			log[i] = roster.WebhookDelivery{EndpointID: l.Endpoint.ID, EventID: "evt_x", EventType: roster.EventOrganizationCreated, Attempt: 1,
				Status: 200, Success: true, Latency: time.Millisecond, Time: at.Add(time.Duration(i) * time.Millisecond)}
		}
		if err := st.SaveWebhookProgress(ctx, "bench", store.WebhookProgress{EndpointID: l.Endpoint.ID, Deliveries: log, State: l.State, Release: true}); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("seeded 20 endpoints with 1,000 deliveries each and 10,000 events in %s", time.Since(start).Round(time.Millisecond))
	get := signedInGet(b, dashboard.Config{Directory: dir, Environment: env, Operators: operators.New(st, operators.Settings{Password: cheap}), Webhooks: hooks})
	// The log's last page: follow the older link 19 times.
	deep := "/dashboard/webhooks/" + first.ID
	older := regexp.MustCompile(`href="([^"]+)" id="older"`)
	for i := range 19 {
		m := older.FindStringSubmatch(get(b, deep))
		if m == nil {
			b.Fatalf("no older link on page %d", i)
		}
		deep = strings.ReplaceAll(m[1], "&amp;", "&")
	}
	// The events' page 200 (5,000 events in).
	events := "/dashboard/events"
	next := regexp.MustCompile(`href="([^"]+)" id="next"`)
	for i := range 200 {
		m := next.FindStringSubmatch(get(b, events))
		if m == nil {
			b.Fatalf("no next link on events page %d", i)
		}
		events = strings.ReplaceAll(m[1], "&amp;", "&")
	}
	for _, p := range []struct{ name, path string }{
		{"webhooks-list", "/dashboard/webhooks"},
		{"webhook-log-newest", "/dashboard/webhooks/" + first.ID},
		{"webhook-log-page-20", deep},
		{"events-start", "/dashboard/events"},
		{"events-page-200", events},
		{"events-organization", "/dashboard/events?organization_id=" + org.ID},
		{"events-type-none-matching", "/dashboard/events?types=user.created"},
	} {
		b.Run(p.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				get(b, p.path)
			}
		})
	}
}
