package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// Key distributions of the read rows (get by id, by external id, lookup by email).
const (
	distUniform = "uniform" // every seeded user equally likely, drawn with replacement
	distZipf    = "zipf"    // hot set: Zipf over every seeded user, rank k drawn ∝ 1/k^zipfS
	zipfS       = 1.1
	// keyStep: OUT.keys holds the number of distinct users among the first keyStep·(k+1)
	// draws on its line k, so the report can say how many users a row touched.
	keyStep = 1
)

// reads writes the inputs of one read measurement: n keys drawn from ALL seeded users (the
// seeder's users.tsv lists every user it created) with the given distribution, as OUT.rest.targets
// (vegeta sends them in order) and OUT.grpc.json (ghz sends them in order), and OUT.keys (see
// keyStep). Every measurement passes its own --draw seed, so no row replays the keys of a row
// before it; the Zipf ranks are a permutation fixed by --rank-seed, so every Zipf row of a run
// has the same hot users.
func reads(args []string) error {
	fs := flag.NewFlagSet("reads", flag.ContinueOnError)
	seed := fs.String("seed", "", "directory with orgs.tsv and users.tsv")
	out := fs.String("out", "", "output file prefix")
	base := fs.String("base", "http://127.0.0.1:8080", "Roster base URL")
	opName := fs.String("op", "", "get_user, get_user_ext or lookup_email")
	dist := fs.String("dist", distUniform, "key distribution: uniform or zipf")
	n := fs.Int("n", 100000, "keys drawn (more than one measurement can send: the tools wrap around)")
	draw := fs.Uint64("draw", 1, "seed of this measurement's draws")
	rankSeed := fs.Uint64("rank-seed", 7, "seed of the permutation that ranks users for zipf")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *seed == "" || *out == "" || *opName == "" || *n <= 0 {
		return errors.New("usage: benchkit reads --seed DIR --op OP --out FILE [--dist uniform|zipf] [--n N] [--draw SEED] [--base URL]")
	}
	var users []userRow
	if err := readTSV(filepath.Join(*seed, "users.tsv"), 4, func(p []string) { users = append(users, userRow{p[0], p[1], p[2], p[3]}) }); err != nil {
		return err
	}
	if len(users) == 0 {
		return errors.New("users.tsv lists no users")
	}
	var o *op
	for _, c := range ops(nil, users) {
		if c.name == *opName {
			o = &c
		}
	}
	if o == nil || !isUserRead(o.name) {
		return fmt.Errorf("--op %q is not a read of one user", *opName)
	}
	next, err := drawer(*dist, len(users), *draw, *rankSeed)
	if err != nil {
		return err
	}
	keys := make([]int, *n)
	for k := range keys {
		keys[k] = next()
	}
	if err := writeLines(*out+".rest.targets", *n, func(k int) any { return o.rest(*base, keys[k]) }); err != nil {
		return err
	}
	msgs := make([]any, *n)
	for k := range msgs {
		msgs[k] = o.grpc(keys[k])
	}
	if err := os.WriteFile(*out+".grpc.json", jsonBody(msgs), 0o644); err != nil {
		return err
	}
	return writeDistinct(*out+".keys", keys)
}

// drawer returns a function that draws user indexes in [0, n).
func drawer(dist string, n int, drawSeed, rankSeed uint64) (func() int, error) {
	rng := rand.New(rand.NewPCG(drawSeed, 0x9e3779b97f4a7c15))
	switch dist {
	case distUniform:
		return func() int { return rng.IntN(n) }, nil
	case distZipf:
		if n == 1 {
			return func() int { return 0 }, nil
		}
		rank := rand.New(rand.NewPCG(rankSeed, 1)).Perm(n) // rank k → user rank[k]
		z := rand.NewZipf(rng, zipfS, 1, uint64(n-1))
		return func() int { return rank[z.Uint64()] }, nil
	}
	return nil, fmt.Errorf("unknown distribution %q (uniform or zipf)", dist)
}

func writeDistinct(path string, keys []int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	seen := map[int]struct{}{}
	for k, key := range keys {
		seen[key] = struct{}{}
		if (k+1)%keyStep == 0 || k == len(keys)-1 {
			bw.WriteString(strconv.Itoa(len(seen)))
			bw.WriteByte('\n')
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// distinctAfter reads OUT.keys: how many distinct users the first sent draws touched (the tools
// send the keys in order and wrap around; ghz's concurrent workers take them round-robin, so
// with 16 clients the set sent is the first ones give or take the calls in flight); -1 when
// unknown.
func distinctAfter(path string, sent int) int {
	f, err := os.Open(path)
	if err != nil || sent <= 0 {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	last := -1
	line := 0
	for sc.Scan() {
		v, err := strconv.Atoi(sc.Text())
		if err != nil {
			return -1
		}
		last = v
		line++
		if line*keyStep >= sent {
			return v
		}
	}
	return last // wrapped around: every drawn key was sent
}
