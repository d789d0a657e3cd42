package sqlstore

import (
	"slices"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// A block gives back each event's fields and data as buffered, in order; a cut or altered
// block is an error, never a panic or an event made up of another's bytes.
func TestEventBlockRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 7, 1, 2, 3, 456789000, time.UTC)
	events := []roster.Event{
		{Type: roster.EventUserCreated, OccurredAt: at, EnvironmentID: "env_1", OrganizationID: "org_1",
			Actor: roster.Actor{Type: roster.ActorAPIClient, ID: "skc_1"}},
		{Type: roster.EventUserUpdated, OccurredAt: at.Add(time.Second), EnvironmentID: "env_1",
			Actor: roster.Actor{Type: roster.ActorSystem}, ChangedFields: []string{"email", "metadata"}},
	}
	datas := [][]byte{[]byte(`j{"id":"usr_1"}`), nil}
	b := newEventBuffer(false, roster.NewIDGenerator())
	body := []byte{eventBlockV1}
	for i := range events {
		f := append(b.start(&events[i]), datas[i]...)
		b.finish(&events[i], f)
		body = appendBlockEntry(body, f)
	}
	var got []blockEvent
	if err := decodeBlock(body, func(e *blockEvent) bool { got = append(got, *e); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d events decoded, want 2", len(got))
	}
	for i, e := range got {
		w := events[i]
		if e.index != i || e.typ != w.Type || e.orgID != w.OrganizationID || e.occurredAt != micros(w.OccurredAt) ||
			e.actor != w.Actor || !slices.Equal(e.changed, w.ChangedFields) || string(e.data) != string(datas[i]) {
			t.Errorf("event %d decoded as %+v, want %+v with data %q", i, e, w, datas[i])
		}
	}
	for n := 0; n < len(body); n++ {
		_ = decodeBlock(body[:n], func(*blockEvent) bool { return true }) // must not panic
	}
	if err := decodeBlock(append([]byte{eventBlockV1}, 0x80), func(*blockEvent) bool { return true }); err == nil {
		t.Error("a block whose length is cut decoded")
	}
	if err := decodeBlock([]byte(`{"id":"evt_1"}`), func(*blockEvent) bool { return true }); err == nil {
		t.Error("an envelope's JSON decoded as a block")
	}
}
