package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/server"
)

// bulkAnswer is a REST import's answer: its failed lines by number, and the summary.
type bulkAnswer struct {
	status  int
	ctype   string
	failed  map[int]map[string]any
	summary map[string]any
	raw     string
}

func newImportRequest(t testing.TB, url, token string, body io.Reader) *http.Request {
	req, err := http.NewRequest("POST", url+"/api/v1/users:import", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

func importREST(t *testing.T, r *rostertest.Roster, token string, body io.Reader) bulkAnswer {
	t.Helper()
	req := newImportRequest(t, r.URL, token, body)
	res, err := r.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	a := bulkAnswer{status: res.StatusCode, ctype: res.Header.Get("Content-Type"), failed: map[int]map[string]any{}, raw: string(raw)}
	if res.StatusCode != 200 {
		return a
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("answer line %q is not JSON: %v", line, err)
		}
		if s, ok := v["summary"].(map[string]any); ok {
			if a.summary != nil {
				t.Fatalf("two summaries in %s", raw)
			}
			a.summary = s
			continue
		}
		if a.summary != nil {
			t.Fatalf("a line after the summary: %s", line)
		}
		n := int(v["line"].(float64))
		a.failed[n] = v
	}
	if a.summary == nil {
		t.Fatalf("no summary line in %s", raw)
	}
	return a
}

// lineFields returns the fields that a reported line's error names.
func lineFields(line map[string]any) []string {
	var out []string
	e, _ := line["error"].(map[string]any)
	details, _ := e["details"].([]any)
	for _, d := range details {
		vi := obj(d, "validation_error_info")
		fvs, _ := vi["field_violations"].([]any)
		for _, fv := range fvs {
			f, _ := fv.(map[string]any)["field"].(string)
			out = append(out, f)
		}
	}
	return out
}

func TestImportBadLinesREST(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		orgID := newOrgREST(t, r, token, "Bulk Co")
		defineAttribute(t, r, token, `{"key": "department", "display_name": "Department"}`)
		long := `{"email": "long@example.com", "metadata": {"big": "` + strings.Repeat("x", 1<<20) + `"}}`
		lines := []string{
			1:  fmt.Sprintf(`{"email": "ann@example.com", "external_id": "ann", "user_profile": {"given_name": "Ann", "custom_attributes": {"department": "eng"}}, "memberships": [{"organization_id": %q}]}`, orgID),
			2:  `{"email": "bob@example.com", "user_profile": {"email_verified": "yes"}}`,
			3:  `{"email": "cat@example.com", "email": "dog@example.com"}`,
			4:  ``,
			5:  `{"email": "eve@example.com", "user_profile": {"custom_attributes": {"shoe_size": "42"}}}`,
			6:  `{"email": "not-an-email"}`,
			7:  `{"email": "fay@example.com", "memberships": [{"organization_id": "org_999999999999"}]}`,
			8:  long,
			9:  `{"email": "gus@example.com", "nickname": "g"}`,
			10: `{"email": "hal@example.com", "user_profile": {"given_name": "a\u0007b"}}`,
			11: `[1, 2]`,
			12: `{"email": "zed@example.com", "external_id": "zed"}`,
		}
		a := importREST(t, r, token, strings.NewReader(strings.Join(lines[1:], "\n")+"\n"))
		if a.status != 200 || a.ctype != "application/x-ndjson" {
			t.Fatalf("status %d, type %q: %s", a.status, a.ctype, a.raw)
		}
		want := map[int]string{ // line: a field its error must name ("" when the line has none)
			2: "user_profile.email_verified", 3: "email", 5: "custom_attributes", 6: "email", 7: "organization_id",
			8: "line", 9: "nickname", 10: "user_profile.given_name", 11: "",
		}
		for n, field := range want {
			l, ok := a.failed[n]
			if !ok {
				t.Errorf("line %d is not reported: %s", n, a.raw)
				continue
			}
			msg, _ := obj(l, "error")["message"].(string)
			if msg == "" {
				t.Errorf("line %d: no error message: %v", n, l)
			}
			fields := lineFields(l)
			if field != "" && !strings.Contains(strings.Join(fields, " "), field) {
				t.Errorf("line %d: fields %q, want one naming %q (message %q)", n, fields, field, msg)
			}
			t.Logf("line %d: %v %s", n, fields, msg)
		}
		if got := a.failed[3]["email"]; got != nil && got != "dog@example.com" && got != "cat@example.com" {
			t.Errorf("line 3 reports email %v", got)
		}
		if e := a.failed[5]["email"]; e != "eve@example.com" {
			t.Errorf("line 5 reports email %v, want eve@example.com", e)
		}
		for n := range a.failed {
			if _, ok := want[n]; !ok {
				t.Errorf("line %d is reported, want it imported: %v", n, a.failed[n])
			}
		}
		wantSummary := map[string]float64{"lines": 11, "created": 2, "updated": 0, "unchanged": 0, "failed": 9}
		for k, v := range wantSummary {
			if a.summary[k] != v {
				t.Errorf("summary %s = %v, want %v (%v)", k, a.summary[k], v, a.summary)
			}
		}
		// The good lines are there, whole; the bad ones left nothing.
		res := r.REST(t, token, "GET", "/api/v1/users:external/ann", "")
		wantStatus(t, res, 200)
		if p := obj(user(res), "user_profile"); p["given_name"] != "Ann" || obj(p, "custom_attributes")["department"] != "eng" {
			t.Errorf("ann: %s", res.Raw)
		}
		if ms, _ := user(res)["memberships"].([]any); len(ms) != 1 || obj(ms[0])["organization_id"] != orgID {
			t.Errorf("ann's memberships: %v", user(res)["memberships"])
		}
		if res := r.REST(t, token, "GET", "/api/v1/users?page_size=100", ""); res.Body["total_size"] != float64(2) {
			t.Errorf("users after import: %v, want 2", res.Body["total_size"])
		}
		// The same file again: the good lines are unchanged.
		a = importREST(t, r, token, strings.NewReader(strings.Join(lines[1:], "\n")))
		if a.summary["unchanged"] != float64(2) || a.summary["failed"] != float64(9) {
			t.Errorf("second import: %v", a.summary)
		}
	})
}

