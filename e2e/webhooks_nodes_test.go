package e2e

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster/store/postgres/pgtest"
	"github.com/rosterhq/roster/webhooks"
)

// Issue 15: "Two nodes on one PostgreSQL under load: no event delivered twice except by
// retry." Two `roster serve` processes share one database, each with its own delivery
// worker; writes go through both at once; three endpoints point at one receiver. Every event
// of the feed reaches every endpoint, first deliveries in feed order, none outside the feed,
// and an event arrives twice at an endpoint only when its delivery log shows a retry — or,
// when a node is killed (SIGKILL), only if it was first delivered before the kill.
func TestWebhooksTwoNodes(t *testing.T) {
	for _, kill := range []bool{false, true} {
		name := "clean"
		if kill {
			name = "kill"
		}
		t.Run(name, func(t *testing.T) { twoNodes(t, kill) })
	}
}

const (
	nodeEndpoints = 3
	nodeLoad      = 10 * time.Second
	nodeWriters   = 4 // per node
	// The delivery log keeps the latest 1,000 attempts per endpoint; the load stays under
	// that so every retry of the run is still in it.
	nodeMaxWrites = 900
	nodeLeaseTTL  = 2 * time.Second
)

func twoNodes(t *testing.T, kill bool) {
	start := time.Now()
	dbURL := pgtest.NewSchema(t)
	args := []string{"--database-url", dbURL, "--encryption-key", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"--webhook-first-backoff=100ms", "--webhook-poll-interval=50ms",
		"--webhook-lease-ttl=" + nodeLeaseTTL.String(), "--metrics-listen=api"}
	env := []string{"ROSTER_BOOTSTRAP_CLIENT_ID=" + bootstrapClientID, "ROSTER_BOOTSTRAP_CLIENT_SECRET=" + bootstrapClientSecret}
	nodes := [2]*server{startServer(t, args, env...), startServer(t, args, env...)}
	var tokens [2]string
	for i, n := range nodes {
		_, tokens[i] = tokenRequest(t, n.URL, bootstrapClientID, bootstrapClientSecret)
	}

	recv := newNodeReceiver()
	srv := httptest.NewServer(recv)
	defer srv.Close()

	var endpoints [nodeEndpoints]string // endpoint IDs; endpoint i posts to /hook/i
	for i := range endpoints {
		var out struct {
			Endpoint struct {
				ID string `json:"id"`
			} `json:"endpoint"`
			Secret string `json:"secret"`
		}
		status := nodeCall(t, nodes[i%2].URL, tokens[i%2], "POST", "/api/v1/webhook_endpoints",
			fmt.Sprintf(`{"url": %q}`, fmt.Sprintf("%s/hook/%d", srv.URL, i)), &out)
		if status != 200 {
			t.Fatalf("create endpoint %d: %d", i, status)
		}
		endpoints[i] = out.Endpoint.ID
		recv.setSecret(i, out.Secret)
	}
	// The endpoints start at the feed's head; nothing is written until the load, so the
	// events after this cursor are exactly what each must get.
	_, base := readFeedAll(t, nodes[0].URL, tokens[0], "")

	// The load: writers on both nodes create organizations and rename each once, paced
	// under nodeMaxWrites in total.
	var writes, failed atomic.Int64
	var alive [2]atomic.Bool
	alive[0].Store(true)
	alive[1].Store(true)
	loadEnd := time.Now().Add(nodeLoad)
	var wg sync.WaitGroup
	for n := range nodes {
		for w := range nodeWriters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Each round is two writes by one of 2×nodeWriters writers.
				every := nodeLoad * 2 * 2 * nodeWriters / nodeMaxWrites
				for i := 0; time.Now().Before(loadEnd) && alive[n].Load() && writes.Load() < nodeMaxWrites-1; i++ {
					next := time.Now().Add(every)
					var out struct {
						Organization struct {
							ID string `json:"id"`
						} `json:"organization"`
					}
					if nodeCall(t, nodes[n].URL, tokens[n], "POST", "/api/v1/organizations", fmt.Sprintf(`{"display_name": "n%d-w%d-%d"}`, n, w, i), &out) != 200 {
						failed.Add(1)
						continue
					}
					writes.Add(1)
					if nodeCall(t, nodes[n].URL, tokens[n], "PATCH", "/api/v1/organizations/"+out.Organization.ID, fmt.Sprintf(`{"display_name": "n%d-w%d-%d renamed"}`, n, w, i), nil) != 200 {
						failed.Add(1)
						continue
					}
					writes.Add(1)
					time.Sleep(time.Until(next))
				}
			}()
		}
	}
	victim, survivor := 0, 1
	var killedAt time.Time
	var held map[int]time.Time // endpoint index -> the end of the victim's lease on it
	if kill {
		time.Sleep(nodeLoad / 2)
		// Kill a node while it holds endpoints with a delivery under way: the receiver
		// answers slowly for a moment, so the holder is caught mid-send, its lease held.
		recv.setStall(500 * time.Millisecond)
		victim, held = leaseHolder(t, dbURL, nodes, endpoints, recv)
		survivor = 1 - victim
		alive[victim].Store(false)
		killedAt = time.Now()
		if err := nodes[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-nodes[victim].done
		recv.setStall(0)
		t.Logf("killed node %d while it held %d endpoints with a delivery under way", victim, len(held))
	}
	wg.Wait()
	token := tokens[survivor]

	// Wait until every endpoint has every event of the feed after base. On PostgreSQL the
	// feed shows an event once every older transaction of the database server has ended
	// (docs/events.md), so it may lag the acknowledged writes for a moment: wait for at
	// least those, then for the feed and the deliveries to stay put for a while (a late
	// event, or a late duplicate, would show then).
	var feed []nodeEvent
	var delivered time.Time
	missingOf := func(feed []nodeEvent) (n int) {
		for i := range endpoints {
			n += recv.missing(i, feed)
		}
		return n
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		feed, _ = readFeedAll(t, nodes[survivor].URL, token, base)
		missing := missingOf(feed)
		if missing == 0 && int64(len(feed)) >= writes.Load() {
			delivered = time.Now()
			time.Sleep(500 * time.Millisecond)
			again, _ := readFeedAll(t, nodes[survivor].URL, token, base)
			if len(again) == len(feed) && missingOf(again) == 0 {
				break
			}
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %d deliveries missing, %d events in the feed for %d acknowledged writes\nsurvivor stderr:\n%s",
				missing, len(feed), writes.Load(), nodes[survivor].stderr)
		}
	}
	// Each write records one event: the feed has one per acknowledged write, plus at most
	// one per write left without an answer by the kill.
	if n := int64(len(feed)); n < writes.Load() || n > writes.Load()+failed.Load() {
		t.Errorf("%d events in the feed for %d acknowledged writes and %d failed or unanswered", n, writes.Load(), failed.Load())
	}

	pos := map[string]int{}
	for i, e := range feed {
		pos[e.ID] = i
	}
	if bad := recv.badCount(); bad > 0 {
		t.Errorf("%d deliveries did not verify (signature, webhook-id or body)", bad)
	}
	totalDup, totalRetried, totalAtKill, received := 0, 0, 0, 0
	for i, ep := range endpoints {
		got := recv.list(i)
		received += len(got)
		retried := retriedEvents(t, nodes[survivor].URL, token, ep)
		count := map[string]int{}
		first := map[string]time.Time{}
		last := -1
		for _, d := range got {
			p, ok := pos[d.id]
			if !ok {
				t.Errorf("endpoint %d: delivered %s, which is not in the feed after the endpoint's creation", i, d.id)
				continue
			}
			count[d.id]++
			if count[d.id] > 1 {
				continue
			}
			first[d.id] = d.at
			if p < last {
				t.Errorf("endpoint %d: %s (feed position %d) first delivered after position %d", i, d.id, p, last)
			}
			last = p
		}
		dup, byRetry, atKill := 0, 0, 0
		for id, n := range count {
			if n == 1 {
				continue
			}
			dup++
			switch {
			case retried[id]:
				byRetry++
			case kill && first[id].After(killedAt.Add(-time.Second)) && first[id].Before(killedAt.Add(100*time.Millisecond)):
				// Sent by the dead node after its last progress write (written at least
				// every 250 ms; a second allows for a loaded machine).
				atKill++
			default:
				t.Errorf("endpoint %d: %s delivered %d times, and its delivery log shows no retry", i, id, n)
			}
		}
		t.Logf("endpoint %d: %d deliveries of %d events, %d delivered more than once (%d by a logged retry, %d sent again after the kill)",
			i, len(got), len(feed), dup, byRetry, atKill)
		totalDup += dup
		totalRetried += byRetry
		totalAtKill += atKill
		if until, ok := held[i]; ok {
			// Fencing: no node sends to the dead node's endpoint before its lease ends.
			for _, d := range got {
				if d.at.After(killedAt.Add(50*time.Millisecond)) && d.at.Before(until.Add(-50*time.Millisecond)) {
					t.Errorf("endpoint %d: %s delivered %s after the kill, before the dead node's lease ended (%s after the kill)",
						i, d.id, d.at.Sub(killedAt).Round(time.Millisecond), until.Sub(killedAt).Round(time.Millisecond))
					break
				}
			}
		}
		if kill {
			t.Logf("endpoint %d: longest pause in deliveries after the kill: %s", i, recv.gapAfter(i, killedAt).Round(time.Millisecond))
		}
	}
	t.Logf("%d writes acknowledged (%d failed or unanswered) through 2 nodes, %d events in the feed, delivered to %d endpoints in %s after the load; duplicates: %d (%d by retry, %d at the kill); test took %s",
		writes.Load(), failed.Load(), len(feed), nodeEndpoints, delivered.Sub(loadEnd).Round(time.Millisecond), totalDup, totalRetried, totalAtKill,
		time.Since(start).Round(time.Millisecond))
	if !kill && failed.Load() > 0 {
		t.Errorf("%d writes failed in a clean run", failed.Load())
	}
	// Close the client's idle connections: one dialled and never used would hold each
	// node's graceful stop for 5 s (net/http waits that long on a connection in StateNew).
	http.DefaultClient.CloseIdleConnections()
	if !kill {
		// Both nodes delivered (the endpoints moved between them), and what they say they
		// delivered is what the receiver got.
		var sent [2]int
		for n, node := range nodes {
			sent[n] = feedSuccesses(t, node.URL)
		}
		t.Logf("deliveries acknowledged per node (roster_webhook_attempts_total): %d and %d", sent[0], sent[1])
		if sent[0] == 0 || sent[1] == 0 || sent[0]+sent[1] != received {
			t.Errorf("nodes delivered %d + %d, the receiver got %d: want both nodes delivering, and the sum", sent[0], sent[1], received)
		}
		nodes[victim].stop(t)
	}
	nodes[survivor].stop(t)
}

