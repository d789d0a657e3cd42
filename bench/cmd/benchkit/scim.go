package main

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rosterhq/roster/bench/internal/scimbody"
)

// scimUser is one line of the seeder's scim_users.tsv.
type scimUser struct {
	id, name string
	i        int
	inGroup  bool
}

// readSCIMSeed reads DIR/scim.env (KEY=VALUE) and DIR/scim_users.tsv (bench/cmd/seed --scim-users).
func readSCIMSeed(dir string) (map[string]string, []scimUser, error) {
	data, err := os.ReadFile(filepath.Join(dir, "scim.env"))
	if err != nil {
		return nil, nil, err
	}
	env := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, nil, fmt.Errorf("scim.env: bad line %q", line)
		}
		env[k] = v
	}
	for _, k := range []string{"endpoint", "group"} {
		if env[k] == "" {
			return nil, nil, fmt.Errorf("scim.env: no %s", k)
		}
	}
	var users []scimUser
	err = readTSV(filepath.Join(dir, "scim_users.tsv"), 4, func(p []string) {
		i, _ := strconv.Atoi(p[2])
		users = append(users, scimUser{p[0], p[1], i, p[3] == "1"})
	})
	return env, users, err
}

var scimHeader = map[string][]string{"Content-Type": {"application/scim+json"}}

// scimInputs writes the vegeta targets of the SCIM rows (the directory's own bearer token is
// given to vegeta by run.sh, not written here):
//
//	OUT/scim_list.rest.targets    GET /Users?startIndex=…&count=100, startIndex one of 1, 101,
//	                              201, … over the whole directory, drawn uniformly (Okta's import)
//	OUT/scim_create.rest.targets  n POST /Users, each a new user (Entra's body, the enterprise and
//	                              a customer extension; userName and externalId from prefix)
//	OUT/scim_patch.rest.targets   Entra's "Replace" PATCHes (scimbody.PatchUser's forms in turn)
//	                              of seeded users drawn uniformly; a new email per request
//	OUT/scim_put.rest.targets     Okta's whole-object PUT of seeded users drawn uniformly
//	OUT/scim_member.rest.targets  Okta's member PATCHes on the seeded group: add one user of the
//	                              pool (the users out of the group), then remove it, in turn
//
// Every file but the creates holds keys lines (vegeta wraps around a file; the PATCHes and
// PUTs stay valid when repeated, the member adds and removes are idempotent).
func scimInputs(args []string) error {
	fs := flag.NewFlagSet("scim", flag.ContinueOnError)
	seed := fs.String("seed", "", "directory with scim.env and scim_users.tsv")
	out := fs.String("out", "", "output directory")
	prefix := fs.String("prefix", "", "unique prefix of this run's created users and new emails")
	n := fs.Int("n", 30000, "create targets (more than one measurement sends)")
	keys := fs.Int("keys", 30000, "targets of the other rows")
	draw := fs.Uint64("draw", 1, "seed of the random draws")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *seed == "" || *out == "" || *prefix == "" {
		return errors.New("usage: benchkit scim --seed DIR --out DIR --prefix P [--n N] [--keys N] [--draw SEED]")
	}
	env, users, err := readSCIMSeed(*seed)
	if err != nil {
		return err
	}
	var pool []scimUser
	for _, u := range users {
		if !u.inGroup {
			pool = append(pool, u)
		}
	}
	if len(users) == 0 || len(pool) == 0 {
		return fmt.Errorf("scim seed: %d users, %d out of the group: need both", len(users), len(pool))
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	ep := env["endpoint"]
	rng := rand.New(rand.NewPCG(*draw, 13))
	write := func(name string, count int, line func(k int) target) error {
		return writeLines(filepath.Join(*out, name+".rest.targets"), count, func(k int) any { return line(k) })
	}
	pages := (len(users) + 99) / 100
	if err := write("scim_list", *keys, func(int) target {
		return target{Method: "GET", URL: fmt.Sprintf("%s/Users?startIndex=%d&count=100", ep, 1+100*rng.IntN(pages))}
	}); err != nil {
		return err
	}
	if err := write("scim_create", *n, func(k int) target {
		name := fmt.Sprintf("%s-c%d", *prefix, k)
		return target{Method: "POST", URL: ep + "/Users", Header: scimHeader, Body: jsonBody(scimbody.CreateUser(name, k))}
	}); err != nil {
		return err
	}
	if err := write("scim_patch", *keys, func(k int) target {
		u := users[rng.IntN(len(users))]
		email := scimbody.Email(fmt.Sprintf("%s-p%d", *prefix, k))
		return target{Method: "PATCH", URL: ep + "/Users/" + url.PathEscape(u.id), Header: scimHeader, Body: jsonBody(scimbody.PatchUser(k, email))}
	}); err != nil {
		return err
	}
	if err := write("scim_put", *keys, func(k int) target {
		u := users[rng.IntN(len(users))]
		return target{Method: "PUT", URL: ep + "/Users/" + url.PathEscape(u.id), Header: scimHeader, Body: jsonBody(scimbody.PutUser(u.id, u.name, u.i, k))}
	}); err != nil {
		return err
	}
	group := ep + "/Groups/" + url.PathEscape(env["group"])
	if err := write("scim_member", *keys, func(k int) target {
		u := pool[(k/2)%len(pool)]
		body := scimbody.OktaAddMember(u.id, scimbody.Email(u.name))
		if k%2 == 1 {
			body = scimbody.OktaRemoveMember(u.id)
		}
		return target{Method: "PATCH", URL: group, Header: scimHeader, Body: jsonBody(body)}
	}); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "benchkit: SCIM inputs for a directory of %d users, a group of %s members, a pool of %d\n", len(users), env["group_size"], len(pool))
	return nil
}
