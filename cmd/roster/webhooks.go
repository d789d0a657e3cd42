package main

import (
	"flag"
	"fmt"

	"github.com/rosterhq/roster/webhooks"
)

// webhookFlags registers the delivery settings of the webhook worker (docs/webhooks.md).
func (c *config) webhookFlags(fs *flag.FlagSet) {
	d := webhooks.DefaultSettings()
	c.webhooks = d
	fs.DurationVar(&c.webhooks.FirstBackoff, "webhook-first-backoff", d.FirstBackoff, "wait after an endpoint's first failed attempt at an event; it doubles at each failure (env ROSTER_WEBHOOK_FIRST_BACKOFF)")
	fs.DurationVar(&c.webhooks.MaxBackoff, "webhook-max-backoff", d.MaxBackoff, "longest wait between attempts at an event (env ROSTER_WEBHOOK_MAX_BACKOFF)")
	fs.DurationVar(&c.webhooks.FailureWindow, "webhook-failure-window", d.FailureWindow, "an endpoint whose attempts all failed for this long is disabled until an operator enables it (env ROSTER_WEBHOOK_FAILURE_WINDOW)")
	fs.DurationVar(&c.webhooks.PollInterval, "webhook-poll-interval", d.PollInterval, "how often the worker looks for endpoints with events to deliver (env ROSTER_WEBHOOK_POLL_INTERVAL)")
	fs.DurationVar(&c.webhooks.LeaseTTL, "webhook-lease-ttl", d.LeaseTTL, "how long a node holds an endpoint without recording progress; after a crash another node resumes it then (env ROSTER_WEBHOOK_LEASE_TTL)")
}

func (c *config) checkWebhooks() error {
	w := c.webhooks
	if w == (webhooks.Settings{}) { // not a serve flag set
		return nil
	}
	switch {
	case w.FirstBackoff <= 0 || w.MaxBackoff <= 0 || w.FailureWindow <= 0 || w.PollInterval <= 0 || w.LeaseTTL <= 0:
		return fmt.Errorf("the --webhook-* durations must be positive")
	case w.FirstBackoff > w.MaxBackoff:
		return fmt.Errorf("--webhook-first-backoff must not exceed --webhook-max-backoff")
	case w.LeaseTTL < 3*w.PollInterval:
		return fmt.Errorf("--webhook-lease-ttl must be at least three times --webhook-poll-interval")
	}
	return nil
}
