package roster

// Events (docs/events.md): every change to the directory is recorded as an event, in the
// transaction that makes the change. This file holds the catalog (types, their objects and
// titles), who caused a change (Actor), and the envelope that webhooks deliver and the feed
// returns.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
	"unsafe"
)

// PrefixEvent starts an event's ID.
const PrefixEvent = "evt_"

// Event types (docs/events.md, section 2). Scalekit's names where Scalekit has one.
const (
	EventOrganizationCreated       = "organization.created"
	EventOrganizationUpdated       = "organization.updated"
	EventOrganizationDeleted       = "organization.deleted"
	EventOrganizationDomainCreated = "organization.domain_created"
	EventOrganizationDomainDeleted = "organization.domain_deleted"

	EventUserCreated = "user.created"
	EventUserUpdated = "user.updated"
	EventUserDeleted = "user.deleted"

	EventMembershipCreated = "user.organization_membership_created"
	EventMembershipUpdated = "user.organization_membership_updated"
	EventMembershipDeleted = "user.organization_membership_deleted"
	EventInvitation        = "user.organization_invitation"

	EventRoleCreated       = "role.created"
	EventRoleUpdated       = "role.updated"
	EventRoleDeleted       = "role.deleted"
	EventPermissionCreated = "permission.created"
	EventPermissionUpdated = "permission.updated"
	EventPermissionDeleted = "permission.deleted"

	EventAttributeCreated = "custom_attribute.created"
	EventAttributeUpdated = "custom_attribute.updated"
	EventAttributeDeleted = "custom_attribute.deleted"

	EventConnectionCreated  = "organization.sso_created"
	EventConnectionUpdated  = "organization.sso_updated"
	EventConnectionEnabled  = "organization.sso_enabled"
	EventConnectionDisabled = "organization.sso_disabled"
	EventConnectionDeleted  = "organization.sso_deleted"

	EventDirectoryCreated           = "organization.directory_created"
	EventDirectoryUpdated           = "organization.directory_updated"
	EventDirectoryEnabled           = "organization.directory_enabled"
	EventDirectoryDisabled          = "organization.directory_disabled"
	EventDirectoryDeleted           = "organization.directory_deleted"
	EventDirectorySecretCreated     = "organization.directory.secret_created"
	EventDirectorySecretRegenerated = "organization.directory.secret_regenerated"

	EventDirectoryUserCreated     = "organization.directory.user_created"
	EventDirectoryUserUpdated     = "organization.directory.user_updated"
	EventDirectoryUserDeactivated = "organization.directory.user_deactivated"
	EventDirectoryUserReactivated = "organization.directory.user_reactivated"
	EventDirectoryUserDeleted     = "organization.directory.user_deleted"
	EventDirectoryGroupCreated    = "organization.directory.group_created"
	EventDirectoryGroupUpdated    = "organization.directory.group_updated"
	EventDirectoryGroupMembers    = "organization.directory.group_members_updated"
	EventDirectoryGroupDeleted    = "organization.directory.group_deleted"
	EventLogin                    = "user.login"
	EventLoginFailed              = "user.login_failed"
)

// Event objects: the envelope's "object" (Scalekit's ObjectType names).
const (
	ObjectOrganization     = "Organization"
	ObjectUser             = "User"
	ObjectMembership       = "OrgMembership"
	ObjectRole             = "Role"
	ObjectPermission       = "Permission"
	ObjectCustomAttributes = "CustomAttributes"
	ObjectConnection       = "Connection"
	ObjectDirectory        = "Directory"
	ObjectDirectoryUser    = "DirectoryUser"
	ObjectDirectoryGroup   = "DirectoryGroup"
)

type eventKind struct{ object, title string }