func TestBulkAuthREST(t *testing.T) {
	r := rostertest.Start(t, "sqlite")
	for _, tc := range []struct{ method, path, token string }{
		{"POST", "/api/v1/users:import", ""},
		{"POST", "/api/v1/users:import", "not-a-token"},
		{"GET", "/api/v1/users:export", ""},
		{"GET", "/api/v1/users:export", "not-a-token"},
	} {
		res := r.REST(t, tc.token, tc.method, tc.path, `{"email": "a@example.com"}`)
		if res.Status != 401 || res.Body["code"] != float64(16) {
			t.Errorf("%s %s with token %q: %d %s, want 401 UNAUTHENTICATED", tc.method, tc.path, tc.token, res.Status, res.Raw)
		}
	}
	if res := r.REST(t, r.Token(t), "GET", "/api/v1/users:import", ""); res.Status != 501 {
		t.Errorf("GET on the import: %d %s, want 501 (method not allowed)", res.Status, res.Raw)
	}
	if res := r.REST(t, "", "GET", "/api/v1/users", ""); res.Status != 401 {
		t.Errorf("no token, list: %d", res.Status)
	}
	// Nothing was imported by the refused calls.
	if res := r.REST(t, r.Token(t), "GET", "/api/v1/users", ""); res.Body["total_size"] != float64(0) {
		t.Errorf("users: %s", res.Raw)
	}
	// The calls are counted like every other, by procedure.
	a := importREST(t, r, r.Token(t), strings.NewReader(`{"email": "m@example.com"}`))
	if a.summary["created"] != float64(1) {
		t.Fatalf("import: %s", a.raw)
	}
	res, err := http.Get(r.MetricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	metrics, _ := io.ReadAll(res.Body)
	for _, want := range []string{
		`roster_http_requests_total{route="/roster.v1.BulkService/ImportUsers",status="401"} 2`,
		`roster_http_requests_total{route="/roster.v1.BulkService/ImportUsers",status="200"} 1`,
		`roster_http_requests_total{route="/roster.v1.BulkService/ExportUsers",status="401"} 2`,
		`roster_rpc_duration_seconds_count{code="ok",procedure="/roster.v1.BulkService/ImportUsers"} 1`,
		`roster_rpc_duration_seconds_count{code="unauthenticated",procedure="/roster.v1.BulkService/ImportUsers"} 2`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
}

// exportREST returns the lines of GET /api/v1/users:export.
func exportREST(t *testing.T, r *rostertest.Roster, token, query string) []string {
	t.Helper()
	req, _ := http.NewRequest("GET", r.URL+"/api/v1/users:export"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := r.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("export: %d %s: %s", res.StatusCode, res.Header.Get("Content-Type"), raw)
	}
	if len(raw) == 0 {
		return nil
	}
	if raw[len(raw)-1] != '\n' {
		t.Fatalf("export does not end with a line feed: %q", raw[max(0, len(raw)-100):])
	}
	return strings.Split(string(raw[:len(raw)-1]), "\n")
}

func TestExportEqualsGetREST(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		orgID := newOrgREST(t, r, token, "Export Co")
		other := newOrgREST(t, r, token, "Other Co")
		defineAttribute(t, r, token, `{"key": "department", "display_name": "Department"}`)
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/organizations/"+orgID+"/users", seedCreateUserBody), 400) // zip_code, security_clearance undefined
		for i := range 5 {
			org := orgID
			if i%2 == 1 {
				org = other
			}
			wantStatus(t, r.REST(t, token, "POST", "/api/v1/organizations/"+org+"/users", fmt.Sprintf(
				`{"email": "u%d@example.com", "external_id": "ext-%d", "metadata": {"plan": "p%d"}, "user_profile": {"given_name": "G%d", "custom_attributes": {"department": "d%d"}, "groups": ["a", "b"]}}`, i, i, i, i, i)), 200)
		}
		lines := exportREST(t, r, token, "")
		if len(lines) != 5 {
			t.Fatalf("export has %d lines, want 5", len(lines))
		}
		for _, line := range lines {
			var u struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal([]byte(line), &u); err != nil || u.ID == "" {
				t.Fatalf("export line %q: %v", line, err)
			}
			res := r.REST(t, token, "GET", "/api/v1/users/"+u.ID, "")
			var get struct {
				User json.RawMessage `json:"user"`
			}
			if err := json.Unmarshal([]byte(res.Raw), &get); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(get.User, []byte(line)) {
				t.Errorf("export line differs from GET's user:\nexport %s\nget    %s", line, get.User)
			}
		}
		if lines := exportREST(t, r, token, "?organization_id="+other); len(lines) != 2 {
			t.Errorf("export of one organization: %d lines, want 2", len(lines))
		}
		res := r.REST(t, token, "GET", "/api/v1/users:export?organization_id=org_1%07", "")
		if res.Status != 400 {
			t.Errorf("a control character in organization_id: %d %s, want 400", res.Status, res.Raw)
		}
		// Re-importing the export changes nothing.
		a := importREST(t, r, token, strings.NewReader(strings.Join(lines, "\n")))
		if a.summary["unchanged"] != float64(5) {
			t.Errorf("re-import of the export: %v %v", a.summary, a.failed)
		}
		if again := exportREST(t, r, token, ""); strings.Join(again, "\n") != strings.Join(lines, "\n") {
			t.Errorf("export after re-import differs")
		}
	})
}

