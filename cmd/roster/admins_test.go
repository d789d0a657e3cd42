package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/operators"
)

// admin runs `roster admins args...` with input on standard input and returns what it printed.
func admin(t *testing.T, input string, args ...string) (string, error) {
	t.Helper()
	old := stdin
	stdin = strings.NewReader(input)
	defer func() { stdin = old }()
	var out, errOut bytes.Buffer
	err := run(append([]string{"admins"}, args...), &out, &errOut)
	if err != nil {
		t.Logf("roster admins %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), err
}

var (
	setupURLRE   = regexp.MustCompile(`(?m)^setup_url=(\S+)$`)
	operatorIDRE = regexp.MustCompile(`(?m)^operator_id=(op_\d+)$`)
	firstLinkRE  = regexp.MustCompile(`(?m)^\s+(\S+/dashboard/setup\?token=(\S+))$`)
	listeningRE  = regexp.MustCompile(`Roster is listening at (\S+)`)
)

// tokenOf returns the token of a set-up link.
func tokenOf(t *testing.T, link string) string {
	t.Helper()
	_, token, ok := strings.Cut(link, "/dashboard/setup?token=")
	if !ok || token == "" {
		t.Fatalf("%q is not a set-up link", link)
	}
	return token
}

func TestAdminsCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()
	const pw = "correct horse battery"
	out, err := admin(t, pw+"\n", "create", "--email", "Ada@Example.com", "--name", "Ada", "--password-stdin", "--data-dir", dir)
	if err != nil || operatorIDRE.FindStringSubmatch(out) == nil || setupURLRE.MatchString(out) {
		t.Fatalf("create with a password printed %q, %v", out, err)
	}
	if strings.Contains(out, pw) {
		t.Errorf("create echoed the password: %q", out)
	}
	// Without a password: a set-up link on the public URL, as serve makes it.
	out, err = admin(t, "", "create", "--email", "bob@example.com", "--data-dir", dir, "--issuer-url", "https://roster.example.com/")
	m := setupURLRE.FindStringSubmatch(out)
	if err != nil || m == nil || !strings.HasPrefix(m[1], "https://roster.example.com/dashboard/setup?token=") {
		t.Fatalf("create without a password printed %q, %v", out, err)
	}
	bobLink := m[1]
	out, _ = admin(t, "", "create", "--email", "carol@example.com", "--data-dir", dir, "--listen", ":9443", "--tls-cert", "c.pem", "--tls-key", "k.pem")
	if m := setupURLRE.FindStringSubmatch(out); m == nil || !strings.HasPrefix(m[1], "https://localhost:9443/dashboard/setup?token=") {
		t.Errorf("create with --listen and TLS printed %q", out)
	}

	// Refusals, with the API's messages.
	for _, tc := range []struct {
		input string
		args  []string
		want  string
	}{
		{"", []string{"create", "--email", "ada@example.com"}, "already exists"},
		{"short\n", []string{"create", "--email", "dan@example.com", "--password-stdin"}, "password: must be at least 12 characters"},
		{"", []string{"create", "--email", "not an email"}, "email: must be an email address"},
		{"", []string{"create"}, "--email is required"},
		{"", []string{"create", "--email", "eve@example.com", "--password-stdin"}, "no password on standard input"},
		{"", []string{"reset", "--email", "nobody@example.com"}, "no operator has the email"},
		{"", []string{"remove", "--email", "nobody@example.com"}, "no operator has the email"},
		{"", []string{"frobnicate"}, "unknown admins command"},
	} {
		_, err := admin(t, tc.input, append(tc.args, "--data-dir", dir)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("admins %s: %v, want an error saying %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}

	out, err = admin(t, "", "list", "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{`(?m)^op_\d+\s+Ada@Example\.com\s+Ada\s+\S+\s+active$`, `(?m)^op_\d+\s+bob@example\.com\s+\S+\s+set-up pending$`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("list does not match %s:\n%s", re, out)
		}
	}

	// Bob's link sets his password (as the dashboard's set-up page will), then he signs in.
	st, _, err := openStore(ctx, &config{dataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ops := operators.New(st, operators.Settings{})
	if _, err := ops.SetUpWithToken(ctx, tokenOf(t, bobLink), operators.SetUp{Password: "bob's long password"}); err != nil {
		t.Fatal(err)
	}
	s, err := ops.SignIn(ctx, "bob@example.com", "bob's long password", "192.0.2.1:1")
	if err != nil {
		t.Fatal(err)
	}
	// Reset: a new link, his session ends.
	out, err = admin(t, "", "reset", "--email", "BOB@example.com", "--data-dir", dir)
	if err != nil || setupURLRE.FindStringSubmatch(out) == nil {
		t.Fatalf("reset printed %q, %v", out, err)
	}
	if _, _, err := ops.Authenticate(ctx, s.Token); !errors.Is(err, operators.ErrNoSession) {
		t.Errorf("session after reset: %v", err)
	}
	// Remove.
	if out, err := admin(t, "", "remove", "--email", "bob@example.com", "--data-dir", dir); err != nil || !strings.Contains(out, "removed op_") {
		t.Fatalf("remove printed %q, %v", out, err)
	}
	if out, _ := admin(t, "", "list", "--data-dir", dir); strings.Contains(out, "bob@") {
		t.Errorf("list after remove:\n%s", out)
	}
}

// syncBuffer is a bytes.Buffer that a running server writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// runningServe is `roster serve` running in this process.
type runningServe struct {
	stdout *syncBuffer
	ops    *operators.Service // the server's own operator service
	stop   func()
}

func startServe(t *testing.T, dir string, flags ...string) *runningServe {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan *operators.Service, 1)
	serveStarted = func(o *operators.Service) { started <- o }
	r := &runningServe{stdout: &syncBuffer{}}
	done := make(chan error, 1)
	go func() {
		done <- serveContext(ctx, append([]string{"--listen", "127.0.0.1:0", "--data-dir", dir}, flags...), r.stdout, io.Discard)
	}()
	select {
	case r.ops = <-started:
	case err := <-done:
		cancel()
		t.Fatalf("serve ended: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(r.stdout.String(), "curl -s") && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
			serveStarted = nil
		})
	}
	t.Cleanup(r.stop)
	return r
}

// The first start prints a one-time link that lets the first operator choose a password (a
// new one at each start while there is none); `roster admins` beside a running serve is seen
// by the server at once.
func TestServeFirstOperatorLinkAndAdminsBesideIt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()
	const pw = "correct horse battery"

	first := startServe(t, dir)
	out := first.stdout.String()
	m, issuer := firstLinkRE.FindStringSubmatch(out), listeningRE.FindStringSubmatch(out)
	if m == nil || issuer == nil {
		t.Fatalf("the first start printed no set-up link:\n%s", out)
	}
	if !strings.HasPrefix(m[1], issuer[1]+operators.SetUpPath+"?token=") {
		t.Errorf("link %s is not on the public URL %s", m[1], issuer[1])
	}
	if !strings.Contains(out, "SCALEKIT_CLIENT_SECRET=") {
		t.Errorf("the API client's credentials are not printed beside the link:\n%s", out)
	}
	oldToken := m[2]
	first.stop()

	// Still no operator: the next start prints a new link, and the old one stops working.
	srv := startServe(t, dir)
	m = firstLinkRE.FindStringSubmatch(srv.stdout.String())
	if m == nil || m[2] == oldToken {
		t.Fatalf("the second start printed no new link:\n%s", srv.stdout.String())
	}
	if _, err := srv.ops.SetUpWithToken(ctx, oldToken, operators.SetUp{Email: "first@example.com", Password: pw}); roster.ErrorCode(err) != roster.ENotFound {
		t.Errorf("the first start's link after a restart: %v, want NOT_FOUND", err)
	}
	op, err := srv.ops.SetUpWithToken(ctx, m[2], operators.SetUp{Email: "first@example.com", DisplayName: "First", Password: pw})
	if err != nil || op.Email != "first@example.com" {
		t.Fatalf("redeem the printed link: %+v, %v", op, err)
	}
	if _, err := srv.ops.SignIn(ctx, "first@example.com", pw, "192.0.2.1:1"); err != nil {
		t.Fatalf("the first operator signs in: %v", err)
	}
	if _, err := srv.ops.SetUpWithToken(ctx, m[2], operators.SetUp{Email: "again@example.com", Password: pw}); roster.ErrorCode(err) != roster.ENotFound {
		t.Errorf("the link used a second time: %v", err)
	}

	// roster admins while serve runs: what it writes the server sees at once.
	if _, err := admin(t, "another long password\n", "create", "--email", "cli@example.com", "--password-stdin", "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
	s, err := srv.ops.SignIn(ctx, "cli@example.com", "another long password", "192.0.2.1:1")
	if err != nil {
		t.Fatalf("the server does not see the operator the CLI created: %v", err)
	}
	if _, _, err := srv.ops.Authenticate(ctx, s.Token); err != nil {
		t.Fatal(err)
	}
	out, err = admin(t, "", "reset", "--email", "cli@example.com", "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := srv.ops.Authenticate(ctx, s.Token); !errors.Is(err, operators.ErrNoSession) {
		t.Errorf("the server still accepts a session the CLI's reset ended: %v", err)
	}
	link := setupURLRE.FindStringSubmatch(out)
	if link == nil {
		t.Fatalf("reset printed no link:\n%s", out)
	}
	if _, err := srv.ops.SetUpWithToken(ctx, tokenOf(t, link[1]), operators.SetUp{Password: "a third long password"}); err != nil {
		t.Fatalf("the server redeems the CLI's reset link: %v", err)
	}
	s, err = srv.ops.SignIn(ctx, "cli@example.com", "a third long password", "192.0.2.1:1")
	if err != nil {
		t.Fatal(err)
	}
	list, _ := admin(t, "", "list", "--data-dir", dir)
	if !strings.Contains(list, "first@example.com") || !strings.Contains(list, "cli@example.com") {
		t.Errorf("list while serve runs:\n%s", list)
	}
	if _, err := admin(t, "", "remove", "--email", "cli@example.com", "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
	if _, _, err := srv.ops.Authenticate(ctx, s.Token); !errors.Is(err, operators.ErrNoSession) {
		t.Errorf("the server still accepts a removed operator's session: %v", err)
	}
	if _, err := srv.ops.SignIn(ctx, "cli@example.com", "a third long password", "192.0.2.1:1"); !errors.Is(err, operators.ErrBadCredentials) {
		t.Errorf("a removed operator signs in: %v", err)
	}
	srv.stop()

	// Once an operator exists, a start prints no link.
	again := startServe(t, dir)
	if strings.Contains(again.stdout.String(), "/dashboard/setup") {
		t.Errorf("a start with an operator printed a set-up link:\n%s", again.stdout.String())
	}
}
