package sqlstore

import (
	"context"
	"time"

	"github.com/rosterhq/roster"
)

// Event builders of SSO connections, SCIM directories and their users and groups
// (docs/events.md, section 2).

// sealedMarker stands for a stored client secret in an event's data: the data says that a
// secret is set (the connection's status depends on it) without its sealed value.
const sealedMarker = "(sealed)"

// connectionEvent is a connection's event. The client secret, sealed or not, never goes
// into an event's data.
func connectionEvent(typ string, c roster.Connection, at time.Time, changed []string) roster.Event {
	return roster.Event{Type: typ, OccurredAt: at, EnvironmentID: c.EnvironmentID, OrganizationID: c.OrganizationID,
		ChangedFields: changed, Data: eventConnection(c)}
}

// eventConnection is a connection as events show it: without its client secret, sealed or
// not (sealedMarker says that one is set).
func eventConnection(c roster.Connection) roster.Connection {
	if c.OIDC.HasSecret() {
		c.OIDC.SecretSealed = sealedMarker
	}
	c.OIDC.ClientSecret = ""
	return c
}

// toggledType is updated's type, or enabled's / disabled's when a write flips enabled.
func toggledType(before, after bool, updated, enabled, disabled string) string {
	switch {
	case !before && after:
		return enabled
	case before && !after:
		return disabled
	}
	return updated
}

// directoryEvent is a directory's event.
func directoryEvent(typ string, d roster.Directory, at time.Time, changed []string) roster.Event {
	return roster.Event{Type: typ, OccurredAt: at, EnvironmentID: d.EnvironmentID, OrganizationID: d.OrganizationID,
		ChangedFields: changed, Data: d}
}

// directorySecretEvent is the event of a directory's new secret: the secret as GetDirectory
// shows it (ID, suffix, times), never its hash.
func directorySecretEvent(typ, environmentID, organizationID string, sec roster.DirectorySecret) roster.Event {
	sec.Hash = ""
	return roster.Event{Type: typ, OccurredAt: sec.CreateTime, EnvironmentID: environmentID, OrganizationID: organizationID,
		Data: sec}
}

// scimActor is the actor of a SCIM write: the directory.
func scimActor(directoryID string) roster.Actor {
	return roster.Actor{Type: roster.ActorSCIMDirectory, ID: directoryID}
}

// directoryUserEvent is a directory user's event, caused by the directory.
func directoryUserEvent(typ, orgID string, u roster.DirectoryUser, at time.Time, changed []string) roster.Event {
	return roster.Event{Type: typ, OccurredAt: at, EnvironmentID: u.EnvironmentID, OrganizationID: orgID,
		Actor: scimActor(u.DirectoryID), ChangedFields: changed, Data: u}
}

// directoryGroupEvent is a directory group's event, caused by the directory.
func directoryGroupEvent(typ, orgID string, g roster.DirectoryGroup, at time.Time, changed []string, data any) roster.Event {
	if data == nil {
		data = g
	}
	return roster.Event{Type: typ, OccurredAt: at, EnvironmentID: g.EnvironmentID, OrganizationID: orgID,
		Actor: scimActor(g.DirectoryID), ChangedFields: changed, Data: data}
}

// roleEvents are the membership_updated events of the users whose roles a directory write
// recomputed (recomputeRoles' list): each user is read as the write left it. actor is the
// write's (a zero one: the actor of ctx).
func (s *Store) roleEvents(ctx context.Context, tx txConn, environmentID, orgID string, userIDs []string, at time.Time, actor roster.Actor) ([]roster.Event, error) {
	var out []roster.Event
	for _, uid := range userIDs {
		u, err := s.fullUser(ctx, tx, environmentID, roster.UserRef{ID: uid}, "")
		if err != nil {
			return nil, err
		}
		i := membershipIndex(u, orgID)
		if i < 0 {
			continue
		}
		org := eventOrg(environmentID, orgID, u.Memberships[i].OrganizationName)
		e := membershipEvent(roster.EventMembershipUpdated, org, u, at, []string{"roles"})
		e.Actor = actor
		out = append(out, e)
	}
	return out, nil
}

// withActor sets the actor of events that have none.
func withActor(events []roster.Event, actor roster.Actor) []roster.Event {
	for i := range events {
		if events[i].Actor == (roster.Actor{}) {
			events[i].Actor = actor
		}
	}
	return events
}

// RecordEvents writes events that are not part of a write, such as a failed sign-in's, in a
// transaction of their own.
func (s *Store) RecordEvents(ctx context.Context, events ...roster.Event) error {
	return s.inOtherTx(ctx, func(tx txConn) error { return s.recordEvents(ctx, tx, events...) })
}

// loginEvents are the events of a sign-in (SignIn): the user's creation or update and its
// membership's, as far as the sign-in changed them, then user.login; all caused by the
// connection. The connection's client secret never goes into an event.
func loginEvents(conn roster.Connection, orgName string, isNew bool, before, after roster.User, at time.Time) []roster.Event {
	orgID := conn.OrganizationID
	var events []roster.Event
	if isNew {
		events = append(events, userEvent(roster.EventUserCreated, after, orgID, at, nil))
	} else if changed := roster.UserChanges(&before, &after); len(changed) > 0 {
		events = append(events, userEvent(roster.EventUserUpdated, after, orgID, at, changed))
	}
	org := eventOrg(conn.EnvironmentID, orgID, orgName)
	if i := membershipIndex(after, orgID); i >= 0 {
		if j := membershipIndex(before, orgID); j < 0 || isNew {
			events = append(events, membershipEvent(roster.EventMembershipCreated, org, after, at, nil))
		} else if changed := roster.MembershipChanges(&before.Memberships[j], &after.Memberships[i]); len(changed) > 0 {
			events = append(events, membershipEvent(roster.EventMembershipUpdated, org, after, at, changed))
		}
	}
	events = append(events, roster.Event{Type: roster.EventLogin, OccurredAt: at, EnvironmentID: conn.EnvironmentID, OrganizationID: orgID,
		Data: roster.LoginEventData{User: after, Connection: eventConnection(conn)}})
	return withActor(events, roster.Actor{Type: roster.ActorSSOConnection, ID: conn.ID})
}
