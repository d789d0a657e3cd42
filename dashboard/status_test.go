package dashboard_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/api/rest"
	"github.com/rosterhq/roster/dashboard"
	"github.com/rosterhq/roster/internal/errcode"
)

// restStatus is the HTTP status the REST API answers an error with: the API's own error
// translation (the JSON error of a bulk import's line, whose "code" is the gRPC code it gives
// the error), then the REST layer's status of that code.
func restStatus(t *testing.T, err error) int {
	t.Helper()
	line := api.ReportLineJSON(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)), api.LineError{Line: 1, Err: err})
	var v struct {
		Error struct {
			Code int `json:"code"`
		} `json:"error"`
	}
	if e := json.Unmarshal(line, &v); e != nil || v.Error.Code == 0 {
		t.Fatalf("the API's error line %s: %v", line, e)
	}
	return rest.HTTPStatus(connect.Code(v.Error.Code))
}

// TestStatusOfEveryCode: for every roster.Code (errcode's own test checks that All is every
// code roster declares), a dashboard page answers an error with the REST API's status.
func TestStatusOfEveryCode(t *testing.T) {
	codes := errcode.All()
	if len(codes) < 9 {
		t.Fatalf("%d codes", len(codes))
	}
	for _, c := range codes {
		err := roster.Errorf(c, "something %s", c)
		if got, want := dashboard.StatusOf(err), restStatus(t, err); got != want {
			t.Errorf("%s: the dashboard answers %d, the REST API %d", c, got, want)
		}
	}
	// An error without a code is internal to both.
	if got, want := dashboard.StatusOf(io.ErrUnexpectedEOF), restStatus(t, io.ErrUnexpectedEOF); got != want || got != 500 {
		t.Errorf("an error without a code: the dashboard %d, the REST API %d", got, want)
	}
	// The two codes the dashboard answered differently before.
	for c, want := range map[roster.Code]int{roster.EFailedPrecondition: 400, roster.EUnimplemented: 501} {
		if got := dashboard.StatusOf(roster.Errorf(c, "x")); got != want {
			t.Errorf("%s: %d, want %d", c, got, want)
		}
	}
}
