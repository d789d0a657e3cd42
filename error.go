// Package roster holds Roster's domain: the records of a directory (environments, API clients,
// organizations, ...), the rules they obey and the error codes every entry point reports.
// It imports nothing of the project's and knows no transport or SQL.
package roster

import (
	"errors"
	"fmt"
	"strings"
)

// Code classifies an error. Its gRPC code and HTTP status are mapped in exactly one place,
// internal/errcode, which the API and the dashboard use; any error without a Code is internal
// and its text is never shown.
type Code string

const (
	EInvalid            Code = "INVALID_ARGUMENT"
	ENotFound           Code = "NOT_FOUND"
	EConflict           Code = "ALREADY_EXISTS"
	EFailedPrecondition Code = "FAILED_PRECONDITION"
	EUnauthenticated    Code = "UNAUTHENTICATED"
	EPermissionDenied   Code = "PERMISSION_DENIED"
	EUnimplemented      Code = "UNIMPLEMENTED"
	EUnavailable        Code = "UNAVAILABLE"
	EInternal           Code = "INTERNAL"
)

// FieldViolation names one bad field of a request and the rule it broke.
type FieldViolation struct {
	Field       string // proto field path, e.g. "organization.metadata"
	Description string // what is wrong, for a person
	Constraint  string // the rule, for a program, e.g. "string.max_len=255"
}

// Error is an application error: safe to show to the caller.
type Error struct {
	Code       Code
	Message    string
	Violations []FieldViolation
	// Reason tells refusals of one code apart for a program (a refused sign-in's
	// LoginFailed* reason); "" when the code says enough. It is never shown to the caller.
	Reason string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an application error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of an application error, "" for nil, and EInternal for any other
// error.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorReason returns the Reason of an application error ("" for any other error).
func ErrorReason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// WithReason returns err with its Reason set, when it is an application error.
func WithReason(err error, reason string) error {
	var e *Error
	if errors.As(err, &e) {
		c := *e
		c.Reason = reason
		return &c
	}
	return err
}

// ErrorMessage returns the message of an application error, or a generic text for any other
// error, whose detail may hold internals and is only logged.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// Violations collects field violations while a request is checked.
type Violations []FieldViolation

// Add records that field broke constraint.
func (v *Violations) Add(field, constraint, format string, args ...any) {
	*v = append(*v, FieldViolation{Field: field, Constraint: constraint, Description: fmt.Sprintf(format, args...)})
}

// Err returns nil when nothing was recorded, otherwise one INVALID_ARGUMENT error that names
// every bad field.
func (v Violations) Err() error {
	if len(v) == 0 {
		return nil
	}
	parts := make([]string, len(v))
	for i, fv := range v {
		parts[i] = fv.Field + ": " + fv.Description
	}
	return &Error{Code: EInvalid, Message: "invalid request: " + strings.Join(parts, "; "), Violations: v}
}

// CapReached refuses a create that would give scope (an "organization", an "environment")
// more than max of what plural names; field is the request field that names the scope. It is
// FAILED_PRECONDITION, not RESOURCE_EXHAUSTED: retrying never helps (docs/limits.md).
func CapReached(scope, field, plural string, have, max int) *Error {
	return &Error{Code: EFailedPrecondition,
		Message: fmt.Sprintf("the %s already has %d %s, the most it may have; delete one before adding another", scope, have, plural),
		Violations: []FieldViolation{{Field: field, Constraint: fmt.Sprintf("max_%s=%d", plural, max),
			Description: fmt.Sprintf("an %s has at most %d %s", scope, max, plural)}}}
}
