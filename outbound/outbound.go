// Package outbound is the one way Roster fetches from addresses that customers or
// administrators configure: OIDC discovery, JWKS, token and userinfo endpoints, SAML metadata
// URLs, webhook endpoints. Its dialer refuses loopback, private, link-local and other internal
// addresses. The check runs on the address actually dialled (after DNS, so a name that
// resolves inward is refused too, and rebinding between a check and the dial is not possible)
// and again on every redirect, which dials anew. AllowPrivateNetworks lifts the rule for
// development and tests (--allow-private-networks). Failures reach callers as one uniform
// error that never tells a refused address from a closed port or a timeout. See
// docs/outbound.md.
package outbound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"syscall"
	"time"
)

// Defaults of Options.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultMaxBody      = 1 << 20
	DefaultMaxRedirects = 5
)

// Options configure a Guard.
type Options struct {
	// AllowPrivateNetworks lets fetches reach loopback, private and link-local addresses
	// (development and tests). Off in production.
	AllowPrivateNetworks bool
	// Allow, when set, decides which addresses may be dialled in place of the built-in rule
	// (tests allow one loopback server and refuse the others).
	Allow func(netip.AddrPort) bool
	// Timeout bounds a whole fetch, redirects and body included; MaxBody bounds a response
	// body; MaxRedirects bounds the redirects followed. Zero means the default.
	Timeout      time.Duration
	MaxBody      int64
	MaxRedirects int
	// Log receives the detail of refused and failed fetches (never shown to callers).
	Log *slog.Logger
}

// Guard makes outbound HTTP requests under the address rule.
type Guard struct {
	opts   Options
	client *http.Client
	once   sync.Once
	post   *http.Client // client without redirects (Post)
}

// New returns a guard.
func New(o Options) *Guard {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = DefaultMaxRedirects
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	g := &Guard{opts: o}
	dialer := &net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second, Control: g.control}
	tr := &http.Transport{
		// No proxy: a proxy would resolve and dial the target itself, out of the dialer's sight.
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           50,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    o.Timeout,
		ResponseHeaderTimeout:  o.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	g.client = &http.Client{Transport: &limited{next: tr, max: o.MaxBody}, Timeout: o.Timeout, CheckRedirect: g.checkRedirect}
	return g
}

// Client is the guarded HTTP client, for libraries that take one (go-oidc and oauth2 read it
// from the context: oidc.ClientContext).
func (g *Guard) Client() *http.Client { return g.client }

// AllowsPrivateNetworks tells whether the address rule is lifted.
func (g *Guard) AllowsPrivateNetworks() bool { return g.opts.AllowPrivateNetworks }

// Get fetches rawURL and returns its body (at most MaxBody bytes) when it answers 200. Any
// failure is an *Error naming what was fetched; its detail is logged, not shown.
func (g *Guard) Get(ctx context.Context, what, rawURL string) ([]byte, error) {
	fail := func(detail error) ([]byte, error) {
		e := &Error{What: what, detail: detail}
		g.opts.Log.WarnContext(ctx, "outbound fetch failed", "what", what, "url", Redact(rawURL), "err", e.Detail())
		return nil, e
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fail(err)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail(fmt.Errorf("HTTP %d", resp.StatusCode))
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fail(err)
	}
	return data, nil
}

// Error is a failed fetch. Its text is the same whatever went wrong (address refused,
// connection refused, timeout, HTTP status, oversized answer), so it cannot be used to map
// a network; Detail says what happened, for the log.
type Error struct {
	What   string // e.g. "the SAML metadata"
	detail error
}

// Failed returns the uniform error for a fetch of what that failed with detail.
func Failed(what string, detail error) *Error { return &Error{What: what, detail: detail} }

func (e *Error) Error() string { return "could not fetch " + e.What + " from the identity provider" }

// Detail describes the failure for the log: without the URL's query or credentials.
func (e *Error) Detail() string {
	if e.detail == nil {
		return ""
	}
	return DetailOf(e.detail)
}

