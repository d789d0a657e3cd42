package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"time"

	"github.com/rosterhq/roster/oauth"
	"github.com/rosterhq/roster/server"
)

// limitConfig holds the settings that bound what clients may hold open or cost
// (docs/limits.md, docs/api-clients.md) and where /metrics is served.
type limitConfig struct {
	maxConnsPerIP        int
	maxConns             int
	bodyIdleTimeout      time.Duration
	bodyMinRate          int
	idleTimeout          time.Duration
	metricsListen        string // "": not served; "api": on the API port; else an address
	tokenFailureBurst    int
	tokenFailureInterval time.Duration
}

// metricsOnAPIPort is the --metrics-listen value that keeps /metrics on the API port.
const metricsOnAPIPort = "api"

func (l *limitConfig) flags(fs *flag.FlagSet) {
	// Environment twins are read by parseFlags, which refuses a value that does not parse.
	intVar := func(p *int, name, env string, def int, usage string) {
		fs.IntVar(p, name, def, usage+" (env "+env+")")
	}
	durVar := func(p *time.Duration, name, env string, def time.Duration, usage string) {
		fs.DurationVar(p, name, def, usage+" (env "+env+")")
	}
	intVar(&l.maxConnsPerIP, "max-conns-per-ip", "ROSTER_MAX_CONNS_PER_IP", server.DefaultMaxConnsPerAddr,
		"open connections allowed from one IP address (an IPv6 /64); more are closed at once; 0: no cap")
	intVar(&l.maxConns, "max-conns", "ROSTER_MAX_CONNS", server.DefaultMaxConns(),
		"open connections allowed in all; default three quarters of the open-file limit; 0: no cap")
	durVar(&l.bodyIdleTimeout, "body-idle-timeout", "ROSTER_BODY_IDLE_TIMEOUT", server.DefaultBodyIdleTimeout,
		"longest wait for the next bytes of a request body; 0: none")
	intVar(&l.bodyMinRate, "body-min-rate", "ROSTER_BODY_MIN_RATE", server.DefaultBodyMinRate,
		"slowest a request body may arrive, in bytes per second, once a first body-idle-timeout of waiting is spent; 0: only the idle timeout")
	durVar(&l.idleTimeout, "idle-timeout", "ROSTER_IDLE_TIMEOUT", server.DefaultIdleTimeout,
		"closes a keep-alive connection with no request for this long; 0: never")
	fs.StringVar(&l.metricsListen, "metrics-listen", "",
		`address of a management listener for GET /metrics (and /healthz, /readyz), e.g. 127.0.0.1:9464; "api" serves /metrics on the API port; empty: /metrics is not served (env ROSTER_METRICS_LISTEN)`)
	intVar(&l.tokenFailureBurst, "token-failure-burst", "ROSTER_TOKEN_FAILURE_BURST", oauth.DefaultFailureBurst,
		"failed client authentications allowed in a row per address and per client ID before 429")
	durVar(&l.tokenFailureInterval, "token-failure-interval", "ROSTER_TOKEN_FAILURE_INTERVAL", oauth.DefaultFailureInterval,
		"after the burst, one more failed client authentication is allowed per address and per client ID every interval")
}

// check refuses settings that cannot work. Commands other than serve leave every field zero.
func (l *limitConfig) check(listen string) error {
	switch {
	case l.maxConnsPerIP < 0:
		return errors.New("--max-conns-per-ip must be 0 (no cap) or more")
	case l.maxConns < 0:
		return errors.New("--max-conns must be 0 (no cap) or more")
	case l.bodyIdleTimeout < 0 || l.idleTimeout < 0 || l.tokenFailureInterval < 0:
		return errors.New("--body-idle-timeout, --idle-timeout and --token-failure-interval must not be negative")
	case l.bodyMinRate < 0:
		return errors.New("--body-min-rate must be 0 (no minimum) or more")
	case l.tokenFailureBurst < 0:
		return errors.New("--token-failure-burst must be 1 or more (0 means the default)")
	}
	if l.metricsListen != "" && l.metricsListen != metricsOnAPIPort {
		if _, _, err := net.SplitHostPort(l.metricsListen); err != nil {
			return fmt.Errorf("--metrics-listen must be host:port, %q or empty: %v", metricsOnAPIPort, err)
		}
		if l.metricsListen == listen {
			return fmt.Errorf("--metrics-listen must differ from --listen (use %q to serve /metrics on the API port)", metricsOnAPIPort)
		}
	}
	return nil
}

// server returns the server's limits.
func (l *limitConfig) server() *server.Limits {
	return &server.Limits{MaxConnsPerAddr: l.maxConnsPerIP, MaxConns: l.maxConns, BodyIdleTimeout: l.bodyIdleTimeout,
		BodyMinRate: l.bodyMinRate, IdleTimeout: l.idleTimeout}
}

// throttle returns the token endpoint's throttle.
func (l *limitConfig) throttle() oauth.Throttle {
	return oauth.Throttle{Burst: l.tokenFailureBurst, Interval: l.tokenFailureInterval}
}

// metricsListener opens the management listener, if one is asked for.
func (l *limitConfig) metricsListener() (net.Listener, error) {
	if l.metricsListen == "" || l.metricsListen == metricsOnAPIPort {
		return nil, nil
	}
	ln, err := net.Listen("tcp", l.metricsListen)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	return ln, nil
}
