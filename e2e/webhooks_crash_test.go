package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster/webhooks"
)

// TestWebhooksSurviveKill9: roster is killed (SIGKILL) while organizations are being created
// and their events delivered, then started again on the same database. Every acknowledged
// create is delivered at least once, every delivery verifies, and no delivery names an
// organization that no request asked for. SQLite and PostgreSQL.
func TestWebhooksSurviveKill9(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			args := append(backendArgs(t, backend), "--webhook-first-backoff=100ms", "--webhook-poll-interval=50ms", "--webhook-lease-ttl=2s")
			env := []string{"ROSTER_BOOTSTRAP_CLIENT_ID=" + bootstrapClientID, "ROSTER_BOOTSTRAP_CLIENT_SECRET=" + bootstrapClientSecret}
			srv := startServer(t, args, env...)

			var mu sync.Mutex
			secret := ""
			delivered := map[string]int{} // organization ID -> deliveries
			bad := 0
			recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
				var ev struct {
					Type string `json:"type"`
					Data struct {
						ID string `json:"id"`
					} `json:"data"`
				}
				_ = json.Unmarshal(body, &ev)
				mu.Lock()
				defer mu.Unlock()
				if sig, err := webhooks.Sign(secret, r.Header.Get("webhook-id"), ts, body); err != nil || sig != r.Header.Get("webhook-signature") || ev.Type != "organization.created" {
					bad++
				}
				delivered[ev.Data.ID]++
			}))
			defer recv.Close()

			token := func(base string) string {
				_, tok := tokenRequest(t, base, bootstrapClientID, bootstrapClientSecret)
				return tok
			}
			post := func(base, tok, path, body string) (int, map[string]any, error) {
				req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return 0, nil, err
				}
				defer resp.Body.Close()
				var out map[string]any
				_ = json.NewDecoder(resp.Body).Decode(&out)
				return resp.StatusCode, out, nil
			}
			tok := token(srv.URL)
			status, created, err := post(srv.URL, tok, "/api/v1/webhook_endpoints", fmt.Sprintf(`{"url": %q, "event_types": ["organization.created"]}`, recv.URL+"/hook"))
			if err != nil || status != 200 {
				t.Fatalf("create endpoint: %d %v", status, err)
			}
			mu.Lock()
			secret = created["secret"].(string)
			mu.Unlock()

			// Writers create organizations until the kill; each create is acknowledged (200
			// with the organization's ID) or ambiguous (no answer: it may have committed).
			var wmu sync.Mutex
			acked := map[string]bool{}
			ambiguous := 0
			var wg sync.WaitGroup
			stop := make(chan struct{})
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						status, out, err := post(srv.URL, tok, "/api/v1/organizations", fmt.Sprintf(`{"display_name": "w%d-%d"}`, w, i))
						wmu.Lock()
						if err != nil || status != 200 {
							ambiguous++
							wmu.Unlock()
							return
						}
						acked[out["organization"].(map[string]any)["id"].(string)] = true
						wmu.Unlock()
					}
				}()
			}
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				mu.Lock()
				n := len(delivered)
				mu.Unlock()
				if n >= 50 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("only %d deliveries before the kill\nstderr:\n%s", n, srv.stderr)
				}
			}
			if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-srv.done
			close(stop)
			wg.Wait()
			mu.Lock()
			atKill := len(delivered)
			mu.Unlock()
			t.Logf("killed with %d acknowledged creates, %d deliveries, %d writes without an answer", len(acked), atKill, ambiguous)

			srv = startServer(t, args, env...)
			deadline := time.Now().Add(60 * time.Second)
			for {
				mu.Lock()
				missing := 0
				for id := range acked {
					if delivered[id] == 0 {
						missing++
					}
				}
				mu.Unlock()
				if missing == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d acknowledged creates never delivered\nstderr:\n%s", missing, srv.stderr)
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond) // an invented or late delivery would arrive now
			mu.Lock()
			defer mu.Unlock()
			extra, twice := 0, 0
			for id, n := range delivered {
				if !acked[id] {
					extra++
				}
				if n > 1 {
					twice++
				}
			}
			if bad > 0 {
				t.Errorf("%d deliveries did not verify or were not organization.created", bad)
			}
			if extra > ambiguous {
				t.Errorf("%d organizations delivered that no acknowledged create made, more than the %d unanswered writes", extra, ambiguous)
			}
			t.Logf("after restart: all %d acknowledged creates delivered; %d delivered more than once (at least once across the kill), %d from unanswered writes",
				len(acked), twice, extra)
			srv.stop(t)
		})
	}
}
