package api_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/rosterhq/roster/internal/rostertest"
)

// TestEmailUnicodeREST: emails that differ only by Unicode normalization are one user (the
// second create is 409, and the stored email is in NFC), invisible and bidirectional control
// characters are refused naming the field, and homoglyphs of another script stay distinct
// addresses (docs/users.md), on both backends.
func TestEmailUnicodeREST(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		orgID := newOrgREST(t, r, token, "Acme")
		create := func(email string) rostertest.Response {
			return r.REST(t, token, "POST", "/api/v1/organizations/"+orgID+"/users", fmt.Sprintf(`{"email": %q}`, email))
		}
		nfc, nfd := "jos\u00e9@example.com", "jose\u0301@example.com"
		res := create(nfd)
		wantStatus(t, res, 200)
		if got := user(res)["email"]; got != nfc {
			t.Errorf("stored email %q, want the NFC form %q", got, nfc)
		}
		wantStatus(t, create(nfc), 409)
		wantStatus(t, create("JOSE\u0301@EXAMPLE.COM"), 409)
		res = r.REST(t, token, "GET", "/api/v1/users:search?query=jose%CC%81@example.com", "")
		wantStatus(t, res, 200)
		if n := res.Body["total_size"]; n != float64(1) {
			t.Errorf("search by the NFD spelling found %v users: %s", n, res.Raw)
		}
		// Part of an address, typed in NFD, finds the NFC key too.
		res = r.REST(t, token, "GET", "/api/v1/users:search?query=jose%CC%81", "")
		wantStatus(t, res, 200)
		if n := res.Body["total_size"]; n != float64(1) {
			t.Errorf("search by part of the NFD spelling found %v users: %s", n, res.Raw)
		}

		for _, email := range []string{
			"a\u200b@example.com", "a\u200d@example.com", "a\u2060@example.com", "\ufeffa@example.com",
			"a\u200e@example.com", "a\u200f@example.com", "a\u202e@example.com", "a\u2066b@example.com",
			"a\u2069@example.com", "a\u00adb@example.com", "a\u00a0b@example.com",
		} {
			res := create(email)
			if res.Status != 400 || !slices.Contains(violationFields(t, res), "user.email") {
				t.Errorf("%q: status %d, want 400 naming user.email: %s", email, res.Status, res.Raw)
			}
		}

		// Homoglyphs: Cyrillic 'а' (U+0430) is another letter than Latin 'a', so another address.
		wantStatus(t, create("alice@example.com"), 200)
		wantStatus(t, create("\u0430lice@example.com"), 200)
	})
}
