package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/rostertest"
)

// Replays of a full Okta and a full Entra ID provisioning session, read from
// scim/testdata/replay (the same files e2e/node/scim.test.mjs replays and checks through the
// Node SDK; their format is that folder's README.md), against `roster serve` on both backends,
// with the state checked through the REST API.

func TestSCIMReplayOkta(t *testing.T)  { replayFile(t, "okta.json") }
func TestSCIMReplayEntra(t *testing.T) { replayFile(t, "entra.json") }

// TestSCIMReplayFiles: every session in the folder is replayed by a test above.
func TestSCIMReplayFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(replayDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		files[i] = filepath.Base(f)
	}
	if !slices.Equal(files, []string{"entra.json", "okta.json"}) {
		t.Fatalf("replay files %v: give each a Test function here", files)
	}
}

const replayDir = "../scim/testdata/replay"

type replaySession struct {
	About    string            `json:"about"`
	Provider string            `json:"provider"`
	Headers  map[string]string `json:"headers"`
	Steps    []replayStep      `json:"steps"`
}

type replayStep struct {
	Name string `json:"name"`
	// a SCIM request
	Method   string            `json:"method"`
	Path     string            `json:"path"`
	Headers  map[string]string `json:"headers"`
	Body     any               `json:"body"`
	BodyFrom string            `json:"bodyFrom"`
	Merge    any               `json:"merge"`
	Status   int               `json:"status"`
	Capture  string            `json:"capture"`
	Expect   any               `json:"expect"`
	// a mark, a role mapping, a check
	Mark        string `json:"mark"`
	AssignRoles []struct {
		Group string `json:"group"`
		Role  string `json:"role"`
	} `json:"assignRoles"`
	Check *replayCheck `json:"check"`
}

type replayCheck struct {
	Directory *struct {
		Users  *int `json:"users"`
		Groups *int `json:"groups"`
	} `json:"directory"`
	Users        map[string]json.RawMessage `json:"users"`  // "gone" or a replayUser
	Groups       map[string]json.RawMessage `json:"groups"` // "gone" or a replayGroup
	UpdatedAfter *struct {
		Mark   string   `json:"mark"`
		Users  []string `json:"users"`
		Groups []string `json:"groups"`
	} `json:"updatedAfter"`
}

type replayUser struct {
	DirectoryUser map[string]any `json:"directoryUser"`
	Groups        *[]string      `json:"groups"`
	Email         string         `json:"email"`
	Membership    string         `json:"membership"`
	Profile       map[string]any `json:"profile"`
	Roles         *[]string      `json:"roles"`
}

type replayGroup struct {
	DisplayName string         `json:"displayName"`
	TotalUsers  *int           `json:"totalUsers"`
	Members     *[]string      `json:"members"`
	GroupDetail map[string]any `json:"groupDetail"`
}

// strict decodes JSON and refuses keys the runner does not know, so that a misspelt check
// in a session file fails instead of checking nothing.
func strict(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

// replayer runs one session against one server.
type replayer struct {
	t       *testing.T
	r       *rostertest.Roster
	token   string // the API's
	orgID   string
	dirID   string
	c       scimClient
	headers map[string]string
	vars    map[string]string    // "user:ann" → SCIM id, "domain" → the org's domain
	answers map[string]any       // step name → its decoded answer
	marks   map[string]time.Time // mark → time
	users   map[string]string    // alias → the Roster user ID seen at a check
}

func replayFile(t *testing.T, name string) {
	data, err := os.ReadFile(filepath.Join(replayDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var s replaySession
	if err := strict(data, &s); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			r := rostertest.Start(t, backend)
			token := r.Token(t)
			orgID := newOrgREST(t, r, token, "Acme")
			const domain = "acme.test"
			c, dirID := scimDirectory(t, r, token, orgID, s.Provider, domain)
			p := &replayer{t: t, r: r, token: token, orgID: orgID, dirID: dirID, c: c, headers: s.Headers,
				vars: map[string]string{"domain": domain}, answers: map[string]any{}, marks: map[string]time.Time{}, users: map[string]string{}}
			for i, step := range s.Steps {
				p.run(i, step)
			}
		})
	}
}

var placeholder = regexp.MustCompile(`\{(uuid|domain|(?:user|group):[A-Za-z0-9_-]+)\}`)

// fill replaces the placeholders of a string.
func (p *replayer) fill(s string) string {
	p.t.Helper()
	return placeholder.ReplaceAllStringFunc(s, func(m string) string {
		key := m[1 : len(m)-1]
		if key == "uuid" {
			b := make([]byte, 16)
			rand.Read(b)
			b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
			return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
		}
		v, ok := p.vars[key]
		if !ok {
			p.t.Fatalf("placeholder %s used before it was captured", m)
		}
		return v
	})
}

