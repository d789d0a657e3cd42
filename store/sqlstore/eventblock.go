package sqlstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"unsafe"

	"github.com/klauspost/compress/s2"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/rosterhq/roster"
)

// Events are stored in blocks (docs/events.md, "Storage"): one row of the events table holds
// the events of one environment that one commit recorded (on SQLite all the requests of a
// group commit, on PostgreSQL one write), in the order they were recorded. A row per event
// cost a tenth of a create on SQLite; a block's row costs about that of one event, whatever
// the number of events in it.
//
// The events of a block have consecutive IDs, drawn at the commit (IDGenerator.NextBlock):
// the row keeps the first (first_id) and the number of events (count), so that an event's
// ID finds its block (the last block of the environment that starts at or before it) and its
// place in it. A position in the feed is the block's (tx, seq) and the event's index in it.
//
// A row written before blocks (migration 0024) holds one event: count 1, its ID, type and
// organization in their columns, and its envelope's JSON as the body.

// eventBlockV1 opens a block's body; then each event as a length and its fields
// (blockField*).
const eventBlockV1 = 0x02

// eventBlockS2 opens a compressed block: the rest is a V1 body without its first byte, in
// S2's block format (github.com/klauspost/compress/s2). The events of a block repeat their
// field names, organizations and users (a create's two events show one user), so a SQLite
// group commit's block shrinks about 6.5 times and a PostgreSQL write's about 2.3 times, for
// about half a microsecond per event: fewer bytes to write, to log and to keep. A block that
// does not shrink stays V1.
const eventBlockS2 = 0x03

// minCompressedBlock is the smallest body worth compressing.
const minCompressedBlock = 128

// maxDecodedBlock bounds what a compressed block may decode to, far above any block a write
// makes (maxBlockBytes, or a single event as large as a request body): a damaged length
// cannot make a read allocate more.
const maxDecodedBlock = 64 << 20

// isBlock reports whether a stored body is a block (not the JSON of a row from before blocks).
func isBlock(body []byte) bool {
	return len(body) > 0 && (body[0] == eventBlockV1 || body[0] == eventBlockS2)
}

// maxBlockEvents bounds the events of one block: a commit with more writes several blocks.
// The IDs of one block share a millisecond of the ID clock, which numbers 4,096 (SQLite), or
// the 4,096 that follow from its row's seq (PostgreSQL, PgEventIDBase).
const maxBlockEvents = 4096

// maxBlockBytes bounds a block's body, what a read of the feed loads for even one of its
// events: a commit with more writes several blocks.
const maxBlockBytes = 256 << 10

// The fields of an event in a block.
const (
	blockFieldType         protowire.Number = 1
	blockFieldOrganization protowire.Number = 2
	blockFieldOccurredAt   protowire.Number = 3 // microseconds since the Unix epoch
	blockFieldActorType    protowire.Number = 4
	blockFieldActorID      protowire.Number = 5
	blockFieldChanged      protowire.Number = 6 // repeated
	blockFieldData         protowire.Number = 7 // the data's stored form (roster.EventDataCodec), the rest of the event
)

// pendingEvent is an event recorded by a write and not yet inserted: where its block fields
// (blockFieldData and its data's stored form included) are in the buffer's arena.
type pendingEvent struct {
	environmentID string
	start, end    int
	occurredAt    int64
}

// eventBuffer holds the events of a transaction until its commit (flush), when it inserts
// them in blocks, one per environment (or more past maxBlockEvents or maxBlockBytes).
type eventBuffer struct {
	ids     *roster.IDGenerator // SQLite: the blocks' IDs (PostgreSQL's follow from the rows: PgEventIDBase)
	pending []pendingEvent
	// arena holds the pending events' fields, one after the other: an event's are appended
	// in place, so that recording it allocates nothing once the arena has grown.
	arena []byte
	rows  rowInserter
}

// maxKeptArena is the arena an empty buffer keeps for its next events: one that a large
// write grew past it is let go.
const maxKeptArena = 1 << 20

func newEventBuffer(pg bool, ids *roster.IDGenerator) *eventBuffer {
	if pg {
		return &eventBuffer{rows: rowInserter{pg: true, columns: 5, types: "TTIYI", single: pgBlockSingle, group: pgBlockGroup}}
	}
	return &eventBuffer{ids: ids, rows: rowInserter{
		insert:  `INSERT INTO events (id, environment_id, type, occurred_at, body, first_id, event_count) VALUES `,
		columns: 7, types: "TTTIYII"}}
}

// PgEventIDBase is where the IDs of PostgreSQL's event blocks start: a block's first ID is
// PgEventIDBase + seq << 12, from the row's own primary key, so that blocks written by any
// number of nodes never share an ID with no index to prove it (an exclusion constraint over
// the ID ranges cost about 50 µs of the server's CPU per write). A block holds at most
// maxBlockEvents (1 << 12) events. The base is above every ID the clock-based IDGenerator has
// drawn (blocks written before migration 0026) and will draw until 2058, so IDs still grow.
const PgEventIDBase = 1 << 62

