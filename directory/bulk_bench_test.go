package directory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/internal/cputime"
)

// reportUsers reports users per second of wall time and the process's CPU time per user:
// on a machine shared with other work the first measures the sharing as much as the code, the
// second does not (on SQLite it is all of the work; on PostgreSQL the server's is not in it).
func reportUsers(b *testing.B, n int, cpu0 time.Duration) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "users/s")
	if cpu := cputime.Process() - cpu0; cpu > 0 && n > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/user")
	}
}

// benchBatch is the lines per ImportUsers call in the benchmarks (the wire's batch size).
const benchBatch = 1000

// importLines generates a batch of new users, each with an external ID, a membership with a
// role, three metadata pairs and one custom attribute.
func importLines(orgID string, from, n int) []directory.ImportLine {
	lines := make([]directory.ImportLine, n)
	for i := range lines {
		k := from + i
		ext := fmt.Sprintf("ext-%d", k)
		lines[i] = directory.ImportLine{Number: k + 1, User: roster.ImportUser{
			Email: fmt.Sprintf("user%d@bench.example.com", k), ExternalID: &ext,
			Metadata: map[string]string{"dept": "engineering", "site": "berlin", "cost": fmt.Sprint(k % 97)},
			Profile: roster.ProfilePatch{GivenName: ptr("Given"), FamilyName: ptr(fmt.Sprint("Family", k)),
				CustomAttributes: map[string]string{"tier": "gold"}},
			Memberships: []roster.ImportMembership{{OrganizationID: orgID, Roles: []string{roster.RoleMember}}},
		}}
	}
	return lines
}

func benchDirectory(b *testing.B, backend string) (*directory.Service, roster.Environment, roster.Organization) {
	svc, env, org := newBulkDirectory(b, backend)
	if _, err := svc.CreateAttribute(context.Background(), env, roster.AttributeDefinition{Key: "tier", DisplayName: "Tier", Type: roster.AttributeString}); err != nil {
		b.Fatal(err)
	}
	return svc, env, org
}

// BenchmarkImportUsers imports batches of new users and reports users per second (issue 12:
// at least 50,000/s on SQLite and 20,000/s on PostgreSQL end to end; this is the directory
// and store part alone).
func BenchmarkImportUsers(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			svc, env, org := benchDirectory(b, backend)
			ctx := context.Background()
			n, cpu0 := 0, cputime.Process()
			for b.Loop() {
				b.StopTimer()
				lines := importLines(org.ID, n, benchBatch)
				b.StartTimer()
				out, err := svc.ImportUsers(ctx, env, lines)
				if err != nil {
					b.Fatal(err)
				}
				if out[0].Result != roster.ImportCreated {
					b.Fatalf("line 1: %s %v", out[0].Result, out[0].Err)
				}
				n += benchBatch
			}
			reportUsers(b, n, cpu0)
		})
	}
}

// BenchmarkReimportUsers imports batches of users that exist unchanged (a re-run of a file).
func BenchmarkReimportUsers(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			svc, env, org := benchDirectory(b, backend)
			ctx := context.Background()
			const total = 10 * benchBatch
			importBenchUsers(b, svc, env, org.ID, total)
			n, cpu0 := 0, cputime.Process()
			for b.Loop() {
				b.StopTimer()
				lines := importLines(org.ID, n%total, benchBatch)
				b.StartTimer()
				out, err := svc.ImportUsers(ctx, env, lines)
				if err != nil {
					b.Fatal(err)
				}
				if out[0].Result != roster.ImportUnchanged {
					b.Fatalf("line 1: %s %v", out[0].Result, out[0].Err)
				}
				n += benchBatch
			}
			reportUsers(b, n, cpu0)
		})
	}
}

// BenchmarkExportUsers exports 10,000 users and reports users per second.
func BenchmarkExportUsers(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			svc, env, org := benchDirectory(b, backend)
			ctx := context.Background()
			const total = 10 * benchBatch
			importBenchUsers(b, svc, env, org.ID, total)
			n, cpu0 := 0, cputime.Process()
			for b.Loop() {
				if err := svc.ExportUsers(ctx, env, "", func(us []roster.User) error { n += len(us); return nil }); err != nil {
					b.Fatal(err)
				}
			}
			reportUsers(b, n, cpu0)
		})
	}
}

// importBenchUsers imports the benchmark's users 0..total-1, a batch at a time.
func importBenchUsers(b *testing.B, svc *directory.Service, env roster.Environment, orgID string, total int) {
	b.Helper()
	for from := 0; from < total; from += benchBatch {
		if _, err := svc.ImportUsers(context.Background(), env, importLines(orgID, from, benchBatch)); err != nil {
			b.Fatal(err)
		}
	}
}
