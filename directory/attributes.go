package directory

import (
	"context"

	"github.com/rosterhq/roster"
)

// CreateAttribute defines a custom user attribute.
func (s *Service) CreateAttribute(ctx context.Context, env roster.Environment, d roster.AttributeDefinition) (roster.AttributeDefinition, error) {
	if d.Type == "" {
		d.Type = roster.AttributeString
	}
	if err := d.Validate(); err != nil {
		return roster.AttributeDefinition{}, err
	}
	now := s.now()
	d.EnvironmentID, d.CreateTime, d.UpdateTime = env.ID, now, now
	return d, s.store.CreateAttribute(ctx, d)
}

// GetAttribute returns a definition by key.
func (s *Service) GetAttribute(ctx context.Context, env roster.Environment, key string) (roster.AttributeDefinition, error) {
	return s.store.GetAttribute(ctx, env.ID, key)
}

// ListAttributes lists the environment's definitions.
func (s *Service) ListAttributes(ctx context.Context, env roster.Environment) ([]roster.AttributeDefinition, error) {
	return s.store.ListAttributes(ctx, env.ID)
}

// UpdateAttribute changes a definition; stored values must fit the new definition.
func (s *Service) UpdateAttribute(ctx context.Context, env roster.Environment, key string, p roster.AttributePatch) (roster.AttributeDefinition, error) {
	now := s.now()
	return s.store.UpdateAttribute(ctx, env.ID, key, func(d *roster.AttributeDefinition) error { return p.Apply(d, now) })
}

// DeleteAttribute removes a definition and every stored value of it (docs/custom-attributes.md).
func (s *Service) DeleteAttribute(ctx context.Context, env roster.Environment, key string) error {
	return s.store.DeleteAttribute(ctx, env.ID, key)
}
