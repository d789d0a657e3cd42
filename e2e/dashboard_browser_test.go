package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The pieces every dashboard browser test shares: Chromium's allocator, a live serve with the
// set-up link its first start printed, and a tab with its steps, screenshots and reads.

// dashboardAllocator finds Chromium, builds roster and returns the allocator the test's tabs
// open from (closed when the test ends) and the screenshots directory.
func dashboardAllocator(t *testing.T) (allocCtx context.Context, shots string) {
	t.Helper()
	exe := chromium(t)
	shots = screenshotDir(t)
	rosterBinary(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("no-proxy-server", true), chromedp.WindowSize(1200, 900))
	allocCtx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	return allocCtx, shots
}

// dashboardServer starts `roster serve` on backend with the bootstrap API client (and env)
// and returns it with the one-time set-up link its first start printed.
func dashboardServer(t *testing.T, backend string, env ...string) (*server, string) {
	t.Helper()
	srv := startServer(t, backendArgs(t, backend), append([]string{
		"ROSTER_BOOTSTRAP_CLIENT_ID=" + bootstrapClientID, "ROSTER_BOOTSTRAP_CLIENT_SECRET=" + bootstrapClientSecret}, env...)...)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !strings.Contains(srv.stdout.String(), "curl -s"); {
		time.Sleep(20 * time.Millisecond)
	}
	m := regexp.MustCompile(`(?m)^\s+(\S+/dashboard/setup\?token=\S+)$`).FindStringSubmatch(srv.stdout.String())
	if m == nil || !strings.HasPrefix(m[1], srv.URL+"/") {
		t.Fatalf("the first start printed no set-up link on %s:\n%s", srv.URL, srv.stdout.String())
	}
	return srv, m[1]
}

// tab is one browser tab of a dashboard test. Its screenshots are <shots>/<prefix>-NN-<name>.png.
type tab struct {
	t             *testing.T
	ctx           context.Context // the tab
	tctx          context.Context // the tab, within the test's time
	close         context.CancelFunc
	shots, prefix string
	n             int
}

// openTab starts a tab (and the browser, on the allocator's first tab) whose actions must all
// end within timeout. It is closed when the test ends, or earlier by close: before a graceful
// stop of serve, since a connection the browser opened ahead holds the stop up.
func openTab(t *testing.T, allocCtx context.Context, timeout time.Duration, shots, prefix string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil { // starts the browser (no timeout on this first call)
		t.Fatalf("start chromium: %v", err)
	}
	tctx, cancelT := context.WithTimeout(ctx, timeout)
	t.Cleanup(cancelT)
	return &tab{t: t, ctx: ctx, tctx: tctx, close: cancel, shots: shots, prefix: prefix}
}

// step runs actions, failing the test with where the browser is and what it shows.
func (b *tab) step(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.tctx, actions...); err != nil {
		where, _ := chromedp.Run(b.ctx, chromedp.Location())
		page, _ := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("html")))
		b.t.Fatalf("%s: %v (at %s: %.1500s)", what, err, where, page)
	}
}

// The first operator the browser tests set up with serve's printed link.
const firstOperatorEmail, firstOperatorPassword = "first@example.com", "the first operator's password"

// setUpAndSignIn sets up the first operator with serve's printed link, then opens url, signs
// in on the sign-in page it sends to, and waits for ready on the page url names ("sign in,
// to " what).
func (b *tab) setUpAndSignIn(link, url, what, ready string) {
	b.t.Helper()
	b.step("set up the first operator",
		chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#setup")),
		chromedp.SendKeys(chromedp.CSS("#email"), firstOperatorEmail),
		chromedp.SendKeys(chromedp.CSS("#password"), firstOperatorPassword),
		chromedp.Click(chromedp.CSS("#setup button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#sign-in")))
	b.step("sign in, to "+what,
		chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("#sign-in")),
		chromedp.Clear(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), firstOperatorEmail),
		chromedp.SendKeys(chromedp.CSS("#password"), firstOperatorPassword),
		chromedp.Click(chromedp.CSS("#sign-in button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(ready)))
}

// shot writes a screenshot of the whole page, numbered in the order taken.
func (b *tab) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.tctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	b.n++
	if err := os.WriteFile(filepath.Join(b.shots, fmt.Sprintf("%s-%02d-%s.png", b.prefix, b.n, name)), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// text is the text of the element sel selects.
func (b *tab) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.tctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// html is the page's whole HTML.
func (b *tab) html() string {
	b.t.Helper()
	s, err := chromedp.Run(b.tctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}
