package main

import (
	"flag"
	"github.com/rosterhq/roster/store/sqlite"
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
	if err := parseFlags(fs, []string{"--listen", "127.0.0.1:7000"}); err != nil { // a flag wins over its variable
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
		{userCacheBytes: -1},
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

// Memory (docs/storage.md): the user cache is bounded by bytes; the old count of users is
// refused with what replaced it.
func TestUserCacheBytesSetting(t *testing.T) {
	parse := func(args ...string) (config, error) {
		var c config
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.serveFlags(fs)
		err := parseFlags(fs, args)
		if err == nil {
			err = c.check()
		}
		return c, err
	}
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, sqlite.DefaultUserCacheBytes},
		{[]string{"--user-cache-bytes", "0"}, 0},
		{[]string{"--user-cache-bytes", "1048576"}, 1 << 20},
		{[]string{"--user-cache-bytes", "512KiB"}, 512 << 10},
		{[]string{"--user-cache-bytes=64MiB"}, 64 << 20},
		{[]string{"--user-cache-bytes=1GiB"}, 1 << 30},
	} {
		if c, err := parse(tc.args...); err != nil || int(c.userCacheBytes) != tc.want {
			t.Errorf("%v: %d %v, want %d", tc.args, c.userCacheBytes, err, tc.want)
		}
	}
	for _, bad := range []string{"lots", "-1", "32MB", "1.5MiB", "99999999GiB"} {
		if _, err := parse("--user-cache-bytes", bad); err == nil || !strings.Contains(err.Error(), "user-cache-bytes") {
			t.Errorf("--user-cache-bytes %s: %v", bad, err)
		}
	}
	if _, err := parse("--user-cache-size", "50000"); err == nil || !strings.Contains(err.Error(), "replaced by --user-cache-bytes") {
		t.Errorf("--user-cache-size: %v, want it refused naming --user-cache-bytes", err)
	}
	t.Setenv("ROSTER_USER_CACHE_BYTES", "8MiB")
	if c, err := parse(); err != nil || c.userCacheBytes != 8<<20 {
		t.Errorf("ROSTER_USER_CACHE_BYTES=8MiB: %d %v", c.userCacheBytes, err)
	}
	if c, err := parse("--user-cache-bytes", "1KiB"); err != nil || c.userCacheBytes != 1<<10 {
		t.Errorf("the flag does not win over ROSTER_USER_CACHE_BYTES: %d %v", c.userCacheBytes, err)
	}
	t.Setenv("ROSTER_USER_CACHE_SIZE", "50000")
	if _, err := parse(); err == nil || !strings.Contains(err.Error(), "ROSTER_USER_CACHE_BYTES") {
		t.Errorf("ROSTER_USER_CACHE_SIZE: %v, want it refused naming ROSTER_USER_CACHE_BYTES", err)
	}
}

