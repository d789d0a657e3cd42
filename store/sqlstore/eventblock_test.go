package sqlstore

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
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
	if err := decodeBlock(body, 0, func(e *blockEvent) bool { got = append(got, *e); return true }); err != nil {
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
	var later []int
	if err := decodeBlock(body, 1, func(e *blockEvent) bool { later = append(later, e.index); return true }); err != nil || !slices.Equal(later, []int{1}) {
		t.Fatalf("from index 1: events %v, %v", later, err)
	}
	for n := 0; n < len(body); n++ {
		_ = decodeBlock(body[:n], 0, func(*blockEvent) bool { return true }) // must not panic
	}
	if err := decodeBlock(append([]byte{eventBlockV1}, 0x80), 0, func(*blockEvent) bool { return true }); err == nil {
		t.Error("a block whose length is cut decoded")
	}
	if err := decodeBlock([]byte(`{"id":"evt_1"}`), 0, func(*blockEvent) bool { return true }); err == nil {
		t.Error("an envelope's JSON decoded as a block")
	}
}

// A write that rolls back drops its events from the buffer (truncate), and the events
// recorded after it take their place: the arena gives each event its own bytes.
func TestEventBufferTruncate(t *testing.T) {
	b := newEventBuffer(false, roster.NewIDGenerator())
	add := func(typ, data string) {
		e := roster.Event{Type: typ, EnvironmentID: "env_1", OccurredAt: time.Unix(1, 0)}
		b.finish(&e, append(b.start(&e), data...))
	}
	add("a", "one")
	add("b", "two")
	add("c", "three")
	b.truncate(1)
	add("d", "four")
	if b.len() != 2 {
		t.Fatalf("%d events held, want 2", b.len())
	}
	body := []byte{eventBlockV1}
	for _, p := range b.pending {
		body = appendBlockEntry(body, b.arena[p.start:p.end])
	}
	var got []string
	if err := decodeBlock(body, 0, func(e *blockEvent) bool { got = append(got, e.typ+"="+string(e.data)); return true }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"a=one", "d=four"}) {
		t.Fatalf("events %q, want a=one and d=four", got)
	}
	b.truncate(0)
	if b.len() != 0 || len(b.arena) != 0 {
		t.Fatalf("an emptied buffer holds %d events, %d bytes", b.len(), len(b.arena))
	}
}

// A block large enough to gain is stored compressed (eventBlockS2) and gives back the same
// events; a small or incompressible one stays as it is. A damaged compressed block is an
// error, never a panic, and a length past maxDecodedBlock is refused before any allocation.
func TestEventBlockCompressed(t *testing.T) {
	b := newEventBuffer(false, roster.NewIDGenerator())
	body := []byte{eventBlockV1}
	var want []string
	for i := range 20 {
		e := roster.Event{Type: roster.EventUserCreated, EnvironmentID: "env_1", OrganizationID: "org_1", OccurredAt: time.Unix(int64(i), 0)}
		data := fmt.Sprintf(`j{"id":"usr_%d","email":"person%d@example.com","organization":"Acme Corporation"}`, i, i)
		f := append(b.start(&e), data...)
		b.finish(&e, f)
		body = appendBlockEntry(body, f)
		want = append(want, data)
	}
	stored := compressBlock(body)
	if stored[0] != eventBlockS2 || len(stored) >= len(body)/2 {
		t.Fatalf("a block of 20 alike events stored as form %#x, %d bytes of %d", stored[0], len(stored), len(body))
	}
	var got []string
	if err := decodeBlock(stored, 0, func(e *blockEvent) bool { got = append(got, string(e.data)); return true }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("decoded %q, want %q", got, want)
	}
	got = got[:0]
	if err := decodeBlock(stored, 18, func(e *blockEvent) bool { got = append(got, string(e.data)); return true }); err != nil || !slices.Equal(got, want[18:]) {
		t.Fatalf("from index 18: %q, %v", got, err)
	}
	small := appendBlockEntry([]byte{eventBlockV1}, []byte("tiny"))
	if s := compressBlock(small); !slices.Equal(s, small) {
		t.Errorf("a small block stored as %x, want it as it is", s)
	}
	noise := make([]byte, 4096)
	rand.Read(noise)
	random := appendBlockEntry([]byte{eventBlockV1}, noise)
	if s := compressBlock(random); !slices.Equal(s, random) {
		t.Errorf("an incompressible block stored in form %#x", s[0])
	}
	for n := 0; n < len(stored); n++ {
		_ = decodeBlock(stored[:n], 0, func(*blockEvent) bool { return true }) // must not panic
	}
	flipped := slices.Clone(stored)
	flipped[len(flipped)/2] ^= 0xff
	_ = decodeBlock(flipped, 0, func(*blockEvent) bool { return true }) // must not panic
	huge := binary.AppendUvarint([]byte{eventBlockS2}, maxDecodedBlock+1)
	if err := decodeBlock(append(huge, 0, 0, 0), 0, func(*blockEvent) bool { return true }); err == nil {
		t.Error("a compressed block claiming more than maxDecodedBlock decoded")
	}
}
