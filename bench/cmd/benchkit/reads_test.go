package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func seedDir(t *testing.T, users int) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	for i := range users {
		fmt.Fprintf(&b, "usr_%d\text-%d\tu%d@bench.example.com\torg_1\n", i, i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.tsv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "orgs.tsv"), []byte("org_1\text-org-1\tbig\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// readIDs returns the user ids of a get_user targets file, in order.
func readIDs(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var tg target
		if err := json.Unmarshal(sc.Bytes(), &tg); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tg.URL[strings.LastIndex(tg.URL, "/")+1:])
	}
	return ids
}

// The read rows used to draw from a fixed sample of 10k users, which all fit in the cache.
// Over 20k users, 60k uniform draws must touch nearly all of them.
func TestReadsUniformDrawFromEveryUser(t *testing.T) {
	dir := seedDir(t, 20000)
	out := filepath.Join(t.TempDir(), "r")
	if err := reads([]string{"--seed", dir, "--op", "get_user", "--dist", "uniform", "--n", "60000", "--draw", "1", "--out", out}); err != nil {
		t.Fatal(err)
	}
	ids := readIDs(t, out+".rest.targets")
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	// Expected distinct: 20000·(1−e^−3) ≈ 19,000.
	if len(ids) != 60000 || len(seen) < 18500 {
		t.Fatalf("%d keys touch %d distinct users of 20000; want them drawn from all users", len(ids), len(seen))
	}
	var msgs []map[string]string
	data, _ := os.ReadFile(out + ".grpc.json")
	if err := json.Unmarshal(data, &msgs); err != nil || len(msgs) != len(ids) || msgs[7]["id"] != ids[7] {
		t.Fatalf("grpc messages do not follow the REST keys: %v (%d messages)", err, len(msgs))
	}
	if got := distinctAfter(out+".keys", 60000); got != len(seen) {
		t.Fatalf("distinctAfter = %d, want %d", got, len(seen))
	}
	if got := distinctAfter(out+".keys", 1e6); got != len(seen) {
		t.Fatalf("distinctAfter past the end = %d, want %d", got, len(seen))
	}
	// Another row draws other keys.
	out2 := filepath.Join(t.TempDir(), "r")
	if err := reads([]string{"--seed", dir, "--op", "get_user", "--n", "100", "--draw", "2", "--out", out2}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(readIDs(t, out2+".rest.targets")[:20], ",") == strings.Join(ids[:20], ",") {
		t.Fatal("two rows with different --draw sent the same keys")
	}
}

// The Zipf rows concentrate on a hot set that is the same in every row of a run, spread over
// all users (not the first ones seeded).
func TestReadsZipfHotSet(t *testing.T) {
	dir := seedDir(t, 20000)
	count := func(draw string) (map[string]int, string) {
		out := filepath.Join(t.TempDir(), "z")
		if err := reads([]string{"--seed", dir, "--op", "get_user", "--dist", "zipf", "--n", "50000", "--draw", draw, "--out", out}); err != nil {
			t.Fatal(err)
		}
		c := map[string]int{}
		top := ""
		for _, id := range readIDs(t, out+".rest.targets") {
			c[id]++
			if c[id] > c[top] {
				top = id
			}
		}
		return c, top
	}
	c1, top1 := count("1")
	_, top2 := count("2")
	if top1 != top2 {
		t.Fatalf("hottest user differs between rows: %s, %s", top1, top2)
	}
	if top1 == "usr_0" {
		t.Fatal("the hottest user is the first seeded one: ranks are not shuffled")
	}
	// s=1.1 over 20k users: rank 1 takes about 1/ζ-ish ≈ 12% of the draws; uniform would give 2.5 per user.
	if c1[top1] < 2500 || len(c1) > 15000 {
		t.Fatalf("hottest user drawn %d times of 50000, %d distinct users: not a hot set", c1[top1], len(c1))
	}
}

func TestReadsRejectsOtherOps(t *testing.T) {
	dir := seedDir(t, 10)
	for _, args := range [][]string{
		{"--op", "update_user"},
		{"--op", "get_user", "--dist", "pareto"},
	} {
		if err := reads(append([]string{"--seed", dir, "--out", filepath.Join(t.TempDir(), "x")}, args...)); err == nil {
			t.Fatalf("reads %v: no error", args)
		}
	}
}

func TestProcStatusKB(t *testing.T) {
	kb, ok := procStatusKB(os.Getpid(), "VmRSS")
	if !ok || kb <= 0 {
		t.Fatalf("VmRSS of this process: %d, %v", kb, ok)
	}
}
