package directory

import (
	"context"
	"errors"
	"fmt"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/secretbox"
	"github.com/rosterhq/roster/store"
)

// WithSecretBox seals connection client secrets with b.
func WithSecretBox(b *secretbox.Box) Option { return func(s *Service) { s.box = b } }

// CreateConnection starts an SSO connection of an organization: disabled and unconfigured
// until UpdateConnection gives it its provider's settings.
func (s *Service) CreateConnection(ctx context.Context, env roster.Environment, organizationID string, typ roster.ConnectionType, provider string) (roster.Connection, error) {
	if err := checkOrganizationID(organizationID); err != nil {
		return roster.Connection{}, err
	}
	c, err := roster.NewConnection(s.ids.New(roster.PrefixConnection), env.ID, organizationID, typ, provider, s.now())
	if err != nil {
		return c, err
	}
	return c, s.store.CreateConnection(ctx, c)
}

// GetConnection returns a connection of an organization ("" for any organization).
func (s *Service) GetConnection(ctx context.Context, env roster.Environment, organizationID, id string) (roster.Connection, error) {
	if err := checkConnectionID(id); err != nil {
		return roster.Connection{}, err
	}
	c, err := s.store.GetConnection(ctx, env.ID, id)
	if err == nil && organizationID != "" && c.OrganizationID != organizationID {
		return roster.Connection{}, roster.Errorf(roster.ENotFound, "connection not found")
	}
	return c, err
}

// ListConnections returns an organization's connections, the connections of the organization
// that owns a domain, or all of the environment's.
func (s *Service) ListConnections(ctx context.Context, env roster.Environment, organizationID, domain string) ([]roster.Connection, error) {
	q := store.ConnectionQuery{OrganizationID: organizationID}
	if domain != "" && organizationID == "" {
		d, err := roster.NormalizeDomain("domain", domain)
		if err != nil {
			return nil, err
		}
		q.Domain = d
	}
	// An organization's list, or that of a domain's organization, is bounded by
	// MaxConnectionsPerOrganization; the environment's list by MaxConnectionsListed.
	if q.OrganizationID == "" && q.Domain == "" {
		q.Limit = roster.MaxConnectionsListed
	}
	list, err := s.store.ListConnections(ctx, env.ID, q)
	if err == nil && q.Limit > 0 && len(list) > q.Limit {
		return nil, &roster.Error{Code: roster.EFailedPrecondition,
			Message: fmt.Sprintf("the environment has more than %d connections, the most one list answers; list them by organization_id or domain", q.Limit),
			Violations: []roster.FieldViolation{{Field: "organization_id", Constraint: fmt.Sprintf("max_listed=%d", q.Limit),
				Description: "required when the environment has more connections than one list answers"}}}
	}
	return list, err
}

// UpdateConnection applies a patch: custom attributes in the mapping must be defined and
// group-to-role targets must be roles; a new client secret is sealed before it is stored.
func (s *Service) UpdateConnection(ctx context.Context, env roster.Environment, organizationID, id string, p roster.ConnectionPatch) (roster.Connection, error) {
	if _, err := s.GetConnection(ctx, env, organizationID, id); err != nil {
		return roster.Connection{}, err
	}
	var defs map[string]roster.AttributeDefinition
	roleExists := func(string) bool { return true }
	if p.AttributeMapping != nil {
		list, err := s.store.ListAttributes(ctx, env.ID)
		if err != nil {
			return roster.Connection{}, err
		}
		defs = map[string]roster.AttributeDefinition{}
		for _, d := range list {
			defs[d.Key] = d
		}
		roleExists = func(name string) bool {
			_, missing, err := s.store.ResolveRoles(ctx, env.ID, organizationID, []string{name})
			return err == nil && len(missing) == 0
		}
	}
	now := s.now()
	return s.store.UpdateConnection(ctx, env.ID, id, func(c *roster.Connection) error {
		if err := p.Apply(c, defs, roleExists, now); err != nil {
			return err
		}
		return s.seal(c)
	})
}

// seal replaces a connection's plain client secret with its sealed form.
func (s *Service) seal(c *roster.Connection) error {
	if c.OIDC.ClientSecret == "" || c.OIDC.SecretSealed != "" {
		return nil
	}
	if s.box == nil {
		return roster.Errorf(roster.EFailedPrecondition, "no encryption key is configured, so client secrets cannot be stored (docs/encryption.md)")
	}
	sealed, err := s.box.Seal(c.OIDC.ClientSecret, c.ID)
	if err != nil {
		return err
	}
	c.OIDC.SecretSealed = sealed
	return nil
}

// ConnectionSecret opens a connection's client secret, for the sign-in that sends it to the
// identity provider.
func (s *Service) ConnectionSecret(c roster.Connection) (string, error) {
	if c.OIDC.SecretSealed == "" {
		return "", errors.New("the connection has no client secret")
	}
	if s.box == nil {
		return "", errors.New("no encryption key is configured")
	}
	return s.box.Open(c.OIDC.SecretSealed, c.ID)
}

