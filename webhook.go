package roster

// Webhooks (docs/webhooks.md): endpoints that receive the change feed's events, signed with
// the Standard Webhooks scheme that the Scalekit SDKs verify.

import (
	"net/url"
	"strings"
	"time"
)

// PrefixWebhook starts a webhook endpoint's ID.
const PrefixWebhook = "wh_"

// Bounds of an endpoint (docs/limits.md).
const (
	MaxWebhooksPerEnvironment = 20
	MaxWebhookURL             = 2048
	MaxWebhookDescription     = 500
	MaxWebhookEventTypes      = 100
	// WebhookDeliveryLogKeep is how many delivery records the log keeps per endpoint (the
	// latest ones; older ones are deleted as new ones are written).
	WebhookDeliveryLogKeep = 1000
)

// Why an endpoint is disabled.
const (
	WebhookDisabledFailing  = "failing"  // every attempt failed for the failure window
	WebhookDisabledOperator = "operator" // an operator or API call disabled it
)

// WebhookEndpoint is where an environment's events are delivered.
type WebhookEndpoint struct {
	ID            string
	EnvironmentID string
	URL           string
	Description   string
	// EventTypes selects the events sent: types, or prefixes ending in "*"; none = all.
	EventTypes     []string
	Enabled        bool
	DisabledReason string // "" while enabled
	// SecretSealed is the signing secret (whsec_…) sealed with the secretbox; never hashed,
	// since every delivery is signed with it.
	SecretSealed string
	// PreviousSecretSealed is the secret before the last rotation; until PreviousSecretUntil
	// deliveries carry a signature with each, so receivers can switch without failures.
	PreviousSecretSealed string
	PreviousSecretUntil  time.Time
	CreateTime           time.Time
	UpdateTime           time.Time
}

// WebhookSecretOverlap is how long, after a rotation, deliveries are signed with the previous
// secret as well as the new one.
const WebhookSecretOverlap = 24 * time.Hour

// Validate checks an endpoint's fields (not its URL's address: the outbound rule does that).
func (e *WebhookEndpoint) Validate() error {
	var v Violations
	if msg := webhookURLProblem(e.URL); msg != "" {
		v.Add("url", "url", "%s", msg)
	}
	if len(e.Description) > MaxWebhookDescription {
		v.Add("description", "max_len", "must be at most %d bytes", MaxWebhookDescription)
	}
	if len(e.EventTypes) > MaxWebhookEventTypes {
		v.Add("event_types", "max_items", "at most %d event types", MaxWebhookEventTypes)
	}
	seen := map[string]bool{}
	for _, t := range e.EventTypes {
		if !validEventSelector(t) {
			v.Add("event_types", "known", "%q is not an event type nor a prefix of one ending in \"*\"", t)
		} else if seen[t] {
			v.Add("event_types", "unique", "%q is listed twice", t)
		}
		seen[t] = true
	}
	switch e.DisabledReason {
	case "", WebhookDisabledFailing, WebhookDisabledOperator:
	default:
		v.Add("disabled_reason", "enum", "unknown reason %q", e.DisabledReason)
	}
	if e.Enabled && e.DisabledReason != "" {
		v.Add("disabled_reason", "enabled", "an enabled endpoint has no disabled reason")
	}
	return v.Err()
}

// validEventSelector accepts a known type, or a prefix ending in "*" that selects at least
// one known type ("*" alone selects all).
func validEventSelector(s string) bool {
	if KnownEventType(s) {
		return true
	}
	prefix, ok := strings.CutSuffix(s, "*")
	if !ok {
		return false
	}
	for _, t := range EventTypes() {
		if strings.HasPrefix(t, prefix) {
			return true
		}
	}
	return false
}

// webhookURLProblem says what is wrong with an endpoint URL, or "".
func webhookURLProblem(raw string) string {
	if raw == "" {
		return "is required"
	}
	if len(raw) > MaxWebhookURL {
		return "must be at most 2048 bytes"
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "" {
		return "must be an absolute http or https URL"
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "must be an http or https URL"
	}
	if u.User != nil {
		return "must not carry user info"
	}
	if u.Fragment != "" {
		return "must not have a fragment"
	}
	return ""
}

// WebhookDelivery is one attempt to deliver an event to an endpoint, as the delivery log
// keeps it.
type WebhookDelivery struct {
	Seq        int64 // the log's order (newest highest)
	EndpointID string
	EventID    string
	EventType  string
	Attempt    int  // 1 for the first attempt at this event, counting failed ones
	Manual     bool // a redelivery an operator asked for
	Status     int  // the HTTP status answered; 0 when none (transport error, refused address)
	Success    bool
	Latency    time.Duration
	Error      string // what failed, for the operator (no secret, no response body)
	Time       time.Time
}
