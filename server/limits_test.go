package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/oauth"
	"github.com/rosterhq/roster/server"
)

// withLimits starts the test server with these limits.
func withLimits(l server.Limits) rostertest.Option {
	return rostertest.WithServer(func(c *server.Config) { c.Limits = &l })
}

// dialFrom opens a connection to the server from a loopback source address (any 127.x.y.z
// reaches the server on Linux), so a test can play several clients.
func dialFrom(t *testing.T, r *rostertest.Roster, src string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", strings.TrimPrefix(r.URL, "http://"))
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// healthz sends GET /healthz on c and reports whether an answer came back.
func healthz(c net.Conn) (int, error) {
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: roster\r\n\r\n"); err != nil {
		return 0, err
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, nil
}

// scrape returns the server's metrics text.
func scrape(t *testing.T, r *rostertest.Roster) string {
	t.Helper()
	res, err := http.Get(r.MetricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// A fourth connection from one address is refused while three are open; once one closes, a
// new one is served; another address is served all along.
func TestConnectionCapPerAddress(t *testing.T) {
	r := rostertest.Start(t, "sqlite", withLimits(server.Limits{MaxConnsPerAddr: 3, BodyIdleTimeout: time.Second}))
	var open []net.Conn
	for i := range 3 {
		c := dialFrom(t, r, "127.0.0.1")
		if s, err := healthz(c); err != nil || s != 200 {
			t.Fatalf("connection %d: %d %v", i+1, s, err)
		}
		open = append(open, c)
	}
	if s, err := healthz(dialFrom(t, r, "127.0.0.1")); err == nil {
		t.Fatalf("a fourth connection from 127.0.0.1 was served (%d)", s)
	}
	if s, err := healthz(dialFrom(t, r, "127.0.0.2")); err != nil || s != 200 {
		t.Fatalf("another address was refused: %d %v", s, err)
	}
	// The first three still work.
	if s, err := healthz(open[0]); err != nil || s != 200 {
		t.Fatalf("an open connection stopped working: %d %v", s, err)
	}
	open[1].Close()
	deadline := time.Now().Add(2 * time.Second)
	for {
		s, err := healthz(dialFrom(t, r, "127.0.0.1"))
		if err == nil && s == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new connection was served after one closed: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if m := scrape(t, r); !strings.Contains(m, `roster_connections_refused_total{reason="per_address"}`) {
		t.Fatalf("refusals are not counted:\n%s", m)
	}
}

// trickle sends a request whose body of n bytes comes one byte every gap, and reports how
// long the server took to end the exchange (an answer and a close, or a close); it gives up
// after limit.
func trickle(t *testing.T, c net.Conn, path, token string, n int, gap, limit time.Duration) (time.Duration, string) {
	t.Helper()
	start := time.Now()
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: roster\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", path, n)
	if token != "" {
		head += "Authorization: Bearer " + token + "\r\n"
	}
	if _, err := io.WriteString(c, head+"\r\n"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < n; i++ {
			select {
			case <-stop:
				return
			case <-time.After(gap):
			}
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	_ = c.SetReadDeadline(start.Add(limit))
	answer, err := io.ReadAll(c) // until the server closes the connection
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return time.Since(start), "still open"
		}
	}
	return time.Since(start), string(answer)
}

// A body sent a byte at a time, each byte well within the idle timeout, is cut for its rate,
// and the connection is closed: with a token or without one (then the handler answers
// without reading the body, and what the server reads after it is bounded too).
func TestTrickledBodyIsCut(t *testing.T) {
	r := rostertest.Start(t, "sqlite", withLimits(server.Limits{BodyIdleTimeout: 100 * time.Millisecond, BodyMinRate: 1000}))
	token := r.Token(t)
	for name, tok := range map[string]string{"with a token": token, "without a token": ""} {
		t.Run(name, func(t *testing.T) {
			took, answer := trickle(t, dialFrom(t, r, "127.0.0.1"), "/api/v1/organizations", tok, 1000, 20*time.Millisecond, 3*time.Second)
			if took > 2*time.Second || answer == "still open" {
				t.Fatalf("the trickling connection was held for %s (%s)", took, answer)
			}
			if tok != "" && !strings.Contains(answer, "too slowly") {
				t.Fatalf("answer does not say why: %q", answer)
			}
		})
	}
	if m := scrape(t, r); !strings.Contains(m, "roster_request_bodies_cut_total 1") && !strings.Contains(m, "roster_request_bodies_cut_total 2") {
		t.Fatalf("cut bodies are not counted:\n%s", m)
	}
}

// steadyBody is a JSON body of an organization, padded with white space that arrives in
// chunks of size bytes every gap: far slower in all than the idle timeout, but above the rate.
func steadyBody(name string, chunks, size int, gap time.Duration) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		_, _ = io.WriteString(pw, `{"display_name": "`+name+`"`)
		for range chunks {
			time.Sleep(gap)
			if _, err := pw.Write([]byte(strings.Repeat(" ", size))); err != nil {
				return
			}
		}
		_, _ = io.WriteString(pw, "}")
		pw.Close()
	}()
	return pr
}

func postSteady(t *testing.T, client *http.Client, r *rostertest.Roster, token, name string) (*http.Response, time.Duration) {
	t.Helper()
	req, _ := http.NewRequest("POST", r.URL+"/api/v1/organizations", steadyBody(name, 24, 300, 25*time.Millisecond))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res, time.Since(start)
}

// A long upload at a steady rate above the minimum succeeds, however long it takes in all.
func TestSteadySlowUploadSucceeds(t *testing.T) {
	r := rostertest.Start(t, "sqlite", withLimits(server.Limits{BodyIdleTimeout: 100 * time.Millisecond, BodyMinRate: 1000}))
	token := r.Token(t)
	h2c := &http.Client{Transport: &http.Transport{Protocols: new(http.Protocols)}}
	h2c.Transport.(*http.Transport).Protocols.SetUnencryptedHTTP2(true)
	for name, client := range map[string]*http.Client{"HTTP/1.1": http.DefaultClient, "h2c": h2c} {
		t.Run(name, func(t *testing.T) {
			res, took := postSteady(t, client, r, token, "Steady "+name)
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != 200 || !strings.Contains(string(b), "Steady "+name) {
				t.Fatalf("steady upload: %d %s", res.StatusCode, b)
			}
			if name == "h2c" && res.ProtoMajor != 2 {
				t.Fatalf("answered over %s", res.Proto)
			}
			if took < 5*100*time.Millisecond {
				t.Fatalf("the upload took %s: too fast to show anything", took)
			}
		})
	}
}

// Over HTTP/2 the limit is per stream: a trickling stream is cut, and the answer comes back.
func TestTrickledBodyIsCutOverH2(t *testing.T) {
	r := rostertest.Start(t, "sqlite", withLimits(server.Limits{BodyIdleTimeout: 100 * time.Millisecond, BodyMinRate: 1000}))
	token := r.Token(t)
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() {
		_, _ = io.WriteString(pw, `{"display_name": "Trickle"`)
		for range 1000 {
			time.Sleep(20 * time.Millisecond)
			if _, err := pw.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", r.URL+"/api/v1/organizations", pr)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("after %s: %v", time.Since(start), err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.ProtoMajor != 2 || res.StatusCode != 400 || !strings.Contains(string(b), "too slowly") || time.Since(start) > 2*time.Second {
		t.Fatalf("%s %d after %s: %s", res.Proto, res.StatusCode, time.Since(start), b)
	}
}

// Many trickling connections from one address neither hold the server nor keep a new client
// out: the address gets its cap of connections, each is cut for its rate, and a client from
// another address is served at once all along; once they are cut, the address is served again.
func TestTricklersDoNotStarveNewClients(t *testing.T) {
	r := rostertest.Start(t, "sqlite", withLimits(server.Limits{MaxConnsPerAddr: 20, MaxConns: 40,
		BodyIdleTimeout: 200 * time.Millisecond, BodyMinRate: 1000}))
	const attackers = 60
	var wg sync.WaitGroup
	held := make(chan time.Duration, attackers)
	for range attackers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.1")}}
			c, err := d.Dial("tcp", strings.TrimPrefix(r.URL, "http://"))
			if err != nil {
				return
			}
			defer c.Close()
			took, _ := trickle(t, c, "/api/v1/organizations", "", 1000, 20*time.Millisecond, 3*time.Second)
			held <- took
		}()
	}
	time.Sleep(50 * time.Millisecond) // the attackers are connected and trickling
	for i := range 5 {
		start := time.Now()
		if s, err := healthz(dialFrom(t, r, "127.0.0.2")); err != nil || s != 200 || time.Since(start) > 500*time.Millisecond {
			t.Fatalf("new client %d: %d %v after %s", i, s, err, time.Since(start))
		}
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	close(held)
	for d := range held {
		if d > 2*time.Second {
			t.Fatalf("a trickling connection was held for %s", d)
		}
	}
	if s, err := healthz(dialFrom(t, r, "127.0.0.1")); err != nil || s != 200 {
		t.Fatalf("the address is not served again: %d %v", s, err)
	}
}

// clientFrom is an HTTP client whose connections come from a loopback source address.
func clientFrom(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// The server hands each request's address to client authentication: failures from one
// address are throttled on /oauth/token and /sso/token alike, another address is served.
func TestTokenFailuresThrottledByAddress(t *testing.T) {
	r := rostertest.Start(t, "sqlite")
	r.Tokens.SetThrottle(oauth.Throttle{Burst: 2, Interval: time.Hour})
	attacker := clientFrom("127.0.0.3")
	post := func(c *http.Client, path string, form url.Values) (int, string) {
		res, err := c.PostForm(r.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	wrong := url.Values{"grant_type": {"client_credentials"}, "client_id": {r.ClientID}, "client_secret": {"rsk_wrong"}}
	for i := range 2 {
		if s, b := post(attacker, "/oauth/token", wrong); s != 401 {
			t.Fatalf("failure %d: %d %s", i+1, s, b)
		}
	}
	if s, b := post(attacker, "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"skc_other"}, "client_secret": {"x"}}); s != 429 || !strings.Contains(b, "slow_down") {
		t.Fatalf("/oauth/token from a throttled address: %d %s", s, b)
	}
	if s, b := post(attacker, "/sso/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {"skc_other"}, "client_secret": {"x"}, "code": {"c"}}); s != 429 {
		t.Fatalf("/sso/token from a throttled address: %d %s", s, b)
	}
	if s, b := post(clientFrom("127.0.0.4"), "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"skc_other"}, "client_secret": {"x"}}); s != 401 {
		t.Fatalf("another address: %d %s", s, b)
	}
}

// A keep-alive connection with no request for IdleTimeout is closed.
func TestIdleConnectionsClosed(t *testing.T) {
	r := rostertest.Start(t, "sqlite", withLimits(server.Limits{IdleTimeout: 100 * time.Millisecond, BodyIdleTimeout: time.Second}))
	c := dialFrom(t, r, "127.0.0.1")
	if s, err := healthz(c); err != nil || s != 200 {
		t.Fatalf("healthz: %d %v", s, err)
	}
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(2 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF || time.Since(start) > time.Second {
		t.Fatalf("idle connection: %d %v after %s", n, err, time.Since(start))
	}
}
