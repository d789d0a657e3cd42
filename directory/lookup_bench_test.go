package directory_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/internal/cputime"
)

// BenchmarkLookupUniform reads users with keys drawn uniformly from 100k users (more than the
// user cache holds, as in the load benchmark's uniform rows), by ID and by a search for the
// whole email (the Scalekit API's lookup by email), in the directory service without a transport.
func BenchmarkLookupUniform(b *testing.B) {
	const n = 100_000
	svc, env, org := benchDirectory(b, "sqlite")
	ctx := context.Background()
	ids := make([]string, 0, n)
	for from := 0; from < n; from += benchBatch {
		out, err := svc.ImportUsers(ctx, env, importLines(org.ID, from, benchBatch))
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range out {
			if o.Err != nil {
				b.Fatal(o.Err)
			}
			ids = append(ids, o.UserID)
		}
	}
	for _, by := range []string{"id", "email", "id", "email"} {
		b.Run(by, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			cpu0 := cputime.Process()
			for b.Loop() {
				k := r.IntN(n)
				if by == "id" {
					if _, err := svc.GetUser(ctx, env, roster.UserRef{ID: ids[k]}); err != nil {
						b.Fatal(err)
					}
					continue
				}
				q := fmt.Sprintf("user%d@bench.example.com", k)
				l, err := svc.ListUsers(ctx, env, directory.ListUsersInput{Query: &q})
				if err != nil || len(l.Items) != 1 {
					b.Fatal(err, len(l.Items))
				}
			}
			cputime.Report(b, cpu0)
		})
	}
}