// leaseHolder waits until a delivery is under way (stalled by the receiver) and returns the
// node holding that endpoint's lease, with the endpoints it holds while sending and when each
// lease ends. The lease owner names the node's process ID (webhooks.NewWorker).
func leaseHolder(t *testing.T, dbURL string, nodes [2]*server, endpoints [nodeEndpoints]string, recv *nodeReceiver) (int, map[int]time.Time) {
	t.Helper()
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		sending := recv.inFlight()
		if len(sending) == 0 {
			continue
		}
		held := map[int]map[int]time.Time{}
		for i, ep := range endpoints {
			if !sending[i] {
				continue
			}
			var owner string
			var until int64
			err := db.QueryRow(`SELECT lease_owner, lease_until FROM webhook_endpoints WHERE id = $1 AND lease_owner IS NOT NULL`, ep).Scan(&owner, &until)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			} else if err != nil {
				t.Fatal(err)
			}
			for n, node := range nodes {
				if strings.Contains(owner, fmt.Sprintf("/%d/", node.cmd.Process.Pid)) {
					if held[n] == nil {
						held[n] = map[int]time.Time{}
					}
					held[n][i] = time.UnixMicro(until)
				}
			}
		}
		for n := range nodes {
			if len(held[n]) > 0 {
				return n, held[n]
			}
		}
	}
	t.Fatal("no node held an endpoint's lease while sending to it for 5 s during the load")
	return 0, nil
}

