package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster"
	rosterv1 "github.com/rosterhq/roster/gen/roster/v1"
	"github.com/rosterhq/roster/gen/roster/v1/rosterv1connect"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/secretbox"
)

// feedEvent is what the tests read of an event of the feed.
type feedEvent struct {
	ID             string       `json:"id"`
	Type           string       `json:"type"`
	EnvironmentID  string       `json:"environment_id"`
	OrganizationID string       `json:"organization_id"`
	Actor          roster.Actor `json:"actor"`
	Data           struct {
		ID string `json:"id"`
	} `json:"data"`
}

type feedPage struct {
	Events     []feedEvent `json:"events"`
	NextCursor string      `json:"next_cursor"`
	HasMore    bool        `json:"has_more"`
}

// feedREST reads one page of GET /api/v1/events.
func feedREST(t *testing.T, r *rostertest.Roster, token string, q url.Values) feedPage {
	t.Helper()
	res := r.REST(t, token, "GET", "/api/v1/events?"+q.Encode(), "")
	wantStatus(t, res, 200)
	var p feedPage
	if err := json.Unmarshal([]byte(res.Raw), &p); err != nil {
		t.Fatalf("%v: %s", err, res.Raw)
	}
	return p
}

// readFeed reads from after, page by page, until it has want events, waiting where the
// feed holds back events of transactions still running (PostgreSQL); it returns them and
// the last next_cursor.
func readFeed(t *testing.T, r *rostertest.Roster, token string, q url.Values, after string, want int) ([]feedEvent, string) {
	t.Helper()
	var out []feedEvent
	deadline := time.Now().Add(20 * time.Second)
	for len(out) < want {
		q.Set("after", after)
		p := feedREST(t, r, token, q)
		if len(p.Events) == 0 {
			// An empty page keeps the cursor, unless filters passed over events that do not
			// match (the environment's role.created before an organization's event): those
			// it may pass for good.
			filtered := q.Get("types") != "" || q.Get("organization_id") != ""
			if p.NextCursor != after && !filtered {
				t.Fatalf("an empty page moved the cursor from %q to %q", after, p.NextCursor)
			}
			after = p.NextCursor
			if time.Now().After(deadline) {
				t.Fatalf("the feed shows %d events, want %d", len(out), want)
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		out = append(out, p.Events...)
		after = p.NextCursor
	}
	return out, after
}

func newFeedRoster(t *testing.T, backend string) (*rostertest.Roster, string, string) {
	key := bytes.Repeat([]byte{5}, secretbox.KeySize)
	r := rostertest.Start(t, backend, rostertest.WithNode(rostertest.Open(t, backend), key, ""))
	return r, r.Token(t), otherEnvironmentToken(t, r, key)
}

func restViolation(t *testing.T, res rostertest.Response, field string) {
	t.Helper()
	wantStatus(t, res, 400)
	if f := violationFields(t, res); !slices.Equal(f, []string{field}) {
		t.Fatalf("violations on %v, want %s: %s", f, field, res.Raw)
	}
}

// The feed over REST: every event once in order across pages, next_cursor and has_more,
// the filters, the refusals, and another environment's events never shown.
func TestEventFeedREST(t *testing.T) {
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			r, token, otherToken := newFeedRoster(t, backend)
			// The environment's set-up comes first: its two default roles' role.created.
			setup, start := readFeed(t, r, token, url.Values{}, "", 2)
			for _, e := range setup {
				if e.Type != roster.EventRoleCreated || e.Actor.Type != roster.ActorSystem {
					t.Fatalf("set-up event %+v", e)
				}
			}
			var orgs []string
			for i := range 3 {
				orgs = append(orgs, newOrgREST(t, r, token, fmt.Sprintf("Org %d", i)))
			}
			wantStatus(t, r.REST(t, token, "PATCH", "/api/v1/organizations/"+orgs[1], `{"display_name":"Renamed"}`), 200)
			wantStatus(t, r.REST(t, token, "DELETE", "/api/v1/organizations/"+orgs[2], ""), 200)
			otherOrg := newOrgREST(t, r, otherToken, "Theirs")

			all, _ := readFeed(t, r, token, url.Values{}, start, 5)
			var got []string
			for _, e := range all {
				got = append(got, e.Type+" "+e.Data.ID)
				if e.EnvironmentID == "" || e.OrganizationID != e.Data.ID || e.Actor.Type != roster.ActorAPIClient {
					t.Fatalf("event %+v", e)
				}
			}
			want := []string{"organization.created " + orgs[0], "organization.created " + orgs[1], "organization.created " + orgs[2],
				"organization.updated " + orgs[1], "organization.deleted " + orgs[2]}
			if !slices.Equal(got, want) {
				t.Fatalf("feed %v\nwant %v", got, want)
			}

			// Pages of two: the same events, has_more until the last, then an empty page.
			var paged []feedEvent
			after := start
			for {
				p := feedREST(t, r, token, url.Values{"page_size": {"2"}, "after": {after}})
				paged = append(paged, p.Events...)
				after = p.NextCursor
				if !p.HasMore {
					if len(p.Events) != 1 {
						t.Fatalf("last page %+v", p)
					}
					break
				}
			}
			if len(paged) != 5 || paged[4].ID != all[4].ID {
				t.Fatalf("paged %+v", paged)
			}
			if p := feedREST(t, r, token, url.Values{"after": {after}}); len(p.Events) != 0 || p.NextCursor != after || p.HasMore {
				t.Fatalf("after the end: %+v", p)
			}

			// Filters.
			p := feedREST(t, r, token, url.Values{"types": {"organization.updated", "organization.deleted"}})
			if len(p.Events) != 2 || p.Events[0].Type != "organization.updated" || p.Events[1].Type != "organization.deleted" {
				t.Fatalf("types filter %+v", p.Events)
			}
			if p := feedREST(t, r, token, url.Values{"types": {"organization.*"}}); len(p.Events) != 5 {
				t.Fatalf("prefix filter %+v", p.Events)
			}
			if p := feedREST(t, r, token, url.Values{"types": {"user.*"}}); len(p.Events) != 0 {
				t.Fatalf("user.* filter %+v", p.Events)
			}
			p = feedREST(t, r, token, url.Values{"organization_id": {orgs[1]}})
			if len(p.Events) != 2 || p.Events[0].Data.ID != orgs[1] || p.Events[1].Data.ID != orgs[1] {
				t.Fatalf("organization filter %+v", p.Events)
			}
			if p := feedREST(t, r, token, url.Values{"organization_id": {otherOrg}}); len(p.Events) != 0 {
				t.Fatalf("another environment's organization: %+v", p.Events)
			}

			// Refusals.
			restViolation(t, r.REST(t, token, "GET", "/api/v1/events?types=organization.nope", ""), "types")
			restViolation(t, r.REST(t, token, "GET", "/api/v1/events?types=org*", ""), "types")
			restViolation(t, r.REST(t, token, "GET", "/api/v1/events?page_size=1001", ""), "page_size")
			restViolation(t, r.REST(t, token, "GET", "/api/v1/events?after=nonsense", ""), "after")
			first := feedREST(t, r, token, url.Values{"page_size": {"1"}}).NextCursor
			b, err := base64.RawURLEncoding.DecodeString(first) // a real cursor, one bit of its position changed
			if err != nil {
				t.Fatal(err)
			}
			b[15] ^= 1
			tampered := base64.RawURLEncoding.EncodeToString(b)
			restViolation(t, r.REST(t, token, "GET", "/api/v1/events?after="+tampered, ""), "after")
			wantStatus(t, r.REST(t, "", "GET", "/api/v1/events", ""), 401)

			// The other environment sees only its own event, and a cursor of one environment
			// reads nothing of the other.
			theirs, theirCursor := readFeed(t, r, otherToken, url.Values{}, "", 1)
			if len(theirs) != 1 || theirs[0].Data.ID != otherOrg {
				t.Fatalf("the other environment's feed %+v", theirs)
			}
			if p := feedREST(t, r, otherToken, url.Values{"after": {theirCursor}}); len(p.Events) != 0 {
				t.Fatalf("the other environment sees %+v", p.Events)
			}
			restViolation(t, r.REST(t, otherToken, "GET", "/api/v1/events?after="+url.QueryEscape(first), ""), "after")
			restViolation(t, r.REST(t, token, "GET", "/api/v1/events?after="+url.QueryEscape(theirCursor), ""), "after")
		})
	}
}

