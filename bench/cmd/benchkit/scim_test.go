package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func readTargets(t *testing.T, path string) []target {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ts []target
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var tg target
		if err := json.Unmarshal(sc.Bytes(), &tg); err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tg)
	}
	return ts
}

// The SCIM rows' targets: every create a new userName, email and externalId with both
// extensions; PATCHes give every request its own email; member PATCHes add and remove users
// of the pool only (never a member of the big group), in turn; pages stay within the directory.
func TestSCIMInputs(t *testing.T) {
	seed, out := t.TempDir(), t.TempDir()
	const users, inGroup = 250, 200
	env := "endpoint=http://127.0.0.1:1/scim/v2/dir_1\ntoken=secret\norganization=org_1\ndirectory=dir_1\ngroup=dirgroup_1\ngroup_size=200\nusers=250\n"
	if err := os.WriteFile(filepath.Join(seed, "scim.env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	var tsv strings.Builder
	for i := range users {
		in := 0
		if i < inGroup {
			in = 1
		}
		fmt.Fprintf(&tsv, "diruser_%d\ts%d\t%d\t%d\n", i, i, i, in)
	}
	if err := os.WriteFile(filepath.Join(seed, "scim_users.tsv"), []byte(tsv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := scimInputs([]string{"--seed", seed, "--out", out, "--prefix", "x1", "--n", "500", "--keys", "300"}); err != nil {
		t.Fatal(err)
	}
	body := func(tg target) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(tg.Body, &m); err != nil {
			t.Fatalf("%s %s: %v", tg.Method, tg.URL, err)
		}
		return m
	}

	creates := readTargets(t, filepath.Join(out, "scim_create.rest.targets"))
	if len(creates) != 500 {
		t.Fatalf("%d creates", len(creates))
	}
	seen := map[string]bool{}
	for _, tg := range creates {
		m := body(tg)
		key := fmt.Sprint(m["userName"], m["externalId"])
		if tg.Method != "POST" || tg.URL != "http://127.0.0.1:1/scim/v2/dir_1/Users" || seen[key] {
			t.Fatalf("create %s %s %s (seen: %v)", tg.Method, tg.URL, key, seen[key])
		}
		seen[key] = true
		if m["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] == nil || m["urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"] == nil {
			t.Fatalf("create without both extensions: %s", tg.Body)
		}
	}

	emails := map[string]bool{}
	forms := map[string]bool{}
	for _, tg := range readTargets(t, filepath.Join(out, "scim_patch.rest.targets")) {
		raw := string(tg.Body)
		if tg.Method != "PATCH" || !strings.Contains(raw, `"Replace"`) {
			t.Fatalf("patch %s %s", tg.Method, raw)
		}
		if strings.Contains(raw, `emails[type eq \"work\"].value`) {
			ops := body(tg)["Operations"].([]any)
			e := ops[0].(map[string]any)["value"].(string)
			if emails[e] {
				t.Fatalf("email %s given twice", e)
			}
			emails[e] = true
			forms["emails"] = true
		} else if strings.Contains(raw, `"path"`) {
			forms["path"] = true
		} else {
			forms["flag"] = true
		}
	}
	if len(forms) != 3 {
		t.Errorf("PATCH forms %v, want all three", forms)
	}

	for _, tg := range readTargets(t, filepath.Join(out, "scim_put.rest.targets")) {
		m := body(tg)
		id := strings.TrimPrefix(tg.URL, "http://127.0.0.1:1/scim/v2/dir_1/Users/")
		n, _ := strconv.Atoi(strings.TrimPrefix(id, "diruser_"))
		if tg.Method != "PUT" || m["id"] != id || m["userName"] != fmt.Sprintf("s%d@scim.bench.example.com", n) || m["active"] != true {
			t.Fatalf("put %s %s %s", tg.Method, tg.URL, tg.Body)
		}
	}

	members := readTargets(t, filepath.Join(out, "scim_member.rest.targets"))
	for k, tg := range members {
		raw := string(tg.Body)
		if tg.Method != "PATCH" || tg.URL != "http://127.0.0.1:1/scim/v2/dir_1/Groups/dirgroup_1" {
			t.Fatalf("member %s %s", tg.Method, tg.URL)
		}
		want := fmt.Sprintf("diruser_%d", inGroup+(k/2)%(users-inGroup))
		if k%2 == 0 && !(strings.Contains(raw, `"op":"add"`) && strings.Contains(raw, `"value":"`+want+`"`)) ||
			k%2 == 1 && !strings.Contains(raw, `"op":"remove","path":"members[value eq \"`+want+`\"]"`) {
			t.Fatalf("member PATCH %d: %s, want %s", k, raw, want)
		}
	}

	for _, tg := range readTargets(t, filepath.Join(out, "scim_list.rest.targets")) {
		u, err := url.Parse(tg.URL)
		if err != nil {
			t.Fatal(err)
		}
		start, _ := strconv.Atoi(u.Query().Get("startIndex"))
		if tg.Method != "GET" || u.Path != "/scim/v2/dir_1/Users" || u.Query().Get("count") != "100" || start < 1 || start > users || (start-1)%100 != 0 {
			t.Fatalf("list %s %s", tg.Method, tg.URL)
		}
	}
}

// The SCIM rows' targets in the report: writes on SQLite ≥ 1,000/s with p99 < 50 ms, the
// member PATCH p99 < 20 ms, pages ≥ 500/s, and Okta's 600 ms elsewhere (PostgreSQL writes);
// a missed part is named; the row's detail is shown.
func TestReportSCIMTargets(t *testing.T) {
	dir := t.TempDir()
	var manifest strings.Builder
	for _, row := range []struct {
		op, backend, detail string
		rps                 int
		p99ms               int
	}{
		{"scim_create", "sqlite", "", 1200, 30},
		{"scim_patch", "sqlite", "", 900, 70},
		{"scim_put", "postgres", "", 300, 700},
		{"scim_member", "sqlite", "a group of 20000 members", 800, 25},
		{"scim_list", "sqlite", "a directory of 100000 users", 600, 40},
	} {
		f := filepath.Join(dir, row.op+row.backend+".json")
		files := map[string]string{"": vegetaJSON(float64(row.rps), time.Duration(row.p99ms)*time.Millisecond)}
		if row.detail != "" {
			files[".detail"] = row.detail + "\n"
		}
		writeRow(t, f, files)
		fmt.Fprintf(&manifest, "main\t2000\t%s\trest\t%s\t16\tvegeta\t%s\n", row.op, row.backend, f)
	}
	text := reportOf(t, dir, manifest.String())
	wantLines(t, text,
		"| SCIM `POST /Users` (Entra's body, enterprise + customer extension) | rest | sqlite | 16 | 1200 |",
		"| ≥ 1,000/s, p99 < 50 ms | yes |",
		"| ≥ 1,000/s, p99 < 50 ms | **no** (rate, p99) |",
		"| p99 < 600 ms | **no** (p99 600) |",
		"| p99 < 20 ms; a group of 20000 members | **no** (p99) |",
		"| ≥ 500 pages/s, p99 < 600 ms; a directory of 100000 users | yes |",
	)
}
