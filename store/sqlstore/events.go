package sqlstore

import (
	"bytes"
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

// plainEventData stores data as its plain JSON (roster.EventDataJSON, the form the API's
// codec gives the objects it keeps as JSON), and renders only that: an event that the API's codec stored in
// another form is an error for a store that was not given it, not data of another shape.
type plainEventData struct{}

func (plainEventData) AppendData(dst []byte, data any, _ *roster.EventMemo) ([]byte, error) {
	b, err := json.Marshal(data)
	return append(append(dst, roster.EventDataJSON), b...), err
}

func (plainEventData) RenderData(dst []byte, stored []byte) ([]byte, error) {
	if len(stored) == 0 || stored[0] != roster.EventDataJSON {
		return nil, errors.New("event data stored in a form this store was not given (SetEventDataCodec)")
	}
	return append(dst, stored[1:]...), nil
}

// recordEvents records events in the transaction of the change they describe. Each is
// completed (now, and the actor of ctx where missing: roster.ActorFrom) and its data put in
// stored form at once, within the write, so that a write whose event cannot be stored fails
// alone; the events wait in the transaction's buffer (tx.events, which runTx gives every
// write transaction) and are inserted just before its commit (flushEvents), in blocks
// (eventblock.go), where they get their IDs.
func (s *Store) recordEvents(ctx context.Context, tx txConn, events ...roster.Event) error {
	if !recordingEvents() {
		return nil
	}
	var memo roster.EventMemo // the events of one call show the same objects, unchanged
	for i := range events {
		if err := s.bufferEvent(ctx, tx.events, &events[i], &memo); err != nil {
			return err
		}
	}
	return nil
}

// newEventBuffer returns the buffer of a transaction's events, inserted just before its
// commit.
func (s *Store) newEventBuffer(pg bool) *eventBuffer { return newEventBuffer(pg, s.eventIDs) }

// flushEvents inserts the events buffered in tx and empties its buffer.
func flushEvents(ctx context.Context, tx txConn) error { return tx.events.flush(ctx, tx) }

// bufferEvent fills in an event's time and actor where missing, puts its data in stored form
// and adds it to buf.
func (s *Store) bufferEvent(ctx context.Context, buf *eventBuffer, e *roster.Event, memo *roster.EventMemo) error {
	if e.OccurredAt.IsZero() {
		e.OccurredAt = time.Now().UTC()
	}
	if e.Actor == (roster.Actor{}) {
		e.Actor = roster.ActorFrom(ctx)
	}
	f := buf.start(e)
	f, err := s.eventData.AppendData(f, e.Data, memo)
	if err != nil {
		return fmt.Errorf("event %s: %w", e.Type, err)
	}
	buf.finish(e, f)
	return nil
}

func nullEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const eventColumns = `tx, seq, id, type, COALESCE(organization_id, ''), occurred_at, body, first_id, event_count`

// EventPageQuery is the query of ListEvents's blocks and its arguments: a seek along
// events_environment to the first block after the position (tx, seq) of a block, then up to
// rows blocks in feed order, through q.Through's block when it is set. The filters apply to
// the blocks' events (ListEvents).
func EventPageQuery(d Dialect, environmentID string, tx, seq int64, q store.EventQuery, rows int) (string, []any) {
	args := []any{environmentID}
	arg := appendArg(&args)
	where := []string{d.EventsAfter(arg(tx), arg(seq))}
	if q.Through != (store.EventCursor{}) {
		where = append(where, d.EventsThrough(arg(q.Through.Tx), arg(q.Through.Seq)))
	}
	return `SELECT ` + eventColumns + ` FROM events WHERE ` + feedWhere(d, where...) +
		` ORDER BY tx, seq LIMIT ` + arg(rows), args
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

// feedRow is a row of the events table: a block, or one event written before blocks.
type feedRow struct {
	cursor  store.EventCursor // the block's; Index unused
	id, typ string
	orgID   string
	at      int64
	body    []byte
	first   int64
	count   int64
	envID   string
}

func scanFeedRow(rows interface{ Scan(...any) error }, envID string) (feedRow, error) {
	r := feedRow{envID: envID}
	err := rows.Scan(&r.cursor.Tx, &r.cursor.Seq, &r.id, &r.typ, &r.orgID, &r.at, &r.body, &r.first, &r.count)
	return r, err
}

// events calls fn with each event of the row from index from on, in order, until fn returns
// false.
func (r *feedRow) events(from int, fn func(e *blockEvent) bool) error {
	if isBlock(r.body) {
		return decodeBlock(r.body, from, fn)
	}
	if from > 0 {
		return nil
	}
	// A row written before blocks: the envelope's JSON, its fields in the columns.
	fn(&blockEvent{typ: r.typ, orgID: r.orgID, occurredAt: r.at, legacyEnvelope: r.body})
	return nil
}

// eventID is the ID of the row's event at index i.
func (r *feedRow) eventID(i int) string {
	if isBlock(r.body) {
		return eventID(r.first, i)
	}
	return r.id
}

// stored renders the row's event e as the feed holds it.
func (s *Store) stored(r *feedRow, e *blockEvent) (store.StoredEvent, error) {
	c := r.cursor
	c.Index = int64(e.index)
	out := store.StoredEvent{Cursor: c, ID: r.eventID(e.index), Type: e.typ, EnvironmentID: r.envID,
		OrganizationID: e.orgID, OccurredAt: fromMicros(e.occurredAt)}
	body, err := e.envelope(s.eventData, out.ID, r.envID)
	if e.legacyEnvelope != nil {
		body = bytes.Clone(body) // the row's buffer may be the driver's
	}
	if err != nil {
		return out, fmt.Errorf("event %s: %w", out.ID, err)
	}
	out.Body = body
	return out, nil
}

// ListEvents reads the feed in order after q.After, up to the dialect's horizon (and
// q.Through): the blocks from q.After's on, their events after q.After that the filters keep.
func (s *Store) ListEvents(ctx context.Context, environmentID string, q store.EventQuery) ([]store.StoredEvent, error) {
	if q.Limit < 1 || q.Limit > store.MaxEventPage {
		var v roster.Violations
		v.Add("page_size", "range", "must be between 1 and %d", store.MaxEventPage)
		return nil, v.Err()
	}
	var out []store.StoredEvent
	// From q.After's block ((tx, seq) > (After.Tx, After.Seq - 1), seq being an integer),
	// then from after the last block read.
	fromTx, fromSeq := q.After.Tx, q.After.Seq-1
	// Blocks are read a few at a time, more each time, and decoded as they come: a block of
	// a group commit holds a few events, one of a bulk import hundreds, and a page of a
	// hundred events should not load a hundred of those. Every block holds at least one
	// event, so q.Limit blocks at most hold the page.
	chunk := min(q.Limit, 2)
	for {
		query, args := EventPageQuery(s.dialect, environmentID, fromTx, fromSeq, q, chunk)
		done := false
		n, err := s.eachFeedRow(ctx, query, args, environmentID, func(r *feedRow) error {
			fromTx, fromSeq = r.cursor.Tx, r.cursor.Seq
			var ferr error
			from := 0
			if r.cursor.Tx == q.After.Tx && r.cursor.Seq == q.After.Seq {
				from = int(q.After.Index) + 1
			}
			err := r.events(from, func(e *blockEvent) bool {
				pos := r.cursor
				pos.Index = int64(e.index)
				if q.Through != (store.EventCursor{}) && pos.After(q.Through) {
					return false
				}
				q.After = pos // passed over, kept or not
				if (q.OrganizationID != "" && e.orgID != q.OrganizationID) || (len(q.Types) > 0 && !roster.EventTypeMatches(q.Types, e.typ)) {
					return true
				}
				var ev store.StoredEvent
				if ev, ferr = s.stored(r, e); ferr != nil {
					return false
				}
				out = append(out, ev)
				return len(out) < q.Limit
			})
			if err == nil {
				err = ferr
			}
			if err != nil {
				return fmt.Errorf("events of block %d: %w", r.cursor.Seq, err)
			}
			if len(out) == q.Limit || (q.Through != (store.EventCursor{}) && !q.Through.After(q.After)) {
				done = true
				return errStopRows
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if done || n < chunk {
			return out, nil
		}
		chunk = min(chunk*4, q.Limit)
	}
}

// errStopRows ends eachFeedRow early, without an error.
var errStopRows = errors.New("stop")

// eachFeedRow runs a query of eventColumns and calls fn with each row as it comes, until fn
// returns an error (errStopRows: stop, no error). The row's body is the driver's buffer: valid
// during the call only. It returns the number of rows read.
func (s *Store) eachFeedRow(ctx context.Context, query string, args []any, environmentID string, fn func(r *feedRow) error) (int, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		r := feedRow{envID: environmentID}
		var body sql.RawBytes
		if err := rows.Scan(&r.cursor.Tx, &r.cursor.Seq, &r.id, &r.typ, &r.orgID, &r.at, &body, &r.first, &r.count); err != nil {
			return n, err
		}
		r.body = body
		n++
		if err := fn(&r); err == errStopRows {
			return n, nil
		} else if err != nil {
			return n, err
		}
	}
	return n, rows.Err()
}

// eventByID reads one event of the environment by its ID: the block that holds it is the
// environment's last that starts at or before it (events_first_id).
func (s *Store) eventByID(ctx context.Context, q queryer, environmentID, id string) (store.StoredEvent, error) {
	n, ok := roster.IDNumber(id, roster.PrefixEvent)
	if !ok {
		return store.StoredEvent{}, notFound("event")
	}
	var row *sql.Row
	if s.pg() && n >= PgEventIDBase {
		// A block of PostgreSQL's own IDs: its row by its seq (PgEventIDBase).
		row = q.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events WHERE seq = $1 AND environment_id = $2`, (n-PgEventIDBase)>>12, environmentID)
	} else {
		// A block of clock-drawn IDs: the environment's last that starts at or before n (on
		// PostgreSQL, those written before migration 0026, which events_first_id keeps).
		bound := ""
		if s.pg() {
			bound = ` AND first_id < ` + pgEventIDBaseText // the index's predicate
		}
		row = q.QueryRowContext(ctx, `SELECT `+eventColumns+` FROM events WHERE environment_id = $1 AND first_id <= $2`+bound+`
			ORDER BY environment_id DESC, first_id DESC LIMIT 1`, environmentID, n)
	}
	r, err := scanFeedRow(row, environmentID)
	if errors.Is(err, sql.ErrNoRows) {
		return store.StoredEvent{}, notFound("event")
	} else if err != nil {
		return store.StoredEvent{}, err
	}
	if n-r.first >= r.count {
		return store.StoredEvent{}, notFound("event")
	}
	var out store.StoredEvent
	var found bool
	err = r.events(int(n-r.first), func(e *blockEvent) bool {
		out, err = s.stored(&r, e)
		found = err == nil
		return false
	})
	if err != nil {
		return store.StoredEvent{}, err
	}
	if !found {
		return store.StoredEvent{}, notFound("event")
	}
	return out, nil
}

// EventHead returns the position of the environment's last event within the horizon (the
// zero cursor when there is none): one step back along events_environment.
func (s *Store) EventHead(ctx context.Context, environmentID string) (store.EventCursor, error) {
	var c store.EventCursor
	var count int64
	err := s.read.QueryRowContext(ctx, `SELECT tx, seq, event_count FROM events WHERE `+feedWhere(s.dialect)+` ORDER BY environment_id DESC, tx DESC, seq DESC LIMIT 1`,
		environmentID).Scan(&c.Tx, &c.Seq, &count)
	if errors.Is(err, sql.ErrNoRows) {
		return store.EventCursor{}, nil
	}
	c.Index = count - 1
	return c, err
}

// EventScanBound walks the blocks from after's along events_environment (the index alone,
// which holds each block's count), up to n events after after: the position of the n-th is
// the bound, and whether there were n.
func (s *Store) EventScanBound(ctx context.Context, environmentID string, after store.EventCursor, n int) (store.EventCursor, bool, error) {
	if n < 1 {
		return after, false, nil
	}
	// after's block, then n blocks, which hold at least n events.
	rows, err := s.read.QueryContext(ctx, `SELECT tx, seq, event_count FROM events WHERE `+feedWhere(s.dialect, s.dialect.EventsAfter("$2", "$3"))+
		` ORDER BY tx, seq LIMIT $4`, environmentID, after.Tx, after.Seq-1, n+1)
	if err != nil {
		return after, false, err
	}
	defer rows.Close()
	bound, left := after, int64(n)
	for rows.Next() {
		var c store.EventCursor
		var count int64
		if err := rows.Scan(&c.Tx, &c.Seq, &count); err != nil {
			return after, false, err
		}
		from := int64(0) // the block's first event after after
		if c.Tx == after.Tx && c.Seq == after.Seq {
			from = after.Index + 1
		}
		if k := count - from; k > 0 {
			if k >= left {
				c.Index = from + left - 1
				return c, true, nil
			}
			left -= k
			c.Index = count - 1
			bound = c
		}
	}
	return bound, false, rows.Err()
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
		rows, err := tx.QueryContext(ctx, `SELECT seq, occurred_at, event_count FROM events ORDER BY seq LIMIT $1`, limit)
		if err != nil {
			return err
		}
		last, events := int64(-1), int64(0)
		for rows.Next() {
			var seq, at, count int64
			if err := rows.Scan(&seq, &at, &count); err != nil {
				rows.Close()
				return err
			}
			// A block goes whole, once its last event is old enough.
			if at >= cut || (events > 0 && events+count > int64(limit)) {
				break
			}
			last, events = seq, events+count
		}
		rows.Close()
		if err := rows.Err(); err != nil || last < 0 {
			return err
		}
		// occurred_at again: on PostgreSQL a transaction that drew a lower seq may have
		// committed since the read.
		gone, err := tx.QueryContext(ctx, `DELETE FROM events WHERE seq <= $1 AND occurred_at < $2 RETURNING event_count`, last, cut)
		if err != nil {
			return err
		}
		defer gone.Close()
		for gone.Next() {
			var count int64
			if err := gone.Scan(&count); err != nil {
				return err
			}
			n += count
		}
		return gone.Err()
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
