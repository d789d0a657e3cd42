package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// testOperatorAudit checks the dashboard's audit log: entries come back as stored, newest
// first, a bounded page at a time, and the pages cover every entry once even when several
// share a time.
func testOperatorAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	if list, err := s.ListOperatorAudit(ctx, store.AuditCursor{}, 10); err != nil || len(list) != 0 {
		t.Fatalf("empty log lists %+v, %v", list, err)
	}
	base := now().Add(-time.Hour)
	var want []roster.OperatorAuditEntry
	for i := 0; i < 7; i++ {
		e := roster.OperatorAuditEntry{ID: ids.New(roster.PrefixOperatorAudit), OperatorID: "op_1", Email: "ada@example.com",
			Action: "attribute.create", Target: fmt.Sprintf("key_%d", i), RemoteAddr: "192.0.2.1:1234",
			CreateTime: base.Add(time.Duration(i/2) * time.Second)} // pairs share a time
		if i == 6 {
			e.OperatorID, e.Email, e.Action = "", "nobody@example.com", "sign-in.failure"
		}
		if err := s.AppendOperatorAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
		want = append(want, e)
	}
	newer := func(a, b roster.OperatorAuditEntry) bool {
		return a.CreateTime.After(b.CreateTime) || a.CreateTime.Equal(b.CreateTime) && a.ID > b.ID
	}
	var got []roster.OperatorAuditEntry
	var cur store.AuditCursor
	pages := 0
	for {
		page, err := s.ListOperatorAudit(ctx, cur, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 3 {
			t.Fatalf("page of %d entries, limit 3", len(page))
		}
		if len(page) == 0 {
			break
		}
		pages++
		got = append(got, page...)
		last := page[len(page)-1]
		cur = store.AuditCursor{Time: last.CreateTime, ID: last.ID}
	}
	if len(got) != len(want) || pages != 3 {
		t.Fatalf("listed %d entries in %d pages, want %d in 3", len(got), pages, len(want))
	}
	seen := map[string]bool{}
	for i, e := range got {
		if i > 0 && !newer(got[i-1], e) {
			t.Errorf("entry %d (%s %s) is not older than the one before (%s %s)", i, e.CreateTime, e.ID, got[i-1].CreateTime, got[i-1].ID)
		}
		seen[e.ID] = true
	}
	for _, w := range want {
		if !seen[w.ID] {
			t.Errorf("entry %s missing", w.ID)
		}
	}
	for _, e := range got {
		if e.ID == want[6].ID && e != want[6] {
			t.Errorf("stored %+v, read back %+v", want[6], e)
		}
	}
}
