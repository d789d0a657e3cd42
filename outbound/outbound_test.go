package outbound_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster/outbound"
)

func TestPublicAddr(t *testing.T) {
	for _, s := range []string{
		"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "::127.0.0.1", "0.0.0.0", "0.1.2.3", "::",
		"10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", "fc00::1", "fd12:3456::1",
		"169.254.169.254", "::ffff:169.254.169.254", "fe80::1", "100.64.0.1", "100.127.255.254",
		"224.0.0.1", "239.1.1.1", "ff02::1", "ff05::2", "255.255.255.255", "240.0.0.1", "192.0.0.170", "198.18.0.1",
		"64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "2002:a00:1::1", "fec0::1",
	} {
		if outbound.PublicAddr(netip.MustParseAddr(s)) {
			t.Errorf("%s is allowed, want refused", s)
		}
	}
	for _, s := range []string{"8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.1", "172.32.0.1", "2606:4700:4700::1111",
		"::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"} {
		if !outbound.PublicAddr(netip.MustParseAddr(s)) {
			t.Errorf("%s is refused, want allowed", s)
		}
	}
}

// counting is a test server that counts the requests it receives.
func counting(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if h != nil {
			h(w, r)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

const uniform = "could not fetch the thing from the identity provider"

func wantRefused(t *testing.T, err error, what string) {
	t.Helper()
	var oe *outbound.Error
	if !errors.As(err, &oe) {
		t.Fatalf("%s: error %v, want an *outbound.Error", what, err)
	}
	if err.Error() != uniform {
		t.Fatalf("%s: error text %q, want the uniform %q", what, err.Error(), uniform)
	}
}

func TestGuardRefusesInternalAddresses(t *testing.T) {
	g := outbound.New(outbound.Options{})
	ctx := context.Background()
	open, hits := counting(t, nil)
	_, errOpen := g.Get(ctx, "the thing", open.URL+"/metrics")
	wantRefused(t, errOpen, "open loopback port")
	if !errors.Is(errOpen, outbound.ErrDenied) {
		t.Errorf("open port: detail %v, want ErrDenied", errOpen.(*outbound.Error).Detail())
	}
	if hits.Load() != 0 {
		t.Errorf("the loopback server received %d requests", hits.Load())
	}
	_, errClosed := g.Get(ctx, "the thing", "http://"+closedPort(t)+"/")
	wantRefused(t, errClosed, "closed loopback port")
	if errOpen.Error() != errClosed.Error() {
		t.Errorf("open and closed ports answer differently: %q, %q", errOpen, errClosed)
	}
	for _, u := range []string{
		"http://169.254.169.254/latest/meta-data/", "http://[::1]:1/", "http://[::ffff:127.0.0.1]:" + strings.Split(open.URL, ":")[2] + "/",
		"http://localhost:" + strings.Split(open.URL, ":")[2] + "/", "http://10.0.0.1:1/", "http://0.0.0.0:1/",
		"file:///etc/passwd", "gopher://example.com/", "http://user:pass@" + strings.TrimPrefix(open.URL, "http://") + "/",
	} {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := g.Get(ctx, "the thing", u)
		cancel()
		wantRefused(t, err, u)
	}
	if hits.Load() != 0 {
		t.Errorf("the loopback server received %d requests", hits.Load())
	}
}

func TestGuardChecksEveryRedirect(t *testing.T) {
	inner, innerHits := counting(t, nil)
	innerPort := strings.Split(inner.URL, ":")[2]
	var target string
	outer, _ := counting(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, target, http.StatusFound) })
	outerAddr := netip.MustParseAddrPort(strings.TrimPrefix(outer.URL, "http://"))
	// Only the outer server counts as public: it stands for an allowed host that redirects inward.
	g := outbound.New(outbound.Options{Allow: func(ap netip.AddrPort) bool { return ap == outerAddr }})
	for _, to := range []string{inner.URL + "/metrics", "http://localhost:" + innerPort + "/metrics", "http://[::1]:" + innerPort + "/"} {
		target = to
		_, err := g.Get(context.Background(), "the thing", outer.URL+"/start")
		wantRefused(t, err, "redirect to "+to)
	}
	if innerHits.Load() != 0 {
		t.Errorf("the inner server received %d requests through redirects", innerHits.Load())
	}
	// The allowed server itself answers.
	target = outer.URL + "/start"
	hops := 0
	outer.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hops++; hops <= 2 {
			http.Redirect(w, r, outer.URL+"/again", http.StatusFound)
			return
		}
		_, _ = w.Write([]byte("fine"))
	})
	if body, err := g.Get(context.Background(), "the thing", outer.URL+"/"); err != nil || string(body) != "fine" {
		t.Fatalf("allowed server: %q, %v", body, err)
	}
	// Endless redirects stop.
	outer.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, outer.URL+"/loop", http.StatusFound) })
	_, err := g.Get(context.Background(), "the thing", outer.URL+"/")
	wantRefused(t, err, "endless redirects")
}

func TestGuardAllowPrivateNetworks(t *testing.T) {
	srv, _ := counting(t, nil)
	g := outbound.New(outbound.Options{AllowPrivateNetworks: true})
	body, err := g.Get(context.Background(), "the thing", srv.URL)
	if err != nil || string(body) != "ok" {
		t.Fatalf("with private networks allowed: %q, %v", body, err)
	}
	// The client libraries use is guarded too.
	res, err := g.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if _, err := outbound.New(outbound.Options{}).Client().Get(srv.URL); !errors.Is(err, outbound.ErrDenied) {
		t.Fatalf("Client() of a default guard: %v, want ErrDenied", err)
	}
}

func TestGuardBoundsAnswers(t *testing.T) {
	big := strings.Repeat("x", 2048)
	srv, _ := counting(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			_, _ = w.Write([]byte(big))
		case "/chunked":
			w.(http.Flusher).Flush() // no Content-Length
			_, _ = w.Write([]byte(big))
		case "/slow":
			<-r.Context().Done()
		case "/404":
			http.NotFound(w, r)
		}
	})
	g := outbound.New(outbound.Options{AllowPrivateNetworks: true, MaxBody: 1024, Timeout: 200 * time.Millisecond})
	for _, p := range []string{"/big", "/chunked", "/slow", "/404"} {
		_, err := g.Get(context.Background(), "the thing", srv.URL+p)
		wantRefused(t, err, p)
	}
	if body, err := outbound.New(outbound.Options{AllowPrivateNetworks: true, MaxBody: 2048}).Get(context.Background(), "the thing", srv.URL+"/chunked"); err != nil || len(body) != 2048 {
		t.Fatalf("an answer of exactly the limit: %d bytes, %v", len(body), err)
	}
}
