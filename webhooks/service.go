// Package webhooks manages webhook endpoints (Service) and delivers the change feed's events
// to them, signed with the Standard Webhooks scheme the Scalekit SDKs verify (Worker). See
// docs/webhooks.md.
package webhooks

import (
	"context"
	"slices"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/outbound"
	"github.com/rosterhq/roster/secretbox"
	"github.com/rosterhq/roster/store"
)

// Service manages an environment's endpoints.
type Service struct {
	store store.Store
	box   *secretbox.Box
	guard *outbound.Guard
	ids   *roster.IDGenerator
	now   func() time.Time
}

// New returns a service. box seals the signing secrets (without one, creating an endpoint is
// refused); guard decides which URLs are allowed.
func New(st store.Store, box *secretbox.Box, guard *outbound.Guard) *Service {
	return &Service{store: st, box: box, guard: guard, ids: roster.NewIDGenerator(), now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

// NewEndpoint is what a create sets.
type NewEndpoint struct {
	URL         string
	Description string
	EventTypes  []string
	Disabled    bool
}

// EndpointUpdate changes the fields that are set.
type EndpointUpdate struct {
	URL         *string
	Description *string
	EventTypes  *[]string
	Enabled     *bool
}

// Create stores an endpoint and returns it with its signing secret, which is shown this once.
func (s *Service) Create(ctx context.Context, environmentID string, in NewEndpoint) (roster.WebhookEndpoint, string, error) {
	at := s.now()
	e := roster.WebhookEndpoint{ID: s.ids.New(roster.PrefixWebhook), EnvironmentID: environmentID, URL: in.URL,
		Description: in.Description, EventTypes: in.EventTypes, Enabled: !in.Disabled, CreateTime: at, UpdateTime: at}
	if in.Disabled {
		e.DisabledReason = roster.WebhookDisabledOperator
	}
	if err := s.check(&e); err != nil {
		return e, "", err
	}
	secret, sealed, err := s.newSecret(e.ID)
	if err != nil {
		return e, "", err
	}
	e.SecretSealed = sealed
	if err := s.store.CreateWebhookEndpoint(ctx, e); err != nil {
		return e, "", err
	}
	return e, secret, nil
}

func (s *Service) check(e *roster.WebhookEndpoint) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if err := s.guard.CheckURL(e.URL); err != nil {
		var v roster.Violations
		v.Add("url", "outbound", "is not allowed: loopback, private and link-local addresses and localhost are refused (see --allow-private-networks)")
		return v.Err()
	}
	return nil
}

func (s *Service) newSecret(endpointID string) (secret, sealed string, err error) {
	if s.box == nil {
		return "", "", roster.Errorf(roster.EFailedPrecondition, "no encryption key is configured, so webhook secrets cannot be stored (docs/encryption.md)")
	}
	secret = NewSecret()
	sealed, err = s.box.Seal(secret, endpointID)
	return secret, sealed, err
}

// Get returns an endpoint.
func (s *Service) Get(ctx context.Context, environmentID, id string) (roster.WebhookEndpoint, error) {
	return s.store.GetWebhookEndpoint(ctx, environmentID, id)
}

// List returns the environment's endpoints.
func (s *Service) List(ctx context.Context, environmentID string) ([]roster.WebhookEndpoint, error) {
	return s.store.ListWebhookEndpoints(ctx, environmentID)
}

// Update changes an endpoint. Enabling a disabled one (Enable) resumes it from its cursor.
func (s *Service) Update(ctx context.Context, environmentID, id string, u EndpointUpdate) (roster.WebhookEndpoint, error) {
	return s.store.UpdateWebhookEndpoint(ctx, environmentID, id, func(e *roster.WebhookEndpoint) error {
		if u.URL != nil {
			e.URL = *u.URL
		}
		if u.Description != nil {
			e.Description = *u.Description
		}
		if u.EventTypes != nil {
			e.EventTypes = slices.Clone(*u.EventTypes)
		}
		if u.Enabled != nil && *u.Enabled != e.Enabled {
			e.Enabled, e.DisabledReason = *u.Enabled, ""
			if !e.Enabled {
				e.DisabledReason = roster.WebhookDisabledOperator
			}
		}
		e.UpdateTime = s.now()
		return s.check(e)
	})
}

// Enable re-enables an endpoint (one disabled by an operator or for failing): it resumes
// from the event it had not delivered, at once.
func (s *Service) Enable(ctx context.Context, environmentID, id string) (roster.WebhookEndpoint, error) {
	on := true
	return s.Update(ctx, environmentID, id, EndpointUpdate{Enabled: &on})
}

// Delete removes an endpoint with its delivery log.
func (s *Service) Delete(ctx context.Context, environmentID, id string) error {
	return s.store.DeleteWebhookEndpoint(ctx, environmentID, id)
}

// RotateSecret gives an endpoint a new signing secret, returned this once. For
// roster.WebhookSecretOverlap deliveries carry a signature with the previous secret too, so
// a receiver verifies with either while it switches.
func (s *Service) RotateSecret(ctx context.Context, environmentID, id string) (roster.WebhookEndpoint, string, error) {
	secret, sealed, err := s.newSecret(id)
	if err != nil {
		return roster.WebhookEndpoint{}, "", err
	}
	e, err := s.store.UpdateWebhookEndpoint(ctx, environmentID, id, func(e *roster.WebhookEndpoint) error {
		at := s.now()
		e.PreviousSecretSealed, e.PreviousSecretUntil = e.SecretSealed, at.Add(roster.WebhookSecretOverlap)
		e.SecretSealed, e.UpdateTime = sealed, at
		return nil
	})
	if err != nil {
		return e, "", err
	}
	return e, secret, nil
}

// Deliveries pages an endpoint's delivery log, newest first.
func (s *Service) Deliveries(ctx context.Context, environmentID, id string, q store.WebhookDeliveryQuery) ([]roster.WebhookDelivery, error) {
	return s.store.ListWebhookDeliveries(ctx, environmentID, id, q)
}

// Redeliver queues one event of the environment for delivery to the endpoint again (with
// the same webhook-id, signed afresh), whatever the endpoint's event types.
func (s *Service) Redeliver(ctx context.Context, environmentID, id, eventID string) error {
	return s.store.QueueWebhookRedelivery(ctx, environmentID, id, eventID, s.now())
}
