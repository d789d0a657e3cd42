// Package e2e runs Roster as a real process and drives it with real clients: the official
// Scalekit Node SDK (e2e/node) and the roster command line.
//
// The tests need Go, Node.js 20.10+ and npm on PATH, and PostgreSQL for the postgres backend
// (see store/postgres/pgtest). They are never skipped: a missing tool fails them.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster/store/postgres/pgtest"
)

const (
	bootstrapClientID     = "e2e_admin"
	bootstrapClientSecret = "e2e-bootstrap-secret-3f9c1a7d5b"

	nodeTimeout     = 3 * time.Minute
	readyTimeout    = 30 * time.Second
	shutdownTimeout = 15 * time.Second
)

var (
	binDir string // holds the roster binary built for this run

	buildOnce sync.Once
	buildPath string
	buildErr  error

	npmOnce sync.Once
	npmErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "roster-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// rosterBinary builds ./cmd/roster once per test run and returns its path.
func rosterBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		start := time.Now()
		buildPath = filepath.Join(binDir, "roster")
		cmd := exec.Command("go", "build", "-o", buildPath, "../cmd/roster")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ../cmd/roster: %v\n%s", err, out)
			return
		}
		t.Logf("built roster in %s", time.Since(start).Round(time.Millisecond))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// nodeDeps makes sure node and npm exist and the SDK is installed in e2e/node (npm ci from
// the committed lock file on a clean checkout).
func nodeDeps(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on PATH: the end-to-end tests need Node.js 20.10+ and npm (%v)", tool, err)
		}
	}
	npmOnce.Do(func() {
		installed := true
		for _, pkg := range []string{"@scalekit-sdk/node", "@workos-inc/node", "oidc-provider", "axe-core"} {
			if _, err := os.Stat(filepath.Join("node", "node_modules", pkg, "package.json")); err != nil {
				installed = false
			}
		}
		if installed {
			return
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = "node"
		out, err := cmd.CombinedOutput()
		if err != nil {
			npmErr = fmt.Errorf("npm ci in e2e/node: %v\n%s", err, out)
			return
		}
		t.Logf("npm ci in e2e/node took %s", time.Since(start).Round(time.Millisecond))
	})
	if npmErr != nil {
		t.Fatal(npmErr)
	}
}

