package server

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The total cap refuses a connection from any address once that many are open.
func TestConnLimiterTotalCap(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newConnLimiter(raw, 0, 2, newConnMetrics(prometheus.NewRegistry()))
	defer ln.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func(src string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	dial("127.0.0.1")
	dial("127.0.0.2")
	first, second := <-accepted, <-accepted
	refused := dial("127.0.0.3")
	_ = refused.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := refused.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("a third connection in all was not closed: %v", err)
	}
	first.Close()
	second.Close()
	dial("127.0.0.3")
	select {
	case <-accepted:
	case <-time.After(2 * time.Second):
		t.Fatal("no connection accepted once the others closed")
	}
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if ln.count != 1 || len(ln.open) != 1 {
		t.Fatalf("count %d, addresses %v", ln.count, ln.open)
	}
}

func TestAddrKeyGroupsIPv6By64(t *testing.T) {
	a := addrKey(&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2::1"), Port: 1})
	b := addrKey(&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:ffff::9"), Port: 2})
	c := addrKey(&net.TCPAddr{IP: net.ParseIP("2001:db8:1:3::1"), Port: 1})
	v4 := addrKey(&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.1"), Port: 1})
	if a != b || a == c || v4.String() != "192.0.2.1" {
		t.Fatalf("%s %s %s %s", a, b, c, v4)
	}
}
