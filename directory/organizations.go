package directory

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/pagetoken"
	"github.com/rosterhq/roster/store"
)

// Page sizes. ListOrganization has no limit on the wire; Roster serves at most MaxPageSize.
// Search has a wire rule (page_size <= 30), enforced as such.
const (
	DefaultPageSize   = 10
	MaxPageSize       = 100
	MaxSearchPageSize = 30
	SearchQueryMin    = 3
	SearchQueryMax    = 100
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
	PageSize   int
	PageToken  string
	ExternalID *string // list: exact external ID
	Query      *string // search: substring of name, ID or external ID
}

// List is one page of a list.
type List[T any] struct {
	Items     []T
	NextToken string
	PrevToken string
	Total     int
}

// ListOrganizations lists (or, with Query, searches) organizations page by page.
func (s *Service) ListOrganizations(ctx context.Context, env roster.Environment, in ListOrganizationsInput) (List[roster.Organization], error) {
	var v roster.Violations
	maxSize := MaxPageSize
	q := store.OrganizationQuery{ExternalID: in.ExternalID}
	fingerprint := "organizations"
	if in.Query != nil {
		maxSize = MaxSearchPageSize
		if n := utf8.RuneCountInString(*in.Query); n < SearchQueryMin || n > SearchQueryMax {
			v.Add("query", "string.len=3..100", "the search query must be %d to %d characters long", SearchQueryMin, SearchQueryMax)
		}
		if in.PageSize > MaxSearchPageSize {
			v.Add("page_size", "uint32.lte=30", "must be at most %d", MaxSearchPageSize)
		}
		q.Search = *in.Query
		fingerprint += "\x00q=" + strings.ToLower(*in.Query)
	}
	if in.ExternalID != nil {
		fingerprint += "\x00ext=" + *in.ExternalID
	}
	q.Page.Size = pageSize(in.PageSize, maxSize)
	if in.PageToken != "" {
		c, err := pagetoken.Decode(env.CursorKey, fingerprint, in.PageToken)
		if err != nil {
			v.Add("page_token", "valid_token", "is not a page token of this query (tokens are opaque and only work with the filters that produced them)")
		} else if c.Direction == pagetoken.Next {
			q.Page.After = c.Position
		} else {
			q.Page.Before = c.Position
		}
	}
	if err := v.Err(); err != nil {
		return List[roster.Organization]{}, err
	}
	page, err := s.store.ListOrganizations(ctx, env.ID, q)
	if err != nil {
		return List[roster.Organization]{}, err
	}
	out := List[roster.Organization]{Items: page.Items, Total: page.Total}
	if len(page.Items) > 0 {
		first, _ := roster.IDNumber(page.Items[0].ID, roster.PrefixOrganization)
		last, _ := roster.IDNumber(page.Items[len(page.Items)-1].ID, roster.PrefixOrganization)
		// Reading forwards, a previous page exists when we started after some row; reading
		// backwards, the next page always exists (we came from it).
		backward := q.Page.Before > 0
		if (!backward && page.More) || backward {
			out.NextToken = pagetoken.Encode(env.CursorKey, fingerprint, pagetoken.Cursor{Direction: pagetoken.Next, Position: last})
		}
		if (backward && page.More) || q.Page.After > 0 {
			out.PrevToken = pagetoken.Encode(env.CursorKey, fingerprint, pagetoken.Cursor{Direction: pagetoken.Prev, Position: first})
		}
	}
	return out, nil
}

func pageSize(requested, maxSize int) int {
	switch {
	case requested <= 0:
		return DefaultPageSize
	case requested > maxSize:
		return maxSize
	}
	return requested
}

func checkRef(ref roster.OrganizationRef) error {
	var v roster.Violations
	ref.Check(&v)
	return v.Err()
}
