// Package api serves Roster's wire API: the Scalekit gRPC services through connect-go
// (gRPC, gRPC-Web and Connect on one handler; REST through api/rest). Handlers translate
// protobuf messages to the domain and call the directory service; authentication, metrics
// and error translation are interceptors, written once.
package api

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api/rest"
	"github.com/rosterhq/roster/gen/scalekit/v1/errdetails"
	"github.com/rosterhq/roster/internal/errcode"
	"google.golang.org/protobuf/proto"
)

// toConnectError turns any error into a connect error carrying a scalekit ErrorInfo detail:
// application errors keep their message and field violations; anything else is logged and
// answered as INTERNAL without its text.
func toConnectError(ctx context.Context, log *slog.Logger, procedure string, err error) *connect.Error {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce
	}
	// A request whose context ended makes the database answer with errors of its own (a
	// transaction rolled back under it); report the context's end, not an internal error.
	if roster.ErrorCode(err) == roster.EInternal && ctx.Err() != nil {
		err = ctx.Err()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("the request took too long"))
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("the request was canceled"))
	}
	code := roster.ErrorCode(err)
	if code == roster.EInternal {
		log.ErrorContext(ctx, "internal error", "procedure", procedure, "err", err)
	}
	out := connect.NewError(errcode.Connect(code), errors.New(roster.ErrorMessage(err)))
	info := &errdetails.ErrorInfo{ErrorCode: string(code)}
	if rid := RequestID(ctx); rid != "" {
		info.RequestInfo = &errdetails.RequestInfo{RequestId: rid}
	}
	var e *roster.Error
	if errors.As(err, &e) && len(e.Violations) > 0 {
		v := &errdetails.ValidationErrorInfo{}
		for _, fv := range e.Violations {
			v.FieldViolations = append(v.FieldViolations, &errdetails.ValidationErrorInfo_FieldViolation{
				Field: fv.Field, Description: fv.Description, Constraint: fv.Constraint,
			})
		}
		info.ValidationErrorInfo = v
	}
	if detail, derr := connect.NewErrorDetail(info); derr == nil {
		out.AddDetail(detail)
	}
	return out
}

// transcoderErrorInfo is the ErrorInfo of errors that the REST layer answers before a request
// reaches a handler (malformed JSON, a wrong path or query value, no such route); a value that
// its field cannot take is a field violation, as the handlers' own are.
func transcoderErrorInfo(p rest.Problem) proto.Message {
	info := &errdetails.ErrorInfo{ErrorCode: strings.ToUpper(p.Code.String())}
	if rc, ok := errcode.FromConnect(p.Code); ok {
		info.ErrorCode = string(rc)
	}
	if p.Field != "" {
		info.ValidationErrorInfo = &errdetails.ValidationErrorInfo{FieldViolations: []*errdetails.ValidationErrorInfo_FieldViolation{
			{Field: p.Field, Description: p.Message, Constraint: p.Constraint},
		}}
	}
	return info
}
