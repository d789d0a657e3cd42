package api_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/store"
)

// storedEvents waits until the feed of the server's environment holds at least n events of
// typ (on PostgreSQL the feed shows a transaction's events once every older transaction of
// the database has ended) and returns the envelopes of all events of typ.
func storedEvents(t *testing.T, r *rostertest.Roster, typ string, n int) []map[string]any {
	t.Helper()
	ctx := context.Background()
	env, err := r.Directory.DefaultEnvironment(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs, err := r.Store.ListEvents(ctx, env.ID, store.EventQuery{Types: []string{typ}, Limit: store.MaxEventPage})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) >= n {
			out := make([]map[string]any, len(evs))
			for i, e := range evs {
				if err := json.Unmarshal(e.Body, &out[i]); err != nil {
					t.Fatalf("event %s: %v", e.ID, err)
				}
			}
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s events, want %d", len(evs), typ, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func jsonValue(t *testing.T, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return v
}

// An organization's event shows it exactly as GetOrganization's answer does.
func TestEventDataOrganizationAsREST(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		res := r.REST(t, token, "POST", "/api/v1/organizations", `{"display_name":"Acme","external_id":"ACME-1","metadata":{"plan":"pro"}}`)
		wantStatus(t, res, 200)
		id := org(res)["id"].(string)
		got := r.REST(t, token, "GET", "/api/v1/organizations/"+id, "")
		wantStatus(t, got, 200)
		evs := storedEvents(t, r, roster.EventOrganizationCreated, 1)
		data := evs[len(evs)-1]["data"]
		if !reflect.DeepEqual(data, got.Body["organization"]) {
			t.Fatalf("event data %v\nGET organization %v", data, got.Body["organization"])
		}
		if a := evs[len(evs)-1]["actor"].(map[string]any); a["type"] != roster.ActorAPIClient || a["id"] != r.ClientID {
			t.Fatalf("actor %v, want the API client %s", a, r.ClientID)
		}
	})
}

// A user's event data is the user exactly as GetUser's answer shows it.
func TestEventDataUserAsREST(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		res := r.REST(t, token, "POST", "/api/v1/organizations", `{"display_name":"Acme"}`)
		orgID := org(res)["id"].(string)
		res = r.REST(t, token, "POST", "/api/v1/organizations/"+orgID+"/users",
			`{"email":"ada@example.com","external_id":"E1","metadata":{"team":"v"},"user_profile":{"first_name":"Ada","last_name":"Lovelace"}}`)
		wantStatus(t, res, 200)
		userID := res.Body["user"].(map[string]any)["id"].(string)
		got := r.REST(t, token, "GET", "/api/v1/users/"+userID, "")
		wantStatus(t, got, 200)
		env, _ := r.Directory.DefaultEnvironment(context.Background())
		u, err := r.Directory.GetUser(context.Background(), env, roster.UserRef{ID: userID})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := api.EventData(u)
		if err != nil {
			t.Fatal(err)
		}
		if data := jsonValue(t, raw); !reflect.DeepEqual(data, got.Body["user"]) {
			t.Fatalf("event data %v\nGET user %v", data, got.Body["user"])
		}
		o, err := r.Directory.GetOrganization(context.Background(), env, roster.OrganizationRef{ID: orgID})
		if err != nil {
			t.Fatal(err)
		}
		raw, err = api.EventData(roster.MembershipEventData{Organization: o, User: u})
		if err != nil {
			t.Fatal(err)
		}
		m := jsonValue(t, raw).(map[string]any)
		if !reflect.DeepEqual(m["user"], got.Body["user"]) || m["organization"].(map[string]any)["id"] != orgID || len(m) != 2 {
			t.Fatalf("membership data %s", raw)
		}
	})
}

// render is data's stored form (made at write time) rendered (at read time).
func render(c roster.EventDataCodec, data any, memo *roster.EventMemo) ([]byte, error) {
	stored, err := c.AppendData(nil, data, memo)
	if err != nil {
		return nil, err
	}
	return c.RenderData(nil, stored)
}