// SetConnectionEnabled enables or disables a connection.
func (s *Service) SetConnectionEnabled(ctx context.Context, env roster.Environment, organizationID, id string, on bool) (roster.Connection, error) {
	return s.UpdateConnection(ctx, env, organizationID, id, roster.ConnectionPatch{Enabled: &on})
}

// DeleteConnection removes a connection of an organization.
func (s *Service) DeleteConnection(ctx context.Context, env roster.Environment, organizationID, id string) error {
	if _, err := s.GetConnection(ctx, env, organizationID, id); err != nil {
		return err
	}
	return s.store.DeleteConnection(ctx, env.ID, id)
}

// CreateDomain adds a domain to an organization.
func (s *Service) CreateDomain(ctx context.Context, env roster.Environment, ref roster.OrganizationRef, name string, typ roster.DomainType) (roster.Domain, error) {
	o, err := s.GetOrganization(ctx, env, ref)
	if err != nil {
		return roster.Domain{}, err
	}
	norm, err := roster.NormalizeDomain("domain.domain", name)
	if err != nil {
		return roster.Domain{}, err
	}
	if typ == "" {
		typ = roster.DomainOrganization
	}
	now := s.now()
	d := roster.Domain{ID: s.ids.New(roster.PrefixDomain), EnvironmentID: env.ID, OrganizationID: o.ID, Name: norm, Type: typ,
		CreateTime: now, UpdateTime: now}
	return d, s.store.CreateDomain(ctx, d)
}

// GetDomain returns a domain of an organization.
func (s *Service) GetDomain(ctx context.Context, env roster.Environment, ref roster.OrganizationRef, id string) (roster.Domain, error) {
	o, err := s.GetOrganization(ctx, env, ref)
	if err != nil {
		return roster.Domain{}, err
	}
	if id == "" {
		return roster.Domain{}, invalid("id", "required", "a domain id is required")
	}
	d, err := s.store.GetDomain(ctx, env.ID, id)
	if err == nil && d.OrganizationID != o.ID {
		return roster.Domain{}, roster.Errorf(roster.ENotFound, "domain not found")
	}
	return d, err
}

// ListDomains returns an organization's domains, of one type or all ("").
func (s *Service) ListDomains(ctx context.Context, env roster.Environment, ref roster.OrganizationRef, typ roster.DomainType) ([]roster.Domain, error) {
	o, err := s.GetOrganization(ctx, env, ref)
	if err != nil {
		return nil, err
	}
	return s.store.ListDomains(ctx, env.ID, o.ID, typ)
}

// DeleteDomain removes a domain of an organization.
func (s *Service) DeleteDomain(ctx context.Context, env roster.Environment, ref roster.OrganizationRef, id string) error {
	d, err := s.GetDomain(ctx, env, ref, id)
	if err != nil {
		return err
	}
	return s.store.DeleteDomain(ctx, env.ID, d.ID)
}

func checkOrganizationID(id string) error {
	if id == "" {
		return invalid("organization_id", "required", "an organization id is required")
	}
	if len(id) > 32 {
		return invalid("organization_id", "string.max_len=32", "must be at most 32 characters")
	}
	return nil
}

func checkConnectionID(id string) error {
	if id == "" {
		return invalid("id", "required", "a connection id is required")
	}
	if len(id) > 32 {
		return invalid("id", "string.max_len=32", "must be at most 32 characters")
	}
	return nil
}

func invalid(field, constraint, msg string) error {
	var v roster.Violations
	v.Add(field, constraint, "%s", msg)
	return v.Err()
}

// SAMLKeyPair returns the environment's SAML service-provider key and certificate (PEM),
// making them on first use; the private key is stored sealed.
func (s *Service) SAMLKeyPair(ctx context.Context, env roster.Environment, commonName string, newPair func() (keyPEM, certPEM string, err error)) (string, string, error) {
	if s.box == nil {
		return "", "", errors.New("no encryption key is configured")
	}
	context := "saml-sp:" + env.ID
	k, err := s.store.GetSAMLKey(ctx, env.ID)
	if roster.ErrorCode(err) == roster.ENotFound {
		keyPEM, certPEM, err := newPair()
		if err != nil {
			return "", "", err
		}
		sealed, err := s.box.Seal(keyPEM, context)
		if err != nil {
			return "", "", err
		}
		k = roster.SAMLKey{EnvironmentID: env.ID, PrivateKeySealed: sealed, Certificate: certPEM, CreateTime: s.now()}
		switch err := s.store.CreateSAMLKey(ctx, k); roster.ErrorCode(err) {
		case "":
			return keyPEM, certPEM, nil
		case roster.EConflict: // another node made it first: use theirs
			k, err = s.store.GetSAMLKey(ctx, env.ID)
			if err != nil {
				return "", "", err
			}
		default:
			return "", "", err
		}
	} else if err != nil {
		return "", "", err
	}
	keyPEM, err := s.box.Open(k.PrivateKeySealed, context)
	return keyPEM, k.Certificate, err
}
