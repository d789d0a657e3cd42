package api_test

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/gen/scalekit/v1/commons"
	usersv1 "github.com/rosterhq/roster/gen/scalekit/v1/users"
	"github.com/rosterhq/roster/internal/rostertest"
)

// writableDiff compares what an import line asked for (in) with a user as the API shows it
// (got): every writable field that in sets, and each of its memberships. "" when equal.
func writableDiff(in, got *usersv1.User) string {
	if !strings.EqualFold(in.GetEmail(), got.GetEmail()) {
		return fmt.Sprintf("email %q, want %q", got.GetEmail(), in.GetEmail())
	}
	if in.ExternalId != nil && got.GetExternalId() != in.GetExternalId() {
		return fmt.Sprintf("external_id %q, want %q", got.GetExternalId(), in.GetExternalId())
	}
	if len(in.Metadata) > 0 && !maps.Equal(in.Metadata, got.Metadata) {
		return fmt.Sprintf("metadata %v, want %v", got.Metadata, in.Metadata)
	}
	ip, gp := in.GetUserProfile(), got.GetUserProfile()
	for _, f := range []struct{ name, in, got string }{
		{"given_name", ip.GetGivenName(), gp.GetGivenName()}, {"family_name", ip.GetFamilyName(), gp.GetFamilyName()},
		{"name", ip.GetName(), gp.GetName()}, {"locale", ip.GetLocale(), gp.GetLocale()},
		{"phone_number", ip.GetPhoneNumber(), gp.GetPhoneNumber()}, {"picture", ip.GetPicture(), gp.GetPicture()},
	} {
		if f.in != "" && f.in != f.got {
			return fmt.Sprintf("user_profile.%s %q, want %q", f.name, f.got, f.in)
		}
	}
	if ip.GetEmailVerified() != gp.GetEmailVerified() {
		return fmt.Sprintf("email_verified %t, want %t", gp.GetEmailVerified(), ip.GetEmailVerified())
	}
	if len(ip.GetCustomAttributes()) > 0 && !maps.Equal(ip.GetCustomAttributes(), gp.GetCustomAttributes()) {
		return fmt.Sprintf("custom_attributes %v, want %v", gp.GetCustomAttributes(), ip.GetCustomAttributes())
	}
	if len(ip.GetGroups()) > 0 && !slices.Equal(ip.GetGroups(), gp.GetGroups()) {
		return fmt.Sprintf("groups %v, want %v", gp.GetGroups(), ip.GetGroups())
	}
	roleNames := func(rs []*commons.Role) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.GetName())
		}
		slices.Sort(out)
		return out
	}
	for _, im := range in.GetMemberships() {
		var gm *commons.OrganizationMembership
		for _, m := range got.GetMemberships() {
			if m.GetOrganizationId() == im.GetOrganizationId() {
				gm = m
			}
		}
		if gm == nil {
			return fmt.Sprintf("no membership in %s", im.GetOrganizationId())
		}
		if len(im.GetRoles()) > 0 && !slices.Equal(roleNames(im.GetRoles()), roleNames(gm.GetRoles())) {
			return fmt.Sprintf("roles in %s %v, want %v", im.GetOrganizationId(), roleNames(gm.GetRoles()), roleNames(im.GetRoles()))
		}
		if len(im.GetMetadata()) > 0 && !maps.Equal(im.GetMetadata(), gm.GetMetadata()) {
			return fmt.Sprintf("membership metadata %v, want %v", gm.GetMetadata(), im.GetMetadata())
		}
		if gm.GetMembershipStatus() != commons.MembershipStatus_ACTIVE {
			return fmt.Sprintf("membership status %v, want ACTIVE", gm.GetMembershipStatus())
		}
	}
	return ""
}

// roundTripUsers is the size of the round trip: the 100k; 5k under the race detector
// (the race run of make test, where 100k users on both backends take over ten minutes; make
// test runs this test again without the detector at 100k); 2,000 with -short;
// ROSTER_TEST_ROUNDTRIP_USERS chooses.
func roundTripUsers() int {
	if s := os.Getenv("ROSTER_TEST_ROUNDTRIP_USERS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			return n
		}
	}
	switch {
	case testing.Short():
		return 2_000
	case raceDetector:
		return 5_000
	}
	return 100_000
}

// exportToFile streams GET /api/v1/users:export into a file and returns its path and SHA-256.
func exportToFile(t *testing.T, r *rostertest.Roster, token, name string) (string, [32]byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", r.URL+"/api/v1/users:export", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := r.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("export: %d %s", res.StatusCode, b)
	}
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), res.Body); err != nil {
		t.Fatalf("export: %v", err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return path, sum
}

// TestRoundTrip imports generated users over REST, exports them, checks every user against
// its line, re-imports the export (every line unchanged) and exports again (the same bytes), on
// both backends. The file is generated while it is sent: nothing holds it whole.
func TestRoundTrip(t *testing.T) {
	n := roundTripUsers()
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		defineAttribute(t, r, token, `{"key": "department", "display_name": "Department"}`)
		var orgs []string
		for i := range 20 {
			orgs = append(orgs, newOrgREST(t, r, token, fmt.Sprintf("Org %d", i)))
		}
		start := time.Now()
		pr, pw := io.Pipe()
		go func() {
			bw := bufio.NewWriter(pw)
			genUsers(bw, 0, n, orgs)
			pw.CloseWithError(bw.Flush())
		}()
		a := importREST(t, r, token, pr)
		if a.summary["created"] != float64(n) || len(a.failed) > 0 {
			t.Fatalf("import: %v, failed lines %v", a.summary, a.failed)
		}
		imported := time.Since(start)

		start = time.Now()
		path, sum1 := exportToFile(t, r, token, "export1.ndjson")
		exported := time.Since(start)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, api.MaxImportLineBytes)
		seen := 0
		for sc.Scan() {
			got, err := api.DecodeUserLine(sc.Bytes())
			if err != nil {
				t.Fatalf("export line %d: %v", seen+1, err)
			}
			i, err := strconv.Atoi(strings.TrimPrefix(got.GetExternalId(), "ext-"))
			if err != nil || i < 0 || i >= n {
				t.Fatalf("export line %d has external_id %q", seen+1, got.GetExternalId())
			}
			var line strings.Builder
			genUsers(&line, i, 1, orgs)
			want, _ := api.DecodeUserLine([]byte(strings.TrimSpace(line.String())))
			if d := writableDiff(want, got); d != "" {
				t.Fatalf("user %d: %s", i, d)
			}
			seen++
		}
		f.Close()
		if err := sc.Err(); err != nil || seen != n {
			t.Fatalf("export has %d users (%v), want %d", seen, err, n)
		}

		start = time.Now()
		f, _ = os.Open(path)
		a = importREST(t, r, token, f)
		f.Close()
		reimported := time.Since(start)
		if a.summary["unchanged"] != float64(n) {
			t.Fatalf("re-import of the export: %v, failed lines %v", a.summary, a.failed)
		}
		if _, sum2 := exportToFile(t, r, token, "export2.ndjson"); sum2 != sum1 {
			t.Fatalf("the second export differs from the first")
		}
		t.Logf("%d users: import %s (%.0f users/s), export %s (%.0f users/s), re-import unchanged %s (%.0f users/s)", n,
			imported.Round(time.Millisecond), float64(n)/imported.Seconds(), exported.Round(time.Millisecond), float64(n)/exported.Seconds(),
			reimported.Round(time.Millisecond), float64(n)/reimported.Seconds())
	})
}
