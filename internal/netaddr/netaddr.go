// Package netaddr holds the one form of a client's address that Roster throttles by (the
// OAuth token endpoint's client authentication and the dashboard's operator sign-ins).
package netaddr

import (
	"net"
	"net/netip"
)

// ThrottleKey is the throttled form of a remote address (host:port, as in
// http.Request.RemoteAddr, or a bare IP): the IP, or for IPv6 its /64, which one subscriber
// usually holds whole. What is not an IP is returned as it is.
func ThrottleKey(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
