package main

import (
	"flag"
	"io"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestFlagsHaveEnvironmentTwins(t *testing.T) {
	t.Setenv("ROSTER_LISTEN", "0.0.0.0:9999")
	t.Setenv("ROSTER_DATA_DIR", "/var/lib/roster")
	t.Setenv("ROSTER_DATABASE_URL", "postgres://db/roster")
	t.Setenv("ROSTER_ISSUER_URL", "https://id.example.com/")
	t.Setenv("ROSTER_TLS_CERT", "c.pem")
	t.Setenv("ROSTER_TLS_KEY", "k.pem")
	t.Setenv("ROSTER_ACCESS_TOKEN_TTL", "15m")
	var c config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c.serveFlags(fs)
	if err := fs.Parse([]string{"--listen", "127.0.0.1:7000"}); err != nil { // a flag wins over its variable
		t.Fatal(err)
	}
	if c.listen != "127.0.0.1:7000" || c.dataDir != "/var/lib/roster" || c.databaseURL != "postgres://db/roster" ||
		c.tlsCert != "c.pem" || c.tlsKey != "k.pem" || c.tokenTTL != 15*time.Minute {
		t.Fatalf("config = %+v", c)
	}
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	if got := c.issuer(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 7000}); got != "https://id.example.com" {
		t.Fatalf("issuer = %s", got)
	}
}

func TestIssuerDerivedFromListen(t *testing.T) {
	for _, c := range []struct {
		cfg  config
		addr string
		want string
	}{
		{config{}, "127.0.0.1:8080", "http://127.0.0.1:8080"},
		{config{}, "0.0.0.0:8080", "http://localhost:8080"},
		{config{tlsCert: "c"}, "[::]:8443", "https://localhost:8443"},
	} {
		addr, _ := net.ResolveTCPAddr("tcp", c.addr)
		if got := c.cfg.issuer(addr); got != c.want {
			t.Errorf("%s: %s, want %s", c.addr, got, c.want)
		}
	}
}

func TestConfigChecks(t *testing.T) {
	for _, c := range []config{
		{tlsCert: "c"},
		{databaseURL: "mysql://x"},
		{tokenTTL: time.Second},
		{tokenTTL: 48 * time.Hour},
		{userCacheSize: -1},
	} {
		if c.check() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	t.Setenv("ROSTER_USER_CACHE_SIZE", "lots")
	if err := (&config{}).check(); err == nil || !strings.Contains(err.Error(), "ROSTER_USER_CACHE_SIZE") {
		t.Errorf("a user cache size that is not a number: %v", err)
	}
	if err := run([]string{"nope"}, io.Discard, io.Discard); err == nil {
		t.Error("unknown command accepted")
	}
}

func TestGCPercentDefault(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	if v, set := os.LookupEnv("GOGC"); set {
		defer os.Setenv("GOGC", v)
	}
	os.Unsetenv("GOGC")
	setGCPercent()
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Fatalf("GC percent %d without GOGC, want %d", got, defaultGCPercent)
	}
	t.Setenv("GOGC", "150")
	setGCPercent()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GC percent %d with GOGC set; Roster must leave it to Go", got)
	}
}

// Outbound fetches (docs/outbound.md): private networks are refused unless the setting says so.
func TestAllowPrivateNetworksSetting(t *testing.T) {
	parse := func(args ...string) config {
		t.Helper()
		var c config
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		c.serveFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if parse().allowPrivateNetworks {
		t.Fatal("private networks allowed by default")
	}
	if !parse("--allow-private-networks").allowPrivateNetworks {
		t.Fatal("--allow-private-networks not read")
	}
	t.Setenv("ROSTER_ALLOW_PRIVATE_NETWORKS", "true")
	if !parse().allowPrivateNetworks || parse("--allow-private-networks=false").allowPrivateNetworks {
		t.Fatal("ROSTER_ALLOW_PRIVATE_NETWORKS not read, or the flag does not win over it")
	}
	t.Setenv("ROSTER_ALLOW_PRIVATE_NETWORKS", "sometimes")
	if err := (&config{}).check(); err == nil || !strings.Contains(err.Error(), "ROSTER_ALLOW_PRIVATE_NETWORKS") {
		t.Errorf("a value that is not a boolean: %v", err)
	}
}