var eventCatalog = map[string]eventKind{
	EventOrganizationCreated:        {ObjectOrganization, "Organization Created"},
	EventOrganizationUpdated:        {ObjectOrganization, "Organization Updated"},
	EventOrganizationDeleted:        {ObjectOrganization, "Organization Deleted"},
	EventOrganizationDomainCreated:  {ObjectOrganization, "Organization Domain Created"},
	EventOrganizationDomainDeleted:  {ObjectOrganization, "Organization Domain Deleted"},
	EventUserCreated:                {ObjectUser, "User Created"},
	EventUserUpdated:                {ObjectUser, "User Updated"},
	EventUserDeleted:                {ObjectUser, "User Deleted"},
	EventMembershipCreated:          {ObjectMembership, "Organization Membership Created"},
	EventMembershipUpdated:          {ObjectMembership, "Organization Membership Updated"},
	EventMembershipDeleted:          {ObjectMembership, "Organization Membership Deleted"},
	EventInvitation:                 {ObjectMembership, "Organization Invitation"},
	EventRoleCreated:                {ObjectRole, "Role Created"},
	EventRoleUpdated:                {ObjectRole, "Role Updated"},
	EventRoleDeleted:                {ObjectRole, "Role Deleted"},
	EventPermissionCreated:          {ObjectPermission, "Permission Created"},
	EventPermissionUpdated:          {ObjectPermission, "Permission Updated"},
	EventPermissionDeleted:          {ObjectPermission, "Permission Deleted"},
	EventAttributeCreated:           {ObjectCustomAttributes, "Custom Attribute Created"},
	EventAttributeUpdated:           {ObjectCustomAttributes, "Custom Attribute Updated"},
	EventAttributeDeleted:           {ObjectCustomAttributes, "Custom Attribute Deleted"},
	EventConnectionCreated:          {ObjectConnection, "SSO Connection Created"},
	EventConnectionUpdated:          {ObjectConnection, "SSO Connection Updated"},
	EventConnectionEnabled:          {ObjectConnection, "SSO Connection Enabled"},
	EventConnectionDisabled:         {ObjectConnection, "SSO Connection Disabled"},
	EventConnectionDeleted:          {ObjectConnection, "SSO Connection Deleted"},
	EventDirectoryCreated:           {ObjectDirectory, "Directory Created"},
	EventDirectoryUpdated:           {ObjectDirectory, "Directory Updated"},
	EventDirectoryEnabled:           {ObjectDirectory, "Directory Enabled"},
	EventDirectoryDisabled:          {ObjectDirectory, "Directory Disabled"},
	EventDirectoryDeleted:           {ObjectDirectory, "Directory Deleted"},
	EventDirectorySecretCreated:     {ObjectDirectory, "Directory Secret Created"},
	EventDirectorySecretRegenerated: {ObjectDirectory, "Directory Secret Regenerated"},
	EventDirectoryUserCreated:       {ObjectDirectoryUser, "Directory User Created"},
	EventDirectoryUserUpdated:       {ObjectDirectoryUser, "Directory User Updated"},
	EventDirectoryUserDeactivated:   {ObjectDirectoryUser, "Directory User Deactivated"},
	EventDirectoryUserReactivated:   {ObjectDirectoryUser, "Directory User Reactivated"},
	EventDirectoryUserDeleted:       {ObjectDirectoryUser, "Directory User Deleted"},
	EventDirectoryGroupCreated:      {ObjectDirectoryGroup, "Directory Group Created"},
	EventDirectoryGroupUpdated:      {ObjectDirectoryGroup, "Directory Group Updated"},
	EventDirectoryGroupMembers:      {ObjectDirectoryGroup, "Directory Group Members Updated"},
	EventDirectoryGroupDeleted:      {ObjectDirectoryGroup, "Directory Group Deleted"},
	EventLogin:                      {ObjectUser, "User Login"},
	EventLoginFailed:                {ObjectUser, "User Login Failed"},
}

