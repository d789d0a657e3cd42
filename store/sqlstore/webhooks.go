package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// Webhook endpoints and their delivery state (docs/webhooks.md, migration 0022).

const webhookColumns = `id, environment_id, url, description, event_types, enabled, disabled_reason, secret_sealed,
	previous_secret, previous_until, create_time, update_time, cursor_tx, cursor_seq, cursor_index, next_attempt, attempts, failing_since`

type rowScanner interface{ Scan(dest ...any) error }

func scanWebhook(r rowScanner) (roster.WebhookEndpoint, store.WebhookState, error) {
	var e roster.WebhookEndpoint
	var st store.WebhookState
	var types string
	var created, updated, next, prevUntil int64
	var failing sql.NullInt64
	err := r.Scan(&e.ID, &e.EnvironmentID, &e.URL, &e.Description, &types, &e.Enabled, &e.DisabledReason, &e.SecretSealed,
		&e.PreviousSecretSealed, &prevUntil, &created, &updated, &st.Cursor.Tx, &st.Cursor.Seq, &st.Cursor.Index, &next, &st.Attempts, &failing)
	if err != nil {
		return e, st, err
	}
	if err := json.Unmarshal([]byte(types), &e.EventTypes); err != nil {
		return e, st, fmt.Errorf("webhook %s event types: %w", e.ID, err)
	}
	e.CreateTime, e.UpdateTime, st.NextAttempt = fromMicros(created), fromMicros(updated), fromMicros(next)
	if prevUntil != 0 {
		e.PreviousSecretUntil = fromMicros(prevUntil)
	}
	st.FailingSince = timePtr(failing)
	return e, st, nil
}

func webhookTypes(e roster.WebhookEndpoint) (string, error) {
	b, err := json.Marshal(nonNilSlice(e.EventTypes))
	return string(b), err
}

// CreateWebhookEndpoint stores an endpoint at the environment's EventHead, under the cap,
// counted while the environment's row is locked (concurrent creates count in turn).
func (s *Store) CreateWebhookEndpoint(ctx context.Context, e roster.WebhookEndpoint) error {
	types, err := webhookTypes(e)
	if err != nil {
		return err
	}
	head, err := s.EventHead(ctx, e.EnvironmentID)
	if err != nil {
		return err
	}
	return s.inOtherTx(ctx, func(tx txConn) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM environments WHERE id = $1`+s.dialect.RowLock(), e.EnvironmentID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("environment")
		} else if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_endpoints WHERE environment_id = $1`, e.EnvironmentID).Scan(&n); err != nil {
			return err
		}
		if n >= roster.MaxWebhooksPerEnvironment {
			return roster.CapReached("environment", "url", "webhook_endpoints", n, roster.MaxWebhooksPerEnvironment)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO webhook_endpoints (id, environment_id, url, description, event_types, enabled, disabled_reason,
			secret_sealed, create_time, update_time, cursor_tx, cursor_seq, cursor_index, next_attempt, attempts)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0)`,
			e.ID, e.EnvironmentID, e.URL, e.Description, types, e.Enabled, e.DisabledReason, e.SecretSealed,
			micros(e.CreateTime), micros(e.UpdateTime), head.Tx, head.Seq, head.Index, micros(e.CreateTime))
		return err
	})
}

// GetWebhookEndpoint returns one endpoint of the environment.
func (s *Store) GetWebhookEndpoint(ctx context.Context, environmentID, id string) (roster.WebhookEndpoint, error) {
	e, _, err := scanWebhook(s.read.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhook_endpoints WHERE id = $1 AND environment_id = $2`, id, environmentID))
	if errors.Is(err, sql.ErrNoRows) {
		return e, notFound("webhook endpoint")
	}
	return e, err
}

