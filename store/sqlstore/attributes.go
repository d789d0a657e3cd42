package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/rosterhq/roster"
)

const attributeColumns = `environment_id, attr_key, display_name, attr_type, enum_values, pattern, max_length, required, is_unique, create_time, update_time`

// CreateAttribute stores a definition; keys are unique per environment. A required attribute
// can only be defined while no user lacks it, that is, before there are users.
func (s *Store) CreateAttribute(ctx context.Context, d roster.AttributeDefinition) error {
	return s.inTx(ctx, func(tx txConn) error {
		if d.Required {
			if err := requireNoUsersWithout(ctx, tx, d.EnvironmentID, d.Key); err != nil {
				return err
			}
		}
		enum, err := json.Marshal(nonNilSlice(d.EnumValues))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO attribute_definitions (`+attributeColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			d.EnvironmentID, d.Key, d.DisplayName, string(d.Type), string(enum), d.Pattern, d.MaxLength, d.Required, d.Unique,
			micros(d.CreateTime), micros(d.UpdateTime))
		if err != nil {
			return s.conflict(err, func(string) string { return d.Key })
		}
		return s.recordEvents(ctx, tx, attributeEvent(roster.EventAttributeCreated, d, d.CreateTime, nil))
	})
}

// attributeEvent is a custom attribute definition's event (no organization).
func attributeEvent(typ string, d roster.AttributeDefinition, at time.Time, changed []string) roster.Event {
	if d.EnumValues == nil {
		d.EnumValues = []string{}
	}
	return roster.Event{Type: typ, OccurredAt: at, EnvironmentID: d.EnvironmentID, ChangedFields: changed, Data: d}
}

// GetAttribute returns one definition.
func (s *Store) GetAttribute(ctx context.Context, environmentID, key string) (roster.AttributeDefinition, error) {
	return getAttribute(ctx, s.read, environmentID, key, "")
}

func getAttribute(ctx context.Context, q querier, environmentID, key, suffix string) (roster.AttributeDefinition, error) {
	d, err := scanAttribute(q.QueryRowContext(ctx, `SELECT `+attributeColumns+` FROM attribute_definitions WHERE environment_id = $1 AND attr_key = $2`+suffix, environmentID, key))
	if errors.Is(err, sql.ErrNoRows) {
		return d, notFound("user attribute")
	}
	return d, err
}

// ListAttributes returns an environment's definitions by key.
func (s *Store) ListAttributes(ctx context.Context, environmentID string) ([]roster.AttributeDefinition, error) {
	defs, err := attributeDefs(ctx, s.read, environmentID, "")
	if err != nil {
		return nil, err
	}
	out := make([]roster.AttributeDefinition, 0, len(defs))
	for _, k := range sortedKeys(defs) {
		out = append(out, defs[k])
	}
	return out, nil
}

// UpdateAttribute applies update, then checks every stored value against the new definition.
func (s *Store) UpdateAttribute(ctx context.Context, environmentID, key string, update func(*roster.AttributeDefinition) error) (roster.AttributeDefinition, error) {
	var out roster.AttributeDefinition
	err := s.inTx(ctx, func(tx txConn) error {
		d, err := getAttribute(ctx, tx, environmentID, key, s.dialect.RowLock())
		if err != nil {
			return err
		}
		before := d
		before.EnumValues = slices.Clone(d.EnumValues)
		if err := update(&d); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT value FROM user_attributes WHERE environment_id = $1 AND attr_key = $2`, environmentID, key)
		if err != nil {
			return err
		}
		bad := 0
		var why string
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			if w := d.CheckValue(v); w != "" {
				bad, why = bad+1, w
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if bad > 0 {
			return roster.Errorf(roster.EFailedPrecondition, "%d stored values of %q do not fit the new definition (for example: value %s); change them first", bad, key, why)
		}
		if d.Required {
			if err := requireNoUsersWithout(ctx, tx, environmentID, key); err != nil {
				return err
			}
		}
		enum, err := json.Marshal(nonNilSlice(d.EnumValues))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE attribute_definitions SET display_name = $1, attr_type = $2, enum_values = $3, pattern = $4,
			max_length = $5, required = $6, is_unique = $7, update_time = $8 WHERE environment_id = $9 AND attr_key = $10`,
			d.DisplayName, string(d.Type), string(enum), d.Pattern, d.MaxLength, d.Required, d.Unique, micros(d.UpdateTime), environmentID, key); err != nil {
			return err
		}
		// Keep the unique index in step with the flag; existing duplicates refuse the change.
		_, err = tx.ExecContext(ctx, `UPDATE user_attributes SET unique_value = CASE WHEN $1 THEN value ELSE NULL END WHERE environment_id = $2 AND attr_key = $3`,
			d.Unique, environmentID, key)
		if index, ok := s.dialect.UniqueViolation(err); ok && index == "user_attributes_unique_key" {
			return roster.Errorf(roster.EFailedPrecondition, "users already share values of %q, so it cannot become unique", key)
		}
		if err != nil {
			return err
		}
		out = d
		if changed := roster.AttributeChanges(before, d); len(changed) > 0 {
			return s.recordEvents(ctx, tx, attributeEvent(roster.EventAttributeUpdated, d, d.UpdateTime, changed))
		}
		return nil
	})
	return out, err
}

func requireNoUsersWithout(ctx context.Context, tx txConn, environmentID, key string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users u WHERE u.environment_id = $1 AND NOT EXISTS
		(SELECT 1 FROM user_attributes a WHERE a.user_id = u.id AND a.attr_key = $2)`, environmentID, key).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return roster.Errorf(roster.EFailedPrecondition, "%d users have no value for %q, so it cannot be required; set their values first", n, key)
	}
	return nil
}

// DeleteAttribute removes a definition and, through its foreign key, every stored value.
func (s *Store) DeleteAttribute(ctx context.Context, environmentID, key string) error {
	return s.inTx(ctx, func(tx txConn) error {
		// RETURNING: the definition as last shown, for the event.
		d, err := scanAttribute(tx.QueryRowContext(ctx, `DELETE FROM attribute_definitions WHERE environment_id = $1 AND attr_key = $2 RETURNING `+attributeColumns,
			environmentID, key))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("user attribute")
		} else if err != nil {
			return err
		}
		// The values went with the definition (a foreign key); their provenance goes too.
		if err := forgetAttributeSources(ctx, tx, environmentID, key); err != nil {
			return err
		}
		// One event: the users' values that went with it get none of their own.
		return s.recordEvents(ctx, tx, attributeEvent(roster.EventAttributeDeleted, d, time.Now().UTC(), nil))
	})
}

// attributeDefs reads an environment's definitions; lock (ShareLock, in a write transaction)
// keeps them from changing until the transaction ends, taken in key order.
func attributeDefs(ctx context.Context, q querier, environmentID, lock string) (map[string]roster.AttributeDefinition, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+attributeColumns+` FROM attribute_definitions WHERE environment_id = $1 ORDER BY attr_key`+lock, environmentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]roster.AttributeDefinition{}
	for rows.Next() {
		d, err := scanAttribute(rows)
		if err != nil {
			return nil, err
		}
		out[d.Key] = d
	}
	return out, rows.Err()
}

func scanAttribute(row interface{ Scan(...any) error }) (roster.AttributeDefinition, error) {
	var d roster.AttributeDefinition
	var typ, enum string
	var created, updated int64
	if err := row.Scan(&d.EnvironmentID, &d.Key, &d.DisplayName, &typ, &enum, &d.Pattern, &d.MaxLength, &d.Required, &d.Unique, &created, &updated); err != nil {
		return d, err
	}
	d.Type = roster.AttributeType(typ)
	d.CreateTime, d.UpdateTime = fromMicros(created), fromMicros(updated)
	return d, json.Unmarshal([]byte(enum), &d.EnumValues)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func nonNilSlice(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