// EventTypes returns every event type Roster records, sorted.
func EventTypes() []string {
	out := make([]string, 0, len(eventCatalog))
	for t := range eventCatalog {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// KnownEventType reports whether Roster records events of this type.
func KnownEventType(t string) bool {
	_, ok := eventCatalog[t]
	return ok
}

// EventObject returns the envelope's "object" of an event type ("" for an unknown type).
func EventObject(t string) string { return eventCatalog[t].object }

// EventTitle returns the envelope's "display_name" of an event type.
func EventTitle(t string) string { return eventCatalog[t].title }

// Actor types: who or what caused a change.
const (
	ActorAPIClient     = "api_client"     // an API call; ID is the client (skc_…)
	ActorOperator      = "operator"       // a dashboard action; ID is the operator (op_…)
	ActorSCIMDirectory = "scim_directory" // a SCIM write; ID is the directory (dir_…)
	ActorSSOConnection = "sso_connection" // a sign-in; ID is the connection (conn_…)
	ActorSystem        = "system"         // the command line, or anything with no caller; ID ""
)

// Actor is who or what caused a change.
type Actor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type actorKey struct{}

// WithActor returns a context whose writes name actor as their cause.
func WithActor(ctx context.Context, actor Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor that WithActor named; else the API client that WithClientID
// named; else the system.
func ActorFrom(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok {
		return a
	}
	if id := ClientIDFrom(ctx); id != "" {
		return Actor{Type: ActorAPIClient, ID: id}
	}
	return Actor{Type: ActorSystem}
}

// Event is one change, as a store write records it. Data is the changed object (a domain
// value: Organization, User, MembershipEventData, ...); the envelope shows it as the API
// does, through the EventDataCodec the store was given.
type Event struct {
	ID             string
	Type           string
	OccurredAt     time.Time
	EnvironmentID  string
	OrganizationID string // "" when the object belongs to no organization
	Actor          Actor
	ChangedFields  []string // sorted; empty for created, deleted and sign-in events
	Data           any
}

// EventDataCodec turns an event's Data into the form a store keeps, within the write that
// records the event, and that form into the JSON of the object as the API shows it, when the
// event is read or delivered. The stored form is the object's, taken when the change was
// made (docs/events.md, "Storage"): rendering it later shows that object, not a later one.
type EventDataCodec interface {
	// AppendData appends the stored form of data to dst. memo is shared by the events that a
	// write records at once (nil: none).
	AppendData(dst []byte, data any, memo *EventMemo) ([]byte, error)
	// RenderData appends the JSON of stored data (AppendData's output) to dst; it must be
	// valid JSON (json.Marshal's or protojson's): the envelope embeds it as it is.
	RenderData(dst []byte, stored []byte) ([]byte, error)
}

// EventDataJSON opens the stored form of event data kept as its JSON, which RenderData gives
// back as it is: the API's codec keeps the objects that few writes record so, and a store's
// default codec every object.
const EventDataJSON = 'j'

// EventMemo keeps the last user an EventDataCodec stored for the events that a write records
// at once: they often show the same user (a create's user.created and
// organization.membership_created both show it as GetUser does), which is then converted
// once. Those events are built before they are recorded and not changed meanwhile, so a copy
// of the user kept (copyOfUser) has the same stored form.
type EventMemo struct {
	user   User
	stored []byte
}

// User returns the stored form kept for u, if the memo's user is u.
func (m *EventMemo) User(u *User) ([]byte, bool) {
	if m == nil || m.stored == nil || !copyOfUser(&m.user, u) {
		return nil, false
	}
	return m.stored, true
}

// copyOfUser reports whether b is a copy of a: equal values, and the very maps, slices and
// pointers of a, not equal ones. Copies of one user share them, and telling so is a
// hundredth of comparing them deeply (reflect.DeepEqual was a sixth of a create's events);
// an equal user built apart is simply converted again. TestCopyOfUserSeesEveryField fails when a
// field of User or Profile is not compared here.
func copyOfUser(a, b *User) bool {
	p, q := &a.Profile, &b.Profile
	return a.ID == b.ID && a.EnvironmentID == b.EnvironmentID && a.Email == b.Email && a.ExternalID == b.ExternalID &&
		sameMap(a.Metadata, b.Metadata) && a.CreateTime == b.CreateTime && a.UpdateTime == b.UpdateTime &&
		a.LastLoginTime == b.LastLoginTime && sameSlice(a.Memberships, b.Memberships) && sameSlice(a.Identities, b.Identities) &&
		p.GivenName == q.GivenName && p.FamilyName == q.FamilyName && p.Name == q.Name && p.Locale == q.Locale &&
		p.PhoneNumber == q.PhoneNumber && p.PreferredUsername == q.PreferredUsername && p.Picture == q.Picture &&
		p.Gender == q.Gender && p.EmailVerified == q.EmailVerified && p.PhoneNumberVerified == q.PhoneNumberVerified &&
		sameSlice(p.Groups, q.Groups) && sameMap(p.Metadata, q.Metadata) && sameMap(p.CustomAttributes, q.CustomAttributes)
}

// sameSlice reports whether a and b are the same slice: the same array and length.
func sameSlice[T any](a, b []T) bool {
	return len(a) == len(b) && unsafe.SliceData(a) == unsafe.SliceData(b) && (a == nil) == (b == nil)
}

// sameMap reports whether a and b are the same map.
func sameMap(a, b map[string]string) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// SetUser keeps the stored form of u.
func (m *EventMemo) SetUser(u User, stored []byte) {
	if m != nil {
		m.user, m.stored = u, stored
	}
}

// EventSpecVersion is the envelope's spec_version (Scalekit's).
const EventSpecVersion = "1"

// AppendEnvelope appends the event as webhooks deliver it to out, its data given in codec's
// stored form (EventDataCodec.AppendData): stores keep that form, and render the envelope
// when the event is read (docs/events.md, "Storage").
//
// The fields are Scalekit's ScalekitEvent's, plus Roster's own actor and changed_fields, then
// data; they are appended in order rather than marshalled from a struct, which cost as much
// as the rest of the envelope, with json.Marshal's escaping (TestEventEnvelope).
func (e *Event) AppendEnvelope(out []byte, codec EventDataCodec, data []byte) ([]byte, error) {
	out = append(out, `{"spec_version":`...)
	out = appendJSONString(out, EventSpecVersion)
	out = append(out, `,"id":`...)
	out = appendJSONString(out, e.ID)
	out = append(out, `,"type":`...)
	out = appendJSONString(out, e.Type)
	out = append(out, `,"object":`...)
	out = appendJSONString(out, EventObject(e.Type))
	out = append(out, `,"occurred_at":"`...)
	out = e.OccurredAt.UTC().AppendFormat(out, time.RFC3339Nano)
	out = append(out, `","environment_id":`...)
	out = appendJSONString(out, e.EnvironmentID)
	if e.OrganizationID != "" {
		out = append(out, `,"organization_id":`...)
		out = appendJSONString(out, e.OrganizationID)
	}
	out = append(out, `,"display_name":`...)
	out = appendJSONString(out, EventTitle(e.Type))
	out = append(out, `,"actor":{"type":`...)
	out = appendJSONString(out, e.Actor.Type)
	out = append(out, `,"id":`...)
	out = appendJSONString(out, e.Actor.ID)
	out = append(out, `},"changed_fields":[`...)
	for i, f := range e.ChangedFields {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendJSONString(out, f)
	}
	out = append(out, `],"data":`...)
	head := len(out)
	if len(data) > 0 {
		var err error
		if out, err = codec.RenderData(out, data); err != nil {
			return nil, fmt.Errorf("event %s: %w", e.ID, err)
		}
	}
	if len(out) == head {
		out = append(out, "null"...)
	}
	return append(out, '}'), nil
}

// Envelope renders the event as webhooks deliver it, its Data through codec (memo: see
// EventDataCodec): its stored form, then the envelope of that.
func (e *Event) Envelope(codec EventDataCodec, memo *EventMemo) ([]byte, error) {
	data, err := codec.AppendData(nil, e.Data, memo)
	if err != nil {
		return nil, err
	}
	return e.AppendEnvelope(nil, codec, data)
}

// appendJSONString appends s as json.Marshal writes a string: as it is when it has only
// printable ASCII that JSON and HTML leave alone (IDs, types, field names), else through
// json.Marshal.
func appendJSONString(out []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always marshals
			return append(out, b...)
		}
	}
	out = append(out, '"')
	out = append(out, s...)
	return append(out, '"')
}

// MembershipEventData is the data of a membership event: the organization and the user,
// who shows their memberships (Scalekit's {organization, user}).
type MembershipEventData struct {
	Organization Organization
	User         User
}

// DirectoryGroupMembersData is the data of EventDirectoryGroupMembers: the group and the
// member IDs (directory users or groups) the write added and removed.
type DirectoryGroupMembersData struct {
	Group          DirectoryGroup
	Added, Removed []string
}

// LoginEventData is the data of EventLogin: the user signed in and the connection used.
type LoginEventData struct {
	User       User
	Connection Connection
}

// Sign-in failure reasons (LoginFailedData.Reason), stable for receivers.
const (
	LoginFailedBrowserBinding     = "browser_binding"
	LoginFailedExpired            = "expired"
	LoginFailedIdPError           = "idp_error"
	LoginFailedConnectionDisabled = "connection_disabled"
	LoginFailedWrongConnection    = "wrong_connection"
	LoginFailedInvalidResponse    = "invalid_response"
	LoginFailedNoSubject          = "no_subject"
	LoginFailedReplay             = "replay"
	LoginFailedNoEmail            = "no_email"
	LoginFailedLinkRefused        = "link_refused"
	LoginFailedNotMember          = "not_member"
	LoginFailedMemberSuspended    = "member_suspended"
	LoginFailedInvalidProfile     = "invalid_profile"
	LoginFailedServerError        = "server_error"
)

// LoginFailedData is the data of EventLoginFailed.
type LoginFailedData struct {
	ConnectionID   string `json:"connection_id"`
	OrganizationID string `json:"organization_id"`
	Email          string `json:"email,omitempty"`
	Reason         string `json:"reason"`
	Message        string `json:"message"`
}

// EventTypeMatches reports whether an event type is selected by a list of types, each a
// type or a prefix ending in "*" ("organization.directory.*"); an empty list selects all.
func EventTypeMatches(selected []string, t string) bool {
	if len(selected) == 0 {
		return true
	}
	for _, s := range selected {
		if s == t || (strings.HasSuffix(s, "*") && strings.HasPrefix(t, strings.TrimSuffix(s, "*"))) {
			return true
		}
	}
	return false
}

// UserChanges names the fields (REST paths, sorted) whose values differ between two
// versions of a user: "email", "external_id", "metadata", "user_profile.<field>" and
// "user_profile.custom_attributes.<key>". Memberships are not compared: their changes are
// membership events.
func UserChanges(before, after *User) []string {
	var out []string
	for _, f := range ChangedFields(before, after) {
		if f == FieldEmail {
			out = append(out, "email")
		} else {
			out = append(out, "user_profile."+f)
		}
	}
	if !equalPtr(before.ExternalID, after.ExternalID) {
		out = append(out, "external_id")
	}
	if !maps.Equal(before.Metadata, after.Metadata) {
		out = append(out, "metadata")
	}
	slices.Sort(out)
	return out
}

// SameRoles reports whether two role lists hold the same roles (by ID), in any order.
func SameRoles(a, b []RoleRef) bool {
	ids := func(rs []RoleRef) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = r.ID
		}
		return out
	}
	return sameSet(ids(a), ids(b))
}

// MembershipChanges names the fields (sorted) whose values differ between two versions of a
// membership: "metadata", "roles" (compared as sets: the same roles in another order are no
// change), "status".
func MembershipChanges(before, after *Membership) []string {
	var out []string
	if !maps.Equal(before.Metadata, after.Metadata) {
		out = append(out, "metadata")
	}
	if !SameRoles(before.Roles, after.Roles) {
		out = append(out, "roles")
	}
	if before.Status != after.Status {
		out = append(out, "status")
	}
	return out
}
