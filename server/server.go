// Package server assembles Roster's single HTTP listener: the API (gRPC, gRPC-Web, Connect
// and REST), the OAuth2 endpoints, health checks and metrics, with one set of middleware for
// request IDs, logging, limits and graceful shutdown.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/oauth"
	"github.com/rosterhq/roster/store"
)

// Config is what the server serves.
type Config struct {
	API   *api.Handlers
	OAuth *oauth.Handler
	// SSO serves the sign-in endpoints (package sso); nil serves none.
	SSO interface{ Register(*http.ServeMux) }
	// SCIM serves the directories' SCIM endpoints under directory.SCIMPathPrefix (package
	// scim/scimdir); nil serves none.
	SCIM http.Handler
	// Dashboard serves the operators' console under /dashboard (package dashboard); nil
	// serves none.
	Dashboard http.Handler
	Store     store.Store
	Log       *slog.Logger
	Registry  *prometheus.Registry
	// TLS, when set, serves HTTPS with HTTP/2 (h2); otherwise plain HTTP/1.1 and h2c share
	// the port, as the Scalekit Node SDK needs.
	TLS *tls.Config
	// RequestTimeout bounds each request (default 30s); ShutdownTimeout bounds the wait for
	// in-flight requests on shutdown (default 30s).
	RequestTimeout  time.Duration
	ShutdownTimeout time.Duration
	// Limits bound what clients may hold open; nil means DefaultLimits.
	Limits *Limits
	// MetricsOnAPIPort serves GET /metrics on the API port, as Roster did before it had a
	// management listener; MetricsListener serves it (with /healthz and /readyz) on a port of
	// its own. With neither, /metrics is not served. /healthz and /readyz are always on the
	// API port.
	MetricsOnAPIPort bool
	MetricsListener  net.Listener
}

// Limits bound the connections and request bodies of clients (docs/limits.md). A zero field
// turns its limit off.
type Limits struct {
	// MaxConnsPerAddr caps the open connections from one IP address (an IPv6 /64).
	MaxConnsPerAddr int
	// MaxConns caps the open connections in all.
	MaxConns int
	// BodyIdleTimeout is the longest wait for the next bytes of a request body; BodyMinRate
	// (bytes per second) is the slowest a body may arrive once a first BodyIdleTimeout of
	// waiting is spent. Neither bounds how long a steady body takes.
	BodyIdleTimeout time.Duration
	BodyMinRate     int
	// IdleTimeout closes a keep-alive connection that has no request for this long.
	IdleTimeout time.Duration
}

// Defaults of Limits: well above what honest clients use (the load benchmarks run up to 64
// clients from one address).
const (
	DefaultMaxConnsPerAddr = 512
	DefaultBodyIdleTimeout = 10 * time.Second
	DefaultBodyMinRate     = 1024
	DefaultIdleTimeout     = 2 * time.Minute
)

// DefaultLimits returns production's limits; MaxConns is three quarters of the process's
// open-file limit, so that the database and log files always find a descriptor.
func DefaultLimits() Limits {
	return Limits{MaxConnsPerAddr: DefaultMaxConnsPerAddr, MaxConns: DefaultMaxConns(), BodyIdleTimeout: DefaultBodyIdleTimeout,
		BodyMinRate: DefaultBodyMinRate, IdleTimeout: DefaultIdleTimeout}
}

// Server is a configured HTTP server.
type Server struct {
	cfg     Config
	http    *http.Server
	metrics *http.Server // the management listener's; nil without one
	conns   *connMetrics
}

// maxBodyBytes bounds every request body; the API's own message limit is lower.
const maxBodyBytes = 2 << 20

// New builds the server.
func New(cfg Config) *Server {
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	if cfg.Limits == nil {
		l := DefaultLimits()
		cfg.Limits = &l
	}
	mux := http.NewServeMux()
	healthz := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	}
	readyz := func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain")
		if err := cfg.Store.Ping(ctx); err != nil {
			cfg.Log.WarnContext(r.Context(), "readiness check failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("database unreachable\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}
	metrics := promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{})
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", readyz)
	if cfg.MetricsOnAPIPort {
		mux.Handle("GET /metrics", metrics)
	}
	cfg.OAuth.Register(mux)
	if cfg.SSO != nil {
		cfg.SSO.Register(mux)
	}
	mux.Handle("/api/", cfg.API.REST)
	if cfg.SCIM != nil {
		mux.Handle(directory.SCIMPathPrefix, cfg.SCIM)
	}
	if cfg.Dashboard != nil {
		mux.Handle("/dashboard", cfg.Dashboard)
		mux.Handle("/dashboard/", cfg.Dashboard)
	}
	if cfg.API.Bulk != nil {
		mux.Handle(api.ImportPath, cfg.API.Bulk)
		mux.Handle(api.ExportPath, cfg.API.Bulk)
	}
	mux.Handle("/", cfg.API.RPC)

	registerPoolMetrics(cfg.Registry, cfg.Store)
	m := newHTTPMetrics(cfg.Registry)
	conns := newConnMetrics(cfg.Registry)
	handler := withWarmStacks(withRequestID(withLogging(cfg.Log, m, cfg.API, withLimits(cfg.RequestTimeout, *cfg.Limits, conns.cut.Inc, cfg.API.Streaming, mux))))

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	if cfg.TLS != nil {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	idle := cfg.Limits.IdleTimeout
	if idle == 0 {
		idle = -1 // net/http: no idle timeout (0 would mean ReadTimeout's)
	}
	s := &Server{cfg: cfg, conns: conns, http: &http.Server{
		Handler:           handler,
		Protocols:         &protocols,
		TLSConfig:         cfg.TLS,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Log.Handler(), slog.LevelWarn),
	}}
	if cfg.MetricsListener != nil {
		mm := http.NewServeMux()
		mm.Handle("GET /metrics", metrics)
		mm.HandleFunc("GET /healthz", healthz)
		mm.HandleFunc("GET /readyz", readyz)
		s.metrics = &http.Server{Handler: mm, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute,
			ErrorLog: slog.NewLogLogger(cfg.Log.Handler(), slog.LevelWarn)}
	}
	return s
}

// Handler returns the server's root handler (for tests).
func (s *Server) Handler() http.Handler { return s.http.Handler }

// Serve accepts connections on ln until ctx is done, then stops accepting, waits for
// in-flight requests (up to ShutdownTimeout) and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ln = newConnLimiter(ln, s.cfg.Limits.MaxConnsPerAddr, s.cfg.Limits.MaxConns, s.conns)
	if s.metrics != nil {
		go func() {
			if err := s.metrics.Serve(s.cfg.MetricsListener); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.cfg.Log.Error("metrics listener", "err", err)
			}
		}()
		defer s.metrics.Close()
	}
	errc := make(chan error, 1)
	go func() {
		var err error
		if s.cfg.TLS != nil {
			err = s.http.ServeTLS(ln, "", "")
		} else {
			err = s.http.Serve(ln)
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.cfg.Log.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := s.http.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
