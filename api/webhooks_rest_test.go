package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	rosterv1 "github.com/rosterhq/roster/gen/roster/v1"
	"github.com/rosterhq/roster/gen/roster/v1/rosterv1connect"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/outbound"
	"github.com/rosterhq/roster/webhooks"
)

// Webhook endpoints through roster.v1 WebhookService (docs/webhooks.md).

var fastWebhooks = webhooks.Settings{FirstBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	FailureWindow: time.Hour, PollInterval: 10 * time.Millisecond, LeaseTTL: 3 * time.Second}

// hookReceiver records each delivery's webhook-id and whether its signature verifies with
// the secret it is given.
type hookReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	secret   string
	ids      []string
	verified []bool
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
		h.mu.Lock()
		defer h.mu.Unlock()
		sig, err := webhooks.Sign(h.secret, r.Header.Get("webhook-id"), ts, body)
		h.ids = append(h.ids, r.Header.Get("webhook-id"))
		// Any of the space-separated signatures (after a rotation: the new and the old).
		h.verified = append(h.verified, err == nil && slices.Contains(strings.Fields(r.Header.Get("webhook-signature")), sig))
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) got() ([]string, []bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ids...), append([]bool(nil), h.verified...)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestWebhookEndpointsREST(t *testing.T) {
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			r := rostertest.Start(t, backend, rostertest.WithWebhookWorker(fastWebhooks))
			token := r.Token(t)
			h := newHookReceiver(t)
			res := r.REST(t, token, "POST", "/api/v1/webhook_endpoints",
				fmt.Sprintf(`{"url": %q, "description": "orgs", "event_types": ["organization.*"]}`, h.URL+"/hook"))
			wantStatus(t, res, 200)
			ep := obj(res.Body, "endpoint")
			id, secret := ep["id"].(string), res.Body["secret"].(string)
			if !strings.HasPrefix(id, "wh_") || !strings.HasPrefix(secret, "whsec_") || ep["enabled"] != true {
				t.Fatalf("create = %s", res.Raw)
			}
			h.mu.Lock()
			h.secret = secret
			h.mu.Unlock()
			res = r.REST(t, token, "GET", "/api/v1/webhook_endpoints/"+id, "")
			wantStatus(t, res, 200)
			if strings.Contains(res.Raw, "whsec_") || strings.Contains(res.Raw, `"secret"`) || strings.Contains(res.Raw, strings.TrimPrefix(secret, "whsec_")) {
				t.Fatalf("get shows the secret: %s", res.Raw)
			}
			res = r.REST(t, token, "GET", "/api/v1/webhook_endpoints", "")
			if list, _ := res.Body["endpoints"].([]any); len(list) != 1 {
				t.Fatalf("list = %s", res.Raw)
			}

			orgID := newOrgREST(t, r, token, "Acme")
			waitUntil(t, "the delivery", func() bool { ids, _ := h.got(); return len(ids) == 1 })
			ids, ok := h.got()
			if !ok[0] {
				t.Fatal("the delivery does not verify")
			}
			waitUntil(t, "the log", func() bool {
				res = r.REST(t, token, "GET", "/api/v1/webhook_endpoints/"+id+"/deliveries?page_size=10", "")
				list, _ := res.Body["deliveries"].([]any)
				return len(list) == 1 && obj(list[0])["success"] == true && obj(list[0])["event_id"] == ids[0]
			})

			wantStatus(t, r.REST(t, token, "POST", "/api/v1/webhook_endpoints/"+id+"/deliveries", fmt.Sprintf(`{"event_id": %q}`, ids[0])), 200)
			waitUntil(t, "the redelivery", func() bool { ids, _ := h.got(); return len(ids) == 2 })
			res = r.REST(t, token, "POST", "/api/v1/webhook_endpoints/"+id+"/deliveries", `{"event_id": "evt_1"}`)
			wantStatus(t, res, 404)

			// Disabled: nothing is sent; enabled again: what was missed arrives.
			res = r.REST(t, token, "PATCH", "/api/v1/webhook_endpoints/"+id, `{"enabled": false}`)
			wantStatus(t, res, 200)
			if e := obj(res.Body, "endpoint"); e["enabled"] == true || e["disabled_reason"] != "operator" {
				t.Fatalf("disable = %s", res.Raw)
			}
			wantStatus(t, r.REST(t, token, "PATCH", "/api/v1/organizations/"+orgID, `{"display_name": "Acme 2"}`), 200)
			time.Sleep(100 * time.Millisecond)
			if ids, _ := h.got(); len(ids) != 2 {
				t.Fatal("a disabled endpoint was delivered to")
			}
			res = r.REST(t, token, "POST", "/api/v1/webhook_endpoints/"+id+":enable", "")
			wantStatus(t, res, 200)
			waitUntil(t, "the missed event", func() bool { ids, _ := h.got(); return len(ids) == 3 })

			// The log in pages: an opaque token, signed for this endpoint's log only.
			logURL := "/api/v1/webhook_endpoints/" + id + "/deliveries"
			waitUntil(t, "three deliveries in the log", func() bool {
				list, _ := r.REST(t, token, "GET", logURL+"?page_size=10", "").Body["deliveries"].([]any)
				return len(list) == 3
			})
			res = r.REST(t, token, "GET", logURL+"?page_size=2", "")
			wantStatus(t, res, 200)
			next, _ := res.Body["next_page_token"].(string)
			if list, _ := res.Body["deliveries"].([]any); len(list) != 2 || next == "" || strings.Trim(next, "0123456789") == "" {
				t.Fatalf("first page of the log: %s", res.Raw)
			}
			res = r.REST(t, token, "GET", logURL+"?page_size=2&page_token="+next, "")
			wantStatus(t, res, 200)
			if list, _ := res.Body["deliveries"].([]any); len(list) != 1 || res.Body["next_page_token"] != nil && res.Body["next_page_token"] != "" {
				t.Fatalf("second page of the log: %s", res.Raw)
			}
			res = r.REST(t, token, "POST", "/api/v1/webhook_endpoints", fmt.Sprintf(`{"url": %q}`, h.URL+"/other"))
			wantStatus(t, res, 200)
			other := obj(res.Body, "endpoint")["id"].(string)
			for _, bad := range []string{"/api/v1/webhook_endpoints/" + other + "/deliveries?page_token=" + next, logURL + "?page_token=3"} {
				if res := r.REST(t, token, "GET", bad, ""); res.Status != 400 || !strings.Contains(res.Raw, "page_token") {
					t.Fatalf("GET %s: %d %s", bad, res.Status, res.Raw)
				}
			}
			wantStatus(t, r.REST(t, token, "DELETE", "/api/v1/webhook_endpoints/"+other, ""), 200)

			res = r.REST(t, token, "POST", "/api/v1/webhook_endpoints/"+id+":rotate-secret", "")
			wantStatus(t, res, 200)
			rotated := res.Body["secret"].(string)
			if !strings.HasPrefix(rotated, "whsec_") || rotated == secret || obj(res.Body, "endpoint")["previous_secret_expire_time"] == nil {
				t.Fatalf("rotate = %s", res.Raw)
			}
			h.mu.Lock()
			h.secret = rotated
			h.mu.Unlock()
			newOrgREST(t, r, token, "Beta")
			waitUntil(t, "a delivery signed with the new secret", func() bool { ids, ok := h.got(); return len(ids) == 4 && ok[3] })

			res = r.REST(t, token, "POST", "/api/v1/webhook_endpoints", `{"url": "ftp://example.com/x"}`)
			wantStatus(t, res, 400)
			res = r.REST(t, token, "POST", "/api/v1/webhook_endpoints", `{"url": "https://example.com/x", "event_types": ["no.such"]}`)
			wantStatus(t, res, 400)
			wantStatus(t, r.REST(t, token, "DELETE", "/api/v1/webhook_endpoints/"+id, ""), 200)
			wantStatus(t, r.REST(t, token, "GET", "/api/v1/webhook_endpoints/"+id, ""), 404)
		})
	}
}

