package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/sqlite"
)

var (
	clientIDRE     = regexp.MustCompile(`SCALEKIT_CLIENT_ID=(\S+)`)
	clientSecretRE = regexp.MustCompile(`SCALEKIT_CLIENT_SECRET=(\S+)`)
)

// apiCall sends a REST request to a running serve and decodes its JSON answer.
func apiCall(t *testing.T, base, token, method, path, body string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil || res.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, raw)
	}
	return out
}

type storedEnvelope struct {
	Type  string
	Actor roster.Actor
	Data  any
}

// feed reads every event of a data directory's environments after c, and the new position.
func feed(t *testing.T, dir string, c store.EventCursor) ([]storedEnvelope, store.EventCursor) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	api.SetEventData(st, "") // the events' data as serve stored it
	env, err := directory.New(st).DefaultEnvironment(ctx)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := st.ListEvents(ctx, env.ID, store.EventQuery{After: c, Limit: store.MaxEventPage})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]storedEnvelope, len(evs))
	for i, e := range evs {
		if err := json.Unmarshal(e.Body, &out[i]); err != nil {
			t.Fatal(err)
		}
		c = e.Cursor
	}
	return out, c
}

// An event written through roster serve's API shows its object as the REST API does and
// names the API client; one written by roster import from the command line names the system.
func TestServeEventsShowRESTDataAndActors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	r := startServe(t, dir)
	out := r.stdout.String()
	base, id, secret := listeningRE.FindStringSubmatch(out), clientIDRE.FindStringSubmatch(out), clientSecretRE.FindStringSubmatch(out)
	if base == nil || id == nil || secret == nil {
		t.Fatalf("no URL or client printed:\n%s", out)
	}
	res, err := http.PostForm(base[1]+"/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id[1]}, "client_secret": {secret[1]}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	created := apiCall(t, base[1], tok.AccessToken, "POST", "/api/v1/organizations", `{"display_name":"Acme","metadata":{"plan":"pro"}}`)
	orgID := created["organization"].(map[string]any)["id"].(string)
	got := apiCall(t, base[1], tok.AccessToken, "GET", "/api/v1/organizations/"+orgID, "")
	r.stop()

	evs, cursor := feed(t, dir, store.EventCursor{})
	// The environment's set-up (its default roles) comes first, by the system.
	for len(evs) > 0 && evs[0].Type == roster.EventRoleCreated && evs[0].Actor.Type == roster.ActorSystem {
		evs = evs[1:]
	}
	if len(evs) != 1 || evs[0].Type != roster.EventOrganizationCreated {
		t.Fatalf("events %+v", evs)
	}
	if !reflect.DeepEqual(evs[0].Data, got["organization"]) {
		t.Fatalf("event data %v\nGET organization %v", evs[0].Data, got["organization"])
	}
	if want := (roster.Actor{Type: roster.ActorAPIClient, ID: id[1]}); evs[0].Actor != want {
		t.Fatalf("actor %+v, want %+v", evs[0].Actor, want)
	}

	file := filepath.Join(t.TempDir(), "users.ndjson")
	line := `{"email":"a@example.com","memberships":[{"organization_id":"` + orgID + `"}]}` + "\n"
	if err := os.WriteFile(file, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SCALEKIT_ENVIRONMENT_URL", "")
	if err := run([]string{"import", "--data-dir", dir, "--quiet", file}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	// The import's events (the user's and its membership's) name no caller: the system.
	evs, _ = feed(t, dir, cursor)
	if len(evs) != 2 || evs[0].Type != roster.EventUserCreated || evs[1].Type != roster.EventMembershipCreated {
		t.Fatalf("the import's events: %+v", evs)
	}
	for _, e := range evs {
		if e.Actor != (roster.Actor{Type: roster.ActorSystem}) {
			t.Errorf("%s by %+v, want the system", e.Type, e.Actor)
		}
	}
}

// serve --event-retention prunes, from its start, the events older than the retention.
func TestServePrunesEventsPastRetention(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := run([]string{"migrate", "--data-dir", dir}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	dirSvc := directory.New(st)
	env, err := dirSvc.DefaultEnvironment(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := roster.NewIDGenerator()
	for _, at := range []time.Time{time.Now().Add(-48 * time.Hour), time.Now()} {
		o := roster.NewOrganization{DisplayName: "Org"}.Build(ids.New(roster.PrefixOrganization), env.ID, at.UTC())
		if err := st.CreateOrganization(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	// The environment's set-up events (its default roles) were just written: age their block
	// (every one but the recent organization's, the last) with the old organization, since
	// pruning walks the feed from its head and stops at the first recent event.
	db, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE events SET occurred_at = $1 WHERE seq < (SELECT MAX(seq) FROM events)`, time.Now().Add(-48*time.Hour).UnixMicro()); err != nil {
		t.Fatal(err)
	}
	db.Close()

	r := startServe(t, dir, "--event-retention", "24h")
	defer r.stop()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if evs, _ := feed(t, dir, store.EventCursor{}); len(evs) == 1 { // read beside the server, as roster export does
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("%d events left, want the recent one", len(evs))
		}
	}
}