// fillJSON replaces the placeholders of every string value of v (a decoded JSON value).
func (p *replayer) fillJSON(v any) any {
	switch v := v.(type) {
	case string:
		return p.fill(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = p.fillJSON(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = p.fillJSON(e)
		}
		return out
	}
	return v
}

// mergePatch applies an RFC 7386 merge patch.
func mergePatch(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	}
	out := maps.Clone(tm)
	for k, v := range pm {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = mergePatch(out[k], v)
		}
	}
	return out
}

func (p *replayer) run(i int, s replayStep) {
	t := p.t
	t.Helper()
	where := fmt.Sprintf("step %d %q", i+1, s.Name)
	switch {
	case s.Method != "":
		p.request(where, s)
	case s.Mark != "":
		time.Sleep(5 * time.Millisecond)
		p.marks[s.Mark] = time.Now()
		time.Sleep(5 * time.Millisecond)
	case s.AssignRoles != nil:
		var as []map[string]string
		for _, a := range s.AssignRoles {
			as = append(as, map[string]string{"group_id": p.fill("{group:" + a.Group + "}"), "role_name": a.Role})
		}
		body, _ := json.Marshal(map[string]any{"assignments": as})
		res := p.r.REST(t, p.token, "PUT", p.dirPath()+"/groups/-/roles:assign", string(body))
		if res.Status != 200 {
			t.Fatalf("%s: AssignRoles %d %s", where, res.Status, res.Raw)
		}
	case s.Check != nil:
		p.check(where, s.Check)
	default:
		t.Fatalf("%s: neither a request, a mark, a role mapping nor a check", where)
	}
}

func (p *replayer) request(where string, s replayStep) {
	t := p.t
	t.Helper()
	var body any
	switch {
	case s.BodyFrom != "":
		from, ok := p.answers[s.BodyFrom]
		if !ok {
			t.Fatalf("%s: bodyFrom %q: no answer of that step", where, s.BodyFrom)
		}
		body = from
		if s.Merge != nil {
			body = mergePatch(from, p.fillJSON(s.Merge))
		}
	case s.Body != nil:
		body = p.fillJSON(s.Body)
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(s.Method, p.c.endpoint+p.fill(s.Path), rd)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	for k, v := range p.headers {
		req.Header.Set(k, v)
	}
	for k, v := range s.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Authorization", "Bearer "+p.c.token)
	res, err := p.r.Client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != s.Status {
		t.Fatalf("%s: %s %s answered %d %s, want %d", where, s.Method, req.URL.Path, res.StatusCode, raw, s.Status)
	}
	// "all responses application/scim+json" (Entra's guidelines)
	if ct := res.Header.Get("Content-Type"); len(raw) > 0 && !strings.HasPrefix(ct, "application/scim+json") {
		t.Fatalf("%s: Content-Type %q, want application/scim+json", where, ct)
	}
	var answer any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &answer); err != nil {
			t.Fatalf("%s: the answer is not JSON: %v\n%s", where, err, raw)
		}
	}
	p.answers[s.Name] = answer
	if s.Expect != nil {
		if diffs := matchPattern(p.fillJSON(s.Expect), answer, "answer"); len(diffs) > 0 {
			t.Fatalf("%s: %s\nanswer: %s", where, strings.Join(diffs, "; "), raw)
		}
	}
	if s.Capture != "" {
		id, _ := obj(answer)["id"].(string)
		if id == "" {
			t.Fatalf("%s: capture %s: the answer has no id: %s", where, s.Capture, raw)
		}
		p.vars[s.Capture] = id
	}
}

// matchPattern lists how got differs from the pattern want (README.md, "expect").
func matchPattern(want, got any, at string) []string {
	switch w := want.(type) {
	case nil:
		if got != nil {
			return []string{fmt.Sprintf("%s = %v, want it absent", at, got)}
		}
		return nil
	case map[string]any:
		if n, ok := w["$count"]; ok && len(w) == 1 {
			if g, ok := got.([]any); !ok || float64(len(g)) != n {
				return []string{fmt.Sprintf("%s = %v, want %v elements", at, got, n)}
			}
			return nil
		}
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s = %v, want an object", at, got)}
		}
		var diffs []string
		for _, k := range slices.Sorted(maps.Keys(w)) {
			diffs = append(diffs, matchPattern(w[k], g[k], at+"."+k)...)
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s = %v, want %d elements like %v", at, got, len(w), w)}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, matchPattern(w[i], g[i], fmt.Sprintf("%s[%d]", at, i))...)
		}
		return diffs
	}
	if !reflect.DeepEqual(want, got) {
		return []string{fmt.Sprintf("%s = %v, want %v", at, got, want)}
	}
	return nil
}

