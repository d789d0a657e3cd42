package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// SetEventDataCodec sets how events' data is stored and rendered into their envelopes: the
// server gives the API's codec, so that an event shows its object as the API does. Call it
// before the first write. Without it, data is the domain value's plain JSON.
func (s *Store) SetEventDataCodec(codec roster.EventDataCodec) { s.eventData = codec }

// plainEventData stores and renders data as its plain JSON.
type plainEventData struct{}

func (plainEventData) AppendData(dst []byte, data any, _ *roster.EventMemo) ([]byte, error) {
	b, err := json.Marshal(data)
	return append(dst, b...), err
}

func (plainEventData) RenderData(dst []byte, stored []byte) ([]byte, error) {
	return append(dst, stored...), nil
}

// renderEvent turns the stored envelope that a read scanned into e.Body into the JSON that
// the feed returns and webhooks deliver.
func (s *Store) renderEvent(e *store.StoredEvent) error {
	body, err := roster.RenderEnvelope(s.eventData, e.Body)
	if err != nil {
		return fmt.Errorf("event %s: %w", e.ID, err)
	}
	e.Body = body
	return nil
}

// recordEvents records events in the transaction of the change they describe. Each is
// completed (a new ID, now, and the actor of ctx where missing: roster.ActorFrom) and
// rendered at once, within the write, so that a write whose event cannot be rendered fails
// alone; the rows wait in the transaction's buffer (tx.events, which runTx gives every write
// transaction) and are inserted just before its commit (flushEvents), all the transaction's in
// a few statements.
func (s *Store) recordEvents(ctx context.Context, tx txConn, events ...roster.Event) error {
	if !recordingEvents {
		return nil
	}
	var memo roster.EventMemo // the events of one call show the same objects, unchanged
	for i := range events {
		if err := s.appendEventRow(ctx, tx.events, &events[i], &memo); err != nil {
			return err
		}
	}
	return nil
}

// newEventRows returns an inserter of rows of the events table, for the events of a
// transaction, inserted just before its commit.
func newEventRows(pg bool) rowInserter {
	return rowInserter{pg: pg, insert: `INSERT INTO events (id, environment_id, organization_id, type, occurred_at, body) VALUES `,
		columns: 6, types: "TTTTIY"}
}

// flushEvents inserts the events buffered in tx and empties its buffer.
func flushEvents(ctx context.Context, tx txConn) error { return tx.events.done(ctx, tx) }

// appendEventRow fills in an event's ID, time and actor where missing, renders it and appends
// its row of the events table to buf.
func (s *Store) appendEventRow(ctx context.Context, buf *rowInserter, e *roster.Event, memo *roster.EventMemo) error {
	if e.ID == "" {
		e.ID = s.eventIDs.New(roster.PrefixEvent)
	}
	if e.OccurredAt.IsZero() {
		e.OccurredAt = time.Now().UTC()
	}
	if e.Actor == (roster.Actor{}) {
		e.Actor = roster.ActorFrom(ctx)
	}
	body, err := e.StoredEnvelope(s.eventData, memo)
	if err != nil {
		return fmt.Errorf("event %s: %w", e.Type, err)
	}
	buf.add(e.ID, e.EnvironmentID, nullEmpty(e.OrganizationID), e.Type, micros(e.OccurredAt), body)
	return nil
}

func nullEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const eventColumns = `tx, seq, id, type, environment_id, COALESCE(organization_id, ''), occurred_at, body`

// EventPageQuery is ListEvents's query and its arguments: a seek along events_environment
// to the position after q.After, then the filters, which that index covers on SQLite
// (migration 0023), up to q.Limit events.
func EventPageQuery(d Dialect, environmentID string, q store.EventQuery) (string, []any, error) {
	limit := q.Limit
	if limit < 1 || limit > store.MaxEventPage {
		var v roster.Violations
		v.Add("page_size", "range", "must be between 1 and %d", store.MaxEventPage)
		return "", nil, v.Err()
	}
	args := []any{environmentID}
	arg := appendArg(&args)
	where := []string{d.EventsAfter(arg(q.After.Tx), arg(q.After.Seq))}
	if q.Through != (store.EventCursor{}) {
		where = append(where, d.EventsThrough(arg(q.Through.Tx), arg(q.Through.Seq)))
	}
	if q.OrganizationID != "" {
		where = append(where, "organization_id = "+arg(q.OrganizationID))
	}
	if len(q.Types) > 0 {
		var or []string
		for _, t := range q.Types {
			if prefix, ok := strings.CutSuffix(t, "*"); ok {
				or = append(or, "type LIKE "+arg(EscapeLike(prefix)+"%")+` ESCAPE '\'`)
			} else {
				or = append(or, "type = "+arg(t))
			}
		}
		where = append(where, "("+strings.Join(or, " OR ")+")")
	}
	return `SELECT ` + eventColumns + ` FROM events WHERE ` + feedWhere(d, where...) +
		` ORDER BY tx, seq LIMIT ` + arg(limit), args, nil
}

// feedWhere is the condition of a read of one environment's feed (the environment is $1):
// conds, within the dialect's horizon.
func feedWhere(d Dialect, conds ...string) string {
	where := append([]string{"environment_id = $1"}, conds...)
	if h := d.EventHorizon(); h != "" {
		where = append(where, h)
	}
	return strings.Join(where, " AND ")
}

