package sqlstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// blockOf buffers n events alike a create's (a user's fields as data) in b.
func blockOf(b *eventBuffer, n int) {
	for i := range n {
		e := roster.Event{Type: roster.EventUserCreated, EnvironmentID: "env_1", OrganizationID: "org_383786193751474176",
			OccurredAt: time.Unix(1765000000, int64(i)), Actor: roster.Actor{Type: roster.ActorAPIClient, ID: "skc_383786193751474176"}}
		data := fmt.Sprintf(`j{"id":"usr_%d","email":"person%d@example.com","organization":"Acme Corporation","given_name":"Ada","family_name":"Lovelace","metadata":{"team":"analytics"}}`, 383786193751474176+i, i)
		b.finish(&e, append(b.start(&e), data...))
	}
}

// BenchmarkEventBlockStatement: a PostgreSQL write's block of 2 events (a create) and a SQLite
// group commit's of 18, built into their row and compressed (eventBuffer.statement).
func BenchmarkEventBlockStatement(b *testing.B) {
	for _, n := range []int{2, 18} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			buf := newEventBuffer(true, nil)
			b.ReportAllocs()
			for b.Loop() {
				blockOf(buf, n)
				if _, _, err := buf.statement(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEventBlockDecode: reading every event of a compressed block of 18 (a feed page or a
// webhook delivery decodes the block it reads).
func BenchmarkEventBlockDecode(b *testing.B) {
	buf := newEventBuffer(true, nil)
	blockOf(buf, 18)
	_, args, err := buf.statement()
	if err != nil {
		b.Fatal(err)
	}
	body := args[3].([]byte)
	if body[0] != eventBlockS2 {
		b.Fatalf("block stored in form %#x, want compressed", body[0])
	}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := decodeBlock(body, 0, func(*blockEvent) bool { n++; return true }); err != nil || n != 18 {
			b.Fatalf("%d events, %v", n, err)
		}
	}
}
