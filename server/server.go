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
	"github.com/rosterhq/roster/oauth"
	"github.com/rosterhq/roster/store"
)

// Config is what the server serves.
type Config struct {
	API   *api.Handlers
	OAuth *oauth.Handler
	// SSO serves the sign-in endpoints (package sso); nil serves none.
	SSO      interface{ Register(*http.ServeMux) }
	Store    store.Store
	Log      *slog.Logger
	Registry *prometheus.Registry
	// TLS, when set, serves HTTPS with HTTP/2 (h2); otherwise plain HTTP/1.1 and h2c share
	// the port, as the Scalekit Node SDK needs.
	TLS *tls.Config
	// RequestTimeout bounds each request (default 30s); ShutdownTimeout bounds the wait for
	// in-flight requests on shutdown (default 30s).
	RequestTimeout  time.Duration
	ShutdownTimeout time.Duration
}

// Server is a configured HTTP server.
type Server struct {
	cfg  Config
	http *http.Server
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
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
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
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}))
	cfg.OAuth.Register(mux)
	if cfg.SSO != nil {
		cfg.SSO.Register(mux)
	}
	mux.Handle("/api/", cfg.API.REST)
	mux.Handle("/", cfg.API.RPC)

	registerPoolMetrics(cfg.Registry, cfg.Store)
	m := newHTTPMetrics(cfg.Registry)
	handler := withRequestID(withLogging(cfg.Log, m, cfg.API, withLimits(cfg.RequestTimeout, mux)))

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	if cfg.TLS != nil {
		protocols.SetHTTP2(true)
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	return &Server{cfg: cfg, http: &http.Server{
		Handler:           handler,
		Protocols:         &protocols,
		TLSConfig:         cfg.TLS,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Log.Handler(), slog.LevelWarn),
	}}
}

// Handler returns the server's root handler (for tests).
func (s *Server) Handler() http.Handler { return s.http.Handler }

// Serve accepts connections on ln until ctx is done, then stops accepting, waits for
// in-flight requests (up to ShutdownTimeout) and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
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
