package operators

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// addrLimiter counts failed sign-ins per client address in memory: a bucket of
// AddressFailures tokens per address, refilled one per AddressInterval; each failure takes one
// and an address with none left is refused before any password is checked. Successes take
// nothing. At most AddressMaxKeys addresses are remembered: full buckets (no recent failure)
// are forgotten first, then any. Each node counts on its own (docs/operators.md); the
// per-account lockout, in the database, is what holds across nodes.
type addrLimiter struct {
	mu       sync.Mutex
	burst    int
	every    time.Duration
	maxKeys  int
	failures map[string]*rate.Limiter
}

func newAddrLimiter(burst int, every time.Duration, maxKeys int) *addrLimiter {
	return &addrLimiter{burst: burst, every: every, maxKeys: maxKeys, failures: map[string]*rate.Limiter{}}
}

// allowed reports whether addr may try a sign-in at now.
func (l *addrLimiter) allowed(addr string, now time.Time) bool {
	if addr == "" {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.failures[addr]
	return b == nil || b.TokensAt(now) >= 1
}

// failed counts a failed sign-in from addr.
func (l *addrLimiter) failed(addr string, now time.Time) {
	if addr == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.failures[addr]
	if b == nil {
		l.makeRoom(now)
		b = rate.NewLimiter(rate.Every(l.every), l.burst)
		l.failures[addr] = b
	}
	b.AllowN(now, 1)
}

func (l *addrLimiter) makeRoom(now time.Time) {
	if len(l.failures) < l.maxKeys {
		return
	}
	for k, b := range l.failures {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.failures, k)
		}
	}
	for k := range l.failures {
		if len(l.failures) < l.maxKeys*9/10 {
			break
		}
		delete(l.failures, k)
	}
}
