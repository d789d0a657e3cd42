package server

import (
	"net"
	"net/netip"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// connLimiter is a net.Listener that caps open connections per client address and in all. A
// connection beyond a cap is accepted and closed at once, so the kernel's queue keeps moving
// and honest clients from other addresses are still served.
type connLimiter struct {
	net.Listener
	perAddr int // 0: no cap
	total   int // 0: no cap

	mu    sync.Mutex
	open  map[netip.Addr]int
	count int

	gauge   prometheus.Gauge
	refused *prometheus.CounterVec
}

func newConnLimiter(ln net.Listener, perAddr, total int, m *connMetrics) *connLimiter {
	return &connLimiter{Listener: ln, perAddr: perAddr, total: total, open: map[netip.Addr]int{},
		gauge: m.open, refused: m.refused}
}

// addrKey is what a connection counts against: its IP, or for IPv6 its /64, which one
// subscriber usually holds whole.
func addrKey(a net.Addr) netip.Addr {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := addrKey(c.RemoteAddr())
		l.mu.Lock()
		reason := ""
		switch {
		case l.total > 0 && l.count >= l.total:
			reason = "total"
		case l.perAddr > 0 && l.open[key] >= l.perAddr:
			reason = "per_address"
		default:
			l.open[key]++
			l.count++
		}
		l.mu.Unlock()
		if reason != "" {
			l.refused.WithLabelValues(reason).Inc()
			_ = c.Close()
			continue
		}
		l.gauge.Inc()
		return &limitedConn{Conn: c, l: l, key: key}, nil
	}
}

func (l *connLimiter) release(key netip.Addr) {
	l.mu.Lock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
	l.count--
	l.mu.Unlock()
	l.gauge.Dec()
}

// limitedConn gives its slot back once, when it is closed.
type limitedConn struct {
	net.Conn
	l    *connLimiter
	key  netip.Addr
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key) })
	return err
}

type connMetrics struct {
	open    prometheus.Gauge
	refused *prometheus.CounterVec
	cut     prometheus.Counter
}

func newConnMetrics(reg prometheus.Registerer) *connMetrics {
	m := &connMetrics{
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "roster_connections_open", Help: "Open client connections on the API port.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roster_connections_refused_total", Help: "Connections closed at once because a cap was reached (per_address or total).",
		}, []string{"reason"}),
		cut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "roster_request_bodies_cut_total", Help: "Request bodies whose reading was stopped because the client sent too slowly.",
		}),
	}
	reg.MustRegister(m.open, m.refused, m.cut)
	return m
}
