package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// op is one benchmarked operation: its REST request(s) for vegeta and gRPC messages for ghz.
type op struct {
	name      string
	users     bool   // needs the UserService
	grpcCall  string // package.Service/Method for ghz
	rest      func(base string, i int) target
	grpc      func(i int) any
	sampleLen int
}

type target struct {
	Method string              `json:"method"`
	URL    string              `json:"url"`
	Header map[string][]string `json:"header,omitempty"`
	Body   []byte              `json:"body,omitempty"` // base64 in JSON, as vegeta's json format wants
}

type userRow struct{ id, ext, email, org string }
type orgRow struct{ id, ext, kind string }

func readTSV(path string, cols int, each func([]string)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Split(sc.Text(), "\t")
		if len(p) != cols {
			return fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		each(p)
	}
	return sc.Err()
}

func readSeed(dir string, sample int, rng *rand.Rand) (orgs []orgRow, users []userRow, total int, err error) {
	if err = readTSV(filepath.Join(dir, "orgs.tsv"), 3, func(p []string) { orgs = append(orgs, orgRow{p[0], p[1], p[2]}) }); err != nil {
		return
	}
	// Reservoir sampling: a uniform sample over every seeded user, however many there are.
	path := filepath.Join(dir, "users.tsv")
	if _, serr := os.Stat(path); serr != nil {
		return orgs, nil, 0, nil
	}
	err = readTSV(path, 4, func(p []string) {
		total++
		r := userRow{p[0], p[1], p[2], p[3]}
		if len(users) < sample {
			users = append(users, r)
		} else if j := rng.IntN(total); j < sample {
			users[j] = r
		}
	})
	return
}