// ListWebhookEndpoints returns the environment's endpoints, oldest first (at most the cap).
func (s *Store) ListWebhookEndpoints(ctx context.Context, environmentID string) ([]roster.WebhookEndpoint, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhook_endpoints WHERE environment_id = $1 ORDER BY create_time, id`, environmentID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []roster.WebhookEndpoint
	for rows.Next() {
		e, _, err := scanWebhook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// UpdateWebhookEndpoint applies update to an endpoint. Changing the URL, event types, either
// secret, the previous secret's end or the enabled state ends the lease (the node delivering writes nothing more and the next claim reads the
// new settings); enabling clears the failure state and makes the endpoint due now.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, environmentID, id string, update func(*roster.WebhookEndpoint) error) (roster.WebhookEndpoint, error) {
	var out roster.WebhookEndpoint
	err := s.inOtherTx(ctx, func(tx txConn) error {
		e, _, err := scanWebhook(tx.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhook_endpoints WHERE id = $1 AND environment_id = $2`+s.dialect.RowLock(), id, environmentID))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("webhook endpoint")
		} else if err != nil {
			return err
		}
		before := e
		before.EventTypes = slices.Clone(e.EventTypes)
		if err := update(&e); err != nil {
			return err
		}
		e.ID, e.EnvironmentID = before.ID, before.EnvironmentID
		types, err := webhookTypes(e)
		if err != nil {
			return err
		}
		set := `url = $1, description = $2, event_types = $3, enabled = $4, disabled_reason = $5, secret_sealed = $6, update_time = $7,
			previous_secret = $9, previous_until = $10`
		if e.URL != before.URL || e.SecretSealed != before.SecretSealed || e.Enabled != before.Enabled || !slices.Equal(e.EventTypes, before.EventTypes) ||
			e.PreviousSecretSealed != before.PreviousSecretSealed || !e.PreviousSecretUntil.Equal(before.PreviousSecretUntil) {
			set += `, lease_owner = NULL, lease_until = NULL`
		}
		if e.Enabled && !before.Enabled {
			set += `, attempts = 0, failing_since = NULL, next_attempt = $7`
		}
		_, err = tx.ExecContext(ctx, `UPDATE webhook_endpoints SET `+set+` WHERE id = $8`,
			e.URL, e.Description, types, e.Enabled, e.DisabledReason, e.SecretSealed, micros(e.UpdateTime), e.ID,
			e.PreviousSecretSealed, microsOrZero(e.PreviousSecretUntil))
		out = e
		return err
	})
	return out, err
}

// DeleteWebhookEndpoint removes an endpoint; its log and queue go with it (ON DELETE CASCADE).
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, environmentID, id string) error {
	return s.inOtherTx(ctx, func(tx txConn) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE id = $1 AND environment_id = $2`, id, environmentID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("webhook endpoint")
		}
		return nil
	})
}

// ListWebhookDeliveries pages an endpoint's delivery log, newest first.
func (s *Store) ListWebhookDeliveries(ctx context.Context, environmentID, endpointID string, q store.WebhookDeliveryQuery) ([]roster.WebhookDelivery, error) {
	if q.Limit < 1 || q.Limit > store.MaxWebhookDeliveryPage {
		var v roster.Violations
		v.Add("page_size", "range", "must be between 1 and %d", store.MaxWebhookDeliveryPage)
		return nil, v.Err()
	}
	if _, err := s.GetWebhookEndpoint(ctx, environmentID, endpointID); err != nil {
		return nil, err
	}
	before := q.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.read.QueryContext(ctx, `SELECT seq, endpoint_id, event_id, event_type, attempt, manual, status, success, latency_us, error, time
		FROM webhook_deliveries WHERE endpoint_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`, endpointID, before, q.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []roster.WebhookDelivery
	for rows.Next() {
		var d roster.WebhookDelivery
		var latency, at int64
		if err := rows.Scan(&d.Seq, &d.EndpointID, &d.EventID, &d.EventType, &d.Attempt, &d.Manual, &d.Status, &d.Success, &latency, &d.Error, &at); err != nil {
			return nil, err
		}
		d.Latency, d.Time = time.Duration(latency)*time.Microsecond, fromMicros(at)
		out = append(out, d)
	}
	return out, rows.Err()
}

// QueueWebhookRedelivery queues an event of the endpoint's environment for redelivery.
func (s *Store) QueueWebhookRedelivery(ctx context.Context, environmentID, endpointID, eventID string, at time.Time) error {
	return s.inOtherTx(ctx, func(tx txConn) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET next_attempt = $1 WHERE id = $2 AND environment_id = $3 AND next_attempt > $1`,
			micros(at), endpointID, environmentID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM webhook_endpoints WHERE id = $1 AND environment_id = $2`, endpointID, environmentID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("webhook endpoint")
			} else if err != nil {
				return err
			}
		}
		// The event must be the environment's: another environment's ID is not found.
		if _, err := s.eventByID(ctx, tx, environmentID, eventID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO webhook_redeliveries (endpoint_id, event_id, create_time) VALUES ($1, $2, $3)`,
			endpointID, eventID, micros(at))
		return err
	})
}

