package scimdir

import (
	"errors"
	"net/http"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/scim"
)

// The directory's errors map onto SCIM's; an UNAVAILABLE one (a lock not given in time, a
// write the database kept aborting: nothing written) is a 503 the IdP may retry, not a 500.
func TestSCIMErrors(t *testing.T) {
	for _, c := range []struct {
		code   roster.Code
		status int
	}{
		{roster.ENotFound, http.StatusNotFound},
		{roster.EConflict, http.StatusConflict},
		{roster.EInvalid, http.StatusBadRequest},
		{roster.EUnavailable, http.StatusServiceUnavailable},
	} {
		in := &roster.Error{Code: c.code, Message: "the database is busy with conflicting writes; try again"}
		e, ok := scim.AsError(scimError(in))
		if !ok || e.Status != c.status {
			t.Errorf("%s: status %d (ok %v), want %d", c.code, e.Status, ok, c.status)
		}
	}
	if _, ok := scim.AsError(scimError(errors.New("disk on fire"))); ok {
		t.Error("an internal error is not a SCIM error with a detail")
	}
}
