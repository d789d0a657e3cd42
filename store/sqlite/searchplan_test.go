package sqlite

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rosterhq/roster/store/sqlstore"
)

// A search page's query starts from the search index, in the page's order with its bound
// (no sort of the index's matches), and looks each match up by equality in the environment's
// or the organization's index: its cost is the page, not the number of matches (docs/storage.md,
// "User search"). A change of the query or of SQLite that loses this fails here.
func TestSearchPagePlan(t *testing.T) {
	db := migratedDB(t)
	for _, c := range []struct {
		page        sqlstore.SearchPage
		index, seek string
	}{
		{sqlstore.SearchPage{Text: "bench.example", Limit: 31}, "SCAN s VIRTUAL TABLE INDEX", "users_environment_seq (environment_id=? AND seq=?)"},
		{sqlstore.SearchPage{Text: "bench.example", After: 5, Limit: 31}, "SCAN s VIRTUAL TABLE INDEX", "users_environment_seq (environment_id=? AND seq=?)"},
		{sqlstore.SearchPage{Text: "bench.example", Before: 5, Limit: 31}, "SCAN s VIRTUAL TABLE INDEX", "users_environment_seq (environment_id=? AND seq=?)"},
		{sqlstore.SearchPage{Text: "bench.example", OrganizationID: "org_1", After: 5, Limit: 31}, "SCAN s VIRTUAL TABLE INDEX",
			"memberships_organization_seq (environment_id=? AND organization_id=? AND user_seq=?)"},
		{sqlstore.SearchPage{Text: "bench.example", OrganizationID: "org_1", Before: 5, Limit: 31}, "SCAN s VIRTUAL TABLE INDEX",
			"memberships_organization_seq (environment_id=? AND organization_id=? AND user_seq=?)"},
	} {
		args := []any{"env_1"}
		q := dialect{}.UserSearchPage(c.page, func(v any) string {
			args = append(args, v)
			return fmt.Sprintf("$%d", len(args))
		})
		plan, text := queryPlan(t, db, q, args...)
		// The index's scan, then in the same subquery a look-up by equality, and no sort
		// there (the index gives the page's order; a sort would take every match first).
		i := 0
		for i < len(plan) && !strings.HasPrefix(plan[i].detail, c.index) {
			i++
		}
		ok := i+1 < len(plan) && plan[i+1].parent == plan[i].parent && strings.HasSuffix(plan[i+1].detail, c.seek)
		for _, st := range plan {
			if ok && st.parent == plan[i].parent && strings.Contains(st.detail, "TEMP B-TREE") {
				ok = false
			}
		}
		if !ok {
			t.Errorf("page %+v: want %q then a look-up by %q and no sort, got plan:\n%s", c.page, c.index, c.seek, text)
		}
	}
}
