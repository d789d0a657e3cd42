package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api/rest"
	"github.com/rosterhq/roster/api/userjson"
	"github.com/rosterhq/roster/directory"
	connv1 "github.com/rosterhq/roster/gen/scalekit/v1/connections"
	dirv1 "github.com/rosterhq/roster/gen/scalekit/v1/directories"
	rolesv1 "github.com/rosterhq/roster/gen/scalekit/v1/roles"
	usersv1 "github.com/rosterhq/roster/gen/scalekit/v1/users"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// EventData renders an event's data as the REST API shows the object (docs/events.md),
// without Roster's public URL: a connection's and a directory's URLs to register at
// providers are then empty. The server uses EventDataFor with its issuer. It is the codec's
// stored form rendered, as a read of the feed shows it.
func EventData(data any) (json.RawMessage, error) {
	c := EventDataFor("")
	stored, err := c.AppendData(nil, data, nil)
	if err != nil {
		return nil, err
	}
	return c.RenderData(nil, stored)
}

// EventDataFor returns the roster.EventDataCodec of a Roster whose public URL is issuer:
// every object shown through the same proto conversion and the same protojson options as the
// REST answers (rest.MarshalJSON; users through userjson). An unknown type is an error.
//
// The codec runs inside the write's transaction and reads nothing, so what the API looks
// up besides the object is left out: a connection shows no domains, a role's permissions
// show their names only and its default_member is false.
//
// The objects that writes record most (users, directory users and groups, a group's member
// changes) are stored as their proto messages, whose binary form costs a tenth of their
// JSON to make and half of its bytes, and rendered when read; the others as their JSON.
func EventDataFor(issuer string) roster.EventDataCodec { return eventCodec{issuer: issuer} }

// SetEventData makes st store and render its events' data with EventDataFor(issuer), when
// st is a store that records events (sqlstore): every place a store is opened for writes
// calls it.
func SetEventData(st any, issuer string) {
	if s, ok := st.(interface {
		SetEventDataCodec(roster.EventDataCodec)
	}); ok {
		s.SetEventDataCodec(EventDataFor(issuer))
	}
}

type eventCodec struct{ issuer string }

// The stored form of event data opens with its kind.
const (
	storedJSON           = roster.EventDataJSON // the JSON, rendered when stored
	storedUser           = 'u'                  // a usersv1.User
	storedJoinUser       = 'm'                  // {name: first, "user": user}: 1 name, 2 first's JSON, 3 the usersv1.User
	storedDirectoryUser  = 'd'                  // 1 the dirv1.DirectoryUser with an empty user_detail, 2 its SCIM resource
	storedDirectoryGroup = 'g'                  // 1 the dirv1.DirectoryGroup with an empty group_detail, 2 its SCIM resource
	storedGroupMembers   = 'x'                  // 1 the dirv1.DirectoryGroup, 2 each member added, 3 each member removed
)

func (c eventCodec) AppendData(dst []byte, data any, memo *roster.EventMemo) ([]byte, error) {
	switch d := data.(type) {
	case roster.User:
		return appendStoredUser(append(dst, storedUser), d, memo)
	case roster.MembershipEventData:
		return appendJoinUser(dst, "organization", orgRefJSON(d.Organization), d.User, memo)
	case roster.LoginEventData:
		conn, err := loginConnectionJSON(d.Connection)
		if err != nil {
			return nil, err
		}
		return appendJoinUser(dst, "connection", conn, d.User, memo)
	case roster.DirectoryUser:
		if !storableDetail(d.Raw) {
			break
		}
		m, err := directoryUserToProto(d, nil, false)
		if err != nil {
			return nil, err
		}
		m.UserDetail = &structpb.Struct{}
		return appendWithDetail(append(dst, storedDirectoryUser), m, d.Raw)
	case roster.DirectoryGroup:
		if !storableDetail(d.Raw) {
			break
		}
		m, err := directoryGroupToProto(d, false)
		if err != nil {
			return nil, err
		}
		m.GroupDetail = &structpb.Struct{}
		return appendWithDetail(append(dst, storedDirectoryGroup), m, d.Raw)
	case roster.DirectoryGroupMembersData:
		// The group as a list shows it without include_detail: a member write changes no
		// attribute of the group, and parsing its raw resource again for every member PATCH
		// cost more than the rest of the event.
		m, err := directoryGroupToProto(d.Group, false)
		if err != nil {
			return nil, err
		}
		dst = append(dst, storedGroupMembers)
		if dst, err = appendMessageField(dst, 1, m); err != nil {
			return nil, err
		}
		for _, id := range d.Added {
			dst = appendField(dst, 2, id)
		}
		for _, id := range d.Removed {
			dst = appendField(dst, 3, id)
		}
		return dst, nil
	}
	js, err := eventData(data, c.issuer)
	if err != nil {
		return nil, err
	}
	return append(append(dst, storedJSON), js...), nil
}