var pgEventIDBaseText = strconv.FormatInt(PgEventIDBase, 10)

// pgBlockInsert inserts PostgreSQL's blocks from the rows of %s (environment, type,
// occurred_at, body, event_count), in their order, each with the next seq and the IDs that
// follow from it (PgEventIDBase).
var pgBlockInsert = `INSERT INTO events (seq, id, first_id, environment_id, type, occurred_at, body, event_count)
	SELECT n.s, 'evt_' || (` + pgEventIDBaseText + ` + (n.s << 12)), ` + pgEventIDBaseText + ` + (n.s << 12),
		n.env, n.typ, n.at, n.body, n.cnt
	FROM (SELECT nextval('events_seq_seq') AS s, b.* FROM %s AS b (env, typ, at, body, cnt)) n`

// pgBlockSingle inserts one block, pgBlockGroup several (a column's values as an array).
var (
	pgBlockSingle = fmt.Sprintf(pgBlockInsert, `(SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS BIGINT), CAST($4 AS BYTEA), CAST($5 AS BIGINT))`)
	pgBlockGroup  = fmt.Sprintf(pgBlockInsert, `unnest(CAST($1 AS TEXT[]), CAST($2 AS TEXT[]), CAST($3 AS BIGINT[]), CAST($4 AS BYTEA[]), CAST($5 AS BIGINT[]))`)
)

// len is the number of events held.
func (b *eventBuffer) len() int { return len(b.pending) }

// truncate drops the events after the first n (those of a write that rolled back).
func (b *eventBuffer) truncate(n int) {
	if n < len(b.pending) {
		b.arena = b.arena[:b.pending[n].start]
	}
	clear(b.pending[n:])
	b.pending = b.pending[:n]
	if n == 0 && cap(b.arena) > maxKeptArena {
		b.arena = nil
	}
}

// start returns the fields of e, up to its data's tag: its data's stored form is then
// appended (roster.EventDataCodec.AppendData), and the whole given to finish.
func (b *eventBuffer) start(e *roster.Event) []byte {
	f := b.arena[len(b.arena):] // in place, while the arena has room
	f = appendStringField(f, blockFieldType, e.Type)
	if e.OrganizationID != "" {
		f = appendStringField(f, blockFieldOrganization, e.OrganizationID)
	}
	f = protowire.AppendTag(f, blockFieldOccurredAt, protowire.VarintType)
	f = protowire.AppendVarint(f, uint64(micros(e.OccurredAt)))
	f = appendStringField(f, blockFieldActorType, e.Actor.Type)
	if e.Actor.ID != "" {
		f = appendStringField(f, blockFieldActorID, e.Actor.ID)
	}
	for _, c := range e.ChangedFields {
		f = appendStringField(f, blockFieldChanged, c)
	}
	return protowire.AppendTag(f, blockFieldData, protowire.BytesType)
}

// finish adds the event e, its fields (start's, then its data) in f.
func (b *eventBuffer) finish(e *roster.Event, f []byte) {
	start := len(b.arena)
	if len(f) > 0 && cap(b.arena) >= start+len(f) && unsafe.SliceData(f) == unsafe.SliceData(b.arena[start:start+1]) {
		b.arena = b.arena[:start+len(f)] // appended in place
	} else {
		b.arena = append(b.arena, f...) // f outgrew the arena's room: the arena grows
	}
	b.pending = append(b.pending, pendingEvent{environmentID: e.EnvironmentID, start: start, end: len(b.arena), occurredAt: micros(e.OccurredAt)})
}

