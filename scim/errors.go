package scim

import (
	"errors"
	"fmt"
	"net/http"
)

// scimType values of RFC 7644 section 3.12 that this package answers with.
const (
	TypeInvalidFilter = "invalidFilter"
	TypeTooMany       = "tooMany"
	TypeUniqueness    = "uniqueness"
	TypeMutability    = "mutability"
	TypeInvalidSyntax = "invalidSyntax"
	TypeInvalidPath   = "invalidPath"
	TypeNoTarget      = "noTarget"
	TypeInvalidValue  = "invalidValue"
	TypeInvalidVers   = "invalidVers"
)

// Error is a SCIM error (RFC 7644 section 3.12): an HTTP status, an optional scimType and a
// detail that is safe to show to the client. Backends return it (or wrap one of the sentinel
// errors below) so the handler answers with the right status; any other error is internal: it
// becomes a 500 whose detail is not shown.
type Error struct {
	Status   int
	ScimType string
	Detail   string
}

func (e *Error) Error() string {
	if e.ScimType != "" {
		return fmt.Sprintf("scim %d %s: %s", e.Status, e.ScimType, e.Detail)
	}
	return fmt.Sprintf("scim %d: %s", e.Status, e.Detail)
}

// Sentinel errors a Backend returns (wrapped with fmt.Errorf("...: %w", ...) if it likes).
var (
	// ErrNotFound: no such user or group in the directory (404).
	ErrNotFound = errors.New("scim: resource not found")
	// ErrUniqueness: a unique attribute (userName) is taken in the directory (409 uniqueness).
	ErrUniqueness = errors.New("scim: unique attribute already taken")
	// ErrUnauthorized: the bearer token opens no directory (401, with no detail).
	ErrUnauthorized = errors.New("scim: unauthorized")
	// ErrPreconditionFailed: an If-Match version did not match (412).
	ErrPreconditionFailed = errors.New("scim: version does not match")
)

func errorf(status int, scimType, format string, args ...any) *Error {
	return &Error{Status: status, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

func badRequest(scimType, format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, scimType, format, args...)
}

// AsError maps err onto a SCIM error. ok is false for an internal error (answered with 500 and
// no detail); the caller logs it.
func AsError(err error) (e *Error, ok bool) {
	if errors.As(err, &e) {
		return e, true
	}
	switch {
	case errors.Is(err, ErrNotFound):
		return &Error{Status: http.StatusNotFound, Detail: "resource not found"}, true
	case errors.Is(err, ErrUniqueness):
		return &Error{Status: http.StatusConflict, ScimType: TypeUniqueness, Detail: "an attribute that must be unique is already taken in this directory"}, true
	case errors.Is(err, ErrUnauthorized):
		return &Error{Status: http.StatusUnauthorized}, true
	case errors.Is(err, ErrPreconditionFailed):
		return &Error{Status: http.StatusPreconditionFailed, Detail: "the resource changed since the version given in If-Match"}, true
	}
	return &Error{Status: http.StatusInternalServerError, Detail: "internal error"}, false
}
