package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDashboardWebhooksFlow drives Chromium through the Webhooks and Events screens of a live
// `roster serve` (SQLite and PostgreSQL): add an endpoint pointing at a local receiver that
// verifies each delivery with the Scalekit Node SDK, using the secret the page shows once
// (a reload does not show it); a change made over REST is delivered and appears in the
// endpoint's delivery log; "Redeliver" sends it again, logged as manual; the Events screen
// shows the event. The secret is never in the server's log.
func TestDashboardWebhooksFlow(t *testing.T) {
	nodeDeps(t)
	allocCtx, shots := dashboardAllocator(t)
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { dashboardWebhooksFlow(t, allocCtx, backend, shots) })
	}
}

func dashboardWebhooksFlow(t *testing.T, allocCtx context.Context, backend, shots string) {
	srv, link := dashboardServer(t, backend, "ROSTER_WEBHOOK_FIRST_BACKOFF=100ms", "ROSTER_WEBHOOK_POLL_INTERVAL=50ms")
	b := openTab(t, allocCtx, 120*time.Second, shots, "webhooks-"+backend)
	b.setUpAndSignIn(link, srv.URL+"/dashboard/webhooks", "the webhooks", "#create-webhook")
	b.shot("webhooks-empty")

	addr := freeAddr(t)
	b.step("add an endpoint",
		chromedp.SendKeys(chromedp.CSS("#url"), "http://"+addr+"/hook"),
		chromedp.SendKeys(chromedp.CSS("#description"), "e2e receiver"),
		chromedp.Click(chromedp.CSS(`#event_types-type-organization-all`)),
		chromedp.Click(chromedp.CSS("#create-webhook button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#signing-secret")))
	secret, err := chromedp.Run(b.tctx, chromedp.Value(chromedp.CSS("#signing-secret")))
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("the secret shown: %q %v", secret, err)
	}
	b.shot("webhook-created")
	startReceiver(t, addr, secret) // verifies with the secret the page showed

	b.step("reload the endpoint's page", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#webhook-id")))
	if page := b.html(); strings.Contains(page, secret) || strings.Contains(page, `id="signing-secret"`) {
		t.Fatal("the secret is shown again after a reload")
	}

	_, token := tokenRequest(t, srv.URL, bootstrapClientID, bootstrapClientSecret)
	if status, res := restJSON(t, srv.URL, token, "POST", "/api/v1/organizations", `{"display_name": "Hooked Inc"}`); status != 200 {
		t.Fatalf("create an organization: %d %v", status, res)
	}
	// The delivery arrives, verified by the SDK, and shows in the log.
	logged := func(what, want string, n int) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			b.step("reload for "+what, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#webhook-id")))
			if page := b.html(); strings.Count(page, want) >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not in the delivery log after 30 s\n%s", what, b.html())
			}
		}
	}
	logged("the delivery", `<span class="ok">200</span>`, 1)
	got := receipts(t, addr)
	if len(got) != 1 || !got[0].OK || got[0].Type != "organization.created" {
		t.Fatalf("receipts: %+v", got)
	}
	if log := b.text("#deliveries tbody"); !strings.Contains(log, got[0].ID) || !strings.Contains(log, "organization.created") {
		t.Fatalf("the log shows %q", log)
	}
	b.shot("webhook-delivered")

	b.step("redeliver", chromedp.Click(chromedp.CSS(`#deliveries button[aria-label="Redeliver `+got[0].ID+`"]`)), chromedp.WaitVisible(chromedp.CSS(".notice")))
	logged("the manual redelivery", "(manual)", 1)
	if got := receipts(t, addr); len(got) != 2 || !got[1].OK || got[1].ID != got[0].ID {
		t.Fatalf("after redelivery, receipts: %+v", got)
	}
	b.shot("webhook-redelivered")

	b.step("the list", chromedp.Click(chromedp.CSS(`nav a[href="/dashboard/webhooks"]`)), chromedp.WaitVisible(chromedp.CSS("#webhooks")))
	if row := b.text("#webhooks tbody"); !strings.Contains(row, "http://"+addr+"/hook") || !strings.Contains(row, "organization.*") || !strings.Contains(row, "200") {
		t.Fatalf("the list shows %q", row)
	}
	b.shot("webhooks")
	b.step("events", chromedp.Click(chromedp.CSS(`nav a[href="/dashboard/events"]`)), chromedp.WaitVisible(chromedp.CSS("#event-filters")))
	b.step("filter the organizations' events",
		chromedp.Click(chromedp.CSS("#event-filters summary")),
		chromedp.Click(chromedp.CSS("#types-type-organization-all")),
		chromedp.Click(chromedp.CSS("#event-filters button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#filtered")), chromedp.WaitVisible(chromedp.CSS("#events")))
	if page := b.text("main"); !strings.Contains(page, got[0].ID) || !strings.Contains(page, "Hooked Inc") {
		t.Fatalf("the events screen lacks the delivered event %s", got[0].ID)
	}
	b.shot("events")
	b.close()
	srv.stop(t)
	srv.checkLogsFree(t, "webhook secret", secret)
	srv.checkLogsFree(t, "webhook key", strings.TrimPrefix(secret, "whsec_"))
}
