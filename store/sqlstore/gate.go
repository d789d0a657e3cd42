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

// organizationGateClass keys an organization's gate: the same fairness for the organization's
// update and delete against the writes that share-lock it (lockOrganization: creates and
// memberships under it), which starved an update for up to 22 s
// (TestOrganizationChangesAreNotStarved). Gates are taken in this order: directories' (in ID
// order), then the organization's. A write takes the organization's gate shared only in its
// transaction's first statement, before that statement's row lock (organizationGate): taken
// after a row lock it could close a cycle with a delete that holds the gate and waits for that
// row, and the gate is for fairness only (the row locks exclude).
const organizationGateClass = "7426175"

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

// organizationGate is the first column of an organization's lock statement (o its alias) that
// takes the organization's gate shared, where that statement is its transaction's first (its
// BEGIN still pending), and otherwise "" (see organizationGateClass). PostgreSQL computes a
// query's columns below the LockRows node that locks the row they were read from (EXPLAIN
// VERBOSE shows the gate in the scan's or join's output), so the gate is taken before the
// row lock, as a statement of its own before it was, and one statement sooner
// (TestOrganizationGateComesBeforeTheRowLock).
func (s *Store) organizationGate(tx txConn) string {
	if !s.pg() || tx.begin == nil || tx.begin.sent {
		return ""
	}
	return `pg_advisory_xact_lock_shared(` + organizationGateClass + `, hashtext(o.id)), `
}

// closeOrganizationGate takes an organization's gate exclusively, after its directories' and
// before any row lock.
func (s *Store) closeOrganizationGate(ctx context.Context, tx txConn, organizationID string) error {
	if !s.pg() {
		return nil
	}
	return tx.first(ctx, `SELECT pg_advisory_xact_lock(`+organizationGateClass+`, hashtext($1))`, organizationID)
}