// childEnv is the test's environment without ROSTER_* variables (so the caller's shell
// cannot change what the tests start), plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ROSTER_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// syncBuffer is a bytes.Buffer that a running process may write while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is a running `roster serve`.
type server struct {
	URL    string
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's answer, valid once done is closed
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startServer runs `roster serve --listen <free port> args...` with env added to the
// environment and waits until /readyz answers 200. The process is killed at test end if it
// is still running.
func startServer(t *testing.T, args []string, env ...string) *server {
	t.Helper()
	return startServerAt(t, freeAddr(t), args, env...)
}

// startServerAt is startServer on a chosen address (for tests that must know the URL first).
func startServerAt(t *testing.T, addr string, args []string, env ...string) *server {
	t.Helper()
	s := &server{
		URL:    "http://" + addr,
		stdout: &syncBuffer{},
		stderr: &syncBuffer{},
		done:   make(chan struct{}),
	}
	s.cmd = exec.Command(rosterBinary(t), append([]string{"serve", "--listen", addr}, args...)...)
	// The test IdPs listen on loopback: outbound fetches may reach private networks, unless
	// a test's env says otherwise (a later variable wins).
	s.cmd.Env = childEnv(append([]string{"ROSTER_ALLOW_PRIVATE_NETWORKS=true"}, env...)...)
	s.cmd.Stdout = s.stdout
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start roster: %v", err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})

	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-s.done:
			t.Fatalf("roster exited before it was ready: %v\nstdout:\n%s\nstderr:\n%s", s.err, s.stdout, s.stderr)
		default:
		}
		resp, err := client.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("roster at %s not ready after %s (last: %v)\nstderr:\n%s", s.URL, readyTimeout, err, s.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and checks that roster shuts down gracefully: exit status 0 within
// shutdownTimeout and "database closed" logged.
func (s *server) stop(t *testing.T) {
	t.Helper()
	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(shutdownTimeout):
		_ = s.cmd.Process.Kill()
		<-s.done
		t.Fatalf("roster did not exit within %s of SIGTERM\nstderr:\n%s", shutdownTimeout, s.stderr)
	}
	if s.err != nil {
		t.Errorf("roster exited with %v after SIGTERM, want status 0\nstderr:\n%s", s.err, s.stderr)
	}
	if !strings.Contains(s.stderr.String(), "database closed") {
		t.Errorf("stderr has no \"database closed\" line: not a graceful shutdown\nstderr:\n%s", s.stderr)
	}
	t.Logf("roster stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
}

// checkLogsFree fails the test when a secret value appears in the server's log (stderr).
func (s *server) checkLogsFree(t *testing.T, what, value string) {
	t.Helper()
	if value != "" && strings.Contains(s.stderr.String(), value) {
		t.Errorf("the %s appears in the server log (stderr)", what)
	}
}

// tokenRequest asks the token endpoint for a client-credentials token; it returns the HTTP
// status and, on 200, the access token.
func tokenRequest(t *testing.T, base, id, secret string) (int, string) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	resp, err := http.PostForm(base+"/oauth/token", form)
	if err != nil {
		t.Fatalf("POST /oauth/token: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, ""
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("POST /oauth/token: 200 without an access_token: %s", body)
	}
	return resp.StatusCode, tok.AccessToken
}

// apiStatus calls GET /api/v1/organizations with the token and returns the HTTP status.
func apiStatus(t *testing.T, base, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/api/v1/organizations?page_size=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /api/v1/organizations: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestScalekitNodeSDK runs the Node suite (e2e/node/*.test.mjs) with the official Scalekit
// SDK against roster on each storage backend (SQLite and PostgreSQL), the SCIM replays of
// scim/testdata/replay included (checkReplays).
func TestScalekitNodeSDK(t *testing.T) {
	nodeDeps(t)
	rosterBinary(t)
	files, err := filepath.Glob(filepath.Join("node", "*.test.mjs"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Node test files in e2e/node (%v)", err)
	}
	for i, f := range files {
		files[i] = filepath.Base(f)
	}

	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			srv := startServer(t, backendArgs(t, backend),
				"ROSTER_BOOTSTRAP_CLIENT_ID="+bootstrapClientID,
				"ROSTER_BOOTSTRAP_CLIENT_SECRET="+bootstrapClientSecret)

			// A token used on the API must not be logged either.
			status, token := tokenRequest(t, srv.URL, bootstrapClientID, bootstrapClientSecret)
			if status != http.StatusOK {
				t.Fatalf("bootstrap client: token request answered %d, want 200", status)
			}
			if got := apiStatus(t, srv.URL, token); got != http.StatusOK {
				t.Fatalf("GET /api/v1/organizations with the bootstrap token: %d, want 200", got)
			}

			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), nodeTimeout)
			defer cancel()
			// One file at a time: the files share the server, and a file's paging checks
			// (totalSize constant across pages) assume no other file creates organizations
			// meanwhile. --test-concurrency needs Node.js 20.10+.
			cmd := exec.CommandContext(ctx, "node", append([]string{"--test", "--test-concurrency=1", "--test-reporter=spec"}, files...)...)
			cmd.Dir = "node"
			cmd.Env = childEnv(
				"SCALEKIT_ENVIRONMENT_URL="+srv.URL,
				"SCALEKIT_CLIENT_ID="+bootstrapClientID,
				"SCALEKIT_CLIENT_SECRET="+bootstrapClientSecret,
				"NO_COLOR=1",
			)
			cmd.WaitDelay = 5 * time.Second
			var out syncBuffer
			cmd.Stdout = &out
			cmd.Stderr = &out
			err := cmd.Run()
			elapsed := time.Since(start).Round(time.Millisecond)
			switch {
			case ctx.Err() != nil:
				t.Errorf("node --test did not finish within %s:\n%s", nodeTimeout, out.String())
			case err != nil:
				t.Errorf("node --test %s failed (%v) after %s:\n%s\nroster stderr:\n%s",
					strings.Join(files, " "), err, elapsed, out.String(), srv.stderr)
			default:
				t.Logf("node --test passed in %s:\n%s", elapsed, summary(out.String()))
				checkReplays(t, out.String())
			}

			srv.stop(t)
			srv.checkLogsFree(t, "client secret", bootstrapClientSecret)
			srv.checkLogsFree(t, "access token", token)
			// The operator chose this secret (ROSTER_BOOTSTRAP_CLIENT_SECRET): the server has
			// no reason to print it, and stdout ends up in logs too (docker logs, journald).
			if strings.Contains(srv.stdout.String(), bootstrapClientSecret) {
				t.Errorf("roster printed the operator-supplied ROSTER_BOOTSTRAP_CLIENT_SECRET on stdout:\n%s", srv.stdout)
			}
		})
	}
}

// checkReplays fails the test unless scim.test.mjs replayed, and passed, every SCIM session
// file of scim/testdata/replay (the files api/scim_replay_test.go replays as well).
func checkReplays(t *testing.T, out string) {
	t.Helper()
	sessions, err := filepath.Glob(filepath.Join("..", "scim", "testdata", "replay", "*.json"))
	if err != nil || len(sessions) == 0 {
		t.Fatalf("no SCIM replay sessions in scim/testdata/replay (%v)", err)
	}
	for _, f := range sessions {
		name := "✔ SCIM replay " + filepath.Base(f) + ":"
		if !strings.Contains(out, "\n"+name) && !strings.HasPrefix(out, name) {
			t.Errorf("node --test shows no passing %q: the Node SDK did not check that session", name)
		}
	}
}

// backendArgs are the flags that put a server on a fresh database of a backend. PostgreSQL
// deployments pass the encryption key as several nodes would (docs/encryption.md).
func backendArgs(t *testing.T, backend string) []string {
	if backend == "postgres" {
		return []string{"--database-url", pgtest.NewSchema(t), "--encryption-key", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	}
	return []string{"--data-dir", newDataDir(t)}
}

// newDataDir names a data directory that roster creates (mode 0700): Roster refuses one that
// other users may read, as t.TempDir() is (docs/operations.md).
func newDataDir(t *testing.T) string {
	return filepath.Join(t.TempDir(), "data")
}

// summary keeps the per-test lines and the totals of node's spec reporter.
func summary(out string) string {
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "✔") || strings.HasPrefix(line, "✖") ||
			strings.HasPrefix(line, "ℹ tests") || strings.HasPrefix(line, "ℹ pass") ||
			strings.HasPrefix(line, "ℹ fail") || strings.HasPrefix(line, "ℹ duration_ms") {
			keep = append(keep, line)
		}
	}
	if len(keep) == 0 {
		return out
	}
	return strings.Join(keep, "\n")
}

// runRoster runs a roster subcommand to completion and returns its stdout. When the command
// fails it reports an error (the test goes on) and returns ok == false.
func runRoster(t *testing.T, args ...string) (stdout string, ok bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rosterBinary(t), args...)
	cmd.Env = childEnv()
	var out, errOut bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errOut
	if err := cmd.Run(); err != nil {
		t.Errorf("roster %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errOut.String())
		return out.String(), false
	}
	return out.String(), true
}

var (
	welcomeSecretRE = regexp.MustCompile(`(?m)SCALEKIT_CLIENT_SECRET=(\S+)$`)
	welcomeIDRE     = regexp.MustCompile(`(?m)SCALEKIT_CLIENT_ID=(\S+)$`)
	createdIDRE     = regexp.MustCompile(`(?m)^client_id=(\S+)$`)
	createdSecretRE = regexp.MustCompile(`(?m)^client_secret=(\S+)$`)
)

// TestServeCLI checks the first start without bootstrap credentials and the roster
// subcommands against a running server.
func TestServeCLI(t *testing.T) {
	dataDir := newDataDir(t)
	srv := startServer(t, []string{"--data-dir", dataDir})
	var secrets []string // checked against the server log at the end

	// First start: an admin client is generated and its secret printed once, on stdout only.
	// The server may answer /readyz before os/exec has copied its stdout into the buffer.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !strings.Contains(srv.stdout.String(), "curl -s"); {
		time.Sleep(20 * time.Millisecond)
	}
	stdout := srv.stdout.String()
	if n := strings.Count(stdout, "SCALEKIT_CLIENT_SECRET="); n != 1 {
		t.Fatalf("stdout has SCALEKIT_CLIENT_SECRET= %d times, want once:\n%s", n, stdout)
	}
	adminSecret := welcomeSecretRE.FindStringSubmatch(stdout)
	adminID := welcomeIDRE.FindStringSubmatch(stdout)
	if adminSecret == nil || adminID == nil {
		t.Fatalf("stdout does not show the admin client's credentials:\n%s", stdout)
	}
	secrets = append(secrets, adminSecret[1])
	if status, _ := tokenRequest(t, srv.URL, adminID[1], adminSecret[1]); status != http.StatusOK {
		t.Errorf("admin client from the welcome text: token request answered %d, want 200", status)
	}

	if v, _ := runRoster(t, "version"); !strings.Contains(v, "roster") {
		t.Errorf("roster version printed %q, want it to contain \"roster\"", v)
	}
	runRoster(t, "migrate", "--data-dir", filepath.Join(t.TempDir(), "fresh"))

	t.Run("clients", func(t *testing.T) {
		// A client created by the CLI while the server runs can get a token at once.
		out, ok := runRoster(t, "clients", "create", "--name", "ci", "--data-dir", dataDir)
		if !ok {
			t.FailNow()
		}
		ciID := createdIDRE.FindStringSubmatch(out)
		ciSecret := createdSecretRE.FindStringSubmatch(out)
		if ciID == nil || ciSecret == nil {
			t.Fatalf("roster clients create printed no client_id/client_secret:\n%s", out)
		}
		status, ciToken := tokenRequest(t, srv.URL, ciID[1], ciSecret[1])
		if status != http.StatusOK {
			t.Fatalf("new client: token request answered %d, want 200", status)
		}
		if got := apiStatus(t, srv.URL, ciToken); got != http.StatusOK {
			t.Errorf("new client's token on the API: %d, want 200", got)
		}
		secrets = append(secrets, ciSecret[1], ciToken)

		list, _ := runRoster(t, "clients", "list", "--data-dir", dataDir)
		for _, id := range []string{adminID[1], ciID[1]} {
			if !strings.Contains(list, id) {
				t.Errorf("roster clients list does not show %s:\n%s", id, list)
			}
		}
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(ciID[1]) + `\s+ci\s`).MatchString(list) {
			t.Errorf("roster clients list does not show the name ci for %s:\n%s", ciID[1], list)
		}

		// Revoke: the client gets no more tokens, and its token stops working (a node trusts
		// its memory of an active client for at most a second).
		if _, ok := runRoster(t, "clients", "revoke", "--data-dir", dataDir, ciID[1]); !ok {
			t.FailNow()
		}
		time.Sleep(1500 * time.Millisecond)
		if status, _ := tokenRequest(t, srv.URL, ciID[1], ciSecret[1]); status != http.StatusUnauthorized {
			t.Errorf("revoked client: token request answered %d, want 401", status)
		}
		if got := apiStatus(t, srv.URL, ciToken); got != http.StatusUnauthorized {
			t.Errorf("revoked client's token on the API: %d, want 401", got)
		}
		list, _ = runRoster(t, "clients", "list", "--data-dir", dataDir)
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(ciID[1]) + `\s.*revoked`).MatchString(list) {
			t.Errorf("roster clients list does not show %s as revoked:\n%s", ciID[1], list)
		}
		if status, _ := tokenRequest(t, srv.URL, adminID[1], adminSecret[1]); status != http.StatusOK {
			t.Errorf("admin client after revoking another client: token request answered %d, want 200", status)
		}
	})

	srv.stop(t)
	for _, secret := range secrets {
		srv.checkLogsFree(t, "client secret or access token "+secret[:4]+"...", secret)
	}
}