// The feed over gRPC: the same events, envelopes as Structs, the same refusals.
func TestEventFeedGRPC(t *testing.T) {
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			r, token, otherToken := newFeedRoster(t, backend)
			orgA := newOrgREST(t, r, token, "A")
			newOrgREST(t, r, otherToken, "Theirs")
			// Wait for the organization's event itself: the environment's set-up events
			// (role.created) come before it and may show first on PostgreSQL.
			readFeed(t, r, token, url.Values{"types": {"organization.*"}}, "", 1)
			ctx := context.Background()
			c := rosterv1connect.NewEventServiceClient(h2cClient(), r.URL, connect.WithGRPC(), connect.WithInterceptors(bearer(token)))
			res, err := c.ListEvents(ctx, connect.NewRequest(&rosterv1.ListEventsRequest{Types: []string{"organization.*"}}))
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Msg.GetEvents()) != 1 || res.Msg.GetHasMore() || res.Msg.GetNextCursor() == "" {
				t.Fatalf("answer %v", res.Msg)
			}
			e := res.Msg.GetEvents()[0].AsMap()
			if e["type"] != roster.EventOrganizationCreated || e["organization_id"] != orgA || e["spec_version"] != "1" ||
				e["data"].(map[string]any)["display_name"] != "A" || e["actor"].(map[string]any)["id"] != r.ClientID {
				t.Fatalf("event %v", e)
			}
			next, err := c.ListEvents(ctx, connect.NewRequest(&rosterv1.ListEventsRequest{After: res.Msg.GetNextCursor()}))
			if err != nil || len(next.Msg.GetEvents()) != 0 || next.Msg.GetNextCursor() != res.Msg.GetNextCursor() {
				t.Fatalf("after the end: %v %v", next, err)
			}
			for _, req := range []*rosterv1.ListEventsRequest{{Types: []string{"nope"}}, {After: "x"}, {PageSize: 5000}, {OrganizationId: "acme"}} {
				if _, err := c.ListEvents(ctx, connect.NewRequest(req)); connect.CodeOf(err) != connect.CodeInvalidArgument {
					t.Fatalf("%v: %v", req, err)
				}
			}
			other := rosterv1connect.NewEventServiceClient(h2cClient(), r.URL, connect.WithGRPC(), connect.WithInterceptors(bearer(otherToken)))
			if _, err := other.ListEvents(ctx, connect.NewRequest(&rosterv1.ListEventsRequest{After: res.Msg.GetNextCursor()})); connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Fatalf("another environment's cursor: %v", err)
			}
		})
	}
}