func appendStringField(b []byte, n protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// flush inserts the events held, in blocks, in tx, and empties the buffer (also when it
// fails). A block's events are in the order they were recorded; blocks of several
// environments are in the order of their first events.
func (b *eventBuffer) flush(ctx context.Context, tx txConn) error {
	defer b.truncate(0)
	if len(b.pending) == 0 {
		return nil
	}
	b.blocks()
	return b.rows.done(ctx, tx)
}

// statement is flush's work as one PostgreSQL statement and its arguments, for the caller to
// run (with the transaction's COMMIT: PipelinedCommitter); "" when there are no events. The
// buffer is empty afterwards; the arguments stay valid until its next use.
func (b *eventBuffer) statement() (string, []any, error) {
	defer b.truncate(0)
	if len(b.pending) == 0 {
		return "", nil, nil
	}
	b.blocks()
	query, args, err := b.rows.statement()
	b.rows.args = nil // args are the caller's now
	return query, args, err
}

// blocks puts the events held into rows of blocks (b.rows).
func (b *eventBuffer) blocks() {
	done := make([]bool, len(b.pending))
	for i := range b.pending {
		if done[i] {
			continue
		}
		env := b.pending[i].environmentID
		size := 1
		for _, p := range b.pending[i:] {
			if p.environmentID == env {
				size += p.end - p.start + binary.MaxVarintLen32
			}
		}
		body := make([]byte, 1, min(size, maxBlockBytes+binary.MaxVarintLen32))
		body[0] = eventBlockV1
		count, last := 0, int64(0)
		for j := i; j < len(b.pending); j++ {
			p := &b.pending[j]
			if done[j] || p.environmentID != env {
				continue
			}
			fields := b.arena[p.start:p.end]
			if count == maxBlockEvents || (count > 0 && len(body)+len(fields) > maxBlockBytes) {
				break // the rest of the environment's events go in the next block
			}
			body = appendBlockEntry(body, fields)
			count++
			last = max(last, p.occurredAt)
			done[j] = true
		}
		if b.rows.pg {
			b.rows.add(env, "", last, compressBlock(body), count)
			continue
		}
		first := b.ids.NextBlock(count)
		b.rows.add(roster.PrefixEvent+strconv.FormatInt(first, 10), env, "", last, compressBlock(body), first, count)
	}
}

// compressBlock returns a V1 body as an S2 block when that is smaller.
func compressBlock(body []byte) []byte {
	if len(body) < minCompressedBlock {
		return body
	}
	out := make([]byte, 1+s2.MaxEncodedLen(len(body)-1))
	out[0] = eventBlockS2
	n := 1 + len(s2.Encode(out[1:], body[1:]))
	if n >= len(body) {
		return body
	}
	return out[:n:n]
}

// appendBlockEntry appends an event's fields to a block's body.
func appendBlockEntry(body, fields []byte) []byte { return protowire.AppendBytes(body, fields) }

// blockEvent is one event of a block as a read decodes it.
type blockEvent struct {
	index          int
	typ, orgID     string
	occurredAt     int64
	actor          roster.Actor
	changed        []string
	data           []byte
	legacyEnvelope []byte // a row written before blocks: the envelope's JSON
}

var errMalformedBlock = errors.New("stored events: malformed block")

// decodeBlock calls fn with each event of a block's body from index from on, in order, until
// fn returns false. The events before from are passed over by their lengths alone.
func decodeBlock(body []byte, from int, fn func(e *blockEvent) bool) error {
	if !isBlock(body) {
		return errMalformedBlock
	}
	if body[0] == eventBlockS2 {
		n, err := s2.DecodedLen(body[1:])
		if err != nil || n > maxDecodedBlock {
			return errMalformedBlock
		}
		if body, err = s2.Decode(make([]byte, n), body[1:]); err != nil {
			return errMalformedBlock
		}
	} else {
		body = body[1:]
	}
	for i := 0; len(body) > 0; i++ {
		fields, n := protowire.ConsumeBytes(body)
		if n < 0 {
			return errMalformedBlock
		}
		body = body[n:]
		if i < from {
			continue
		}
		e := blockEvent{index: i}
		for len(fields) > 0 {
			num, typ, n := protowire.ConsumeTag(fields)
			if n < 0 {
				return errMalformedBlock
			}
			fields = fields[n:]
			if num == blockFieldData {
				e.data, fields = fields, nil
				break
			}
			if typ == protowire.VarintType {
				v, n := protowire.ConsumeVarint(fields)
				if n < 0 {
					return errMalformedBlock
				}
				fields = fields[n:]
				if num == blockFieldOccurredAt {
					e.occurredAt = int64(v)
				}
				continue
			}
			v, n := protowire.ConsumeBytes(fields)
			if typ != protowire.BytesType || n < 0 {
				return errMalformedBlock
			}
			fields = fields[n:]
			switch num {
			case blockFieldType:
				e.typ = string(v)
			case blockFieldOrganization:
				e.orgID = string(v)
			case blockFieldActorType:
				e.actor.Type = string(v)
			case blockFieldActorID:
				e.actor.ID = string(v)
			case blockFieldChanged:
				e.changed = append(e.changed, string(v))
			case blockFieldData:
				e.data = v
			}
		}
		if !fn(&e) {
			return nil
		}
	}
	return nil
}

// envelope renders a block's event as webhooks deliver it.
func (e *blockEvent) envelope(codec roster.EventDataCodec, id, environmentID string) ([]byte, error) {
	if e.legacyEnvelope != nil {
		return e.legacyEnvelope, nil
	}
	ev := roster.Event{ID: id, Type: e.typ, OccurredAt: fromMicros(e.occurredAt), EnvironmentID: environmentID,
		OrganizationID: e.orgID, Actor: e.actor, ChangedFields: e.changed}
	return ev.AppendEnvelope(make([]byte, 0, 512+3*len(e.data)), codec, e.data)
}

// eventID is the ID of the event at index i of the block that starts at first.
func eventID(first int64, i int) string {
	return roster.PrefixEvent + strconv.FormatInt(first+int64(i), 10)
}
