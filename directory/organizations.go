package directory

import (
	"context"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// CreateOrganization validates and stores a new organization.
func (s *Service) CreateOrganization(ctx context.Context, env roster.Environment, in roster.NewOrganization) (roster.Organization, error) {
	if err := in.Validate(); err != nil {
		return roster.Organization{}, err
	}
	o := in.Build(s.ids.New(roster.PrefixOrganization), env.ID, s.now())
	if err := s.store.CreateOrganization(ctx, o); err != nil {
		return roster.Organization{}, err
	}
	return o, nil
}

// GetOrganization finds an organization by ID or external ID.
func (s *Service) GetOrganization(ctx context.Context, env roster.Environment, ref roster.OrganizationRef) (roster.Organization, error) {
	if err := checkRef(ref); err != nil {
		return roster.Organization{}, err
	}
	return s.store.GetOrganization(ctx, env.ID, ref)
}

// UpdateOrganization applies a patch atomically.
func (s *Service) UpdateOrganization(ctx context.Context, env roster.Environment, ref roster.OrganizationRef, p roster.OrganizationPatch) (roster.Organization, error) {
	if err := checkRef(ref); err != nil {
		return roster.Organization{}, err
	}
	if err := p.Validate(); err != nil {
		return roster.Organization{}, err
	}
	now := s.now()
	return s.store.UpdateOrganization(ctx, env.ID, ref, func(o *roster.Organization) error { return p.Apply(o, now) })
}

// DeleteOrganization removes an organization and everything that belongs to it.
func (s *Service) DeleteOrganization(ctx context.Context, env roster.Environment, ref roster.OrganizationRef) error {
	if err := checkRef(ref); err != nil {
		return err
	}
	return s.store.DeleteOrganization(ctx, env.ID, ref)
}

// ListOrganizationsInput is a list or search request.
type ListOrganizationsInput struct {
	PageInput
	ExternalID *string // list: exact external ID
	Query      *string // search: substring of name, ID or external ID
}

// ListOrganizations lists (or, with Query, searches) organizations page by page.
func (s *Service) ListOrganizations(ctx context.Context, env roster.Environment, in ListOrganizationsInput) (List[roster.Organization], error) {
	var v roster.Violations
	fingerprint := "organizations"
	if in.ExternalID != nil {
		fingerprint += "\x00ext=" + *in.ExternalID
	}
	p := newPager(env, in.PageInput, fingerprint, in.Query, 0, &v)
	if err := v.Err(); err != nil {
		return List[roster.Organization]{}, err
	}
	q := store.OrganizationQuery{ExternalID: in.ExternalID, Page: p.query}
	if in.Query != nil {
		q.Search = *in.Query
	}
	page, err := s.store.ListOrganizations(ctx, env.ID, q)
	if err != nil {
		return List[roster.Organization]{}, err
	}
	return list(p, page, func(o roster.Organization) string { return o.ID }, roster.PrefixOrganization), nil
}

func checkRef(ref roster.OrganizationRef) error {
	var v roster.Violations
	ref.Check(&v)
	return v.Err()
}
