package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/oauth"
	"github.com/rosterhq/roster/store"
)

// Verifier checks access tokens.
type Verifier interface {
	Verify(ctx context.Context, token string) (oauth.Principal, error)
}

// interceptors holds the cross-cutting behaviour of every RPC.
type interceptors struct {
	log      *slog.Logger
	verifier Verifier
	store    store.Store
	duration *prometheus.HistogramVec

	envs      sync.Map                           // environment ID -> roster.Environment; environments never change
	procedure func(*http.Request) (string, bool) // names a REST request's RPC, for logs
}

func newInterceptors(log *slog.Logger, v Verifier, s store.Store, reg prometheus.Registerer) *interceptors {
	d := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "roster_rpc_duration_seconds",
		Help:    "Duration of API calls (gRPC, Connect, gRPC-Web and REST) by procedure and status code.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"procedure", "code"})
	reg.MustRegister(d)
	return &interceptors{log: log, verifier: v, store: s, duration: d}
}

// chain returns the interceptors in order: metrics see the final status, errors are
// translated before that, then authentication, and last, just before the handler, the check of
// the request's text (control characters, UTF-8).
func (i *interceptors) chain() connect.Option {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(i.metrics), connect.UnaryInterceptorFunc(i.errors),
		connect.UnaryInterceptorFunc(i.authenticate), connect.UnaryInterceptorFunc(i.checkText), streams{i})
}

func (i *interceptors) metrics(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		start := time.Now()
		res, err := next(ctx, req)
		code := "ok"
		if err != nil {
			code = connect.CodeOf(err).String()
		}
		i.duration.WithLabelValues(req.Spec().Procedure, code).Observe(time.Since(start).Seconds())
		return res, err
	}
}

func (i *interceptors) errors(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		res, err := next(ctx, req)
		if err != nil {
			return nil, toConnectError(ctx, i.log, req.Spec().Procedure, err)
		}
		return res, nil
	}
}

// authenticate requires a valid bearer token. A call without one answers UNAUTHENTICATED,
// which is how the Scalekit SDKs learn to fetch their first token. A REST call arrives already
// authenticated (see authenticateREST) and is not verified twice.
func (i *interceptors) authenticate(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if _, ok := ctx.Value(principalKey).(oauth.Principal); ok {
			return next(ctx, req)
		}
		ctx, err := i.caller(ctx, req.Header())
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

// authenticateREST is the REST transcoder's check, made before it reads a request's body, so
// that an anonymous client makes the server parse nothing (rest.WithAuthenticate). The context
// it returns carries the caller to the handler.
func (i *interceptors) authenticateREST(r *http.Request) (context.Context, error) {
	ctx, err := i.caller(r.Context(), r.Header)
	if err != nil {
		proc, _ := i.procedure(r)
		return nil, toConnectError(r.Context(), i.log, proc, err)
	}
	return ctx, nil
}

// caller verifies the bearer token of header and returns ctx with the caller and environment.
func (i *interceptors) caller(ctx context.Context, header http.Header) (context.Context, error) {
	h := header.Get("Authorization")
	scheme, token, _ := strings.Cut(h, " ")
	if h == "" || token == "" {
		return nil, roster.Errorf(roster.EUnauthenticated, "Token empty")
	}
	if !strings.EqualFold(scheme, "Bearer") {
		return nil, roster.Errorf(roster.EUnauthenticated, "the Authorization header must be a Bearer token")
	}
	p, err := i.verifier.Verify(ctx, strings.TrimSpace(token))
	if err != nil {
		return nil, err
	}
	env, err := i.environment(ctx, p.EnvironmentID)
	if err != nil {
		return nil, err
	}
	return withCaller(ctx, p, env), nil
}

func (i *interceptors) environment(ctx context.Context, id string) (roster.Environment, error) {
	if env, ok := i.envs.Load(id); ok {
		return env.(roster.Environment), nil
	}
	env, err := i.store.GetEnvironment(ctx, id)
	if roster.ErrorCode(err) == roster.ENotFound {
		return env, roster.Errorf(roster.EUnauthenticated, "the token's environment does not exist")
	} else if err != nil {
		return env, errors.Join(errors.New("load environment"), err)
	}
	i.envs.Store(id, env)
	return env, nil
}

// streams is the interceptors' part for streaming RPCs (the bulk import and export), which
// connect's unary interceptors do not see: metrics, error translation and authentication, in
// the same order. The text rule is applied by those handlers to each message they receive.
type streams struct{ i *interceptors }

func (s streams) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc { return next }

func (s streams) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (s streams) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		start := time.Now()
		proc := conn.Spec().Procedure
		authed, err := s.i.caller(ctx, conn.RequestHeader())
		if err == nil {
			err = next(authed, conn)
		}
		code := "ok"
		if err != nil {
			err = toConnectError(ctx, s.i.log, proc, err)
			code = connect.CodeOf(err).String()
		}
		s.i.duration.WithLabelValues(proc, code).Observe(time.Since(start).Seconds())
		return err
	}
}
