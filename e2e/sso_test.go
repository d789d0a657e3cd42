package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	idpClientID     = "roster-at-idp"
	idpClientSecret = "idp-client-secret-8c41f0d2a9"
)

// idpUsers are the people of the test identity provider, with the claim shapes of Google,
// Microsoft Entra and a generic provider (e2e/node/sso/login.test.mjs expects them).
var idpUsers = map[string]map[string]any{
	"ada": {"email": "ada@sso-e2e.test", "email_verified": true, "given_name": "Ada", "family_name": "Lovelace",
		"locale": "en-GB", "employee_number": "1815", "groups": []string{"Admins", "Staff"}},
	"google": {"email": "grace.g@sso-e2e.test", "email_verified": true, "given_name": "Grace", "family_name": "Hopper",
		"picture": "https://img.example/grace.png", "locale": "en"},
	"entra": {"upn": "grace.e@sso-e2e.test", "givenName": "Grace", "surname": "Hopper", "preferredLanguage": "en",
		"picture": "https://img.example/grace.png"},
	"generic": {"mail": "grace.o@sso-e2e.test", "firstName": "Grace", "lastName": "Hopper", "locale": "en",
		"picture": "https://img.example/grace.png"},
	// mover signed in through SAML first (e2e/saml_test.go), then her company moved here.
	"mover": {"email": "grace@moved-e2e.test", "email_verified": true, "given_name": "Grace", "family_name": "Hopper"},
}

// idp is a running e2e/node/idp.mjs (the npm package oidc-provider).
type idp struct {
	URL string
	cmd *exec.Cmd
}

func startIdP(t *testing.T, rosterURL string) *idp {
	t.Helper()
	cfg := map[string]any{
		"port": 0,
		"clients": []map[string]any{{"client_id": idpClientID, "client_secret": idpClientSecret,
			"redirect_uris": []string{rosterURL + "/sso/oidc/callback"}, "token_endpoint_auth_method": "client_secret_post"}},
		"users": idpUsers,
	}
	path := filepath.Join(t.TempDir(), "idp.json")
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "idp.mjs", path)
	cmd.Dir = "node"
	cmd.Env = childEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start idp.mjs: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "IDP_READY "); ok {
				ready <- u
			}
		}
	}()
	select {
	case u := <-ready:
		return &idp{URL: u, cmd: cmd}
	case <-time.After(30 * time.Second):
		t.Fatalf("idp.mjs not ready after 30s:\n%s", stderr.String())
	}
	return nil
}

// TestSSOWithOfficialSDKs signs users in through a real OpenID provider (oidc-provider from
// npm), with the official Scalekit and WorkOS Node SDKs as the application, on both backends.
func TestSSOWithOfficialSDKs(t *testing.T) {
	nodeDeps(t)
	rosterBinary(t)
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			addr := freeAddr(t)
			rosterURL := "http://" + addr
			provider := startIdP(t, rosterURL)
			appRedirect := "http://127.0.0.1:9/app/callback"
			srv := startServerAt(t, addr, backendArgs(t, backend),
				"ROSTER_BOOTSTRAP_CLIENT_ID="+bootstrapClientID,
				"ROSTER_BOOTSTRAP_CLIENT_SECRET="+bootstrapClientSecret,
				"ROSTER_BOOTSTRAP_REDIRECT_URIS="+appRedirect)

			runNodeSuite(t, srv, "sso/login.test.mjs",
				"IDP_URL="+provider.URL,
				"IDP_CLIENT_ID="+idpClientID,
				"IDP_CLIENT_SECRET="+idpClientSecret,
				"APP_REDIRECT_URI="+appRedirect,
			)
			srv.stop(t)
			srv.checkLogsFree(t, "identity provider client secret", idpClientSecret)
			srv.checkLogsFree(t, "client secret", bootstrapClientSecret)
		})
	}
}

// runNodeSuite runs one Node test file against srv with the bootstrap client's credentials
// and env added, and reports its failure with both sides' output.
func runNodeSuite(t *testing.T, srv *server, file string, env ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), nodeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", "--test-concurrency=1", "--test-reporter=spec", file)
	cmd.Dir = "node"
	cmd.Env = childEnv(append([]string{
		"SCALEKIT_ENVIRONMENT_URL=" + srv.URL,
		"SCALEKIT_CLIENT_ID=" + bootstrapClientID,
		"SCALEKIT_CLIENT_SECRET=" + bootstrapClientSecret,
		"NO_COLOR=1",
	}, env...)...)
	cmd.WaitDelay = 5 * time.Second
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	switch {
	case ctx.Err() != nil:
		t.Errorf("node --test %s did not finish within %s:\n%s", file, nodeTimeout, out.String())
	case err != nil:
		t.Errorf("node --test %s failed (%v):\n%s\nroster stderr:\n%s", file, err, out.String(), srv.stderr)
	default:
		t.Logf("node --test %s passed in %s:\n%s", file, time.Since(start).Round(time.Millisecond), summary(out.String()))
	}
}
