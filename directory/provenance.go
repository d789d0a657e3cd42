package directory

import (
	"context"

	"github.com/rosterhq/roster"
)

// UserProvenance returns which source last set each of a user's profile fields and custom
// attributes (docs/provenance.md). Another environment's user is NOT_FOUND.
func (s *Service) UserProvenance(ctx context.Context, env roster.Environment, ref roster.UserRef) (roster.UserProvenance, error) {
	if err := checkUserRef(ref); err != nil {
		return roster.UserProvenance{}, err
	}
	u, records, err := s.store.UserFieldSources(ctx, env.ID, ref)
	if err != nil {
		return roster.UserProvenance{}, err
	}
	return roster.ResolveProvenance(u, records), nil
}
