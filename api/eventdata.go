package api

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api/rest"
	"github.com/rosterhq/roster/api/userjson"
	"github.com/rosterhq/roster/directory"
	connv1 "github.com/rosterhq/roster/gen/scalekit/v1/connections"
	rolesv1 "github.com/rosterhq/roster/gen/scalekit/v1/roles"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// EventData renders an event's data as the REST API shows the object (docs/events.md),
// without Roster's public URL: a connection's and a directory's URLs to register at
// providers are then empty. The server uses EventDataFor with its issuer.
func EventData(data any) (json.RawMessage, error) { return EventDataFor("")(data, nil) }

// EventDataFor returns the roster.EventDataEncoder of a Roster whose public URL is issuer:
// every object through the same proto conversion and the same protojson options as the REST
// answers (rest.MarshalJSON; users through userjson). An unknown type is an error.
//
// The encoder runs inside the write's transaction and reads nothing, so what the API looks
// up besides the object is left out: a connection shows no domains, a role's permissions
// show their names only and its default_member is false.
func EventDataFor(issuer string) roster.EventDataEncoder {
	return func(data any, memo *roster.EventMemo) (json.RawMessage, error) { return eventData(data, memo, issuer) }
}

// SetEventData makes st render its events' data with EventDataFor(issuer), when st is a
// store that records events (sqlstore): every place a store is opened for writes calls it.
func SetEventData(st any, issuer string) {
	if s, ok := st.(interface {
		SetEventDataEncoder(roster.EventDataEncoder)
	}); ok {
		s.SetEventDataEncoder(EventDataFor(issuer))
	}
}

func eventData(data any, memo *roster.EventMemo, issuer string) (json.RawMessage, error) {
	switch d := data.(type) {
	case roster.Organization:
		return rest.MarshalJSON(organizationToProto(d))
	case roster.User:
		return eventUser(nil, d, memo)
	case roster.MembershipEventData:
		return joinUser("organization", orgRefJSON(d.Organization), d.User, memo)
	case roster.Role:
		return rest.MarshalJSON(eventRoleToProto(d))
	case roster.Permission:
		return rest.MarshalJSON(permissionToProto(d))
	case roster.AttributeDefinition:
		return rest.MarshalJSON(attributeToProto(d))
	case roster.Connection:
		return rest.MarshalJSON(connectionToProto(d, nil, issuer))
	case roster.Domain:
		return rest.MarshalJSON(domainToProto(d))
	case roster.Directory:
		return rest.MarshalJSON(directoryToProto(directory.DirectoryDetail{Directory: d}, issuer))
	case roster.DirectorySecret: // as GetDirectory shows it: never the token or its hash
		return rest.MarshalJSON(secretToProto(d))
	case roster.DirectoryUser:
		m, err := directoryUserToProto(d, nil, false)
		if err != nil {
			return nil, err
		}
		m.UserDetail = &structpb.Struct{}
		return withDetail(m, "user_detail", d.Raw, func() (proto.Message, error) { return directoryUserToProto(d, nil, true) })
	case roster.DirectoryGroup:
		return directoryGroupJSON(d)
	case roster.DirectoryGroupMembersData:
		// The group as a list shows it without include_detail: a member write changes no
		// attribute of the group, and parsing its raw resource again for every member PATCH
		// cost more than the rest of the event.
		m, err := directoryGroupToProto(d.Group, false)
		if err != nil {
			return nil, err
		}
		g, err := rest.MarshalJSON(m)
		if err != nil {
			return nil, err
		}
		return json.Marshal(struct {
			Group   json.RawMessage `json:"group"`
			Added   []string        `json:"added"`
			Removed []string        `json:"removed"`
		}{g, nonNil(d.Added), nonNil(d.Removed)})
	case roster.LoginEventData:
		c := d.Connection
		conn, err := rest.MarshalJSON(&connv1.Connection{Id: c.ID, Type: typeToProto(c.Type),
			Provider: providerToProto(c.Provider), ProviderKey: c.Provider})
		if err != nil {
			return nil, err
		}
		// Only what identifies the connection (Scalekit's id, connection_type, provider).
		var all map[string]json.RawMessage
		if err := json.Unmarshal(conn, &all); err != nil {
			return nil, err
		}
		if conn, err = json.Marshal(map[string]json.RawMessage{"id": all["id"], "connection_type": all["type"], "provider": all["provider"]}); err != nil {
			return nil, err
		}
		return joinUser("connection", conn, d.User, memo)
	case roster.LoginFailedData:
		return json.Marshal(d)
	}
	return nil, fmt.Errorf("event data: no API form for %T", data)
}

