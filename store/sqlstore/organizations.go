package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

const orgColumns = `id, environment_id, display_name, external_id, metadata, slug, logo_url, region_code, create_time, update_time`

// CreateOrganization stores a new organization. A taken external ID or slug is a conflict,
// decided by the unique index, so racing creators cannot both win.
func (s *Store) CreateOrganization(ctx context.Context, o roster.Organization) error {
	seq, ok := roster.IDNumber(o.ID, roster.PrefixOrganization)
	if !ok {
		return fmt.Errorf("malformed organization id %q", o.ID)
	}
	meta, err := json.Marshal(nonNil(o.Metadata))
	if err != nil {
		return err
	}
	return s.inOtherTx(ctx, func(tx txConn) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO organizations (id, environment_id, seq, display_name, external_id, metadata, slug, logo_url, region_code, create_time, update_time)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			o.ID, o.EnvironmentID, seq, o.DisplayName, nullString(o.ExternalID), string(meta), nullString(o.Slug),
			nullString(o.LogoURL), o.RegionCode, micros(o.CreateTime), micros(o.UpdateTime))
		if err != nil {
			return s.conflict(err, orgField(o))
		}
		return s.recordEvents(ctx, tx, orgEvent(roster.EventOrganizationCreated, o, o.CreateTime, nil))
	})
}

// orgEvent is an organization's event.
func orgEvent(typ string, o roster.Organization, at time.Time, changed []string) roster.Event {
	return roster.Event{Type: typ, OccurredAt: at, EnvironmentID: o.EnvironmentID, OrganizationID: o.ID,
		ChangedFields: changed, Data: o}
}

// GetOrganization finds an organization by ID or external ID.
func (s *Store) GetOrganization(ctx context.Context, environmentID string, ref roster.OrganizationRef) (roster.Organization, error) {
	col, key := organizationKey(ref)
	var o roster.Organization
	found, err := firstRow(s.pointRunner(ctx), organizationQuery(col, ""), []any{environmentID, key}, func(row rowScanner) (err error) {
		o, err = scanOrganization(row)
		return err
	})
	if err == nil && !found {
		return o, notFound("organization")
	}
	return o, err
}

// UpdateOrganization applies update to the stored organization in one transaction.
func (s *Store) UpdateOrganization(ctx context.Context, environmentID string, ref roster.OrganizationRef, update func(*roster.Organization) error) (roster.Organization, error) {
	var out roster.Organization
	err := s.inTx(ctx, func(tx txConn) error {
		if err := s.closeOrganizationGateOf(ctx, tx, environmentID, ref, nil); err != nil {
			return err
		}
		o, err := getOrganization(ctx, tx, environmentID, ref, s.dialect.RowLock())
		if err != nil {
			return err
		}
		before := o
		before.Metadata = maps.Clone(o.Metadata)
		if err := update(&o); err != nil {
			return err
		}
		meta, err := json.Marshal(nonNil(o.Metadata))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			`UPDATE organizations SET display_name = $1, external_id = $2, metadata = $3, slug = $4, logo_url = $5, region_code = $6, update_time = $7
			 WHERE id = $8 AND environment_id = $9`,
			o.DisplayName, nullString(o.ExternalID), string(meta), nullString(o.Slug), nullString(o.LogoURL), o.RegionCode,
			micros(o.UpdateTime), o.ID, environmentID)
		if err != nil {
			return s.conflict(err, orgField(o))
		}
		out = o
		if changed := roster.OrganizationChanges(before, o); len(changed) > 0 {
			return s.recordEvents(ctx, tx, orgEvent(roster.EventOrganizationUpdated, o, o.UpdateTime, changed))
		}
		return nil
	})
	return out, err
}

// DeleteOrganization removes an organization and, in the same transaction, everything that
// belongs to it: its memberships (ON DELETE CASCADE), its own roles, and the users whose only
// membership it was (as DeleteMembership does with cascade; docs/organizations.md).
func (s *Store) DeleteOrganization(ctx context.Context, environmentID string, ref roster.OrganizationRef) error {
	return s.inTx(ctx, func(tx txConn) error {
		// its directories' gates, then its own (gate.go), so that the writes under it do not starve it
		if err := s.closeOrganizationGateOf(ctx, tx, environmentID, ref, func(orgID string) error {
			dirs, err := queryIDs(ctx, tx, `SELECT id FROM directories WHERE organization_id = $1`, orgID)
			if err != nil {
				return err
			}
			return s.closeDirectoryGates(ctx, tx, dirs...)
		}); err != nil {
			return err
		}
		o, err := getOrganization(ctx, tx, environmentID, ref, s.dialect.RowLock())
		if err != nil {
			return err
		}
		// Lock order: the organization, then its members' rows in ID order.
		if lock := s.dialect.RowLock(); lock != "" {
			if err := lockRows(ctx, tx, `SELECT id FROM users WHERE id IN (SELECT user_id FROM memberships WHERE organization_id = $1) ORDER BY id`+lock, o.ID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id IN (SELECT user_id FROM memberships WHERE organization_id = $1)
			AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id AND m.organization_id <> $1)`, o.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM roles WHERE environment_id = $1 AND organization_id = $2`, environmentID, o.ID); err != nil {
			return err
		}
		if _, err = tx.ExecContext(ctx, `DELETE FROM organizations WHERE id = $1 AND environment_id = $2`, o.ID, environmentID); err != nil {
			return err
		}
		return s.recordEvents(ctx, tx, orgEvent(roster.EventOrganizationDeleted, o, time.Now().UTC(), nil))
	})
}