// The events a write records at once share a memo: a user they all show is converted once,
// byte for byte as without the memo, and a user that differs in anything is rendered anew.
func TestEventDataMemoRendersAUserOnce(t *testing.T) {
	at := time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)
	u := roster.NewUser{Email: "ada@example.com", Metadata: map[string]string{"team": "v"}}.Build("usr_1", "env_1", at)
	u.Memberships = []roster.Membership{{OrganizationID: "org_1", Status: roster.MembershipActive, Roles: []roster.RoleRef{{ID: "role_1", Name: "admin"}}, CreateTime: at}}
	org := roster.Organization{ID: "org_1", DisplayName: "Acme"}
	enc := api.EventDataFor("")
	alone := func(data any) string {
		raw, err := render(enc, data, nil)
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	var memo roster.EventMemo
	shared := func(data any) string {
		raw, err := render(enc, data, &memo)
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	if got, want := shared(u), alone(u); got != want {
		t.Fatalf("user with a memo:\n %s\nwant %s", got, want)
	}
	if _, ok := memo.User(&u); !ok {
		t.Fatal("the memo does not hold the user just rendered")
	}
	m := roster.MembershipEventData{Organization: org, User: u}
	if got, want := shared(m), alone(m); got != want {
		t.Fatalf("membership with the memo's user:\n %s\nwant %s", got, want)
	}
	// Another state of the user: a metadata value, a role, anything.
	changed := u
	changed.Metadata = map[string]string{"team": "w"}
	changed.Memberships = []roster.Membership{u.Memberships[0]}
	changed.Memberships[0].Roles = []roster.RoleRef{{ID: "role_2", Name: "member"}}
	if _, ok := memo.User(&changed); ok {
		t.Fatal("the memo serves a user that differs")
	}
	mc := roster.MembershipEventData{Organization: org, User: changed}
	if got, want := shared(mc), alone(mc); got != want || strings.Contains(got, `"admin"`) {
		t.Fatalf("membership with another user:\n %s\nwant %s", got, want)
	}
}

// Every kind of data a write records renders, and a connection's secret or a directory
// token's hash never appears.
func TestEventDataEveryType(t *testing.T) {
	now := time.Date(2026, 12, 6, 18, 0, 0, 123456789, time.UTC)
	user := roster.User{ID: "usr_1", EnvironmentID: "env_1", Email: "a@example.com", CreateTime: now, UpdateTime: now}
	conn := roster.Connection{ID: "conn_1", OrganizationID: "org_1", Type: roster.ConnectionOIDC, Provider: "OKTA",
		OIDC: roster.OIDCConfig{Issuer: "https://idp.example", ClientID: "client", ClientSecret: "s3cret-value"}}
	group := roster.DirectoryGroup{ID: "dirgroup_1", DisplayName: "Eng", Raw: json.RawMessage(`{"displayName":"Eng"}`), UpdateTime: now}
	for _, data := range []any{
		roster.Organization{ID: "org_1", DisplayName: "Acme", CreateTime: now, UpdateTime: now},
		user,
		roster.MembershipEventData{Organization: roster.Organization{ID: "org_1"}, User: user},
		roster.Role{ID: "role_1", Name: "admin", Permissions: []string{"read"}},
		roster.Permission{ID: "perm_1", Name: "read"},
		roster.AttributeDefinition{Key: "department", Type: "string"},
		conn,
		roster.Domain{ID: "dom_1", Name: "acme.example", Type: roster.DomainType("ORGANIZATION_DOMAIN")},
		roster.Directory{ID: "dir_1", OrganizationID: "org_1"},
		roster.DirectorySecret{ID: "dirsecret_1", DirectoryID: "dir_1", Hash: "s3cret-hash", Suffix: "abcd", Active: true, CreateTime: now},
		roster.DirectoryUser{ID: "diruser_1", Email: "a@example.com", Raw: json.RawMessage(`{"userName":"a"}`), UpdateTime: now},
		group,
		roster.DirectoryGroupMembersData{Group: group, Added: []string{"diruser_1"}},
		roster.LoginEventData{User: user, Connection: conn},
		roster.LoginFailedData{ConnectionID: "conn_1", Reason: roster.LoginFailedExpired, Message: "expired"},
	} {
		raw, err := api.EventData(data)
		if err != nil {
			t.Fatalf("%T: %v", data, err)
		}
		if !json.Valid(raw) || raw[0] != '{' {
			t.Fatalf("%T: not a JSON object: %s", data, raw)
		}
		if strings.Contains(string(raw), "s3cret") {
			t.Fatalf("%T shows the connection's secret: %s", data, raw)
		}
	}
	raw, _ := api.EventData(roster.LoginEventData{User: user, Connection: conn})
	c := jsonValue(t, raw).(map[string]any)["connection"]
	if want := map[string]any{"id": "conn_1", "connection_type": "OIDC", "provider": "OKTA"}; !reflect.DeepEqual(c, want) {
		t.Fatalf("login connection %v, want %v", c, want)
	}
	raw, _ = api.EventData(roster.DirectoryGroupMembersData{Group: group, Added: []string{"diruser_1"}})
	if m := jsonValue(t, raw).(map[string]any); m["removed"] == nil || m["group"].(map[string]any)["id"] != "dirgroup_1" {
		t.Fatalf("group members data %s", raw)
	}
	if _, err := api.EventData(struct{}{}); err == nil {
		t.Fatal("an unknown type rendered")
	}
}