// slowReader hands out its data in pieces, one every tick: a long, steady upload.
type slowReader struct {
	data  []byte
	piece int
	tick  time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	time.Sleep(s.tick)
	n := copy(p[:min(len(p), s.piece)], s.data)
	s.data = s.data[n:]
	return n, nil
}

// A bulk import is bounded by how slowly its body arrives, not by the request timeout or the
// size cap of other requests: a 3 MiB file that takes longer than the timeout goes through,
// while a trickle is still cut.
func TestImportLongBodyREST(t *testing.T) {
	r := rostertest.Start(t, "sqlite", rostertest.WithServer(func(c *server.Config) {
		c.RequestTimeout = time.Second
		c.Limits = &server.Limits{BodyIdleTimeout: 500 * time.Millisecond, BodyMinRate: 10_000}
	}))
	token := r.Token(t)
	var file bytes.Buffer
	n := 0
	for file.Len() < 3<<20 {
		n++
		fmt.Fprintf(&file, `{"email": "user%d@example.com", "external_id": "e%d", "metadata": {"note": %q}}`+"\n", n, n, strings.Repeat("n", 200))
	}
	start := time.Now()
	a := importREST(t, r, token, &slowReader{data: file.Bytes(), piece: 64 << 10, tick: 20 * time.Millisecond})
	if a.status != 200 || a.summary["created"] != float64(n) {
		t.Fatalf("import of %d users (%d bytes) in %s: %d %v %.300s", n, file.Len(), time.Since(start), a.status, a.summary, a.raw)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("the upload took %s, not longer than the request timeout: the test proves nothing", d)
	}
	// A trickle: one small piece, then nothing for longer than the idle limit.
	a = importREST(t, r, token, &slowReader{data: []byte(`{"email": "slow@example.com"}` + "\n" + `{"email": "slower@example.com"}`), piece: 30, tick: 1200 * time.Millisecond})
	if a.status == 200 && a.summary["created"] == float64(2) {
		t.Errorf("a trickling body was not cut: %s", a.raw)
	}
}

