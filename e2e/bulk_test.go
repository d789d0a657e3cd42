package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// apiCall sends a JSON request with the token and returns the status and decoded answer.
func apiCall(t *testing.T, base, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

// bulkFixture serves a fresh database of backend once to give it organizations and a custom
// attribute, and stops the server; it returns the storage flags of the database and the
// organizations' IDs.
func bulkFixture(t *testing.T, backend string) ([]string, []string) {
	t.Helper()
	args := backendArgs(t, backend)
	srv := startServer(t, args,
		"ROSTER_BOOTSTRAP_CLIENT_ID="+bootstrapClientID, "ROSTER_BOOTSTRAP_CLIENT_SECRET="+bootstrapClientSecret)
	_, token := tokenRequest(t, srv.URL, bootstrapClientID, bootstrapClientSecret)
	if st, _ := apiCall(t, srv.URL, token, "POST", "/api/v1/user-attributes", `{"key": "department", "display_name": "Department"}`); st != 200 {
		t.Fatalf("define attribute: %d", st)
	}
	var orgs []string
	for i := range 5 {
		st, body := apiCall(t, srv.URL, token, "POST", "/api/v1/organizations", fmt.Sprintf(`{"display_name": "Org %d"}`, i))
		if st != 200 {
			t.Fatalf("create organization: %d %v", st, body)
		}
		orgs = append(orgs, body["organization"].(map[string]any)["id"].(string))
	}
	srv.stop(t)
	if backend == "postgres" {
		args = args[:2] // import and export need no encryption key
	}
	return args, orgs
}

// writeUsers writes a file of n users with memberships in orgs.
func writeUsers(t *testing.T, n int, orgs []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.ndjson") // a directory of its own per call
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range n {
		role := "member"
		if i%10 == 0 {
			role = "admin"
		}
		fmt.Fprintf(w, `{"email":"user%[1]d@example.com","external_id":"ext-%[1]d","metadata":{"plan":"p%[2]d"},`+
			`"user_profile":{"given_name":"Given%[1]d","family_name":"Family%[1]d","email_verified":%[3]t,"custom_attributes":{"department":"d%[2]d"}},`+
			`"memberships":[{"organization_id":%[4]q,"roles":[{"name":%[5]q}]}]}`+"\n", i, i%7, i%2 == 0, orgs[i%len(orgs)], role)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

// normalizedExport runs roster export on a database and returns its lines with the IDs and
// times (which differ from one database to another) taken out, sorted. Organizations are
// still told apart by their names.
func normalizedExport(t *testing.T, storage []string) []string {
	t.Helper()
	out, ok := runRoster(t, append([]string{"export", "--quiet"}, storage...)...)
	if !ok {
		t.FailNow()
	}
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		b, _ := json.Marshal(dropIDsAndTimes(v))
		lines = append(lines, string(b))
	}
	slices.Sort(lines)
	return lines
}

func dropIDsAndTimes(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k := range x {
			if k == "id" || k == "environment_id" || k == "organization_id" || strings.HasSuffix(k, "_time") || strings.HasSuffix(k, "_at") {
				delete(x, k)
				continue
			}
			x[k] = dropIDsAndTimes(x[k])
		}
	case []any:
		for i := range x {
			x[i] = dropIDsAndTimes(x[i])
		}
	}
	return v
}

var progressRE = regexp.MustCompile(`roster import: (\d+) lines`)

// TestImportKilledMidway kills `roster import` (SIGKILL) after some batches are in, runs it
// again with the same file, and compares the result with an uninterrupted import into another
// database made the same way: the same users, profiles and memberships.
func TestImportKilledMidway(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) { importKilledMidway(t, backend) })
	}
}

