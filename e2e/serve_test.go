package e2e

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rosterOnce runs a roster command that is expected to end by itself (a serve that fails to
// start, for one) and returns its output and error.
func rosterOnce(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rosterBinary(t), args...)
	cmd.Env = childEnv()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// A first start that fails (here: its port is taken) creates no admin client, so the next
// start, which succeeds, still shows the generated secret.
func TestServeFirstStartFails(t *testing.T) {
	dataDir := newDataDir(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	stdout, stderr, err := rosterOnce(t, "serve", "--listen", busy.Addr().String(), "--data-dir", dataDir)
	if err == nil {
		t.Fatalf("serve on a port in use succeeded\nstdout:\n%s", stdout)
	}
	if !strings.Contains(stderr, busy.Addr().String()) {
		t.Errorf("the error does not name the address in use:\n%s", stderr)
	}
	for _, bad := range [][]string{
		{"--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"},
		{"--smtp-url", "ftp://mail.example.com"},
	} {
		if _, stderr, err := rosterOnce(t, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir}, bad...)...); err == nil {
			t.Errorf("serve %s succeeded", strings.Join(bad, " "))
		} else {
			t.Logf("serve %s: %s", strings.Join(bad, " "), strings.TrimSpace(stderr))
		}
	}

	srv := startServer(t, []string{"--data-dir", dataDir})
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !strings.Contains(srv.stdout.String(), "curl -s"); {
		time.Sleep(20 * time.Millisecond)
	}
	out := srv.stdout.String()
	secret, id := welcomeSecretRE.FindStringSubmatch(out), welcomeIDRE.FindStringSubmatch(out)
	if secret == nil || id == nil {
		t.Fatalf("the first successful start does not show the admin client's secret:\n%s", out)
	}
	if status, _ := tokenRequest(t, srv.URL, id[1], secret[1]); status != http.StatusOK {
		t.Errorf("admin client from the welcome text: token request answered %d, want 200", status)
	}
	srv.stop(t)
}

// One serve per SQLite data directory: a second one refuses to start and says which process
// holds the directory, while management commands keep working beside the running server.
func TestServeDataDirLocked(t *testing.T) {
	dataDir := newDataDir(t)
	srv := startServer(t, []string{"--data-dir", dataDir})
	_, stderr, err := rosterOnce(t, "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir)
	if err == nil {
		t.Fatal("a second serve on the same data directory started")
	}
	for _, want := range []string{dataDir, "in use", strconv.Itoa(srv.cmd.Process.Pid)} {
		if !strings.Contains(stderr, want) {
			t.Errorf("the second serve's error does not say %q:\n%s", want, stderr)
		}
	}
	if _, ok := runRoster(t, "clients", "list", "--data-dir", dataDir); !ok {
		t.Error("roster clients list failed while serve runs")
	}
	if _, ok := runRoster(t, "migrate", "--data-dir", dataDir); !ok {
		t.Error("roster migrate failed while serve runs")
	}
	srv.stop(t)
	// Once the first has stopped, the directory is free again.
	again := startServer(t, []string{"--data-dir", dataDir})
	again.stop(t)
}

// The database files are their owner's alone, and a data directory others may read is
// refused with the chmod that closes it.
func TestServeDataDirPrivate(t *testing.T) {
	dataDir := newDataDir(t)
	srv := startServer(t, []string{"--data-dir", dataDir})
	srv.stop(t)
	for _, name := range []string{"", "roster.db", "encryption.key"} {
		fi, err := os.Stat(filepath.Join(dataDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %#o: others may read it", filepath.Join(dataDir, name), fi.Mode().Perm())
		}
	}
	if err := os.Chmod(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := rosterOnce(t, "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir)
	if err == nil || !strings.Contains(stderr, "chmod 700 "+dataDir) {
		t.Fatalf("serve on a world-readable data directory: %v\n%s", err, stderr)
	}
	if _, _, err := rosterOnce(t, "clients", "list", "--data-dir", dataDir); err == nil {
		t.Error("roster clients list accepted a world-readable data directory")
	}
	// The setting accepts it.
	srv = startServer(t, []string{"--data-dir", dataDir}, "ROSTER_ALLOW_OPEN_DATA_DIR=true")
	srv.stop(t)
}

// `roster version` and `roster --version` print the version Go recorded in the binary (the
// module version, or the commit), not a placeholder; "dev" only when Go recorded neither (a
// build with -buildvcs=false outside a tagged module).
func TestVersion(t *testing.T) {
	info, err := exec.Command("go", "version", "-m", rosterBinary(t)).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "dev"
	if m := regexp.MustCompile(`(?m)^\s+build\s+vcs\.revision=(\w{12})`).FindStringSubmatch(string(info)); m != nil {
		want = m[1]
	}
	if m := regexp.MustCompile(`(?m)^\s+mod\s+\S+\s+(v\S+)`).FindStringSubmatch(string(info)); m != nil {
		want = m[1]
	}
	t.Logf("go version -m: the binary's version is %s", want)
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, _, err := rosterOnce(t, args...)
		if err != nil || !strings.HasPrefix(out, "roster "+want) {
			t.Errorf("roster %s: %q, %v; want roster %s", strings.Join(args, " "), out, err, want)
		}
	}
}
