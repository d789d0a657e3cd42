package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/oauth"
	"github.com/rosterhq/roster/scim"
	"github.com/rosterhq/roster/store"
)

// withRequestID gives every request an ID: the caller's X-Request-Id when it is short and
// plain, otherwise a new one. It is echoed in the response and put in logs and error details.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !plainID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = "req_" + hex.EncodeToString(b[:])
			r.Header.Set("X-Request-Id", id)
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(api.WithRequestID(r.Context(), id)))
	})
}

func plainID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// withLimits bounds each request's body (its size, and how slowly it may arrive) and duration.
// A streaming request (a bulk import or export) is bounded by how slowly its body arrives
// only: a file of a million users takes as long as it takes at a steady rate.
func withLimits(timeout time.Duration, l Limits, cut func(), streaming func(*http.Request) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stream := streaming(r)
		ctx, cancel := r.Context(), context.CancelFunc(func() {})
		if !stream {
			ctx, cancel = context.WithTimeout(ctx, timeout)
		}
		defer cancel()
		// Client authentication (/oauth/token, /sso/token) is throttled by address.
		ctx = oauth.WithClientAddr(ctx, r.RemoteAddr)
		if r.Body != nil && r.Body != http.NoBody {
			body := r.Body
			if l.BodyIdleTimeout > 0 {
				sb := &slowBody{body: body, w: w, ctl: http.NewResponseController(w), idle: l.BodyIdleTimeout,
					minRate: int64(l.BodyMinRate), cut: cut, h1: r.ProtoMajor == 1}
				defer sb.finish()
				body = sb
			}
			if !stream {
				limit := int64(maxBodyBytes)
				if strings.HasPrefix(r.URL.Path, directory.SCIMPathPrefix) {
					limit = scim.DefaultMaxBodyBytes // a PUT of a 20,000-member group (docs/scim.md "Limits")
				}
				body = http.MaxBytesReader(w, body, limit)
			}
			r.Body = body
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roster_http_requests_total", Help: "HTTP requests by route (RPC procedure or endpoint) and status.",
		}, []string{"route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "roster_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// route names a request for metrics and logs with a bounded set of labels: the RPC procedure
// (for gRPC and REST alike), one of Roster's own endpoints, or "other".
func route(r *http.Request, h *api.Handlers) string {
	p := r.URL.Path
	switch p {
	case "/healthz", "/readyz", "/metrics", "/oauth/token", "/keys", "/.well-known/openid-configuration", "/.well-known/jwks.json":
		return p
	}
	if proc, ok := h.Procedure(r); ok {
		return proc
	}
	if strings.HasPrefix(p, "/api/") {
		return "rest_unmatched"
	}
	return "other"
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer (flushes, trailers for gRPC).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// withLogging writes one access log line per request and records HTTP metrics. It logs the
// method, path, status, size, duration and request ID: never headers, bodies or query strings,
// which may hold secrets.
func withLogging(log *slog.Logger, m *httpMetrics, h *api.Handlers, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		d := time.Since(start)
		rt := route(r, h)
		m.requests.WithLabelValues(rt, strconv.Itoa(rec.status)).Inc()
		m.duration.WithLabelValues(rt).Observe(d.Seconds())
		attrs := []slog.Attr{
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("route", rt),
			slog.Int("status", rec.status), slog.Int("bytes", rec.bytes), slog.Duration("duration", d),
			slog.String("proto", r.Proto), slog.String("request_id", api.RequestID(r.Context())),
		}
		if gs := rec.Header().Get("Grpc-Status"); gs != "" {
			attrs = append(attrs, slog.String("grpc_status", gs))
		}
		log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	})
}

// registerPoolMetrics exports the database connection pool's use.
func registerPoolMetrics(reg prometheus.Registerer, s store.Store) {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "roster_db_" + name, Help: help}, f)
	}
	reg.MustRegister(
		gauge("open_connections", "Open database connections.", func() float64 { return float64(s.Stats().OpenConnections) }),
		gauge("in_use_connections", "Database connections in use.", func() float64 { return float64(s.Stats().InUse) }),
		gauge("idle_connections", "Idle database connections.", func() float64 { return float64(s.Stats().Idle) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "roster_db_wait_total", Help: "Waits for a free database connection."},
			func() float64 { return float64(s.Stats().WaitCount) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "roster_db_wait_seconds_total", Help: "Time spent waiting for a free database connection."},
			func() float64 { return s.Stats().WaitDuration.Seconds() }),
	)
	// The SQLite store's user cache (docs/storage.md): its users and the bytes they are counted
	// for, so that a benchmark or an operator can read the bytes per cached user.
	if c, ok := s.(interface{ UserCacheStats() (users, bytes int) }); ok {
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "roster_user_cache_users", Help: "Users in the SQLite user cache."},
				func() float64 { n, _ := c.UserCacheStats(); return float64(n) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "roster_user_cache_bytes", Help: "Estimated memory of the users in the SQLite user cache (bounded by --user-cache-bytes)."},
				func() float64 { _, b := c.UserCacheStats(); return float64(b) }),
		)
	}
	// The SQLite group commit (docs/storage.md, "SQLite write path"): writes per batch is what
	// one COMMIT is shared by, so an operator (or the benchmark) can tell batching from none.
	if g, ok := s.(interface {
		WriteBatches() (batches, writes uint64)
	}); ok {
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "roster_db_write_batches_total", Help: "Group-commit batches run (SQLite: one transaction each; 0 on PostgreSQL, where each write commits on its own)."},
				func() float64 { b, _ := g.WriteBatches(); return float64(b) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "roster_db_batched_writes_total", Help: "Write transactions run in group-commit batches."},
				func() float64 { _, w := g.WriteBatches(); return float64(w) }),
		)
	}
}
