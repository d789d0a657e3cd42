package main

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/server"
)

func TestLimitFlagsDefaultsAndEnvironmentTwins(t *testing.T) {
	var c config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c.serveFlags(fs)
	if err := parseFlags(fs, nil); err != nil {
		t.Fatal(err)
	}
	l := c.limits
	if l.maxConnsPerIP != 512 || l.bodyIdleTimeout != 10*time.Second || l.bodyMinRate != 1024 || l.idleTimeout != 2*time.Minute ||
		l.metricsListen != "" || l.tokenFailureBurst != 10 || l.tokenFailureInterval != time.Second || l.maxConns != server.DefaultMaxConns() {
		t.Fatalf("defaults: %+v", l)
	}
	// The load benchmarks run up to 64 clients from one address.
	if l.maxConnsPerIP < 64*4 {
		t.Fatalf("--max-conns-per-ip default %d is too close to the benchmarks' 64 clients", l.maxConnsPerIP)
	}
	if err := c.check(); err != nil {
		t.Fatal(err)
	}

	for k, v := range map[string]string{
		"ROSTER_MAX_CONNS_PER_IP": "8", "ROSTER_MAX_CONNS": "100", "ROSTER_BODY_IDLE_TIMEOUT": "250ms",
		"ROSTER_BODY_MIN_RATE": "10", "ROSTER_IDLE_TIMEOUT": "1s", "ROSTER_METRICS_LISTEN": "127.0.0.1:9464",
		"ROSTER_TOKEN_FAILURE_BURST": "3", "ROSTER_TOKEN_FAILURE_INTERVAL": "5s",
	} {
		t.Setenv(k, v)
	}
	c = config{}
	fs = flag.NewFlagSet("serve", flag.ContinueOnError)
	c.serveFlags(fs)
	if err := parseFlags(fs, []string{"--max-conns-per-ip", "9"}); err != nil { // a flag wins over its variable
		t.Fatal(err)
	}
	l = c.limits
	if l.maxConnsPerIP != 9 || l.maxConns != 100 || l.bodyIdleTimeout != 250*time.Millisecond || l.bodyMinRate != 10 ||
		l.idleTimeout != time.Second || l.metricsListen != "127.0.0.1:9464" || l.tokenFailureBurst != 3 || l.tokenFailureInterval != 5*time.Second {
		t.Fatalf("from the environment: %+v", l)
	}
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	if s := l.server(); s.MaxConnsPerAddr != 9 || s.MaxConns != 100 || s.BodyIdleTimeout != 250*time.Millisecond || s.BodyMinRate != 10 || s.IdleTimeout != time.Second {
		t.Fatalf("server limits: %+v", s)
	}
	if th := l.throttle(); th.Burst != 3 || th.Interval != 5*time.Second {
		t.Fatalf("throttle: %+v", th)
	}
}

func TestLimitChecks(t *testing.T) {
	for _, l := range []limitConfig{
		{maxConnsPerIP: -1}, {maxConns: -1}, {bodyIdleTimeout: -time.Second}, {bodyMinRate: -1},
		{tokenFailureBurst: -1}, {metricsListen: "9464"}, {metricsListen: "127.0.0.1:8080"},
	} {
		if (&config{listen: "127.0.0.1:8080", limits: l}).check() == nil {
			t.Errorf("%+v accepted", l)
		}
	}
	for _, ok := range []string{"", "api", "127.0.0.1:9464", ":9464"} {
		if err := (&config{listen: "127.0.0.1:8080", limits: limitConfig{metricsListen: ok}}).check(); err != nil {
			t.Errorf("--metrics-listen %q: %v", ok, err)
		}
	}
	t.Setenv("ROSTER_BODY_IDLE_TIMEOUT", "ten seconds")
	var c config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c.serveFlags(fs)
	if err := parseFlags(fs, nil); err == nil || !strings.Contains(err.Error(), "ROSTER_BODY_IDLE_TIMEOUT") {
		t.Fatalf("a bad duration in the environment: %v", err)
	}
}
