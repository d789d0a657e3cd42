package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// reportOf writes manifest into dir, runs the report on it and returns what it printed.
func reportOf(t *testing.T, dir, manifest string) string {
	t.Helper()
	mf := filepath.Join(dir, "manifest.tsv")
	if err := os.WriteFile(mf, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	r, w, _ := os.Pipe()
	stdout := os.Stdout
	os.Stdout = w
	err := report([]string{mf})
	os.Stdout = stdout
	w.Close()
	out, _ := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// vegetaJSON is vegeta's report of 1,000 successful requests at rps, p50 1 ms and this p99.
func vegetaJSON(rps float64, p99 time.Duration) string {
	return fmt.Sprintf(`{"latencies":{"50th":1000000,"99th":%d},"requests":1000,"throughput":%g,"success":1,"status_codes":{"200":1000}}`, p99.Nanoseconds(), rps)
}

// writeRow writes a row's result file f and the files beside it (by extension; "" is f).
func writeRow(t *testing.T, f string, files map[string]string) {
	t.Helper()
	for ext, data := range files {
		if err := os.WriteFile(f+ext, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// wantLines fails the test for each of wants that the report's text lacks.
func wantLines(t *testing.T, text string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
}

// The report labels the uniform and Zipf rows apart and shows memory and disk per row.
func TestReportMemoryDiskAndKeyLabels(t *testing.T) {
	dir := t.TempDir()
	vegeta := vegetaJSON(500, 3*time.Millisecond)
	var manifest strings.Builder
	for _, row := range []struct{ op, mem, watch string }{
		{"get_user", "150000 120000 104857600 0 -1 -1", "130000 0 10"},
		{"get_user_zipf", "90000 80000 104857600 0 -1 -1", "85000 0 10"},
		{"create_user", "100000 99000 110100480 33554432 -1 -1", "100000 67108864 10"},
	} {
		f := filepath.Join(dir, row.op+".json")
		writeRow(t, f, map[string]string{"": vegeta, ".mem": row.mem, ".watch": row.watch, ".hwmreset": "1", ".cpu": "1 2"})
		if row.op != "create_user" {
			if err := writeDistinct(f+".keys", []int{1, 2, 2, 3}); err != nil {
				t.Fatal(err)
			}
		}
		manifest.WriteString("main\t2000\t" + row.op + "\trest\tsqlite\t16\tvegeta\t" + f + "\n")
	}
	text := reportOf(t, dir, manifest.String())
	wantLines(t, text,
		"get user by id, uniform over all users",
		"get user by id, **hot-set (Zipf s=1.1)**",
		"| sqlite | 2000 | get user by id, uniform over all users | rest | 16 | 3 ÷ 1000 | 146.5 | 127.0 | 117.2 | 143.1 | **no** | 100.0 | 0.0 | 0.0 |",
		"| sqlite | 2000 | get user by id, **hot-set (Zipf s=1.1)** | rest | 16 | 3 ÷ 1000 | 87.9 | 83.0 | 78.1 | 143.1 | yes | 100.0 | 0.0 | 0.0 |",
		"| sqlite | 2000 | create user + membership | rest | 16 | – | 97.7 | 97.7 | 96.7 | 143.1 | yes | 105.0 | 32.0 | 64.0 |",
		"RSS target **missed** in 1 of 3 rows (first: 146.5 MB, get user by id, uniform over all users, rest, 16 clients, 2000 users)",
		"highest RSS over its rows 146.5 MB",
		"largest WAL sampled 64.0 MB (write rows: 64.0 MB)",
		"Bytes per cached user: not reported",
	)
}

// The targets of issue 12 beside the rows they judge: the WAL of the sustained write row against
// 64 MB, and on PostgreSQL the reads against half the bare pgx rate and creates against 2,000/s.
func TestReportWALAndPostgresTargets(t *testing.T) {
	dir := t.TempDir()
	var manifest strings.Builder
	for _, row := range []struct {
		op, proto, backend string
		rps                int
		mem, watch         string
	}{
		{"sustained_writes", "rest", "sqlite", 1200, "100000 99000 110100480 1000 -1 -1", "100000 40000000 10"},
		{"pgx_bare", "sql", "postgres", 10000, "", ""},
		{"get_user", "rest", "postgres", 6000, "", ""},
		{"get_user_ext", "rest", "postgres", 4000, "", ""},
		{"create_user", "rest", "postgres", 2100, "", ""},
	} {
		f := filepath.Join(dir, row.op+row.backend+".json")
		files := map[string]string{"": vegetaJSON(float64(row.rps), 3*time.Millisecond)}
		if row.mem != "" {
			files[".mem"], files[".watch"], files[".hwmreset"] = row.mem, row.watch, "1"
		}
		writeRow(t, f, files)
		fmt.Fprintf(&manifest, "main\t2000\t%s\t%s\t%s\t16\tvegeta\t%s\n", row.op, row.proto, row.backend, f)
	}
	text := reportOf(t, dir, manifest.String())
	wantLines(t, text,
		"| WAL max < 64 MB (40.0 MB) | yes |",
		"| get user by id, uniform over all users | rest | postgres | 16 | 6000 |",
		"≥ half of bare pgx (10000/s: 60% of it) | yes |",
		"≥ half of bare pgx (10000/s: 40% of it) | **no** |",
		"| create user + membership | rest | postgres | 16 | 2100 |",
		"| ≥ 2,000/s | yes |",
		"**bare pgx** point read",
	)
}

// grpcload's report is read as ghz's (req/s from OK calls over the total time, percentiles,
// errors), its gRPC rows are judged against the targets, and the ghz rows beside them are not.
func TestReportReadsGrpcloadAndLeavesGhzUnjudged(t *testing.T) {
	dir := t.TempDir()
	// 4,000 calls over 2 s, 3,900 OK: 1,950/s.
	grpcload := `{"tool":"grpcload","count":4000,"total":2000000000,"rps":2000,"statusCodeDistribution":{"OK":3900,"NotFound":100},` +
		`"errorDistribution":{"NotFound: not_found: no such user":100},"latencyDistribution":[{"percentage":50,"latency":2000000},{"percentage":99,"latency":9000000}]}`
	ghz := `{"count":2000,"total":2000000000,"rps":1000,"statusCodeDistribution":{"OK":2000},"latencyDistribution":[{"percentage":50,"latency":4000000},{"percentage":99,"latency":12000000}]}`
	var manifest strings.Builder
	for _, row := range []struct{ op, proto, tool, data string }{
		{"create_user", "grpc", "grpcload", grpcload},
		{"create_user", "ghz", "ghz", ghz},
	} {
		f := filepath.Join(dir, row.op+"-"+row.proto+".json")
		writeRow(t, f, map[string]string{"": row.data, ".cpu": "1 2"})
		manifest.WriteString("main\t2000\t" + row.op + "\t" + row.proto + "\tsqlite\t16\t" + row.tool + "\t" + f + "\n")
	}
	text := reportOf(t, dir, manifest.String())
	wantLines(t, text,
		"| create user + membership | grpc | sqlite | 16 | 1950 | 2.00 | 9.00 |",
		"NotFound",
		"| ≥ 3,300/s | **no** (errors) |", // 2.5% of its calls failed
		"| create user + membership | ghz | sqlite | 16 | 1000 | 4.00 | 12.00 |",
	)
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "| create user + membership | ghz |") && (strings.Contains(line, "3,300") || strings.Contains(line, "**no**")) {
			t.Errorf("the ghz row is judged: %s", line)
		}
	}
}

// The flat table (issue 12: get by id, lookup by email and a page of 100 flat from 10k to 1M
// users) judges each operation against its rate on the smallest set, a page against the
// smallest set whose pages hold 100 users, and leaves a smaller page unjudged.
func TestReportFlatTableJudgesFullPagesOnly(t *testing.T) {
	dir := t.TempDir()
	var manifest strings.Builder
	for _, row := range []struct {
		set, op string
		users   int
		rps     float64
		page    string
	}{
		{"scale", "get_user", 10000, 20000, ""},
		{"scale", "lookup_email", 10000, 19000, ""},
		{"scale", "list_org_users", 10000, 3000, "50"},
		{"main", "get_user", 100000, 17000, ""},
		{"main", "lookup_email", 100000, 12000, ""},
		{"main", "list_org_users", 100000, 1500, "100"},
		{"scale", "get_user", 1000000, 15000, ""},
		{"scale", "lookup_email", 1000000, 9000, ""},
		{"scale", "list_org_users", 1000000, 1400, "100"},
	} {
		f := filepath.Join(dir, fmt.Sprintf("%s-%d.json", row.op, row.users))
		files := map[string]string{"": vegetaJSON(row.rps, 3*time.Millisecond)}
		if row.page != "" {
			files[".page"] = row.page
		}
		writeRow(t, f, files)
		fmt.Fprintf(&manifest, "%s\t%d\t%s\trest\tsqlite\t16\tvegeta\t%s\n", row.set, row.users, row.op, f)
	}
	text := reportOf(t, dir, manifest.String())
	wantLines(t, text,
		"| sqlite | rest | get user by id, uniform over all users | 10000 | 20000 | 3.00 | – | base | – | – |",
		"| sqlite | rest | get user by id, uniform over all users | 1000000 | 15000 | 3.00 | – | 75% of 10000 users | – | **no** |",
		"| sqlite | rest | get user by id, uniform over all users | 100000 | 17000 | 3.00 | – | 85% of 10000 users | – | yes |",
		"| sqlite | rest | lookup user by email, uniform over all users | 1000000 | 9000 | 3.00 | – | 47% of 10000 users | 60% | **no** |",
		"| sqlite | rest | list 100 organization users | 10000 | 3000 | 3.00 | 50 | not judged | – | a page holds fewer than 100 users here |",
		"| sqlite | rest | list 100 organization users | 100000 | 1500 | 3.00 | 100 | base | – | – |",
		"| sqlite | rest | list 100 organization users | 1000000 | 1400 | 3.00 | 100 | 93% of 100000 users | – | yes |",
	)
}
