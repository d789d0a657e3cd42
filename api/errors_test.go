package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api/rest"
	"github.com/rosterhq/roster/internal/errcode"
)

func TestToConnectError(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	// Application errors keep their code and message; other errors are hidden.
	if e := toConnectError(ctx, log, "/p", roster.Errorf(roster.ENotFound, "user not found")); e.Code() != connect.CodeNotFound || e.Message() != "user not found" {
		t.Fatalf("not found: %v", e)
	}
	if e := toConnectError(ctx, log, "/p", errors.New("pq: password authentication failed for user x")); e.Code() != connect.CodeInternal || e.Message() != "internal error" {
		t.Fatalf("internal: %v", e)
	}
	// A database error caused by the request's end is reported as that end.
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if e := toConnectError(canceled, log, "/p", errors.New("sql: transaction has already been committed or rolled back")); e.Code() != connect.CodeCanceled {
		t.Fatalf("canceled: %v", e)
	}
	// But an application error stays what it is.
	if e := toConnectError(canceled, log, "/p", roster.Errorf(roster.EInvalid, "bad")); e.Code() != connect.CodeInvalidArgument {
		t.Fatalf("invalid under a canceled context: %v", e)
	}
}

// Every domain code leaves the API with the gRPC code of internal/errcode (the one mapping,
// which the dashboard uses too), and so with its HTTP status over REST.
func TestToConnectErrorUsesErrcode(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range errcode.All() {
		e := toConnectError(context.Background(), log, "/p", roster.Errorf(c, "x"))
		if e.Code() != errcode.Connect(c) || rest.HTTPStatus(e.Code()) != errcode.HTTP(c) {
			t.Errorf("%s: the API answers %s (HTTP %d), errcode says %s (HTTP %d)", c, e.Code(), rest.HTTPStatus(e.Code()), errcode.Connect(c), errcode.HTTP(c))
		}
	}
}