func jsonBody(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

var jsonHeader = map[string][]string{"Content-Type": {"application/json"}}

func ops(orgs []orgRow, users []userRow) []op {
	var big []orgRow
	for _, o := range orgs {
		if o.kind == "big" {
			big = append(big, o)
		}
	}
	u := func(i int) userRow { return users[i%len(users)] }
	return []op{
		{
			name: "get_org", grpcCall: "scalekit.v1.organizations.OrganizationService/GetOrganization", sampleLen: len(orgs),
			rest: func(base string, i int) target {
				return target{Method: "GET", URL: base + "/api/v1/organizations/" + url.PathEscape(orgs[i].id)}
			},
			grpc: func(i int) any { return map[string]any{"id": orgs[i].id} },
		},
		{
			name: "get_user", users: true, grpcCall: "scalekit.v1.users.UserService/GetUser", sampleLen: len(users),
			rest: func(base string, i int) target {
				return target{Method: "GET", URL: base + "/api/v1/users/" + url.PathEscape(u(i).id)}
			},
			grpc: func(i int) any { return map[string]any{"id": u(i).id} },
		},
		{
			name: "get_user_ext", users: true, grpcCall: "scalekit.v1.users.UserService/GetUser", sampleLen: len(users),
			rest: func(base string, i int) target {
				return target{Method: "GET", URL: base + "/api/v1/users:external/" + url.PathEscape(u(i).ext)}
			},
			grpc: func(i int) any { return map[string]any{"external_id": u(i).ext} },
		},
		{
			name: "lookup_email", users: true, grpcCall: "scalekit.v1.users.UserService/SearchUsers", sampleLen: len(users),
			rest: func(base string, i int) target {
				return target{Method: "GET", URL: base + "/api/v1/users:search?query=" + url.QueryEscape(u(i).email)}
			},
			grpc: func(i int) any { return map[string]any{"query": u(i).email} },
		},
		{
			name: "update_user", users: true, grpcCall: "scalekit.v1.users.UserService/UpdateUser", sampleLen: len(users),
			rest: func(base string, i int) target {
				return target{Method: "PATCH", URL: base + "/api/v1/users/" + url.PathEscape(u(i).id), Header: jsonHeader,
					Body: jsonBody(map[string]any{"user_profile": map[string]any{"given_name": fmt.Sprintf("X%d", i)}})}
			},
			grpc: func(i int) any {
				return map[string]any{"id": u(i).id, "user": map[string]any{"user_profile": map[string]any{"given_name": fmt.Sprintf("X%d", i)}}}
			},
		},
		{
			name: "list_org_users", users: true, grpcCall: "scalekit.v1.users.UserService/ListOrganizationUsers", sampleLen: len(big),
			rest: func(base string, i int) target {
				return target{Method: "GET", URL: base + "/api/v1/organizations/" + url.PathEscape(big[i].id) + "/users?page_size=100"}
			},
			grpc: func(i int) any { return map[string]any{"organization_id": big[i].id, "page_size": 100} },
		},
	}
}

// inputs writes, for every operation but the reads of one user, OUT/<op>.rest.targets (vegeta,
// json format, one request per line, each on a different key of the sample) and
// OUT/<op>.grpc.json (a JSON array that ghz sends round-robin), and OUT/ops.tsv listing every
// operation: op, needs users (0/1), gRPC method. The reads of one user (get by id, by external
// id, lookup by email) take their keys from every seeded user, per measurement: benchkit reads.
func inputs(args []string) error {
	fs := flag.NewFlagSet("inputs", flag.ContinueOnError)
	seed := fs.String("seed", "", "directory with orgs.tsv and users.tsv")
	out := fs.String("out", "", "output directory")
	base := fs.String("base", "http://127.0.0.1:8080", "Roster base URL")
	sample := fs.Int("sample", 100000, "distinct keys per operation (a uniform sample of all users; update_user, get_org)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *seed == "" || *out == "" {
		return errors.New("usage: benchkit inputs --seed DIR --out DIR [--base URL] [--sample N]")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	orgs, users, total, err := readSeed(*seed, *sample, rng)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	var list strings.Builder
	for _, o := range ops(orgs, users) {
		if o.users && len(users) == 0 {
			continue
		}
		u := 0
		if o.users {
			u = 1
		}
		fmt.Fprintf(&list, "%s\t%d\t%s\n", o.name, u, o.grpcCall)
		if isUserRead(o.name) {
			continue // benchkit reads, per measurement
		}
		n := min(o.sampleLen, *sample)
		if n == 0 {
			return fmt.Errorf("%s: nothing to sample", o.name)
		}
		perm := rng.Perm(n)
		if err := writeLines(filepath.Join(*out, o.name+".rest.targets"), n, func(k int) any { return o.rest(*base, perm[k]) }); err != nil {
			return err
		}
		msgs := make([]any, n)
		for k := range n {
			msgs[k] = o.grpc(perm[k])
		}
		if err := os.WriteFile(filepath.Join(*out, o.name+".grpc.json"), jsonBody(msgs), 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "benchkit: inputs from %d organizations, %d users (sample %d)\n", len(orgs), total, len(users))
	return os.WriteFile(filepath.Join(*out, "ops.tsv"), []byte(list.String()), 0o644)
}

func isUserRead(op string) bool {
	return op == "get_user" || op == "get_user_ext" || op == "lookup_email"
}

func writeLines(path string, n int, line func(int) any) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(bw)
	for k := range n {
		if err := enc.Encode(line(k)); err != nil {
			f.Close()
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// creates writes the inputs of one "create user and membership" measurement, every request
// with a new email and external id starting with prefix (unique per measurement):
// OUT.rest.targets holds n vegeta targets (vegeta repeats a target list when it runs out, so n
// must exceed what one measurement can send), OUT.grpc.json a ghz array whose messages carry
// {{.RequestNumber}}, which ghz fills per request. Users go round-robin to the small
// organizations, so the big ones keep the size the list benchmark expects.
func creates(args []string) error {
	fs := flag.NewFlagSet("creates", flag.ContinueOnError)
	seed := fs.String("seed", "", "directory with orgs.tsv")
	out := fs.String("out", "", "output file prefix")
	base := fs.String("base", "http://127.0.0.1:8080", "Roster base URL")
	prefix := fs.String("prefix", "", "unique prefix of this measurement's emails and external ids")
	n := fs.Int("n", 100000, "REST targets")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *seed == "" || *out == "" || *prefix == "" {
		return errors.New("usage: benchkit creates --seed DIR --prefix P --out FILE [--n N] [--base URL]")
	}
	var small []orgRow
	if err := readTSV(filepath.Join(*seed, "orgs.tsv"), 3, func(p []string) {
		if p[2] == "small" {
			small = append(small, orgRow{p[0], p[1], p[2]})
		}
	}); err != nil {
		return err
	}
	if len(small) == 0 {
		return errors.New("no small organizations in orgs.tsv")
	}
	err := writeLines(*out+".rest.targets", *n, func(k int) any {
		return target{Method: "POST", URL: *base + "/api/v1/organizations/" + url.PathEscape(small[k%len(small)].id) + "/users", Header: jsonHeader,
			Body: jsonBody(map[string]any{"email": fmt.Sprintf("%s-%d@bench.example.com", *prefix, k), "external_id": fmt.Sprintf("%s-%d", *prefix, k)})}
	})
	if err != nil {
		return err
	}
	m := min(len(small), 1000)
	msgs := make([]any, m)
	for k := range m {
		msgs[k] = map[string]any{"organization_id": small[k].id, "user": map[string]any{
			"email":       *prefix + "-{{.RequestNumber}}@bench.example.com",
			"external_id": *prefix + "-{{.RequestNumber}}",
		}}
	}
	return os.WriteFile(*out+".grpc.json", jsonBody(msgs), 0o644)
}
