package outbound

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Post sends body to rawURL in one POST with header as given: the map is used as is, so
// names set in lower case (a webhook's "webhook-id") are sent in lower case. It follows no
// redirect (a 3xx is the answer), and the dialer's address rule applies to the connection.
// It returns the answer's status; the answer's body is read (up to MaxBody, so the
// connection is reused) and dropped.
func (g *Guard) Post(ctx context.Context, rawURL string, header http.Header, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header = header
	resp, err := g.noRedirect().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// noRedirect is the guarded client that returns a redirect instead of following it.
func (g *Guard) noRedirect() *http.Client {
	g.once.Do(func() {
		c := *g.client
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		g.post = &c
	})
	return g.post
}

// CheckURL refuses, before any fetch, an http(s) URL whose host is an address literal the
// rule forbids or a name of the local host ("localhost", "*.localhost"). Other names are
// checked when dialled, on the address they resolve to.
func (g *Guard) CheckURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	if err := checkScheme(u); err != nil {
		return err
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return errors.New("URL has no host")
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		if ap := netip.AddrPortFrom(netip.IPv6Loopback(), 0); !g.allowedPort(ap, port) {
			return &deniedError{addr: u.Host}
		}
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if !g.allowedPort(netip.AddrPortFrom(a, 0), port) {
			return &deniedError{addr: u.Host}
		}
	}
	return nil
}

func (g *Guard) allowedPort(ap netip.AddrPort, port string) bool {
	full, err := netip.ParseAddrPort(net.JoinHostPort(ap.Addr().String(), port))
	if err != nil {
		return false
	}
	return g.allowed(full)
}