func (c eventCodec) RenderData(dst []byte, stored []byte) ([]byte, error) {
	if len(stored) == 0 {
		return nil, errors.New("event data: empty")
	}
	kind, body := stored[0], stored[1:]
	switch kind {
	case storedJSON:
		return append(dst, body...), nil
	case storedUser:
		b, n := protowire.ConsumeBytes(body)
		if n < 0 {
			return nil, errors.New("event data: malformed stored form")
		}
		return renderUser(dst, b)
	case storedJoinUser:
		f, err := storedFields(body)
		if err != nil {
			return nil, err
		}
		dst = append(dst, '{')
		dst = append(dst, f.one(1)...) // a JSON string (appendJoinUser)
		dst = append(dst, ':')
		dst = append(dst, f.one(2)...)
		dst = append(dst, `,"user":`...)
		if dst, err = renderUser(dst, f.one(3)); err != nil {
			return nil, err
		}
		return append(dst, '}'), nil
	case storedDirectoryUser, storedDirectoryGroup:
		f, err := storedFields(body)
		if err != nil {
			return nil, err
		}
		var m proto.Message = &dirv1.DirectoryUser{}
		field := "user_detail"
		if kind == storedDirectoryGroup {
			m, field = &dirv1.DirectoryGroup{}, "group_detail"
		}
		if err := proto.Unmarshal(f.one(1), m); err != nil {
			return nil, fmt.Errorf("event data: %w", err)
		}
		return renderWithDetail(dst, m, field, f.one(2))
	case storedGroupMembers:
		f, err := storedFields(body)
		if err != nil {
			return nil, err
		}
		g := &dirv1.DirectoryGroup{}
		if err := proto.Unmarshal(f.one(1), g); err != nil {
			return nil, fmt.Errorf("event data: %w", err)
		}
		gj, err := rest.MarshalJSON(g)
		if err != nil {
			return nil, err
		}
		js, err := json.Marshal(struct {
			Group   json.RawMessage `json:"group"`
			Added   []string        `json:"added"`
			Removed []string        `json:"removed"`
		}{gj, f.strings(2), f.strings(3)})
		return append(dst, js...), err
	}
	return nil, fmt.Errorf("event data: unknown stored kind %q", kind)
}

// storedDataFields are the fields of a stored form: each field number's values, in order.
type storedDataFields map[protowire.Number][][]byte

func storedFields(b []byte) (storedDataFields, error) {
	f := storedDataFields{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.BytesType {
			return nil, errors.New("event data: malformed stored form")
		}
		b = b[n:]
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil, errors.New("event data: malformed stored form")
		}
		f[num] = append(f[num], v)
		b = b[n:]
	}
	return f, nil
}

func (f storedDataFields) one(n protowire.Number) []byte {
	if v := f[n]; len(v) > 0 {
		return v[0]
	}
	return nil
}

// strings are field n's values as strings, never nil (the JSON shows [] for none).
func (f storedDataFields) strings(n protowire.Number) []string {
	out := make([]string, 0, len(f[n]))
	for _, v := range f[n] {
		out = append(out, string(v))
	}
	return out
}

// appendField appends field n of a stored form, a length-delimited value.
func appendField[T string | []byte](dst []byte, n protowire.Number, v T) []byte {
	dst = protowire.AppendTag(dst, n, protowire.BytesType)
	dst = protowire.AppendVarint(dst, uint64(len(v)))
	return append(dst, v...)
}

func appendMessageField(dst []byte, n protowire.Number, m proto.Message) ([]byte, error) {
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	return appendField(dst, n, b), nil
}

// storableDetail reports whether a SCIM resource can be stored beside its message and spliced
// in when rendered (renderWithDetail): none, or a JSON object. Anything else takes the API's
// way, at write time: the resource parsed into the detail field (a Struct).
func storableDetail(raw []byte) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || (t[0] == '{' && json.Valid(t))
}

