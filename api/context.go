package api

import (
	"context"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/oauth"
)

type ctxKey int

const (
	principalKey ctxKey = iota
	environmentKey
	requestIDKey
)

// WithRequestID returns a context that carries the request's ID (set by the HTTP middleware).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request's ID, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// withCaller records the authenticated caller: its environment for every call, and its client
// as the source ID of the writes it makes (docs/provenance.md).
func withCaller(ctx context.Context, p oauth.Principal, env roster.Environment) context.Context {
	ctx = roster.WithClientID(ctx, p.ClientID)
	return context.WithValue(context.WithValue(ctx, principalKey, p), environmentKey, env)
}

// environment returns the environment of the authenticated caller. The auth interceptor
// guarantees it is set for every RPC.
func environment(ctx context.Context) roster.Environment {
	env, _ := ctx.Value(environmentKey).(roster.Environment)
	return env
}

// timeNow is the clock of answers (membership status of an expired invitation).
var timeNow = time.Now
