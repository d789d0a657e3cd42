package roster

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"
)

// jsonCodec stores data as the JSON that it makes of it, and renders it as stored.
type jsonCodec func(v any) ([]byte, error)

func (c jsonCodec) AppendData(dst []byte, v any, _ *EventMemo) ([]byte, error) {
	b, err := c(v)
	return append(dst, b...), err
}

func (jsonCodec) RenderData(dst, stored []byte) ([]byte, error) { return append(dst, stored...), nil }

// The envelope is the JSON a receiver parses: every field, data last and as the encoder
// rendered it.
func TestEventEnvelope(t *testing.T) {
	at := time.Date(2026, 12, 6, 18, 0, 0, 123456789, time.UTC)
	e := Event{ID: "evt_1", Type: EventUserUpdated, OccurredAt: at, EnvironmentID: "env_1", OrganizationID: "org_1",
		Actor: Actor{Type: ActorAPIClient, ID: "skc_1"}, ChangedFields: []string{"metadata"}, Data: map[string]string{"id": "usr_1"}}
	body, err := e.Envelope(jsonCodec(func(any) ([]byte, error) { return []byte(`{"id":"usr_1"}`), nil }), nil)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"spec_version":"1","id":"evt_1","type":"user.updated","object":"User","occurred_at":"2026-12-06T18:00:00.123456789Z",` +
		`"environment_id":"env_1","organization_id":"org_1","display_name":"User Updated","actor":{"type":"api_client","id":"skc_1"},` +
		`"changed_fields":["metadata"],"data":{"id":"usr_1"}}`
	if string(body) != want {
		t.Fatalf("envelope:\n got %s\nwant %s", body, want)
	}
	e.OrganizationID, e.ChangedFields = "", nil
	body, err = e.Envelope(jsonCodec(json.Marshal), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if _, ok := got["organization_id"]; ok || got["changed_fields"] == nil || got["data"].(map[string]any)["id"] != "usr_1" {
		t.Fatalf("envelope: %s", body)
	}
	if body, err := e.Envelope(jsonCodec(func(any) ([]byte, error) { return nil, nil }), nil); err != nil || !json.Valid(body) {
		t.Fatalf("envelope of no data: %v %s", err, body)
	}
}

// Envelope appends its fields as json.Marshal of the envelope's struct would write them,
// escapes included: strings that need escaping (a custom attribute's key in changed_fields,
// an actor's ID) come out the same.
func TestEventEnvelopeAsMarshal(t *testing.T) {
	type actor struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	type envelope struct {
		SpecVersion    string          `json:"spec_version"`
		ID             string          `json:"id"`
		Type           string          `json:"type"`
		Object         string          `json:"object"`
		OccurredAt     string          `json:"occurred_at"`
		EnvironmentID  string          `json:"environment_id"`
		OrganizationID string          `json:"organization_id,omitempty"`
		DisplayName    string          `json:"display_name"`
		Actor          actor           `json:"actor"`
		ChangedFields  []string        `json:"changed_fields"`
		Data           json.RawMessage `json:"data"`
	}
	at := time.Date(2026, 12, 6, 18, 0, 0, 0, time.FixedZone("x", 3600))
	for _, strange := range []string{"plain", `quo"te\\`, "<b>&amp;</b>", "tab\tnew\nline\x00", "héllo \u2028 ✓", "\xff\xfe"} {
		e := Event{ID: "evt_" + strange, Type: EventUserUpdated, OccurredAt: at, EnvironmentID: "env_1", OrganizationID: strange,
			Actor: Actor{Type: ActorOperator, ID: strange}, ChangedFields: []string{"custom_attributes." + strange, "metadata"}}
		got, err := e.Envelope(jsonCodec(func(any) ([]byte, error) { return []byte(`{"k":1}`), nil }), nil)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(envelope{SpecVersion: EventSpecVersion, ID: e.ID, Type: e.Type, Object: EventObject(e.Type),
			OccurredAt: at.UTC().Format(time.RFC3339Nano), EnvironmentID: e.EnvironmentID, OrganizationID: e.OrganizationID,
			DisplayName: EventTitle(e.Type), Actor: actor(e.Actor), ChangedFields: e.ChangedFields, Data: json.RawMessage(`{"k":1}`)})
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%q:\n got %s\nwant %s", strange, got, want)
		}
	}
}

// The same roles in another order (or repeated) are no change of a membership's roles; a
// role added or removed is.
func TestMembershipChangesRolesAsSet(t *testing.T) {
	a, b := RoleRef{ID: "role_1"}, RoleRef{ID: "role_2"}
	before := Membership{Roles: []RoleRef{a, b}}
	for _, tc := range []struct {
		after []RoleRef
		want  []string
	}{
		{[]RoleRef{b, a}, nil},
		{[]RoleRef{a, b, a}, nil},
		{[]RoleRef{a}, []string{"roles"}},
		{[]RoleRef{a, b, {ID: "role_3"}}, []string{"roles"}},
	} {
		after := Membership{Roles: tc.after}
		if got := MembershipChanges(&before, &after); !slices.Equal(got, tc.want) {
			t.Errorf("%v → %v: %q, want %q", before.Roles, tc.after, got, tc.want)
		}
	}
}

// copyOfUser tells a copy of a user from any user that differs in one field, whichever: a
// field added to User or Profile and left out of copyOfUser fails here.
func TestCopyOfUserSeesEveryField(t *testing.T) {
	ext := "E1"
	at := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	u := User{ID: "usr_1", EnvironmentID: "env_1", Email: "a@example.com", ExternalID: &ext, Metadata: map[string]string{"k": "v"},
		Profile:    Profile{GivenName: "A", Groups: []string{"g"}, Metadata: map[string]string{}, CustomAttributes: map[string]string{}},
		CreateTime: at, UpdateTime: at, LastLoginTime: &at, Memberships: []Membership{{OrganizationID: "org_1"}}, Identities: []Identity{{}}}
	cp := u
	if !copyOfUser(&u, &cp) {
		t.Fatal("a copy is not the same user")
	}
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		for i := 0; i < v.NumField(); i++ {
			f, name := v.Field(i), path+v.Type().Field(i).Name
			if f.Kind() == reflect.Struct && f.Type() != reflect.TypeOf(time.Time{}) {
				walk(f, name+".")
				continue
			}
			old := reflect.New(f.Type()).Elem()
			old.Set(f)
			switch f.Kind() {
			case reflect.String:
				f.SetString(f.String() + "x")
			case reflect.Bool:
				f.SetBool(!f.Bool())
			case reflect.Pointer:
				f.Set(reflect.New(f.Type().Elem()))
			case reflect.Map:
				f.Set(reflect.MakeMap(f.Type()))
			case reflect.Slice:
				f.Set(reflect.MakeSlice(f.Type(), f.Len(), f.Len()))
			case reflect.Struct: // time.Time
				f.Set(reflect.ValueOf(f.Interface().(time.Time).Add(time.Second)))
			default:
				t.Fatalf("%s: a field of kind %s: teach this test to change it", name, f.Kind())
			}
			if copyOfUser(&u, &cp) {
				t.Errorf("a user whose %s differs is taken for the same", name)
			}
			f.Set(old)
			if !copyOfUser(&u, &cp) {
				t.Fatalf("%s restored: not the same user", name)
			}
		}
	}
	walk(reflect.ValueOf(&cp).Elem(), "")
}
