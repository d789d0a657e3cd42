package netaddr

import "testing"

func TestThrottleKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:443":                  "192.0.2.1",
		"[::ffff:192.0.2.1]:443":         "192.0.2.1",
		"[2001:db8:1:2:3:4:5:6]:443":     "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1%eth0]:80": "2001:db8:1:2::/64",
	} {
		if got := ThrottleKey(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}
