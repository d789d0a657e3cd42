package sqlite

import (
	"strings"
	"testing"

	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/sqlstore"
)

// A feed page seeks events_environment to the cursor's block and reads on in the index's
// order, with or without a bound (the filters apply to the blocks' events): its cost is the
// page and the blocks it passes over, not the cursor's position in the feed. SQLite does not
// seek to a row comparison's start ("(tx, seq) > (0, n)"), which read every event of the
// environment before the cursor on every page: a change of the query that loses the seek
// fails here.
func TestEventPagePlan(t *testing.T) {
	db := migratedDB(t)
	after := store.EventCursor{Seq: 40_000}
	for _, q := range []store.EventQuery{
		{After: after, Limit: 100},
		{After: after, Limit: 100, Through: store.EventCursor{Seq: 50_000, Index: 3}},
	} {
		query, args := sqlstore.EventPageQuery(dialect{}, "env_1", q.After.Tx, q.After.Seq, q, q.Limit)
		plan, text := queryPlan(t, db, query, args...)
		if len(plan) != 1 || !strings.Contains(text, "events_environment (environment_id=? AND tx=? AND seq>?") {
			t.Errorf("query %+v: want one seek of events_environment to (environment, tx, seq) and no sort, got plan:\n%s", q, text)
		}
	}
}
