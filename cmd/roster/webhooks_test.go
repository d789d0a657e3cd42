package main

import (
	"flag"
	"testing"
	"time"

	"github.com/rosterhq/roster/webhooks"
)

func TestWebhookSettings(t *testing.T) {
	parse := func(args ...string) (config, error) {
		var c config
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		c.serveFlags(fs)
		if err := parseFlags(fs, args); err != nil {
			t.Fatal(err)
		}
		return c, c.check()
	}
	c, err := parse()
	if err != nil || c.webhooks != webhooks.DefaultSettings() {
		t.Fatalf("defaults = %+v, %v", c.webhooks, err)
	}
	if d := webhooks.DefaultSettings(); d.FirstBackoff != 5*time.Second || d.MaxBackoff != time.Hour || d.FailureWindow != 72*time.Hour {
		t.Fatalf("production defaults changed: %+v", d)
	}
	t.Setenv("ROSTER_WEBHOOK_MAX_BACKOFF", "2m")
	c, err = parse("--webhook-first-backoff=1s", "--webhook-failure-window=10m")
	if err != nil || c.webhooks.FirstBackoff != time.Second || c.webhooks.MaxBackoff != 2*time.Minute || c.webhooks.FailureWindow != 10*time.Minute {
		t.Fatalf("settings = %+v, %v", c.webhooks, err)
	}
	for _, args := range [][]string{{"--webhook-first-backoff=3h"}, {"--webhook-poll-interval=0s"}, {"--webhook-lease-ttl=1s", "--webhook-poll-interval=1s"}} {
		if _, err := parse(args...); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
