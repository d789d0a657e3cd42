package sqlstore

import (
	"context"
	"slices"
)

// A directory's gate (PostgreSQL only; SQLite runs one writer at a time) is a transaction-level
// advisory lock that every SCIM write of the directory's users, groups and members takes
// shared, as its first statement, and every change of the directory itself (its update, delete,
// secrets and role assignments, and its organization's delete) takes exclusive before any row
// lock. It exists for fairness: those changes also lock the directory's row FOR UPDATE, but
// PostgreSQL lets a new share or key-share row lock join the ones held while an exclusive one
// waits, so under a stream of overlapping SCIM writes (an IdP's push) disabling or deleting
// the directory waited 3-20 s. PostgreSQL's lock manager queues a new shared advisory lock
// behind a waiting exclusive one: the change waits only for the writes already running
// (TestDirectoryChangesAreNotStarved). Sent with the BEGIN (txConn.first), a shared gate adds
// no round trip to a write.
const directoryGateClass = "7426174" // the first key of the two-key form; migrations use the one-key form

// gateDirectory takes a directory's gate shared: the first statement of a SCIM write.
func (s *Store) gateDirectory(ctx context.Context, tx txConn, directoryID string) error {
	if !s.pg() {
		return nil
	}
	return tx.first(ctx, `SELECT pg_advisory_xact_lock_shared(`+directoryGateClass+`, hashtext($1))`, directoryID)
}

// closeDirectoryGates takes directories' gates exclusively, in ID order, before a change of
// them takes any row lock.
func (s *Store) closeDirectoryGates(ctx context.Context, tx txConn, directoryIDs ...string) error {
	if !s.pg() {
		return nil
	}
	for _, id := range slices.Compact(slices.Sorted(slices.Values(directoryIDs))) {
		if err := tx.first(ctx, `SELECT pg_advisory_xact_lock(`+directoryGateClass+`, hashtext($1))`, id); err != nil {
			return err
		}
	}
	return nil
}