// ClaimWebhookEndpoints leases due endpoints. On PostgreSQL the rows are locked with SKIP
// LOCKED, so nodes claiming at once take different endpoints without waiting on each other.
func (s *Store) ClaimWebhookEndpoints(ctx context.Context, owner string, now time.Time, ttl time.Duration, max int) ([]store.WebhookLease, error) {
	lock := ""
	if s.pg() {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	// Most polls find nothing due: a read says so without taking the write lock.
	var due bool
	if err := s.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM webhook_endpoints
		WHERE enabled AND next_attempt <= $1 AND (lease_until IS NULL OR lease_until < $1))`, micros(now)).Scan(&due); err != nil || !due {
		return nil, err
	}
	until := now.Add(ttl)
	var out []store.WebhookLease
	err := s.inOtherTx(ctx, func(tx txConn) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhook_endpoints
			WHERE enabled AND next_attempt <= $1 AND (lease_until IS NULL OR lease_until < $1)
			ORDER BY next_attempt, id LIMIT $2`+lock, micros(now), max)
		if err != nil {
			return err
		}
		byID := map[string]int{}
		for rows.Next() {
			e, st, err := scanWebhook(rows)
			if err != nil {
				rows.Close()
				return err
			}
			byID[e.ID] = len(out)
			out = append(out, store.WebhookLease{Endpoint: e, State: st, Until: until})
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(out) == 0 {
			return err
		}
		args := []any{owner, micros(until)}
		for _, l := range out {
			args = append(args, l.Endpoint.ID)
		}
		in := placeholders(3, len(out))
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET lease_owner = $1, lease_until = $2 WHERE id IN (`+in+`)`, args...); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, `SELECT r.seq, r.endpoint_id, r.event_id, w.environment_id
			FROM webhook_redeliveries r JOIN webhook_endpoints w ON w.id = r.endpoint_id
			WHERE r.endpoint_id IN (`+placeholders(1, len(out))+`) ORDER BY r.seq`, args[2:]...)
		if err != nil {
			return err
		}
		type queued struct {
			seq                            int64
			endpointID, eventID, environID string
		}
		var qs []queued
		for rows.Next() {
			var q queued
			if err := rows.Scan(&q.seq, &q.endpointID, &q.eventID, &q.environID); err != nil {
				rows.Close()
				return err
			}
			qs = append(qs, q)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, q := range qs {
			ev, err := s.eventByID(ctx, tx, q.environID, q.eventID)
			if roster.ErrorCode(err) == roster.ENotFound {
				continue // pruned since it was queued
			} else if err != nil {
				return err
			}
			l := &out[byID[q.endpointID]]
			l.Redeliveries = append(l.Redeliveries, store.QueuedRedelivery{Seq: q.seq, Event: ev})
		}
		return nil
	})
	return out, err
}

// SaveWebhookProgress writes a worker's batch, fenced by its lease: the state update names the
// owner, and when it changes no row (the lease was taken over or ended), nothing is written.
// deliveryRowsPerInsert bounds the rows of one INSERT of delivery records.
const deliveryRowsPerInsert = 10

func (s *Store) SaveWebhookProgress(ctx context.Context, owner string, p store.WebhookProgress) error {
	return s.inOtherTx(ctx, func(tx txConn) error {
		args := []any{p.State.Cursor.Tx, p.State.Cursor.Seq, micros(p.State.NextAttempt), p.State.Attempts, nullMicros(p.State.FailingSince), p.EndpointID, owner, p.State.Cursor.Index}
		set := `cursor_tx = $1, cursor_seq = $2, cursor_index = $8, next_attempt = $3, attempts = $4, failing_since = $5`
		if p.Disable {
			set += `, enabled = FALSE, disabled_reason = '` + roster.WebhookDisabledFailing + `'`
		}
		if p.Release || p.Disable {
			set += `, lease_owner = NULL, lease_until = NULL`
		} else {
			args = append(args, micros(p.ExtendUntil))
			set += `, lease_until = $9`
		}
		res, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET `+set+` WHERE id = $6 AND lease_owner = $7 AND enabled`, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrLeaseLost
		}
		if len(p.Redelivered) > 0 {
			args := []any{p.EndpointID}
			for _, seq := range p.Redelivered {
				args = append(args, seq)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_redeliveries WHERE endpoint_id = $1 AND seq IN (`+placeholders(2, len(p.Redelivered))+`)`, args...); err != nil {
				return err
			}
		}
		if len(p.Deliveries) == 0 {
			return nil
		}
		// In statements of at most deliveryRowsPerInsert rows: SQLite's driver looks up each
		// parameter's name by walking the statement's list of them, so binding n parameters
		// costs n²: for a page of 100 deliveries (1,000 parameters) it showed as 8% of the
		// worker's CPU in a profile on a loaded machine (3% of a delivery's CPU, quiet).
		for rows := p.Deliveries; len(rows) > 0; {
			n := min(len(rows), deliveryRowsPerInsert)
			var q strings.Builder
			q.WriteString(`INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, attempt, manual, status, success, latency_us, error, time) VALUES `)
			args = args[:0]
			arg := appendArg(&args)
			for i, d := range rows[:n] {
				if i > 0 {
					q.WriteString(", ")
				}
				fmt.Fprintf(&q, "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", arg(p.EndpointID), arg(d.EventID), arg(d.EventType), arg(d.Attempt),
					arg(d.Manual), arg(d.Status), arg(d.Success), arg(d.Latency.Microseconds()), arg(d.Error), arg(micros(d.Time)))
			}
			if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
				return err
			}
			rows = rows[n:]
		}
		// Keep the latest WebhookDeliveryLogKeep records of the endpoint.
		_, err = tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE endpoint_id = $1 AND seq <= (
			SELECT seq FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY seq DESC LIMIT 1 OFFSET $2)`, p.EndpointID, roster.WebhookDeliveryLogKeep)
		return err
	})
}

func microsOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return micros(t)
}
