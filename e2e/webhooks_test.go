package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestWebhooksVerifiedByScalekitNodeSDK: roster delivers its events to a receiver that
// verifies each one with the official Scalekit Node SDK (e2e/node/webhook_receiver.mjs), on
// both backends. Every delivery verifies, arrives in the order of the changes, sends its
// webhook-* headers in lower case, and a tampered copy is refused by the SDK.
func TestWebhooksVerifiedByScalekitNodeSDK(t *testing.T) {
	nodeDeps(t)
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			srv := startServer(t, append(backendArgs(t, backend), "--webhook-first-backoff=100ms", "--webhook-poll-interval=50ms"),
				"ROSTER_BOOTSTRAP_CLIENT_ID="+bootstrapClientID, "ROSTER_BOOTSTRAP_CLIENT_SECRET="+bootstrapClientSecret)
			_, token := tokenRequest(t, srv.URL, bootstrapClientID, bootstrapClientSecret)
			call := func(method, path, body string) map[string]any {
				t.Helper()
				req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				raw, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 {
					t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
				}
				var out map[string]any
				_ = json.Unmarshal(raw, &out)
				return out
			}

			addr := freeAddr(t)
			created := call("POST", "/api/v1/webhook_endpoints", fmt.Sprintf(`{"url": "http://%s/hook", "event_types": ["organization.*"]}`, addr))
			secret := created["secret"].(string)
			startReceiver(t, addr, secret)

			a := call("POST", "/api/v1/organizations", `{"display_name": "Acme"}`)["organization"].(map[string]any)["id"].(string)
			call("POST", "/api/v1/organizations", `{"display_name": "Beta"}`)
			call("PATCH", "/api/v1/organizations/"+a, `{"display_name": "Acme Inc"}`)
			call("DELETE", "/api/v1/organizations/"+a, "")
			want := []string{"organization.created", "organization.created", "organization.updated", "organization.deleted"}

			var got []receipt
			deadline := time.Now().Add(30 * time.Second)
			for got = receipts(t, addr); len(got) < len(want); got = receipts(t, addr) {
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d deliveries arrived: %+v\nroster stderr:\n%s", len(got), len(want), got, srv.stderr)
				}
				time.Sleep(50 * time.Millisecond)
			}
			var types []string
			for _, r := range got {
				types = append(types, r.Type)
				if !r.OK || !r.TamperedRefused || r.ContentType != "application/json" {
					t.Errorf("delivery %+v: want verified by the SDK, its tampered copy refused", r)
				}
				for _, h := range r.RawHeaderNames {
					if h != strings.ToLower(h) {
						t.Errorf("header %q sent in mixed case", h)
					}
				}
				if len(r.RawHeaderNames) != 3 {
					t.Errorf("webhook headers sent: %q", r.RawHeaderNames)
				}
			}
			if !slices.Equal(types, want) {
				t.Fatalf("delivered %q, want %q in order", types, want)
			}

			// After a rotation the receiver still holds the old secret: the deliveries carry
			// a signature with each, and the SDK accepts the old one's.
			rotated := call("POST", "/api/v1/webhook_endpoints/"+created["endpoint"].(map[string]any)["id"].(string)+":rotate-secret", "")["secret"].(string)
			call("POST", "/api/v1/organizations", `{"display_name": "Gamma"}`)
			for deadline := time.Now().Add(30 * time.Second); len(got) < len(want)+1; got = receipts(t, addr) {
				if time.Now().After(deadline) {
					t.Fatal("no delivery after the rotation")
				}
				time.Sleep(50 * time.Millisecond)
			}
			if r := got[len(want)]; !r.OK || !r.TamperedRefused {
				t.Fatalf("after a rotation, the old secret's receiver: %+v", r)
			}
			srv.stop(t)
			srv.checkLogsFree(t, "webhook secret", secret)
			srv.checkLogsFree(t, "webhook key", strings.TrimPrefix(secret, "whsec_"))
			srv.checkLogsFree(t, "rotated webhook secret", rotated)
		})
	}
}

type receipt struct {
	ID              string   `json:"id"`
	Type            string   `json:"type"`
	OK              bool     `json:"ok"`
	TamperedRefused bool     `json:"tamperedRefused"`
	ContentType     string   `json:"contentType"`
	RawHeaderNames  []string `json:"rawHeaderNames"`
}

// startReceiver runs e2e/node/webhook_receiver.mjs on addr until the test ends.
func startReceiver(t *testing.T, addr, secret string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	port := addr[strings.LastIndex(addr, ":")+1:]
	cmd := exec.CommandContext(ctx, "node", "webhook_receiver.mjs")
	cmd.Dir = "node"
	cmd.Env = childEnv("PORT="+port, "WEBHOOK_SECRET="+secret)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready <- strings.TrimSpace(line) == "ready"
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("webhook receiver did not start:\n%s", stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("webhook receiver not ready after 20 s:\n%s", stderr.String())
	}
}

func receipts(t *testing.T, addr string) []receipt {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/results")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []receipt
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}