// snakeKeys renames the top-level keys of a pattern from the SDK's names (givenName) to the
// REST API's (given_name); the values (SCIM attribute names in userDetail) stay as they are.
func snakeKeys(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		var b strings.Builder
		for _, r := range k {
			if r >= 'A' && r <= 'Z' {
				b.WriteByte('_')
				r += 'a' - 'A'
			}
			b.WriteRune(r)
		}
		out[b.String()] = v
	}
	return out
}

func (p *replayer) dirPath() string {
	return "/api/v1/organizations/" + p.orgID + "/directories/" + p.dirID
}

func (p *replayer) get(where, path string) map[string]any {
	p.t.Helper()
	res := p.r.REST(p.t, p.token, "GET", path, "")
	if res.Status != 200 {
		p.t.Fatalf("%s: GET %s: %d %s", where, path, res.Status, res.Raw)
	}
	return res.Body
}

// num reads a number of a REST answer (the transcoder leaves out zeros).
func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

// byID indexes a list of the REST answer by "id".
func byID(list any) map[string]map[string]any {
	out := map[string]map[string]any{}
	l, _ := list.([]any)
	for _, e := range l {
		out[obj(e)["id"].(string)] = obj(e)
	}
	return out
}

func (p *replayer) ids(aliases []string, kind string) []string {
	out := []string{}
	for _, a := range aliases {
		out = append(out, p.fill("{"+kind+":"+a+"}"))
	}
	slices.Sort(out)
	return out
}

func sortedIDs(m map[string]map[string]any) []string {
	return slices.Sorted(maps.Keys(m))
}

// listIDs pages through a directory list of the REST API.
func (p *replayer) listIDs(where, path, field string) []string {
	p.t.Helper()
	ids := []string{}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	for next := ""; ; {
		page := p.get(where, path+sep+"page_size=30&page_token="+url.QueryEscape(next))
		for id := range byID(page[field]) {
			ids = append(ids, id)
		}
		if next, _ = page["next_page_token"].(string); next == "" {
			break
		}
	}
	slices.Sort(ids)
	return ids
}

