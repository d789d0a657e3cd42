package directory

import (
	"strings"
	"unicode/utf8"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/pagetoken"
	"github.com/rosterhq/roster/store"
)

// Page sizes. The plain list RPCs have no limit on the wire (ListOrganizationUsers has 100);
// Roster serves at most MaxPageSize. Search has a wire rule (page_size <= 30), enforced.
const (
	DefaultPageSize   = 10
	MaxPageSize       = 100
	MaxSearchPageSize = 30
	SearchQueryMin    = 3
	SearchQueryMax    = 100
)

// PageInput is the paging part of a list request.
type PageInput struct {
	PageSize  int
	PageToken string
}

// List is one page of a list.
type List[T any] struct {
	Items     []T
	NextToken string
	PrevToken string
	Total     int
	// TotalAtLeast: the count stopped at the request's CountUpTo (at least Total match).
	TotalAtLeast bool
}

// pager turns a request's page size, token and filters into a keyset query, and a page of
// results into tokens. fingerprint names the list and its filters, so that a token only
// works with the query that made it.
type pager struct {
	env         roster.Environment
	fingerprint string
	query       store.PageQuery
}

// newPager checks paging input; a search (query != nil) has its own limits.
func newPager(env roster.Environment, in PageInput, fingerprint string, query *string, strictMax int, v *roster.Violations) *pager {
	p := &pager{env: env, fingerprint: fingerprint}
	maxSize := MaxPageSize
	if query != nil {
		maxSize = MaxSearchPageSize
		if n := utf8.RuneCountInString(*query); n < SearchQueryMin || n > SearchQueryMax {
			v.Add("query", "string.len=3..100", "the search query must be %d to %d characters long", SearchQueryMin, SearchQueryMax)
		}
		strictMax = MaxSearchPageSize
		p.fingerprint += "\x00q=" + strings.ToLower(*query)
	}
	if strictMax > 0 && in.PageSize > strictMax {
		v.Add("page_size", "uint32.lte", "must be at most %d", strictMax)
	}
	switch {
	case in.PageSize <= 0:
		p.query.Size = DefaultPageSize
	case in.PageSize > maxSize:
		p.query.Size = maxSize
	default:
		p.query.Size = in.PageSize
	}
	if in.PageToken != "" {
		c, err := pagetoken.Decode(env.CursorKey, p.fingerprint, in.PageToken)
		switch {
		case err != nil:
			v.Add("page_token", "valid_token", "is not a page token of this query (tokens are opaque and only work with the filters that produced them)")
		case c.Direction == pagetoken.Next:
			p.query.After = c.Position
		default:
			p.query.Before = c.Position
		}
	}
	return p
}

// list makes the answer for a page whose items have the given ID prefix.
func list[T any](p *pager, page store.Page[T], id func(T) string, prefix string) List[T] {
	out := List[T]{Items: page.Items, Total: page.Total, TotalAtLeast: page.TotalAtLeast}
	if len(page.Items) == 0 {
		return out
	}
	first, _ := roster.IDNumber(id(page.Items[0]), prefix)
	last, _ := roster.IDNumber(id(page.Items[len(page.Items)-1]), prefix)
	// Reading forwards, a previous page exists when we started after some row; reading
	// backwards, the next page always exists (we came from it).
	backward := p.query.Before > 0
	if page.More || backward {
		out.NextToken = pagetoken.Encode(p.env.CursorKey, p.fingerprint, pagetoken.Cursor{Direction: pagetoken.Next, Position: last})
	}
	if (backward && page.More) || p.query.After > 0 {
		out.PrevToken = pagetoken.Encode(p.env.CursorKey, p.fingerprint, pagetoken.Cursor{Direction: pagetoken.Prev, Position: first})
	}
	return out
}
