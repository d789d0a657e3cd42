package directory

// Re-applying a directory's attribute mapping to the users it has provisioned
// (docs/directories.md "Re-applying a changed mapping").

import (
	"context"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// DefaultReapplyBatch is how many directory users one transaction of ReapplyDirectoryMapping
// re-applies: enough to keep the per-transaction cost small, few enough that a batch holds the
// directory's writers back for milliseconds and its memory stays flat in the directory's size.
const DefaultReapplyBatch = 500

// WithReapplyBatch sets ReapplyDirectoryMapping's batch size (tests use small ones).
func WithReapplyBatch(n int) Option {
	return func(s *Service) {
		if n > 0 {
			s.reapplyBatch = n
		}
	}
}

// SCIMProfile is the profile function of a SCIM write of directory d (scim/scimdir's
// ProfileFunc): the one normalization a SCIM write and a re-application both run.
type SCIMProfile func(d roster.Directory) func(u *roster.User, row roster.DirectoryUser, st store.SignInState, defs store.AttributeDefs) error

// ReapplyResult counts what ReapplyDirectoryMapping did: Examined = Changed + Unchanged +
// Skipped + Failed.
type ReapplyResult struct {
	Examined, Changed, Unchanged, Skipped, Failed int
	Failures                                      []ReapplyFailure // the first MaxReapplyFailures
	Batches                                       int              // transactions run
}

// ReapplyFailure is one directory user that could not be re-applied.
type ReapplyFailure struct {
	DirectoryUserID string
	Err             error
}

// MaxReapplyFailures bounds the failures a ReapplyResult lists (Failed counts them all).
const MaxReapplyFailures = 100

// ReapplyDirectoryMapping recomputes, with the directory's current mapping, what a SCIM write
// of each of its users' stored resource would set, and stores the users whose result changed.
// Each batch of users is one transaction; a batch that fails is run again one user per
// transaction, so that one user's failure (a unique custom attribute taken, say) is counted
// and the rest are applied. Another organization's directory is NOT_FOUND.
func (s *Service) ReapplyDirectoryMapping(ctx context.Context, env roster.Environment, organizationID, id string, profile SCIMProfile) (ReapplyResult, error) {
	var res ReapplyResult
	if _, err := s.directory(ctx, env, organizationID, id, "directory_id"); err != nil {
		return res, err
	}
	n := s.reapplyBatch
	if n <= 0 {
		n = DefaultReapplyBatch
	}
	batch := func(after int64, limit int) (store.DirectoryReapplyBatch, error) {
		res.Batches++
		return s.store.ReapplyDirectoryUsers(ctx, store.DirectoryReapply{EnvironmentID: env.ID, DirectoryID: id, AfterSeq: after,
			Limit: limit, Profile: profile, Now: s.now()})
	}
	add := func(b store.DirectoryReapplyBatch) {
		res.Examined += b.Examined
		res.Changed += b.Changed
		res.Skipped += b.Skipped
		res.Unchanged += b.Examined - b.Changed - b.Skipped
	}
	var after int64
	for {
		b, err := batch(after, n)
		if err == nil {
			add(b)
			after = b.LastSeq
			if b.Examined < n {
				return res, nil
			}
			continue
		}
		if ctx.Err() != nil || roster.ErrorCode(err) == roster.ENotFound {
			return res, err // cancelled, or the directory is gone
		}
		// one user at a time, for the users of the failed batch
		for range n {
			b, err := batch(after, 1)
			if err != nil {
				if b.LastID == "" || ctx.Err() != nil {
					return res, err // not one user's failure
				}
				res.Examined++
				res.Failed++
				if len(res.Failures) < MaxReapplyFailures {
					res.Failures = append(res.Failures, ReapplyFailure{DirectoryUserID: b.LastID, Err: err})
				}
				after = b.LastSeq
				continue
			}
			add(b)
			after = b.LastSeq
			if b.Examined == 0 {
				return res, nil
			}
		}
	}
}
