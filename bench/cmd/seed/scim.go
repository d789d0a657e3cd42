package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rosterhq/roster/bench/internal/scimbody"
)

// scimSeed builds the SCIM rows' data set (bench/run.sh): an organization with the domain
// scimbody.Domain, a SCIM directory of it and its secret (through the REST API, as the
// README's "SCIM directories" section does), then c.scimUsers users pushed through the
// directory's own SCIM endpoint (POST /Users, Entra's body with the enterprise and a customer
// extension; c.workers at a time, within c.budget), and a group built with PATCH adds of
// c.scimChunk members per request, holding the first min(c.scimGroup, users - pool) users;
// the others (the pool, at least one) stay out of it for the member PATCH row. It writes
//
//	DIR/scim.env        endpoint, token, organization, directory, group, group_size, users
//	                    (KEY=VALUE lines; the token is the directory's bearer secret)
//	DIR/scim_users.tsv  scim_id  name  i  in_group(0|1)
func scimSeed(ctx context.Context, c config) error {
	base := strings.TrimRight(c.url, "/")
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * c.workers, MaxConnsPerHost: 2 * c.workers}}
	api := func(method, path string, body any, out any) error {
		return doJSON(ctx, hc, method, base+path, "Bearer "+c.token, body, out, http.StatusOK)
	}
	var org struct {
		Organization struct{ ID string } `json:"organization"`
	}
	if err := api("POST", "/api/v1/organizations", map[string]any{"display_name": "Bench SCIM", "external_id": "bench-scim-org"}, &org); err != nil {
		return fmt.Errorf("organization: %w", err)
	}
	op := "/api/v1/organizations/" + org.Organization.ID
	if err := api("POST", op+"/domains", map[string]any{"domain": scimbody.Domain}, nil); err != nil {
		return fmt.Errorf("domain: %w", err)
	}
	var dir struct {
		Directory struct {
			ID       string `json:"id"`
			Endpoint string `json:"directory_endpoint"`
		} `json:"directory"`
	}
	if err := api("POST", op+"/directories", map[string]any{"directory_type": "SCIM", "directory_provider": "MICROSOFT_AD"}, &dir); err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	var secret struct {
		Plain string `json:"plain_secret"`
	}
	if err := api("POST", op+"/directories/"+dir.Directory.ID+"/secrets", nil, &secret); err != nil {
		return fmt.Errorf("directory secret: %w", err)
	}
	endpoint := dir.Directory.Endpoint
	if err := loopbackOnly(endpoint); err != nil {
		return err
	}
	scim := func(method, path string, body any, out any, want int) error {
		return doJSON(ctx, hc, method, endpoint+path, "Bearer "+secret.Plain, body, out, want)
	}

	// Users, through SCIM itself.
	type row struct{ id, name string }
	rows := make([]row, c.scimUsers)
	err := parallel(ctx, "SCIM users", c.scimUsers, c.workers, c.budget, func(ctx context.Context, w, i int) error {
		name := fmt.Sprintf("s%d", i)
		var u struct{ ID string }
		if err := scim("POST", "/Users", scimbody.CreateUser(name, i), &u, http.StatusCreated); err != nil {
			return err
		}
		rows[i] = row{u.ID, name}
		return nil
	})
	if err != nil {
		return err
	}
	var ids []string
	var names []string
	for _, r := range rows {
		if r.id != "" {
			ids = append(ids, r.id)
			names = append(names, r.name)
		}
	}
	if len(ids) < 2 {
		return fmt.Errorf("only %d SCIM users created", len(ids))
	}

	// The group: PATCH adds of many members per request, a few requests at a time.
	pool := max(1, min(1000, len(ids)/10))
	size := min(c.scimGroup, len(ids)-pool)
	var g struct{ ID string }
	if err := scim("POST", "/Groups", scimbody.CreateGroup("Bench group"), &g, http.StatusCreated); err != nil {
		return fmt.Errorf("group: %w", err)
	}
	chunks := (size + c.scimChunk - 1) / c.scimChunk
	t0 := time.Now()
	err = parallel(ctx, "group member PATCHes", chunks, 4, 0, func(ctx context.Context, w, k int) error {
		lo, hi := k*c.scimChunk, min(size, (k+1)*c.scimChunk)
		return scim("PATCH", "/Groups/"+g.ID, scimbody.AddMembers(ids[lo:hi]), nil, http.StatusNoContent)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "seed: SCIM group of %d members in %d PATCHes of up to %d members, %s\n", size, chunks, c.scimChunk, time.Since(t0).Round(time.Millisecond))

	f, err := os.Create(filepath.Join(c.dir, "scim_users.tsv"))
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	for k, id := range ids {
		in := 0
		if k < size {
			in = 1
		}
		var i int
		fmt.Sscanf(names[k], "s%d", &i)
		fmt.Fprintf(bw, "%s\t%s\t%d\t%d\n", id, names[k], i, in)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	env := fmt.Sprintf("endpoint=%s\ntoken=%s\norganization=%s\ndirectory=%s\ngroup=%s\ngroup_size=%d\nusers=%d\n",
		endpoint, secret.Plain, org.Organization.ID, dir.Directory.ID, g.ID, size, len(ids))
	return os.WriteFile(filepath.Join(c.dir, "scim.env"), []byte(env), 0o600)
}

// doJSON sends body (JSON; none when nil) and decodes the answer into out (when not nil); an
// answer other than want is an error that shows the start of the body (never the token).
func doJSON(ctx context.Context, hc *http.Client, method, url, auth string, body, out any, want int) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", auth)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s: %.300s", method, url, resp.Status, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}