// feedSuccesses reads a node's count of successful feed deliveries from its /metrics.
func feedSuccesses(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "roster_webhook_attempts_total{") && strings.Contains(line, `kind="feed"`) && strings.Contains(line, `result="success"`) {
			n, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
			if err != nil {
				t.Fatalf("metrics line %q: %v", line, err)
			}
			return int(n)
		}
	}
	return 0
}

// nodeReceiver records every delivery per endpoint path /hook/{i} and verifies it.
type nodeReceiver struct {
	mu      sync.Mutex
	secrets map[int]string
	got     map[int][]nodeDelivery
	bad     int
	stall   time.Duration // how long to wait before answering
	sending map[int]int   // requests being answered, per endpoint
}

type nodeDelivery struct {
	id string
	at time.Time
}

func newNodeReceiver() *nodeReceiver {
	return &nodeReceiver{secrets: map[int]string{}, got: map[int][]nodeDelivery{}, sending: map[int]int{}}
}

func (r *nodeReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	i, err := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/hook/"))
	id := req.Header.Get("webhook-id")
	ts, _ := strconv.ParseInt(req.Header.Get("webhook-timestamp"), 10, 64)
	var ev struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &ev)
	r.mu.Lock()
	secret, known := r.secrets[i]
	if err != nil || !known {
		r.mu.Unlock()
		// Deliveries can start before the test has the secret of a just-created endpoint:
		// refuse, the worker retries.
		http.Error(w, "unknown endpoint", http.StatusServiceUnavailable)
		return
	}
	if sig, err := webhooks.Sign(secret, id, ts, body); err != nil || sig != req.Header.Get("webhook-signature") || ev.ID != id {
		r.bad++
	}
	r.got[i] = append(r.got[i], nodeDelivery{id: id, at: time.Now()})
	stall := r.stall
	r.sending[i]++
	r.mu.Unlock()
	time.Sleep(stall)
	r.mu.Lock()
	r.sending[i]--
	r.mu.Unlock()
}