// Outbound fetches (docs/outbound.md): private networks are refused unless the setting says so.
func TestAllowPrivateNetworksSetting(t *testing.T) {
	parse := func(args ...string) config {
		t.Helper()
		var c config
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		c.serveFlags(fs)
		if err := parseFlags(fs, args); err != nil {
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
	var c config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.serveFlags(fs)
	if err := parseFlags(fs, nil); err == nil || !strings.Contains(err.Error(), "ROSTER_ALLOW_PRIVATE_NETWORKS") {
		t.Errorf("a value that is not a boolean: %v", err)
	}
}

// Every flag names its environment twin, and a twin whose value does not parse is refused
// with an error that names the variable, for each kind of value (a duration, a number, a log
// level, a boolean), instead of being replaced by the default.
func TestInvalidEnvironmentValuesRefused(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var c config
	c.serveFlags(fs)
	fs.VisitAll(func(f *flag.Flag) {
		if envName(f.Usage) == "" {
			t.Errorf("flag --%s does not name its environment twin (env ROSTER_...) in its usage", f.Name)
		}
	})
	for _, tc := range []struct{ name, value string }{
		{"ROSTER_ACCESS_TOKEN_TTL", "an hour"},
		{"ROSTER_USER_CACHE_SIZE", "lots"},
		{"ROSTER_USER_CACHE_SIZE", "50000"}, // replaced by ROSTER_USER_CACHE_BYTES
		{"ROSTER_USER_CACHE_BYTES", "lots"},
		{"ROSTER_USER_CACHE_BYTES", "-1"},
		{"ROSTER_LOG_LEVEL", "loud"},
		{"ROSTER_ALLOW_OPEN_DATA_DIR", "maybe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(tc.name, tc.value)
			var c config
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			c.serveFlags(fs)
			err := parseFlags(fs, nil)
			if err == nil {
				err = c.check()
			}
			if err == nil || !strings.Contains(err.Error(), tc.name) {
				t.Fatalf("%s=%q: %v, want an error naming %s", tc.name, tc.value, err, tc.name)
			}
		})
	}
	// A flag's own bad value is refused too.
	fs = flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.serveFlags(fs)
	if err := parseFlags(fs, []string{"--log-level", "loud"}); err == nil || !strings.Contains(err.Error(), "log-level") {
		t.Fatalf("--log-level loud: %v", err)
	}
}

// -h and --help print a command's flags and succeed; --version and version print the
// version.
func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"serve", "-h"}, {"serve", "--help"}, {"migrate", "-h"}, {"clients", "create", "--help"}, {"clients", "list", "-h"}, {"--help"}} {
		var out strings.Builder
		if err := run(args, &out, &out); err != nil {
			t.Errorf("roster %s: %v, want success", strings.Join(args, " "), err)
		}
		if !strings.Contains(out.String(), "-") {
			t.Errorf("roster %s printed no help: %q", strings.Join(args, " "), out.String())
		}
	}
	for _, args := range [][]string{{"--version"}, {"version"}} {
		var out strings.Builder
		if err := run(args, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "roster ") {
			t.Errorf("roster %s: %q, %v", strings.Join(args, " "), out.String(), err)
		}
	}
}

func TestVersionFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}
	if got := versionFrom("", bi); got != "0123456789ab-dirty" {
		t.Errorf("devel build of a modified tree: %q", got)
	}
	bi.Main.Version = "v1.2.3"
	if got := versionFrom("", bi); got != "v1.2.3" {
		t.Errorf("module version: %q", got)
	}
	if got := versionFrom("v9", bi); got != "v9" {
		t.Errorf("-ldflags version: %q", got)
	}
	if got := versionFrom("", nil); got != "dev" {
		t.Errorf("no build info: %q", got)
	}
}

// --event-retention and ROSTER_EVENT_RETENTION: a duration, 0 (the default) keeps events
// forever; under an hour or negative is refused.
func TestEventRetentionFlag(t *testing.T) {
	parse := func(args ...string) (config, error) {
		var c config
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.serveFlags(fs)
		if err := parseFlags(fs, args); err != nil {
			return c, err
		}
		return c, c.check()
	}
	if c, err := parse(); err != nil || c.eventRetention != 0 {
		t.Fatalf("default: %v, %v", c.eventRetention, err)
	}
	t.Setenv("ROSTER_EVENT_RETENTION", "720h")
	if c, err := parse(); err != nil || c.eventRetention != 720*time.Hour {
		t.Fatalf("from the environment: %v, %v", c.eventRetention, err)
	}
	if c, err := parse("--event-retention", "2160h"); err != nil || c.eventRetention != 2160*time.Hour {
		t.Fatalf("flag: %v, %v", c.eventRetention, err)
	}
	for _, bad := range []string{"-1h", "30m", "30d"} {
		if _, err := parse("--event-retention", bad); err == nil {
			t.Errorf("--event-retention %s accepted", bad)
		}
	}
}