func importKilledMidway(t *testing.T, backend string) {
	const users = 12_000
	killed, orgs := bulkFixture(t, backend)
	fresh, freshOrgs := bulkFixture(t, backend)
	file, freshFile := writeUsers(t, users, orgs), writeUsers(t, users, freshOrgs)

	cmd := exec.Command(rosterBinary(t), append(append([]string{"import", "--progress-interval", "100ms"}, killed...), file)...)
	cmd.Env = childEnv()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var seen syncBuffer
	progressed := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			fmt.Fprintln(&seen, sc.Text())
			if m := progressRE.FindStringSubmatch(sc.Text()); m != nil && !sent {
				if n, _ := strconv.Atoi(m[1]); n >= 3000 {
					progressed <- n
					sent = true
				}
			}
		}
		done <- cmd.Wait()
	}()
	var atKill int
	select {
	case atKill = <-progressed:
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	case err := <-done:
		t.Fatalf("roster import ended (%v) before it could be killed midway:\n%s", err, seen.String())
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("no progress after 2 minutes:\n%s", seen.String())
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("roster import was not killed (%v):\n%s", err, seen.String())
	}
	t.Logf("killed after %d lines were reported done", atKill)

	// The same file again: what the killed run applied is unchanged, the rest is created.
	start := time.Now()
	out, ok := runRoster(t, append(append([]string{"import", "--quiet"}, killed...), file)...)
	if !ok {
		t.FailNow()
	}
	var lines, created, updated, unchanged, failed int
	if _, err := fmt.Sscanf(out, "%d lines: %d created, %d updated, %d unchanged, %d failed", &lines, &created, &updated, &unchanged, &failed); err != nil {
		t.Fatalf("summary %q: %v", out, err)
	}
	if lines != users || failed != 0 || updated != 0 || unchanged < atKill || created+unchanged != users {
		t.Fatalf("re-run after the kill: %s", out)
	}
	t.Logf("re-run: %s(%s)", out, time.Since(start).Round(time.Millisecond))

	if _, ok := runRoster(t, append(append([]string{"import", "--quiet"}, fresh...), freshFile)...); !ok {
		t.FailNow()
	}
	a, b := normalizedExport(t, killed), normalizedExport(t, fresh)
	if len(a) != users || len(b) != users {
		t.Fatalf("exports have %d and %d users, want %d", len(a), len(b), users)
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("the killed-and-rerun import differs from an uninterrupted one:\n%s\n%s", a[i], b[i])
		}
	}
}

// TestImportWhileServing: with roster serve holding the data directory, roster import goes
// through its API (and the server sees the users at once), or says what to set; roster export
// reads the database meanwhile.
func TestImportWhileServing(t *testing.T) {
	storage, orgs := bulkFixture(t, "sqlite")
	dataDir := storage[1]
	srv := startServer(t, storage,
		"ROSTER_BOOTSTRAP_CLIENT_ID="+bootstrapClientID, "ROSTER_BOOTSTRAP_CLIENT_SECRET="+bootstrapClientSecret)
	file := writeUsers(t, 3000, orgs)
	_, token := tokenRequest(t, srv.URL, bootstrapClientID, bootstrapClientSecret)
	// The server caches users: fetch one before the import, so a stale cache would show.
	if st, _ := apiCall(t, srv.URL, token, "GET", "/api/v1/users:external/ext-5", ""); st != 404 {
		t.Fatalf("user before the import: %d", st)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rosterBinary(t), "import", "--data-dir", dataDir, "--quiet", file)
	cmd.Env = childEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err == nil || !strings.Contains(out.String(), "SCALEKIT_ENVIRONMENT_URL") {
		t.Fatalf("import without the server's URL while it runs: %v\n%s", err, out.String())
	}

	cmd = exec.CommandContext(ctx, rosterBinary(t), "import", "--data-dir", dataDir, "--quiet", file)
	cmd.Env = childEnv("SCALEKIT_ENVIRONMENT_URL="+srv.URL, "SCALEKIT_CLIENT_ID="+bootstrapClientID, "SCALEKIT_CLIENT_SECRET="+bootstrapClientSecret)
	out.Reset()
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil || !strings.Contains(out.String(), "3000 lines: 3000 created") {
		t.Fatalf("import through the server: %v\n%s", err, out.String())
	}
	st, body := apiCall(t, srv.URL, token, "GET", "/api/v1/users:external/ext-5", "")
	if st != 200 || body["user"].(map[string]any)["email"] != "user5@example.com" {
		t.Fatalf("the server does not see an imported user: %d %v", st, body)
	}
	if lines := normalizedExport(t, storage); len(lines) != 3000 {
		t.Fatalf("export while serving: %d users, want 3000", len(lines))
	}
	out2, ok := runRoster(t, "export", "--data-dir", dataDir, "--quiet", "--organization", orgs[0])
	if n := strings.Count(out2, "\n"); !ok || n != 600 {
		t.Fatalf("export of one organization while serving: %d lines, want 600", n)
	}
	srv.stop(t)
}