// Unwrap returns the detail, so errors.Is finds ErrDenied and context errors.
func (e *Error) Unwrap() error { return e.detail }

// DetailOf describes any error of a fetch for the log, with URLs redacted and at most 300
// bytes (some libraries put the answer's body into their errors).
func DetailOf(err error) string {
	d := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		d = ue.Op + " " + Redact(ue.URL) + ": " + ue.Err.Error()
	}
	if len(d) > 300 {
		d = d[:300] + "…"
	}
	return d
}

// Redact shortens a URL to scheme, host and path: queries and user info can carry secrets.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// ErrDenied is the detail of a fetch refused by the address rule.
var ErrDenied = errors.New("address not allowed for outbound fetches (see --allow-private-networks)")

type deniedError struct{ addr string }

func (e *deniedError) Error() string { return e.addr + ": " + ErrDenied.Error() }
func (e *deniedError) Unwrap() error { return ErrDenied }

// control runs for every connection the dialer makes, with the resolved address.
func (g *Guard) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !g.allowed(ap) {
		g.opts.Log.Warn("outbound fetch refused", "address", address, "reason", "private, loopback or link-local address")
		return &deniedError{addr: address}
	}
	return nil
}

func (g *Guard) allowed(ap netip.AddrPort) bool {
	if g.opts.Allow != nil {
		return g.opts.Allow(ap)
	}
	return g.opts.AllowPrivateNetworks || PublicAddr(ap.Addr())
}

// checkRedirect bounds redirects, keeps them to http(s) without a downgrade from https, and
// refuses an address literal the rule forbids at once (the dialer checks every target again).
func (g *Guard) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= g.opts.MaxRedirects {
		return fmt.Errorf("more than %d redirects", g.opts.MaxRedirects)
	}
	if err := checkScheme(req.URL); err != nil {
		return err
	}
	if via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return errors.New("redirect from https to http")
	}
	if a, err := netip.ParseAddr(req.URL.Hostname()); err == nil {
		port := req.URL.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[req.URL.Scheme]
		}
		if ap, err := netip.ParseAddrPort(net.JoinHostPort(a.String(), port)); err != nil || !g.allowed(ap) {
			return &deniedError{addr: req.URL.Host}
		}
	}
	return nil
}

func checkScheme(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.User != nil {
		return errors.New("URL carries user info")
	}
	return nil
}

// limited checks each request's scheme and bounds each response body.
type limited struct {
	next http.RoundTripper
	max  int64
}

func (l *limited) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := checkScheme(req.URL); err != nil {
		return nil, err
	}
	resp, err := l.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > l.max {
		resp.Body.Close()
		return nil, fmt.Errorf("answer of %d bytes is over the limit of %d", resp.ContentLength, l.max)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: l.max}
	return resp, nil
}

// limitedBody fails a read past its limit (rather than cutting the answer silently).
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

var errTooLarge = errors.New("answer over the size limit")

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n - 1, errTooLarge
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

var (
	// deniedPrefixes are ranges the net/netip predicates do not cover.
	deniedPrefixes = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
		netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT shared space
		netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
		netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
		netip.MustParsePrefix("240.0.0.0/4"),    // reserved, and 255.255.255.255 broadcast
		netip.MustParsePrefix("::/96"),          // IPv4-compatible (deprecated), :: and ::1
		netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
		netip.MustParsePrefix("fec0::/10"),      // site-local (deprecated)
	}
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// PublicAddr tells whether a may be dialled under the rule: not unspecified, loopback,
// private (RFC 1918, fc00::/7), link-local (169.254/16 with cloud metadata services,
// fe80::/10), carrier-grade NAT, multicast, broadcast or reserved, also when written as an
// IPv4-mapped IPv6 address or carried in a NAT64 or 6to4 address.
func PublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsUnspecified() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() {
		return false
	}
	for _, p := range deniedPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return PublicAddr(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(a):
		return PublicAddr(netip.AddrFrom4([4]byte(b[2:6])))
	}
	return true
}