// closeOrganizationGateOf takes the gate of the organization ref names (PostgreSQL), after
// before (its directories' gates), if it exists: one that does not has nothing to wait for.
func (s *Store) closeOrganizationGateOf(ctx context.Context, tx txConn, environmentID string, ref roster.OrganizationRef, before func(orgID string) error) error {
	if !s.pg() {
		return nil
	}
	id := ref.ID
	if id == "" {
		err := tx.QueryRowContext(ctx, `SELECT id FROM organizations WHERE environment_id = $1 AND external_id = $2`, environmentID, ref.ExternalID).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	if before != nil {
		if err := before(id); err != nil {
			return err
		}
	}
	return s.closeOrganizationGate(ctx, tx, id)
}

// ListOrganizations returns one page of the organizations that match q, in ID order, and
// the number of all matches.
func (s *Store) ListOrganizations(ctx context.Context, environmentID string, q store.OrganizationQuery) (store.Page[roster.Organization], error) {
	where := []string{"environment_id = $1"}
	args := []any{environmentID}
	arg := appendArg(&args)
	if q.ExternalID != nil {
		where = append(where, "external_id = "+arg(*q.ExternalID))
	}
	if q.Search != "" {
		p := arg("%" + EscapeLike(strings.ToLower(q.Search)) + "%")
		where = append(where, fmt.Sprintf(`(lower(display_name) LIKE %[1]s ESCAPE '\' OR id LIKE %[1]s ESCAPE '\' OR lower(external_id) LIKE %[1]s ESCAPE '\')`, p))
	}
	return keysetPage(ctx, s.read, "organizations", orgColumns, where, args, q.Page, scanOrganization)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getOrganization(ctx context.Context, q queryer, environmentID string, ref roster.OrganizationRef, suffix string) (roster.Organization, error) {
	col, key := organizationKey(ref)
	o, err := scanOrganization(q.QueryRowContext(ctx, organizationQuery(col, suffix), environmentID, key))
	if errors.Is(err, sql.ErrNoRows) {
		return o, notFound("organization")
	}
	return o, err
}

// organizationQuery reads one organization by col (organizationKey) in an environment ($1,
// $2); suffix may lock its row.
func organizationQuery(col, suffix string) string {
	return `SELECT ` + orgColumns + ` FROM organizations WHERE environment_id = $1 AND ` + col + ` = $2` + suffix
}

// organizationKey is the unique column of organizations that ref names, and its value.
func organizationKey(ref roster.OrganizationRef) (col, key string) {
	if ref.ID == "" {
		return "external_id", ref.ExternalID
	}
	return "id", ref.ID
}

func scanOrganization(row interface{ Scan(...any) error }) (roster.Organization, error) {
	var o roster.Organization
	var ext, slug, logo sql.NullString
	var meta string
	var created, updated int64
	if err := row.Scan(&o.ID, &o.EnvironmentID, &o.DisplayName, &ext, &meta, &slug, &logo, &o.RegionCode, &created, &updated); err != nil {
		return o, err
	}
	if err := decodeMap(meta, &o.Metadata); err != nil {
		return o, fmt.Errorf("organization %s: metadata: %w", o.ID, err)
	}
	o.ExternalID, o.Slug, o.LogoURL = stringPtr(ext), stringPtr(slug), stringPtr(logo)
	o.CreateTime, o.UpdateTime = fromMicros(created), fromMicros(updated)
	return o, nil
}

func orgField(o roster.Organization) func(string) string {
	return func(field string) string {
		switch field {
		case "external_id":
			return deref(o.ExternalID)
		case "slug":
			return deref(o.Slug)
		}
		return o.ID
	}
}

// EscapeLike makes s match literally inside a LIKE pattern with ESCAPE '\'.
func EscapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// keysetPage runs a keyset page query over table (with a seq column) and its count.
func keysetPage[T any](ctx context.Context, q querier, table, columns string, where []string, args []any, pq store.PageQuery,
	scan func(interface{ Scan(...any) error }) (T, error)) (store.Page[T], error) {
	var page store.Page[T]
	arg := appendArg(&args)
	filter := strings.Join(where, " AND ")
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+` WHERE `+filter, args...).Scan(&page.Total); err != nil {
		return page, err
	}
	order := "ASC"
	switch {
	case pq.After > 0:
		filter += " AND seq > " + arg(pq.After)
	case pq.Before > 0:
		filter += " AND seq < " + arg(pq.Before)
		order = "DESC"
	}
	limit := arg(pq.Size + 1)
	rows, err := q.QueryContext(ctx, `SELECT `+columns+` FROM `+table+` WHERE `+filter+` ORDER BY seq `+order+` LIMIT `+limit, args...)
	if err != nil {
		return page, err
	}
	defer rows.Close()
	for rows.Next() {
		item, err := scan(rows)
		if err != nil {
			return page, err
		}
		page.Items = append(page.Items, item)
	}
	if err := rows.Err(); err != nil {
		return page, err
	}
	page.Items, page.More = finishPage(page.Items, pq, order)
	if page.Items == nil {
		page.Items = []T{}
	}
	return page, nil
}

// finishPage trims the extra row a keyset query reads to learn whether more rows follow, and
// puts a backwards page (read in DESC order) back in ascending order.
func finishPage[T any](items []T, q store.PageQuery, order string) ([]T, bool) {
	more := len(items) > q.Size
	if more {
		items = items[:q.Size]
	}
	if order == "DESC" {
		slices.Reverse(items)
	}
	return items, more
}
