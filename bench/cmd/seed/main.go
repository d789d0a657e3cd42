// Command seed fills a running Roster with organizations and users for the load benchmark
// (bench/run.sh). It speaks gRPC over h2c through the generated connect-go clients, with many
// concurrent workers on a few HTTP/2 connections, and writes what it created to TSV files that
// bench/cmd/benchkit turns into load-generator inputs:
//
//	DIR/orgs.tsv   org_id  external_id  kind(big|small)
//	DIR/users.tsv  user_id external_id  email  org_id
//
// User i (0-based, global across runs) gets email u<i>@bench.example.com and external id
// bench-user-<i>. Even users go to the "big" organizations (1% of all, so that a page of 100
// organization users is a full page), odd users to the others, round-robin. Seeding can grow an
// existing data set: --from N continues numbering at N and reuses DIR/orgs.tsv. With
// --scim-users it seeds the SCIM rows' directory instead (scim.go).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	orgsv1 "github.com/rosterhq/roster/gen/scalekit/v1/organizations"
	"github.com/rosterhq/roster/gen/scalekit/v1/organizations/organizationsconnect"
	usersv1 "github.com/rosterhq/roster/gen/scalekit/v1/users"
	"github.com/rosterhq/roster/gen/scalekit/v1/users/usersconnect"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

type config struct {
	url, token, clientID, secret, dir string
	orgs, from, to, workers, conns    int
	timeout, budget                   time.Duration
	skipUsers, bulk                   bool
	scimUsers, scimGroup, scimChunk   int
}

func run() error {
	var c config
	flag.StringVar(&c.url, "url", "http://127.0.0.1:8080", "Roster base URL (loopback)")
	flag.StringVar(&c.token, "token", os.Getenv("BENCH_TOKEN"), "bearer token (or use --client-id/--client-secret)")
	flag.StringVar(&c.clientID, "client-id", os.Getenv("ROSTER_BOOTSTRAP_CLIENT_ID"), "API client id")
	flag.StringVar(&c.secret, "client-secret", os.Getenv("ROSTER_BOOTSTRAP_CLIENT_SECRET"), "API client secret")
	flag.StringVar(&c.dir, "dir", ".", "where orgs.tsv and users.tsv are written")
	flag.IntVar(&c.orgs, "orgs", 10000, "organizations to create (ignored with --from > 0: orgs.tsv is reused)")
	flag.IntVar(&c.from, "from", 0, "first user number (grow an existing data set)")
	flag.IntVar(&c.to, "users", 100000, "total users when done (users numbered from --from to --users-1 are created)")
	flag.IntVar(&c.workers, "workers", 32, "concurrent requests")
	flag.IntVar(&c.conns, "conns", 4, "HTTP/2 connections the workers share")
	flag.DurationVar(&c.timeout, "timeout", 30*time.Minute, "give up (fail) after this long")
	flag.DurationVar(&c.budget, "budget", 0, "stop creating users after this long and keep what was created (0: no limit)")
	flag.BoolVar(&c.skipUsers, "skip-users", false, "create organizations only (the server has no UserService)")
	flag.BoolVar(&c.bulk, "bulk", false, "create users through the streaming bulk import (POST /api/v1/users:import) instead of one call per user")
	flag.IntVar(&c.scimUsers, "scim-users", 0, "instead of organizations and users: a SCIM directory in its own organization and this many users pushed through its SCIM endpoint, then a group (scim.go)")
	flag.IntVar(&c.scimGroup, "scim-group", 20000, "with --scim-users: members of the group (at most the users created less a pool kept out of it)")
	flag.IntVar(&c.scimChunk, "scim-chunk", 500, "with --scim-users: members added per group PATCH")
	flag.Parse()

	if err := loopbackOnly(c.url); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	if c.token == "" {
		t, err := fetchToken(ctx, c.url, c.clientID, c.secret)
		if err != nil {
			return err
		}
		c.token = t
	}
	if c.scimUsers > 0 {
		return scimSeed(ctx, c)
	}
	cl := newClients(c.url, c.token, c.conns)

	var orgs []orgRow
	var err error
	if c.from == 0 {
		if orgs, err = seedOrgs(ctx, cl, c); err != nil {
			return err
		}
	} else if orgs, err = readOrgs(filepath.Join(c.dir, "orgs.tsv")); err != nil {
		return err
	}
	if c.skipUsers || c.to <= c.from {
		return nil
	}
	if c.bulk {
		return bulkSeedUsers(ctx, c, orgs)
	}
	return seedUsers(ctx, cl, c, orgs)
}

// loopbackOnly refuses any target but 127.0.0.1 / ::1 / localhost: the benchmark never leaves
// the machine.
func loopbackOnly(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	h := u.Hostname()
	if ip := net.ParseIP(h); (ip != nil && ip.IsLoopback()) || h == "localhost" {
		return nil
	}
	return fmt.Errorf("refusing non-loopback URL %q", raw)
}

func fetchToken(ctx context.Context, base, id, secret string) (string, error) {
	if id == "" || secret == "" {
		return "", errors.New("need --token or --client-id and --client-secret")
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil || out.AccessToken == "" {
		return "", fmt.Errorf("token endpoint: %s: %.200s", resp.Status, body)
	}
	return out.AccessToken, nil
}

type clients struct {
	orgs  []organizationsconnect.OrganizationServiceClient
	users []usersconnect.UserServiceClient
}

// newClients makes conns independent h2c (HTTP/2 prior knowledge) connections; worker w uses
// connection w % conns.
func newClients(base, token string, conns int) *clients {
	if conns < 1 {
		conns = 1
	}
	auth := connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	}))
	cl := &clients{}
	for range conns {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		hc := &http.Client{Transport: &http.Transport{Protocols: &p, MaxConnsPerHost: 1, ForceAttemptHTTP2: true}}
		cl.orgs = append(cl.orgs, organizationsconnect.NewOrganizationServiceClient(hc, base, connect.WithGRPC(), auth))
		cl.users = append(cl.users, usersconnect.NewUserServiceClient(hc, base, connect.WithGRPC(), auth))
	}
	return cl
}