// "An application that was down for a month reads everything it missed and arrives exactly
// where the live stream is": N changes after a saved cursor, read from it page by page, are
// exactly those events in order; then an empty page keeps the cursor, and the next change
// appears after it.
func TestEventFeedCatchUp(t *testing.T) {
	const n = 1200
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			r, token, _ := newFeedRoster(t, backend)
			newOrgREST(t, r, token, "Before")
			// The position of that organization's event: every earlier event (the set-up's
			// role.created) is then shown too, so nothing can appear before it later.
			_, saved := readFeed(t, r, token, url.Values{"types": {"organization.*"}}, "", 1)

			ctx := roster.WithClientID(context.Background(), r.ClientID)
			env, err := r.Directory.DefaultEnvironment(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			var id string
			for i := range n {
				if i%2 == 0 {
					o, err := r.Directory.CreateOrganization(ctx, env, roster.NewOrganization{DisplayName: fmt.Sprintf("Org %d", i)})
					if err != nil {
						t.Fatal(err)
					}
					id = o.ID
					want = append(want, "organization.created "+id)
					continue
				}
				name := fmt.Sprintf("Renamed %d", i)
				if _, err := r.Directory.UpdateOrganization(ctx, env, roster.OrganizationRef{ID: id}, roster.OrganizationPatch{DisplayName: &name}); err != nil {
					t.Fatal(err)
				}
				want = append(want, "organization.updated "+id)
			}

			got, cursor := readFeed(t, r, token, url.Values{"page_size": {"100"}}, saved, n)
			var types []string
			for _, e := range got {
				types = append(types, e.Type+" "+e.Data.ID)
			}
			if !slices.Equal(types, want) {
				t.Fatalf("caught up with %d events, want %d in order (first difference at %d)", len(types), len(want), firstDiff(types, want))
			}
			p := feedREST(t, r, token, url.Values{"after": {cursor}})
			if len(p.Events) != 0 || p.NextCursor != cursor || p.HasMore {
				t.Fatalf("the live end: %+v", p)
			}
			live := newOrgREST(t, r, token, "Live")
			next, _ := readFeed(t, r, token, url.Values{}, cursor, 1)
			if len(next) != 1 || next[0].Data.ID != live || !strings.HasPrefix(next[0].ID, "evt_") {
				t.Fatalf("the next change %+v", next)
			}
		})
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// A filtered page passes over at most 10,000 events (the scan budget): after 10,050 events
// that the filter skips, the first page is empty with has_more and a cursor past what it
// passed over, and the next holds the one event that matches. Without the bound, a rare type
// or a quiet organization made one request read the whole feed after its cursor.
func TestEventFeedFilterStopsAtScanBudget(t *testing.T) {
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			r, token, _ := newFeedRoster(t, backend)
			ctx := context.Background()
			env, err := r.Directory.DefaultEnvironment(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, start := readFeed(t, r, token, url.Values{}, "", 1) // the set-up's events
			noise := make([]roster.Event, 10_050)
			for i := range noise {
				noise[i] = roster.Event{Type: roster.EventOrganizationUpdated, EnvironmentID: env.ID, OrganizationID: "org_1",
					ChangedFields: []string{"display_name"}, Data: roster.Organization{ID: "org_1", EnvironmentID: env.ID, DisplayName: fmt.Sprint(i)}}
			}
			rare := roster.Event{Type: roster.EventOrganizationCreated, EnvironmentID: env.ID, OrganizationID: "org_2",
				Data: roster.Organization{ID: "org_2", EnvironmentID: env.ID, DisplayName: "Rare"}}
			if err := r.Store.RecordEvents(ctx, append(noise, rare)...); err != nil {
				t.Fatal(err)
			}
			_, _ = readFeed(t, r, token, url.Values{"after": {start}, "page_size": {"1000"}}, start, len(noise)+1) // all visible (PostgreSQL)
			for _, q := range []url.Values{{"types": {roster.EventOrganizationCreated}}, {"organization_id": {"org_2"}}} {
				q.Set("after", start)
				first := feedREST(t, r, token, q)
				if len(first.Events) != 0 || !first.HasMore || first.NextCursor == start || first.NextCursor == "" {
					t.Fatalf("%v: first page %d events, has_more %v, cursor moved %v; want none, has_more, a cursor past the budget",
						q, len(first.Events), first.HasMore, first.NextCursor != start)
				}
				q.Set("after", first.NextCursor)
				second := feedREST(t, r, token, q)
				if len(second.Events) != 1 || second.Events[0].Data.ID != "org_2" || second.HasMore {
					t.Fatalf("%v: second page %+v", q, second)
				}
			}
		})
	}
}