// inFlight names the endpoints with a request being answered.
func (r *nodeReceiver) inFlight() map[int]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[int]bool{}
	for i, n := range r.sending {
		if n > 0 {
			out[i] = true
		}
	}
	return out
}

func (r *nodeReceiver) setStall(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stall = d
}

func (r *nodeReceiver) setSecret(i int, s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets[i] = s
}

func (r *nodeReceiver) list(i int) []nodeDelivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]nodeDelivery(nil), r.got[i]...)
}

func (r *nodeReceiver) badCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bad
}

// missing counts the feed's events that endpoint i has not received.
func (r *nodeReceiver) missing(i int, feed []nodeEvent) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	for _, d := range r.got[i] {
		seen[d.id] = true
	}
	n := 0
	for _, e := range feed {
		if !seen[e.ID] {
			n++
		}
	}
	return n
}

// gapAfter is the longest time between deliveries to endpoint i from t on.
func (r *nodeReceiver) gapAfter(i int, t time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var gap time.Duration
	prev := t
	for _, d := range r.got[i] {
		if d.at.Before(t) {
			continue
		}
		gap = max(gap, d.at.Sub(prev))
		prev = d.at
	}
	return gap
}

type nodeEvent struct {
	ID string `json:"id"`
}

// readFeedAll reads GET /api/v1/events from after to its end; it returns the events and the
// last next_cursor.
func readFeedAll(t *testing.T, base, token, after string) ([]nodeEvent, string) {
	t.Helper()
	var all []nodeEvent
	for {
		var p struct {
			Events     []nodeEvent `json:"events"`
			NextCursor string      `json:"next_cursor"`
			HasMore    bool        `json:"has_more"`
		}
		q := url.Values{"page_size": {"1000"}, "after": {after}}
		if status := nodeCall(t, base, token, "GET", "/api/v1/events?"+q.Encode(), "", &p); status != 200 {
			t.Fatalf("GET /api/v1/events: %d", status)
		}
		all = append(all, p.Events...)
		after = p.NextCursor
		if !p.HasMore {
			return all, after
		}
	}
}

// retriedEvents reads endpoint ep's whole delivery log and returns the events with an
// attempt after the first.
func retriedEvents(t *testing.T, base, token, ep string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	page := ""
	for {
		var p struct {
			Deliveries []struct {
				EventID string `json:"event_id"`
				Attempt int    `json:"attempt"`
			} `json:"deliveries"`
			NextPageToken string `json:"next_page_token"`
		}
		q := url.Values{"page_size": {"200"}, "page_token": {page}}
		if status := nodeCall(t, base, token, "GET", "/api/v1/webhook_endpoints/"+ep+"/deliveries?"+q.Encode(), "", &p); status != 200 {
			t.Fatalf("delivery log of %s: %d", ep, status)
		}
		for _, d := range p.Deliveries {
			if d.Attempt > 1 {
				out[d.EventID] = true
			}
		}
		if page = p.NextPageToken; page == "" {
			return out
		}
	}
}

// nodeCall sends a REST request and decodes a 200 answer into out (when not nil); it returns
// the status, 0 when there was no answer (a killed node).
func nodeCall(t *testing.T, base, token, method, path, body string, out any) int {
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 && out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Errorf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode
}