func (p *replayer) check(where string, c *replayCheck) {
	t := p.t
	t.Helper()
	users := p.get(where, p.dirPath()+"/users?page_size=30&include_detail=true")
	groups := p.get(where, p.dirPath()+"/groups?page_size=30&include_detail=true")
	if users["next_page_token"] != nil && users["next_page_token"] != "" {
		t.Fatalf("%s: the replay's directory has more than one page of users", where)
	}
	dirUsers, dirGroups := byID(users["users"]), byID(groups["groups"])

	if d := c.Directory; d != nil {
		dir := obj(p.get(where, p.dirPath()), "directory")
		if d.Users != nil && (num(dir["total_users"]) != *d.Users || num(users["total_size"]) != *d.Users || len(dirUsers) != *d.Users) {
			t.Fatalf("%s: GetDirectory total_users %v, ListDirectoryUsers total_size %v with %d users; want %d",
				where, dir["total_users"], users["total_size"], len(dirUsers), *d.Users)
		}
		if d.Groups != nil && (num(dir["total_groups"]) != *d.Groups || num(groups["total_size"]) != *d.Groups || len(dirGroups) != *d.Groups) {
			t.Fatalf("%s: GetDirectory total_groups %v, ListDirectoryGroups total_size %v with %d groups; want %d",
				where, dir["total_groups"], groups["total_size"], len(dirGroups), *d.Groups)
		}
	}

	for _, alias := range slices.Sorted(maps.Keys(c.Users)) {
		raw := c.Users[alias]
		id := p.fill("{user:" + alias + "}")
		at := fmt.Sprintf("%s: user %s", where, alias)
		if string(raw) == `"gone"` {
			if _, ok := dirUsers[id]; ok {
				t.Fatalf("%s: still in ListDirectoryUsers", at)
			}
			userID, ok := p.users[alias]
			if !ok {
				t.Fatalf("%s: gone, but no earlier check saw its Roster user", at)
			}
			if res := p.r.REST(t, p.token, "GET", "/api/v1/users/"+userID, ""); res.Status != 404 {
				t.Fatalf("%s: GET /api/v1/users/%s answered %d, want 404: %s", at, userID, res.Status, res.Raw)
			}
			continue
		}
		var want replayUser
		if err := strict(raw, &want); err != nil {
			t.Fatalf("%s: %v", at, err)
		}
		du, ok := dirUsers[id]
		if !ok {
			t.Fatalf("%s: not in ListDirectoryUsers", at)
		}
		if diffs := matchPattern(p.fillJSON(snakeKeys(want.DirectoryUser)), any(du), "DirectoryUser"); len(diffs) > 0 {
			t.Fatalf("%s: %s\n%v", at, strings.Join(diffs, "; "), du)
		}
		if want.Groups != nil {
			got := sortedIDs(byID(du["groups"]))
			if w := p.ids(*want.Groups, "group"); !slices.Equal(got, w) {
				t.Fatalf("%s: DirectoryUser groups %v, want %v (%v)", at, got, w, *want.Groups)
			}
		}
		// the Roster user: the directory user's link is the store's (the Scalekit
		// DirectoryUser message has no user ID)
		env, err := p.r.Directory.EnsureEnvironment(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		row, err := p.r.Store.GetDirectoryUser(context.Background(), env.ID, p.dirID, id)
		if err != nil {
			t.Fatalf("%s: the store's directory user: %v", at, err)
		}
		p.users[alias] = row.UserID
		u := obj(p.get(at, "/api/v1/users/"+row.UserID), "user")
		var m map[string]any
		for _, e := range u["memberships"].([]any) {
			if obj(e)["organization_id"] == p.orgID {
				m = obj(e)
			}
		}
		if m == nil {
			t.Fatalf("%s: no membership of the organization: %v", at, u)
		}
		if want.Email != "" && u["email"] != p.fill(want.Email) {
			t.Fatalf("%s: email %v, want %s", at, u["email"], p.fill(want.Email))
		}
		if want.Membership != "" && m["membership_status"] != want.Membership {
			t.Fatalf("%s: membership_status %v, want %s", at, m["membership_status"], want.Membership)
		}
		if diffs := matchPattern(p.fillJSON(snakeKeys(want.Profile)), any(obj(u, "user_profile")), "user_profile"); want.Profile != nil && len(diffs) > 0 {
			t.Fatalf("%s: %s\n%v", at, strings.Join(diffs, "; "), u)
		}
		if want.Roles != nil {
			got := []string{}
			roles, _ := m["roles"].([]any)
			for _, r := range roles {
				got = append(got, obj(r)["name"].(string))
			}
			slices.Sort(got)
			w := slices.Sorted(slices.Values(*want.Roles))
			if !slices.Equal(got, w) {
				t.Fatalf("%s: roles %v, want %v", at, got, w)
			}
		}
	}

	for _, alias := range slices.Sorted(maps.Keys(c.Groups)) {
		raw := c.Groups[alias]
		id := p.fill("{group:" + alias + "}")
		at := fmt.Sprintf("%s: group %s", where, alias)
		members := p.dirPath() + "/users?directory_group_id=" + id
		if string(raw) == `"gone"` {
			if _, ok := dirGroups[id]; ok {
				t.Fatalf("%s: still in ListDirectoryGroups", at)
			}
			if res := p.r.REST(t, p.token, "GET", members, ""); res.Status != 404 {
				t.Fatalf("%s: its members answered %d, want 404: %s", at, res.Status, res.Raw)
			}
			continue
		}
		var want replayGroup
		if err := strict(raw, &want); err != nil {
			t.Fatalf("%s: %v", at, err)
		}
		g, ok := dirGroups[id]
		if !ok {
			t.Fatalf("%s: not in ListDirectoryGroups", at)
		}
		if want.DisplayName != "" && g["display_name"] != p.fill(want.DisplayName) {
			t.Fatalf("%s: display_name %v, want %s", at, g["display_name"], want.DisplayName)
		}
		if want.TotalUsers != nil && num(g["total_users"]) != *want.TotalUsers {
			t.Fatalf("%s: total_users %v, want %d", at, g["total_users"], *want.TotalUsers)
		}
		if want.Members != nil {
			if got, w := p.listIDs(at, members, "users"), p.ids(*want.Members, "user"); !slices.Equal(got, w) {
				t.Fatalf("%s: members %v, want %v (%v)", at, got, w, *want.Members)
			}
		}
		if diffs := matchPattern(p.fillJSON(want.GroupDetail), g["group_detail"], "group_detail"); want.GroupDetail != nil && len(diffs) > 0 {
			t.Fatalf("%s: %s\n%v", at, strings.Join(diffs, "; "), g)
		}
	}

	if ua := c.UpdatedAfter; ua != nil {
		mark, ok := p.marks[ua.Mark]
		if !ok {
			t.Fatalf("%s: no mark %q", where, ua.Mark)
		}
		after := "?updated_after=" + url.QueryEscape(mark.UTC().Format(time.RFC3339Nano))
		if got, w := p.listIDs(where, p.dirPath()+"/users"+after, "users"), p.ids(ua.Users, "user"); !slices.Equal(got, w) {
			t.Fatalf("%s: users updated after %s: %v, want %v (%v)", where, ua.Mark, got, w, ua.Users)
		}
		if got, w := p.listIDs(where, p.dirPath()+"/groups"+after, "groups"), p.ids(ua.Groups, "group"); !slices.Equal(got, w) {
			t.Fatalf("%s: groups updated after %s: %v, want %v (%v)", where, ua.Mark, got, w, ua.Groups)
		}
	}
}