type orgRow struct{ id, extID, kind string }

// bigOrgs is how many of n organizations are "big" (hold half of all users).
func bigOrgs(n int) int { return max(1, n/100) }

func seedOrgs(ctx context.Context, cl *clients, c config) ([]orgRow, error) {
	if c.orgs < 2 {
		return nil, errors.New("--orgs must be at least 2")
	}
	nBig := bigOrgs(c.orgs)
	rows := make([]orgRow, c.orgs)
	err := parallel(ctx, "organizations", c.orgs, c.workers, 0, func(ctx context.Context, w, i int) error {
		ext := fmt.Sprintf("bench-org-%d", i)
		kind := "small"
		if i < nBig {
			kind = "big"
		}
		resp, err := cl.orgs[w%len(cl.orgs)].CreateOrganization(ctx, connect.NewRequest(&orgsv1.CreateOrganizationRequest{
			Organization: &orgsv1.CreateOrganization{DisplayName: fmt.Sprintf("Bench Org %d", i), ExternalId: &ext},
		}))
		if err != nil {
			return err
		}
		rows[i] = orgRow{resp.Msg.GetOrganization().GetId(), ext, kind}
		return nil
	})
	if err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(c.dir, "orgs.tsv"))
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriter(f)
	for _, r := range rows {
		fmt.Fprintf(bw, "%s\t%s\t%s\n", r.id, r.extID, r.kind)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return nil, err
	}
	return rows, f.Close()
}

func readOrgs(path string) ([]orgRow, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rows []orgRow
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		p := strings.Split(line, "\t")
		if len(p) != 3 {
			return nil, fmt.Errorf("%s: bad line %q", path, line)
		}
		rows = append(rows, orgRow{p[0], p[1], p[2]})
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("%s: fewer than 2 organizations", path)
	}
	return rows, nil
}

// orgFor places user i: even users round-robin over the big organizations, odd ones over the rest.
func orgFor(i int, orgs []orgRow) orgRow {
	nBig := bigOrgs(len(orgs))
	if i%2 == 0 {
		return orgs[(i/2)%nBig]
	}
	return orgs[nBig+(i/2)%(len(orgs)-nBig)]
}

// userRow is one line of users.tsv.
type userRow struct{ id, ext, email, org string }

func seedUsers(ctx context.Context, cl *clients, c config, orgs []orgRow) error {
	n := c.to - c.from
	rows := make([]userRow, n)
	err := parallel(ctx, "users", n, c.workers, c.budget, func(ctx context.Context, w, k int) error {
		i := c.from + k
		org := orgFor(i, orgs)
		ext := fmt.Sprintf("bench-user-%d", i)
		email := fmt.Sprintf("u%d@bench.example.com", i)
		resp, err := cl.users[w%len(cl.users)].CreateUserAndMembership(ctx, connect.NewRequest(&usersv1.CreateUserAndMembershipRequest{
			OrganizationId: org.id,
			User:           &usersv1.CreateUser{Email: email, ExternalId: &ext},
		}))
		if err != nil {
			return err
		}
		id := resp.Msg.GetUser().GetId()
		if id == "" {
			return errors.New("CreateUserAndMembership answered without a user id")
		}
		rows[k] = userRow{id, ext, email, org.id}
		return nil
	})
	if err != nil {
		return err
	}
	return writeUsers(c, rows)
}

// writeUsers writes users.tsv: anew when seeding starts at 0, appended to otherwise.
func writeUsers(c config, rows []userRow) error {
	flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND
	if c.from == 0 {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(filepath.Join(c.dir, "users.tsv"), flags, 0o644)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	for _, r := range rows {
		if r.id != "" { // not created: the budget ran out first
			fmt.Fprintf(bw, "%s\t%s\t%s\t%s\n", r.id, r.ext, r.email, r.org)
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// parallel runs fn for 0..n-1 on workers goroutines, stops at the first error and prints the
// rate every few seconds and at the end. With a budget, no new call starts after it ran out.
func parallel(ctx context.Context, what string, n, workers int, budget time.Duration, fn func(ctx context.Context, worker, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next, done atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	var cutoff time.Time
	if budget > 0 {
		cutoff = start.Add(budget)
	}
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				d := done.Load()
				fmt.Fprintf(os.Stderr, "seed: %s %d/%d (%.0f/s)\n", what, d, n, float64(d)/time.Since(start).Seconds())
			}
		}
	}()
	for w := range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil || (!cutoff.IsZero() && time.Now().After(cutoff)) {
					return
				}
				if err := fn(ctx, w, i); err != nil {
					cancel(fmt.Errorf("%s #%d: %w", what, i, err))
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	close(stop)
	if err := context.Cause(ctx); err != nil {
		return err
	}
	el := time.Since(start)
	d := int(done.Load())
	if d < n {
		fmt.Fprintf(os.Stderr, "seed: budget of %s ran out after %d of %d %s\n", budget, d, n, what)
	}
	fmt.Fprintf(os.Stderr, "seed: %d %s in %s (%.0f/s)\n", d, what, el.Round(time.Millisecond), float64(d)/el.Seconds())
	return nil
}
