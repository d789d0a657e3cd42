package directory

import (
	"context"
	"encoding/binary"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/pagetoken"
	"github.com/rosterhq/roster/store"
)

// Feed page sizes (docs/events.md, "The feed").
const (
	DefaultEventPageSize = 100
	MaxEventPageSize     = store.MaxEventPage
	maxEventSelectors    = 100 // bounds the feed query's filter
	// eventScanBudget bounds the events a filtered page passes over (docs/events.md).
	eventScanBudget = 10_000
)

// EventListInput selects a page of the change feed.
type EventListInput struct {
	After          string   // a cursor of an earlier page (EventPage.NextCursor); "" is the beginning
	Types          []string // types, or prefixes ending in ".*"; none: all
	OrganizationID string
	PageSize       int // 0: DefaultEventPageSize
}

// EventPage is a page of the feed.
type EventPage struct {
	Events []store.StoredEvent
	// NextCursor is the position after the last event, or after the last event a filtered
	// page passed over; the request's After when there is none.
	NextCursor string
	// HasMore: more events of the filters follow NextCursor now, or may (a filtered page
	// that stopped at its scan bound).
	HasMore bool
}

// ListEvents reads the environment's events after in.After, in feed order.
func (s *Service) ListEvents(ctx context.Context, env roster.Environment, in EventListInput) (EventPage, error) {
	var v roster.Violations
	q := store.EventQuery{Types: in.Types, OrganizationID: in.OrganizationID, Limit: in.PageSize}
	if in.After != "" {
		c, ok := decodeEventCursor(env, in.After)
		if !ok {
			v.Add("after", "valid_cursor", "is not a cursor of this environment's feed (cursors are opaque: pass a next_cursor back as it was given)")
		}
		q.After = c
	}
	if len(in.Types) > maxEventSelectors {
		v.Add("types", "repeated.max_items", "must have at most %d entries", maxEventSelectors)
	}
	for _, t := range in.Types {
		if !knownEventSelector(t) {
			v.Add("types", "in", "%q is not an event type or a prefix of event types ending in \".*\"", t)
			break
		}
	}
	if in.OrganizationID != "" {
		addIDViolation(&v, "organization_id", in.OrganizationID, roster.PrefixOrganization, 32)
	}
	switch {
	case in.PageSize == 0:
		q.Limit = DefaultEventPageSize
	case in.PageSize < 0 || in.PageSize > MaxEventPageSize:
		v.Add("page_size", "range", "must be between 1 and %d", MaxEventPageSize)
	}
	if err := v.Err(); err != nil {
		return EventPage{}, err
	}
	// A filtered page passes over at most eventScanBudget events: a rare type or a quiet
	// organization must not make one request read the whole feed after the cursor. The
	// page then ends at the bound, possibly short or empty, with has_more.
	filtered := len(q.Types) > 0 || q.OrganizationID != ""
	limited := false
	if filtered {
		through, full, err := s.store.EventScanBound(ctx, env.ID, q.After, eventScanBudget)
		if err != nil {
			return EventPage{}, err
		}
		if through == q.After {
			return EventPage{NextCursor: in.After}, nil
		}
		q.Through, limited = through, full
	}
	evs, err := s.store.ListEvents(ctx, env.ID, q)
	if err != nil {
		return EventPage{}, err
	}
	page := EventPage{Events: evs, NextCursor: in.After}
	if len(evs) < q.Limit && filtered {
		// Every event up to the bound that matches is in the page.
		page.NextCursor, page.HasMore = encodeEventCursor(env, q.Through), limited
		return page, nil
	}
	if len(evs) == 0 {
		return page, nil
	}
	last := evs[len(evs)-1].Cursor
	page.NextCursor = encodeEventCursor(env, last)
	page.HasMore = limited // the bound stopped the scan: more follow it
	if len(evs) == q.Limit && !limited {
		q.After, q.Limit = last, 1
		more, err := s.store.ListEvents(ctx, env.ID, q)
		if err != nil {
			return EventPage{}, err
		}
		page.HasMore = len(more) > 0
	}
	return page, nil
}

// knownEventSelector reports whether t is an event type or a prefix ("organization.*")
// of at least one.
func knownEventSelector(t string) bool {
	prefix, ok := strings.CutSuffix(t, "*")
	if !ok {
		return roster.KnownEventType(t)
	}
	if !strings.HasSuffix(prefix, ".") {
		return false
	}
	for _, known := range roster.EventTypes() {
		if strings.HasPrefix(known, prefix) {
			return true
		}
	}
	return false
}

// A feed cursor is the position (transaction, sequence) sealed with the environment's cursor
// key (pagetoken.Seal): opaque, stable for as long as the environment exists, refused when
// altered or given to another environment. It does not depend on the filters.
func eventCursorQuery(env roster.Environment) string { return "events\x00" + env.ID }

// encodeEventCursor seals a feed position: its block's tx and seq, and the event's index in
// the block.
func encodeEventCursor(env roster.Environment, c store.EventCursor) string {
	buf := make([]byte, 0, 24)
	buf = binary.BigEndian.AppendUint64(buf, uint64(c.Tx))
	buf = binary.BigEndian.AppendUint64(buf, uint64(c.Seq))
	buf = binary.BigEndian.AppendUint64(buf, uint64(c.Index))
	return pagetoken.Seal(env.CursorKey, eventCursorQuery(env), buf)
}

// decodeEventCursor opens a cursor of encodeEventCursor, or one sealed before events were
// stored in blocks (tx and seq only): that one's row holds one event, index 0.
func decodeEventCursor(env roster.Environment, s string) (store.EventCursor, bool) {
	raw, err := pagetoken.Open(env.CursorKey, eventCursorQuery(env), s, 24)
	if err != nil {
		if raw, err = pagetoken.Open(env.CursorKey, eventCursorQuery(env), s, 16); err != nil {
			return store.EventCursor{}, false
		}
		raw = append(raw, make([]byte, 8)...)
	}
	c := store.EventCursor{Tx: int64(binary.BigEndian.Uint64(raw)), Seq: int64(binary.BigEndian.Uint64(raw[8:16])),
		Index: int64(binary.BigEndian.Uint64(raw[16:24]))}
	return c, c.Tx >= 0 && c.Seq >= 0 && c.Index >= 0 && c.Index < 1<<32
}
