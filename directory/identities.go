package directory

import (
	"context"

	"github.com/rosterhq/roster"
)

// UserIdentities returns a user's accounts at identity providers with the raw claims each
// provider sent at the user's last sign-in through it (oldest first). GetUser's identities
// leave the raw claims out (they are the profile's raw_attributes only at sign-in); this is
// the read the dashboard shows them from. Another environment's user is NOT_FOUND.
func (s *Service) UserIdentities(ctx context.Context, env roster.Environment, ref roster.UserRef) ([]roster.Identity, error) {
	u, err := s.GetUser(ctx, env, ref)
	if err != nil {
		return nil, err
	}
	return s.store.ListIdentities(ctx, u.ID)
}
