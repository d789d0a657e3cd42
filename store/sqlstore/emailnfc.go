package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/rosterhq/roster"
)

// goMigration is a migration step written in Go, for what SQL cannot compute. It is recorded
// in schema_migrations like the SQL files and runs in the same transaction, in version order
// among them. It returns notices for the operator (Store.MigrationNotices); it must be safe
// to run again from the start (a transaction may be run again).
type goMigration struct {
	version string
	run     func(ctx context.Context, tx txConn) (notices []string, err error)
}

var goMigrations = []goMigration{
	{"0009_email_nfc", migrateEmailNFC},
}

// emailScanBatch is how many users migrateEmailNFC reads per query.
const emailScanBatch = 1000

// migrateEmailNFC stores in NFC the emails that Roster stored before it normalized them
// (roster.NormalizeEmail, roster.EmailKey), so that lookups, the unique index and search see
// them in the form they compute. A user whose NFC key another user of its environment holds
// already (one address, two users) is left unchanged and reported: merging people is the
// operator's decision (docs/users.md, "Emails stored before NFC").
func migrateEmailNFC(ctx context.Context, tx txConn) ([]string, error) {
	type change struct{ id, email, key string }
	type group struct{ environmentID, key string }
	changes := map[group][]change{}
	after := ""
	for {
		rows, err := tx.QueryContext(ctx, `SELECT id, environment_id, email, email_key FROM users WHERE id > $1 ORDER BY id LIMIT `+fmt.Sprint(emailScanBatch), after)
		if err != nil {
			return nil, err
		}
		n := 0
		for rows.Next() {
			var id, env, email, key string
			if err := rows.Scan(&id, &env, &email, &key); err != nil {
				rows.Close()
				return nil, err
			}
			n, after = n+1, id
			wantEmail, wantKey := roster.NormalizeEmail(email), roster.EmailKey(email)
			if wantEmail != email || wantKey != key {
				g := group{env, wantKey}
				changes[g] = append(changes[g], change{id, wantEmail, wantKey})
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if n < emailScanBatch {
			break
		}
	}
	groups := make([]group, 0, len(changes))
	for g := range changes {
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool {
		return groups[i].environmentID+"\x00"+groups[i].key < groups[j].environmentID+"\x00"+groups[j].key
	})
	var notices []string
	for _, g := range groups {
		cs := changes[g]
		// The users that hold the key now, and those that would hold it after: more than one
		// is one address for several users.
		holders, err := queryIDs(ctx, tx, `SELECT id FROM users WHERE environment_id = $1 AND email_key = $2 ORDER BY id`, g.environmentID, g.key)
		if err != nil {
			return nil, err
		}
		involved := map[string]bool{}
		for _, id := range holders {
			involved[id] = true
		}
		var left []string
		for _, c := range cs {
			involved[c.id] = true
			if !slices.Contains(holders, c.id) {
				left = append(left, c.id)
			}
		}
		if len(involved) > 1 {
			all := make([]string, 0, len(involved))
			for id := range involved {
				all = append(all, id)
			}
			sort.Strings(all)
			found := "none of them"
			if len(holders) > 0 {
				found = strings.Join(holders, ", ")
			}
			sort.Strings(left)
			notices = append(notices, fmt.Sprintf("0009_email_nfc: users %s of environment %s have one email address in "+
				"different Unicode forms and were left unchanged; a lookup by email finds %s, and %s only by ID. "+
				"Keep one, move memberships to it, delete the others, then run this step again "+
				"(docs/users.md, \"Emails stored before NFC\")",
				strings.Join(all, ", "), g.environmentID, found, strings.Join(left, ", ")))
			continue
		}
		for _, c := range cs {
			if _, err := tx.ExecContext(ctx, `UPDATE users SET email = $1, email_key = $2 WHERE id = $3`, c.email, c.key, c.id); err != nil {
				return nil, fmt.Errorf("user %s: %w", c.id, err)
			}
		}
	}
	return notices, nil
}