// Failed lines are answered while the client is still sending (full duplex on HTTP/1.1): the
// client reads the first one before it sends the second half of the file, and the rest of the
// body still goes in.
func TestImportAnswersWhileSendingREST(t *testing.T) {
	r := rostertest.Start(t, "sqlite")
	token := r.Token(t)
	var first, second bytes.Buffer
	for i := range 4000 {
		half := &first
		if i >= 2000 {
			half = &second
		}
		if i%1000 == 1 {
			half.WriteString(`{"email": "bad"}` + "\n")
			continue
		}
		fmt.Fprintf(half, `{"email": "early%d@example.com"}`+"\n", i)
	}
	answered := make(chan struct{})
	g := &gate{open: answered}
	body := io.MultiReader(&first, g, &second)
	res, err := r.Client.Do(newImportRequest(t, r.URL, token, body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	var lines []string
	for sc.Scan() {
		if len(lines) == 0 {
			close(answered)
		}
		lines = append(lines, sc.Text())
	}
	if len(lines) != 5 || !strings.HasPrefix(lines[0], `{"line":2,`) ||
		lines[4] != `{"summary":{"lines":4000,"created":3996,"updated":0,"unchanged":0,"failed":4}}` {
		t.Errorf("answer:\n%s", strings.Join(lines, "\n"))
	}
	if g.timedOut.Load() {
		t.Errorf("no failed line was answered before the whole file was sent")
	}
}

// gate is an empty reader that ends when open is closed (or, so that a broken server cannot
// hang the test, after 20 seconds).
type gate struct {
	open     chan struct{}
	timedOut atomic.Bool
}

func (g *gate) Read([]byte) (int, error) {
	select {
	case <-g.open:
	case <-time.After(20 * time.Second):
		g.timedOut.Store(true)
	}
	return 0, io.EOF
}