func TestWebhookPrivateURLRefusedByDefault(t *testing.T) {
	r := rostertest.Start(t, "sqlite", rostertest.WithOutbound(outbound.Options{}))
	token := r.Token(t)
	for _, u := range []string{"http://127.0.0.1:8080/hook", "http://localhost/hook", "http://169.254.169.254/"} {
		res := r.REST(t, token, "POST", "/api/v1/webhook_endpoints", fmt.Sprintf(`{"url": %q}`, u))
		wantStatus(t, res, 400)
		if f := violationFields(t, res); len(f) != 1 || f[0] != "url" {
			t.Fatalf("%s: violations %v", u, f)
		}
	}
}

func TestWebhookEndpointsGRPC(t *testing.T) {
	r := rostertest.Start(t, "sqlite")
	c := rosterv1connect.NewWebhookServiceClient(h2cClient(), r.URL, connect.WithGRPC(), connect.WithInterceptors(bearer(r.Token(t))))
	ctx := context.Background()
	created, err := c.CreateWebhookEndpoint(ctx, connect.NewRequest(&rosterv1.CreateWebhookEndpointRequest{
		Endpoint: &rosterv1.CreateWebhookEndpoint{Url: "https://example.com/hook", EventTypes: []string{"user.created"}}}))
	if err != nil || !strings.HasPrefix(created.Msg.GetSecret(), "whsec_") {
		t.Fatalf("create = %v, %v", created, err)
	}
	id := created.Msg.GetEndpoint().GetId()
	all := true
	up, err := c.UpdateWebhookEndpoint(ctx, connect.NewRequest(&rosterv1.UpdateWebhookEndpointRequest{Id: id,
		Endpoint: &rosterv1.UpdateWebhookEndpoint{AllEventTypes: all}}))
	if err != nil || len(up.Msg.GetEndpoint().GetEventTypes()) != 0 {
		t.Fatalf("update = %v, %v", up, err)
	}
	list, err := c.ListWebhookEndpoints(ctx, connect.NewRequest(&rosterv1.ListWebhookEndpointsRequest{}))
	if err != nil || len(list.Msg.GetEndpoints()) != 1 || list.Msg.GetEndpoints()[0].GetId() != id {
		t.Fatalf("list = %v, %v", list, err)
	}
	_, err = c.GetWebhookEndpoint(ctx, connect.NewRequest(&rosterv1.GetWebhookEndpointRequest{Id: "wh_1"}))
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("get unknown: %v", err)
	}
	page, err := c.ListWebhookDeliveries(ctx, connect.NewRequest(&rosterv1.ListWebhookDeliveriesRequest{Id: id}))
	if err != nil || len(page.Msg.GetDeliveries()) != 0 {
		t.Fatalf("deliveries = %v, %v", page, err)
	}
	_, err = c.ListWebhookDeliveries(ctx, connect.NewRequest(&rosterv1.ListWebhookDeliveriesRequest{Id: id, PageToken: "x"}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("bad page token: %v", err)
	}
}