func directoryGroupJSON(g roster.DirectoryGroup) (json.RawMessage, error) {
	m, err := directoryGroupToProto(g, false)
	if err != nil {
		return nil, err
	}
	m.GroupDetail = &structpb.Struct{}
	return withDetail(m, "group_detail", g.Raw, func() (proto.Message, error) { return directoryGroupToProto(g, true) })
}

// withDetail renders m as the REST API does with include_detail, its detail field (an
// empty Struct) replaced by the SCIM resource as stored, compacted: the API's round trip of the
// resource through a Struct (parse, then marshal) cost about a tenth of a SCIM create's CPU
// on its events alone. The values are the API's (keys in the client's order, numbers as the
// client wrote them, where the Struct shows a float64). A resource that is not a JSON object
// takes the API's way: apiWay, the message with the resource parsed into its detail field.
func withDetail(m proto.Message, field string, raw []byte, apiWay func() (proto.Message, error)) (json.RawMessage, error) {
	out, err := rest.MarshalJSON(m)
	if err != nil {
		return nil, err
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return out, nil
	}
	// The key appears once, unescaped, as the top-level field: a string value holding the
	// same text would have its quotes escaped.
	empty := []byte(`"` + field + `":{}`)
	at := bytes.Index(out, empty)
	if trimmed[0] != '{' || at < 0 {
		return marshalOf(apiWay())
	}
	var buf bytes.Buffer
	buf.Grow(len(out) + len(trimmed))
	buf.Write(out[:at+len(empty)-2])
	if err := json.Compact(&buf, trimmed); err != nil {
		return marshalOf(apiWay())
	}
	buf.Write(out[at+len(empty):])
	return buf.Bytes(), nil
}

// marshalOf renders the message of a conversion that may have failed.
func marshalOf(m proto.Message, err error) (json.RawMessage, error) {
	if err != nil {
		return nil, err
	}
	return rest.MarshalJSON(m)
}

// joinUser renders {name: first, "user": u}, the two-object data of membership and login
// events, with u as GetUser shows it. The parts are joined as they are: json.Marshal of
// json.RawMessage values would scan and compact them again, on the write's path.
func joinUser(name string, first []byte, u roster.User, memo *roster.EventMemo) (json.RawMessage, error) {
	out := make([]byte, 0, 64+len(first)+1024)
	out = append(out, '{', '"')
	out = append(out, name...)
	out = append(out, `":`...)
	out = append(out, first...)
	out = append(out, `,"user":`...)
	out, err := eventUser(out, u, memo)
	if err != nil {
		return nil, err
	}
	return append(out, '}'), nil
}

// eventUser appends u as GetUser shows it, rendered once for the events of a write that show
// the same user (roster.EventMemo).
func eventUser(out []byte, u roster.User, memo *roster.EventMemo) ([]byte, error) {
	if js, ok := memo.User(&u); ok {
		return append(out, js...), nil
	}
	start := len(out)
	out, err := userjson.Append(out, userToProto(u))
	if err != nil {
		return nil, err
	}
	memo.SetUser(u, out[start:len(out):len(out)])
	return out, nil
}

// orgRefJSON is the organization of a membership event: its ID and display name, what the
// write that made the event holds of it (docs/events.md).
func orgRefJSON(o roster.Organization) []byte {
	b, _ := json.Marshal(struct {
		ID          string `json:"id"`
		DisplayName string `json:"display_name"`
	}{o.ID, o.DisplayName})
	return b
}

// eventRoleToProto is a role as GetRole shows it, from what the role itself holds.
func eventRoleToProto(r roster.Role) *rolesv1.Role {
	perms := make([]*rolesv1.RolePermission, 0, len(r.Permissions))
	for _, name := range r.Permissions {
		perms = append(perms, &rolesv1.RolePermission{Name: name, RoleName: r.Name})
	}
	return roleMessage(r, false, perms)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
