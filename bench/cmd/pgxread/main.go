// Command pgxread measures the machine's bare PostgreSQL point-read rate, the yardstick of
// Roster's PostgreSQL read targets (issue 12: reads at least half of it): N goroutines, each
// with its own pooled connection, read one whole users row by primary key, keys drawn
// uniformly from every seeded user (the seeder's users.tsv), for a fixed time. It writes a
// report in vegeta's JSON shape (requests, throughput, success, 50th and 99th latencies), so
// that benchkit report reads it like a REST row.
//
//	pgxread --url postgres://... --seed DIR --duration 5s --workers 16 > report.json
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "pgxread:", err)
		os.Exit(1)
	}
}

func run() error {
	dbURL := flag.String("url", "", "PostgreSQL URL of the seeded Roster database (loopback)")
	seed := flag.String("seed", "", "the seeder's directory (users.tsv: id, external id, email, organization)")
	d := flag.Duration("duration", 5*time.Second, "how long to read")
	workers := flag.Int("workers", 16, "concurrent readers, one connection each")
	flag.Parse()
	u, err := url.Parse(*dbURL)
	if err != nil || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost" && u.Hostname() != "::1") {
		return fmt.Errorf("--url must be a loopback postgres:// URL")
	}
	if *workers < 1 || *workers > 256 || *d <= 0 || *d > time.Hour {
		return errors.New("--workers must be 1 to 256 and --duration positive, at most 1h")
	}
	ids, err := readIDs(filepath.Join(*seed, "users.tsv"))
	if err != nil {
		return err
	}
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(*dbURL)
	if err != nil {
		return err
	}
	cfg.MaxConns = int32(*workers)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	// The whole row, as Roster's user read selects it; prepared once per connection by pgx's
	// statement cache, as Roster's queries are.
	const q = `SELECT * FROM users WHERE id = $1`
	var (
		mu   sync.Mutex
		lats []time.Duration
		bad  int
		errs []string
		wg   sync.WaitGroup
	)
	runCtx, cancel := context.WithTimeout(ctx, *d)
	defer cancel()
	start := time.Now()
	for w := range *workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			var mine []time.Duration
			var failed int
			var first string
			for runCtx.Err() == nil {
				t := time.Now()
				rows, err := pool.Query(runCtx, q, ids[rng.IntN(len(ids))])
				n := 0
				if err == nil {
					for rows.Next() {
						n++
					}
					rows.Close()
					err = rows.Err()
				}
				if runCtx.Err() != nil {
					break // cut by the end of the run: not counted
				}
				if err != nil || n != 1 {
					failed++
					if first == "" {
						first = fmt.Sprintf("%d rows, %v", n, err)
					}
					continue
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lats = append(lats, mine...)
			bad += failed
			if first != "" && len(errs) < 5 {
				errs = append(errs, first)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lats)
	pct := func(p float64) time.Duration {
		if len(lats) == 0 {
			return 0
		}
		return lats[min(len(lats)-1, int(p*float64(len(lats))))]
	}
	total := len(lats) + bad
	// vegeta's field order, which run.sh's one-line summary reads with sed.
	type latencies struct {
		P50 time.Duration `json:"50th"`
		P99 time.Duration `json:"99th"`
	}
	rep := struct {
		Latencies   latencies      `json:"latencies"`
		Duration    time.Duration  `json:"duration"`
		Wait        time.Duration  `json:"wait"`
		Requests    int            `json:"requests"`
		Throughput  float64        `json:"throughput"`
		Success     float64        `json:"success"`
		StatusCodes map[string]int `json:"status_codes"`
		Errors      []string       `json:"errors"`
	}{
		Latencies: latencies{pct(0.50), pct(0.99)}, Duration: elapsed, Requests: total,
		Throughput: float64(len(lats)) / elapsed.Seconds(), Success: float64(len(lats)) / float64(max(total, 1)),
		StatusCodes: map[string]int{"200": len(lats)}, Errors: errs,
	}
	if bad > 0 {
		rep.StatusCodes["0"] = bad
	}
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// readIDs reads the first column of users.tsv.
func readIDs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ids []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if id, _, ok := strings.Cut(sc.Text(), "\t"); ok && id != "" {
			ids = append(ids, id)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%s lists no users", path)
	}
	return ids, nil
}
