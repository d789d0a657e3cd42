// Package errcode maps the domain's error codes (roster.Code) to the statuses of the wire:
// each code's gRPC/Connect code, and from it the HTTP status the REST API answers with
// (api/rest.HTTPStatus, grpc-gateway's mapping, as the Scalekit API). It is the one such
// mapping: the API (api) and the dashboard (dashboard) both use it, so a dashboard page
// answers an error with the status the REST API gives the same error. SCIM and OAuth answer
// in their own protocols' terms (scim/scimdir, oauth) and are not covered by it.
package errcode

import (
	"connectrpc.com/connect"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api/rest"
)

// connectCodes is each domain code's gRPC status.
var connectCodes = map[roster.Code]connect.Code{
	roster.EInvalid:            connect.CodeInvalidArgument,
	roster.ENotFound:           connect.CodeNotFound,
	roster.EConflict:           connect.CodeAlreadyExists,
	roster.EFailedPrecondition: connect.CodeFailedPrecondition,
	roster.EUnauthenticated:    connect.CodeUnauthenticated,
	roster.EPermissionDenied:   connect.CodePermissionDenied,
	roster.EUnimplemented:      connect.CodeUnimplemented,
	roster.EUnavailable:        connect.CodeUnavailable,
	roster.EInternal:           connect.CodeInternal,
}

// Connect returns the gRPC/Connect code of a domain code; a code it does not know (none
// should exist: the package's test checks every roster.Code) is INTERNAL.
func Connect(c roster.Code) connect.Code {
	if cc, ok := connectCodes[c]; ok {
		return cc
	}
	return connect.CodeInternal
}

// HTTP returns the HTTP status of a domain code: the REST API's status of its Connect code.
func HTTP(c roster.Code) int {
	return rest.HTTPStatus(Connect(c))
}

// FromConnect returns the domain code whose gRPC status is cc, if one is.
func FromConnect(cc connect.Code) (roster.Code, bool) {
	for rc, c := range connectCodes {
		if c == cc {
			return rc, true
		}
	}
	return "", false
}

// All returns every domain code, in no particular order.
func All() []roster.Code {
	out := make([]roster.Code, 0, len(connectCodes))
	for c := range connectCodes {
		out = append(out, c)
	}
	return out
}
