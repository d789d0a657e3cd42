package server

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// h2cServer serves h over HTTP/1.1 and unencrypted HTTP/2, as roster serve does without TLS,
// logging its errors to errorLog (nil: the standard logger), and returns its URL and a client
// that speaks HTTP/2 to it.
func h2cServer(t *testing.T, h http.Handler, errorLog *log.Logger) (string, *http.Client) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = &p
	srv.Config.ErrorLog = errorLog
	srv.Start()
	t.Cleanup(srv.Close)
	var cp http.Protocols
	cp.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &cp}
	t.Cleanup(tr.CloseIdleConnections)
	return srv.URL, &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// getAtOnce sends n GETs of url at once, each on a goroutine of its own; the test fails on any
// that gets no answer. Wait on what it returns for all of them.
func getAtOnce(t *testing.T, client *http.Client, url string, n int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := client.Get(url)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
		}()
	}
	return &wg
}

// getBody GETs url and returns the answer's body; the test ends on a failed request.
func getBody(t *testing.T, client *http.Client, url string) string {
	t.Helper()
	res, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// goroutineID is the running goroutine's number, from its stack's first line.
func goroutineID() string {
	var b [64]byte
	f := strings.Fields(string(b[:runtime.Stack(b[:], false)]))
	return f[1]
}

// HTTP/2 requests run on long-lived workers (one after another, the same one); each answer goes
// to its own request under concurrency; HTTP/1.1 requests run on their connection's goroutine.
func TestWarmStacksReuseWorkersAndKeepAnswersApart(t *testing.T) {
	var mu sync.Mutex
	ids := map[string]int{}
	h := withWarmStacks(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ids[goroutineID()]++
		mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Proto", r.Proto)
		fmt.Fprintf(w, "%s:%s", r.URL.Query().Get("n"), body)
	}))
	url, client := h2cServer(t, h, nil)

	get := func(n int) {
		t.Helper()
		res, err := client.Post(fmt.Sprintf("%s/?n=%d", url, n), "text/plain", strings.NewReader(fmt.Sprint(n*7)))
		if err != nil {
			t.Error(err)
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if want := fmt.Sprintf("%d:%d", n, n*7); string(b) != want || res.ProtoMajor != 2 {
			t.Errorf("request %d: %q over HTTP/%d, want %q over HTTP/2", n, b, res.ProtoMajor, want)
		}
	}
	for n := range 20 {
		get(n)
	}
	mu.Lock()
	if len(ids) != 1 {
		t.Errorf("20 requests one after another ran on %d goroutines, want one worker", len(ids))
	}
	mu.Unlock()

	var wg sync.WaitGroup
	for n := range 200 {
		wg.Add(1)
		go func() { defer wg.Done(); get(100 + n) }()
	}
	wg.Wait()

	// HTTP/1.1 is left alone: its connection's goroutine keeps its stack anyway.
	res, err := http.Post(url+"/?n=1", "text/plain", strings.NewReader("7"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(b) != "1:7" || res.Header.Get("X-Proto") != "HTTP/1.1" {
		t.Errorf("HTTP/1.1: %q (%s)", b, res.Header.Get("X-Proto"))
	}
}

// With every worker held by a long request, further requests still run (on their own
// goroutines), and the held ones finish when let go.
func TestWarmStacksNeverWaitForAWorker(t *testing.T) {
	release := make(chan struct{})
	h := withWarmStacks(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			<-release
		}
		io.WriteString(w, "ok")
	}))
	url, client := h2cServer(t, h, nil)
	wg := getAtOnce(t, client, url+"/hold", maxWarmWorkers+8)
	p := h.(*warmStacks)
	for deadline := time.Now().Add(5 * time.Second); p.workers.Load() < maxWarmWorkers && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if n := p.workers.Load(); n != maxWarmWorkers {
		t.Fatalf("%d workers, want all %d busy", n, maxWarmWorkers)
	}
	if b := getBody(t, client, url+"/"); b != "ok" {
		t.Fatalf("with every worker held: %q", b)
	}
	close(release)
	wg.Wait()
	if n := p.workers.Load(); n != maxWarmWorkers {
		t.Errorf("%d workers after, want %d (they stay)", n, maxWarmWorkers)
	}
}

// A handler's panic on a worker reaches net/http on the request's own goroutine, as without
// workers: that request fails, the server and the worker go on.
func TestWarmStacksPanicReachesNetHTTP(t *testing.T) {
	var logged bytes.Buffer
	var logMu sync.Mutex
	h := withWarmStacks(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		io.WriteString(w, "ok")
	}))
	url, client := h2cServer(t, h, log.New(lockedWriter{&logMu, &logged}, "", 0))

	if res, err := client.Get(url + "/panic"); err == nil {
		res.Body.Close()
		t.Fatalf("a panicking handler answered %s", res.Status)
	}
	for range 3 {
		if b := getBody(t, client, url+"/"); b != "ok" {
			t.Fatalf("after the panic: %q", b)
		}
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logged.String(), "boom") {
		t.Errorf("net/http did not log the panic: %q", logged.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// Workers without requests for their idle time end: a server past its burst keeps none.
func TestWarmStacksIdleWorkersEnd(t *testing.T) {
	h := withWarmStacks(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	p := h.(*warmStacks)
	p.idle = 50 * time.Millisecond
	url, client := h2cServer(t, h, nil)
	getAtOnce(t, client, url+"/", 8).Wait()
	if p.workers.Load() == 0 {
		t.Fatal("no worker ran the requests")
	}
	for deadline := time.Now().Add(5 * time.Second); p.workers.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := p.workers.Load(); n != 0 {
		t.Errorf("%d workers left after their idle time", n)
	}
	// And new requests start new workers (kept for a minute now: a slow machine must not see
	// this one end before it is counted; no worker runs, so none reads idle meanwhile).
	p.idle = time.Minute
	res, err := client.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if p.workers.Load() != 1 {
		t.Errorf("%d workers after one more request, want 1", p.workers.Load())
	}
}