// ListEvents reads the feed in (tx, seq) order after q.After, up to the dialect's horizon.
func (s *Store) ListEvents(ctx context.Context, environmentID string, q store.EventQuery) ([]store.StoredEvent, error) {
	query, args, err := EventPageQuery(s.dialect, environmentID, q)
	if err != nil {
		return nil, err
	}
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.StoredEvent
	for rows.Next() {
		var e store.StoredEvent
		var at int64
		if err := rows.Scan(&e.Cursor.Tx, &e.Cursor.Seq, &e.ID, &e.Type, &e.EnvironmentID, &e.OrganizationID, &at, &e.Body); err != nil {
			return nil, err
		}
		e.OccurredAt = fromMicros(at)
		if err := s.renderEvent(&e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// EventHead returns the position of the environment's last event within the horizon (the
// zero cursor when there is none): one step back along events_environment.
func (s *Store) EventHead(ctx context.Context, environmentID string) (store.EventCursor, error) {
	var c store.EventCursor
	err := s.read.QueryRowContext(ctx, `SELECT tx, seq FROM events WHERE `+feedWhere(s.dialect)+` ORDER BY environment_id DESC, tx DESC, seq DESC LIMIT 1`,
		environmentID).Scan(&c.Tx, &c.Seq)
	if errors.Is(err, sql.ErrNoRows) {
		return store.EventCursor{}, nil
	}
	return c, err
}

// EventScanBound walks at most n entries of events_environment from after (the index
// alone), in one statement: the last of them is the bound, and whether there were n.
func (s *Store) EventScanBound(ctx context.Context, environmentID string, after store.EventCursor, n int) (store.EventCursor, bool, error) {
	if n < 1 {
		return after, false, nil
	}
	var c store.EventCursor
	var walked int
	err := s.read.QueryRowContext(ctx, `SELECT tx, seq, COUNT(*) OVER () FROM
		(SELECT tx, seq FROM events WHERE `+feedWhere(s.dialect, s.dialect.EventsAfter("$2", "$3"))+` ORDER BY tx, seq LIMIT $4) w ORDER BY tx DESC, seq DESC LIMIT 1`,
		environmentID, after.Tx, after.Seq, n).Scan(&c.Tx, &c.Seq, &walked)
	if errors.Is(err, sql.ErrNoRows) {
		return after, false, nil
	}
	if err != nil {
		return after, false, err
	}
	return c, walked == n, nil
}

// PruneEvents deletes the head of the feed while its events are older than before, up to
// limit of them. It walks the primary key (seq, close to commit order) from its start, so a
// call costs about limit rows however large the table is; an event that is not old enough
// stops it, and those behind it wait until it is.
func (s *Store) PruneEvents(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit < 1 {
		return 0, nil
	}
	cut := micros(before)
	var n int64
	err := s.inOtherTx(ctx, func(tx txConn) error {
		rows, err := tx.QueryContext(ctx, `SELECT seq, occurred_at FROM events ORDER BY seq LIMIT $1`, limit)
		if err != nil {
			return err
		}
		last := int64(-1)
		for rows.Next() {
			var seq, at int64
			if err := rows.Scan(&seq, &at); err != nil {
				rows.Close()
				return err
			}
			if at >= cut {
				break
			}
			last = seq
		}
		rows.Close()
		if err := rows.Err(); err != nil || last < 0 {
			return err
		}
		// occurred_at again: on PostgreSQL a transaction that drew a lower seq may have
		// committed since the read.
		res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE seq <= $1 AND occurred_at < $2`, last, cut)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// Event builders shared by the write paths. Each takes the write's time (the changed
// object's update time) and the changed fields (nil for created and deleted events).

// userEvent is a user's event; orgID is the organization the write is about ("" when none:
// the event then has no organization_id).
func userEvent(typ string, u roster.User, orgID string, at time.Time, changed []string) roster.Event {
	return roster.Event{Type: typ, OccurredAt: at, EnvironmentID: u.EnvironmentID, OrganizationID: orgID,
		ChangedFields: changed, Data: u}
}

// membershipEvent is a membership's event: Scalekit's {organization, user}, where org needs
// only its ID and display name (what a write's organization lock reads, lockedOrg) and the
// user shows its memberships after the write.
func membershipEvent(typ string, org roster.Organization, u roster.User, at time.Time, changed []string) roster.Event {
	return roster.Event{Type: typ, OccurredAt: at, EnvironmentID: u.EnvironmentID, OrganizationID: org.ID,
		ChangedFields: changed, Data: roster.MembershipEventData{Organization: org, User: u}}
}

// membershipCreated is the type of a new membership's event: an invitation when it is one.
func membershipCreated(m roster.Membership) string {
	if m.Status == roster.MembershipPendingInvite {
		return roster.EventInvitation
	}
	return roster.EventMembershipCreated
}

// eventOrg is the organization a membership event shows: its ID and name, what the write's
// organization lock (or the membership's row) read.
func eventOrg(environmentID, id, name string) roster.Organization {
	return roster.Organization{ID: id, EnvironmentID: environmentID, DisplayName: name}
}
