package oauth

import (
	"context"
	"math"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/rosterhq/roster/internal/netaddr"
)

// Throttle bounds what failed client authentications may cost (docs/api-clients.md). Every
// failure (a wrong secret, an unknown or revoked client) takes a token from two buckets: its
// client address's and its client ID's. A request whose address or client ID has no token left
// is refused with 429 before argon2id runs. Successes take nothing, so an honest client,
// however busy, is never throttled; a secret that passed a moment ago is remembered and not
// even checked against the buckets.
type Throttle struct {
	// Burst failures are allowed in a row per address and per client ID; then one more every
	// Interval.
	Burst    int
	Interval time.Duration
	// MaxKeys bounds the addresses and client IDs remembered (memory); idle ones go first.
	MaxKeys int
	// Hashes bounds the argon2id checks that run at once (each takes a core for ~25 ms and
	// 19 MiB); a check waits at most HashWait for its turn, then answers 503.
	Hashes   int
	HashWait time.Duration
}

// Defaults of Throttle.
const (
	DefaultFailureBurst    = 10
	DefaultFailureInterval = time.Second
	defaultMaxKeys         = 10000
	defaultHashWait        = 3 * time.Second
)

// DefaultHashes is half the cores (at least one): a flood of wrong secrets from many addresses
// leaves the other half to the API.
func DefaultHashes() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// guard is a Server's Throttle at work, and its count of argon2id checks.
type guard struct {
	once    sync.Once
	cfg     Throttle
	slots   chan struct{}
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	hashes  atomic.Int64 // argon2id checks run
}

// SetThrottle sets the limits on failed client authentications; call it before serving.
// Zero fields take their defaults.
func (s *Server) SetThrottle(t Throttle) { s.guard.configure(t) }

func (g *guard) configure(t Throttle) {
	g.once.Do(func() {}) // the defaults of init never replace t
	g.setup(t)
}

// init gives a guard that was never configured the defaults.
func (g *guard) init() { g.once.Do(func() { g.setup(Throttle{}) }) }

func (g *guard) setup(t Throttle) {
	if t.Burst <= 0 {
		t.Burst = DefaultFailureBurst
	}
	if t.Interval <= 0 {
		t.Interval = DefaultFailureInterval
	}
	if t.MaxKeys <= 0 {
		t.MaxKeys = defaultMaxKeys
	}
	if t.Hashes <= 0 {
		t.Hashes = DefaultHashes()
	}
	if t.HashWait <= 0 {
		t.HashWait = defaultHashWait
	}
	g.mu.Lock()
	g.cfg, g.slots, g.buckets = t, make(chan struct{}, t.Hashes), map[string]*rate.Limiter{}
	g.mu.Unlock()
	dummySecretHash() // made now, so that the first unknown client ID costs no more than later ones
}

func throttled(wait time.Duration) error {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	return &Error{Status: http.StatusTooManyRequests, Code: "slow_down", RetryAfter: time.Duration(secs) * time.Second,
		Description: "too many failed client authentications; retry later"}
}

var errHashBusy = &Error{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable", RetryAfter: time.Second,
	Description: "too many client authentications at once; retry in a moment"}

// keys are the buckets a request counts against.
func throttleKeys(clientID, addr string) []string {
	if addr == "" {
		return []string{"c " + clientID}
	}
	return []string{"a " + addr, "c " + clientID}
}

// admit refuses a request whose address or client ID has no failure left.
func (g *guard) admit(clientID, addr string) error {
	g.init()
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	var wait time.Duration
	for _, k := range throttleKeys(clientID, addr) {
		if b := g.buckets[k]; b != nil {
			if tokens := b.TokensAt(now); tokens < 1 {
				wait = max(wait, time.Duration((1-tokens)*float64(g.cfg.Interval)))
			}
		}
	}
	if wait > 0 {
		return throttled(wait)
	}
	return nil
}

// failed takes a token from each of the request's buckets. A bucket may go into debt (up to a
// burst's worth), so that many failures at once make the wait longer.
func (g *guard) failed(clientID, addr string) {
	g.init()
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, k := range throttleKeys(clientID, addr) {
		b := g.buckets[k]
		if b == nil {
			g.makeRoom(now)
			b = rate.NewLimiter(rate.Every(g.cfg.Interval), g.cfg.Burst)
			g.buckets[k] = b
		}
		if b.TokensAt(now) > -float64(g.cfg.Burst) {
			b.ReserveN(now, 1)
		}
	}
}

// makeRoom keeps the buckets under MaxKeys: full buckets (no recent failure) go first, then
// any, at random, a tenth at a time.
func (g *guard) makeRoom(now time.Time) {
	if len(g.buckets) < g.cfg.MaxKeys {
		return
	}
	for k, b := range g.buckets {
		if b.TokensAt(now) >= float64(g.cfg.Burst) {
			delete(g.buckets, k)
		}
	}
	for k := range g.buckets {
		if len(g.buckets) < g.cfg.MaxKeys*9/10 {
			break
		}
		delete(g.buckets, k)
	}
}

// acquire waits for an argon2id slot, at most HashWait.
func (g *guard) acquire(ctx context.Context) error {
	g.init()
	select {
	case g.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(g.cfg.HashWait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-t.C:
		return errHashBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *guard) release() { <-g.slots }

type addrKey struct{}

// WithClientAddr records the network address a request came from (host:port, as in
// http.Request.RemoteAddr), which client authentication is throttled by.
func WithClientAddr(ctx context.Context, remoteAddr string) context.Context {
	return context.WithValue(ctx, addrKey{}, remoteAddr) // parsed only when a client authenticates
}

func clientAddr(ctx context.Context) string {
	a, _ := ctx.Value(addrKey{}).(string)
	if a == "" {
		return ""
	}
	return netaddr.ThrottleKey(a)
}