func appendWithDetail(dst []byte, m proto.Message, raw []byte) ([]byte, error) {
	dst, err := appendMessageField(dst, 1, m)
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimSpace(raw); len(t) > 0 {
		dst = appendField(dst, 2, t)
	}
	return dst, nil
}

// appendStoredUser appends u's proto message as a length-delimited value (field contents),
// converted once for the events of a write that show the same user (roster.EventMemo).
func appendStoredUser(dst []byte, u roster.User, memo *roster.EventMemo) ([]byte, error) {
	b, ok := memo.User(&u)
	if !ok {
		var err error
		if b, err = proto.Marshal(userToProto(u)); err != nil {
			return nil, err
		}
		memo.SetUser(u, b)
	}
	return protowire.AppendBytes(dst, b), nil
}

// renderUser appends the JSON of a stored user's message.
func renderUser(dst []byte, message []byte) ([]byte, error) {
	u := &usersv1.User{}
	if err := proto.Unmarshal(message, u); err != nil {
		return nil, fmt.Errorf("event data: %w", err)
	}
	return userjson.Append(dst, u)
}

// appendJoinUser stores {name: first, "user": u}, the two-object data of membership and login
// events, first as JSON and u as its message.
func appendJoinUser(dst []byte, name string, first []byte, u roster.User, memo *roster.EventMemo) ([]byte, error) {
	dst = appendField(append(dst, storedJoinUser), 1, `"`+name+`"`) // a JSON key: name is a Go literal
	dst = appendField(dst, 2, first)
	dst = protowire.AppendTag(dst, 3, protowire.BytesType)
	return appendStoredUser(dst, u, memo)
}

// loginConnectionJSON is the connection of a sign-in event: only what identifies it
// (Scalekit's id, connection_type, provider), as the REST API shows those fields.
func loginConnectionJSON(c roster.Connection) ([]byte, error) {
	conn, err := rest.MarshalJSON(&connv1.Connection{Id: c.ID, Type: typeToProto(c.Type),
		Provider: providerToProto(c.Provider), ProviderKey: c.Provider})
	if err != nil {
		return nil, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(conn, &all); err != nil {
		return nil, err
	}
	return json.Marshal(map[string]json.RawMessage{"id": all["id"], "connection_type": all["type"], "provider": all["provider"]})
}

// eventData is the JSON of the objects stored as JSON (eventCodec.AppendData): those that
// few writes record, and a directory user's or group's whose SCIM resource is not a JSON
// object.
func eventData(data any, issuer string) (json.RawMessage, error) {
	switch d := data.(type) {
	case roster.Organization:
		return rest.MarshalJSON(organizationToProto(d))
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
	case roster.DirectoryUser: // the API's way: the resource parsed into user_detail
		return marshalOf(directoryUserToProto(d, nil, true))
	case roster.DirectoryGroup:
		return marshalOf(directoryGroupToProto(d, true))
	case roster.LoginFailedData:
		return json.Marshal(d)
	}
	return nil, fmt.Errorf("event data: no API form for %T", data)
}

// renderWithDetail appends m as the REST API renders it with include_detail, its detail field
// (an empty Struct) replaced by the SCIM resource as stored (a JSON object, storableDetail),
// compacted: the API's round trip of the resource through a Struct (parse, then marshal) cost
// about a tenth of a SCIM create's CPU on its events alone. The values are the API's (keys in
// the client's order, numbers as the client wrote them, where the Struct shows a float64).
func renderWithDetail(dst []byte, m proto.Message, field string, raw []byte) ([]byte, error) {
	out, err := rest.MarshalJSON(m)
	if err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return append(dst, out...), nil
	}
	// The key appears once, unescaped, as the top-level field: a string value holding the
	// same text would have its quotes escaped.
	empty := []byte(`"` + field + `":{}`)
	at := bytes.Index(out, empty)
	if at < 0 {
		return nil, fmt.Errorf("event data: no %s to show the resource in", field)
	}
	buf := bytes.NewBuffer(dst)
	buf.Grow(len(out) + len(raw))
	buf.Write(out[:at+len(empty)-2])
	if err := json.Compact(buf, raw); err != nil {
		return nil, fmt.Errorf("event data: %w", err)
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
