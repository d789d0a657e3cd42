package e2e

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/operators"
	"github.com/rosterhq/roster/store/sqlite"
)

// rosterStdin runs a roster command with input on its standard input.
func rosterStdin(t *testing.T, input string, args ...string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rosterBinary(t), args...)
	cmd.Env = childEnv()
	cmd.Stdin = strings.NewReader(input)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Errorf("roster %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out.String(), errOut.String())
		return out.String(), false
	}
	return out.String(), true
}

// The first start prints a one-time link for the first operator, which another process can
// redeem while the server runs; `roster admins` works beside the running server; a start with
// an operator prints no link; neither the link's token nor a password reaches the log.
func TestAdminsBesideServe(t *testing.T) {
	dataDir := newDataDir(t)
	srv := startServer(t, []string{"--data-dir", dataDir})
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !strings.Contains(srv.stdout.String(), "curl -s"); {
		time.Sleep(20 * time.Millisecond)
	}
	m := regexp.MustCompile(`(?m)^\s+(\S+)/dashboard/setup\?token=(\S+)$`).FindStringSubmatch(srv.stdout.String())
	if m == nil || m[1] != srv.URL {
		t.Fatalf("the first start printed no set-up link on %s:\n%s", srv.URL, srv.stdout.String())
	}
	token := m[2]

	// Redeemed by another process (as the dashboard's page will, in the server), while the
	// server holds the database.
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	const pw, cliPW = "first operator's password", "the CLI operator's password"
	op, err := operators.New(st, operators.Settings{}).SetUpWithToken(ctx, token, operators.SetUp{Email: "first@example.com", Password: pw})
	st.Close()
	if err != nil || op.Email != "first@example.com" {
		t.Fatalf("redeem the printed link: %+v, %v", op, err)
	}

	if out, ok := rosterStdin(t, cliPW+"\n", "admins", "create", "--email", "cli@example.com", "--name", "CLI", "--password-stdin", "--data-dir", dataDir); !ok ||
		!strings.Contains(out, "operator_id=op_") {
		t.Fatalf("roster admins create while serve runs: %q", out)
	}
	out, ok := rosterStdin(t, "", "admins", "create", "--email", "link@example.com", "--data-dir", dataDir, "--issuer-url", srv.URL)
	if !ok || !strings.Contains(out, "setup_url="+srv.URL+"/dashboard/setup?token=") {
		t.Errorf("roster admins create without a password printed %q", out)
	}
	list, _ := rosterStdin(t, "", "admins", "list", "--data-dir", dataDir)
	for _, want := range []string{`first@example\.com\s+\S+\s+active`, `cli@example\.com\s+CLI\s+\S+\s+active`, `link@example\.com\s+\S+\s+set-up pending`} {
		if !regexp.MustCompile(want).MatchString(list) {
			t.Errorf("roster admins list does not match %s:\n%s", want, list)
		}
	}
	if _, ok := rosterStdin(t, "", "admins", "remove", "--email", "link@example.com", "--data-dir", dataDir); !ok {
		t.Error("roster admins remove failed while serve runs")
	}
	srv.stop(t)
	for what, secret := range map[string]string{"set-up link token": token, "password": pw, "CLI password": cliPW} {
		srv.checkLogsFree(t, what, secret)
	}

	again := startServer(t, []string{"--data-dir", dataDir})
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !strings.Contains(again.stdout.String(), "curl -s"); {
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Contains(again.stdout.String(), "/dashboard/setup") {
		t.Errorf("a start with an operator printed a set-up link:\n%s", again.stdout.String())
	}
	again.stop(t)
}
