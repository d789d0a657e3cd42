package directory

import (
	"context"

	"github.com/rosterhq/roster"
)

// RecordLoginFailed records a failed sign-in (user.login_failed, docs/events.md) of a login
// request: its connection, the connection's organization (orgID, or read when ""), the email
// when known, a stable reason (roster.LoginFailed*) and the message the application's
// redirect gets. An operator's dashboard test sign-in records nothing. The event is not part
// of any write: it has a transaction of its own, which the request's end does not cancel.
func (s *Service) RecordLoginFailed(ctx context.Context, lr roster.LoginRequest, orgID, email, reason, message string) error {
	if lr.Flavor == roster.FlavorDashboardTest {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	if orgID == "" && lr.ConnectionID != "" {
		if c, err := s.store.GetConnection(ctx, lr.EnvironmentID, lr.ConnectionID); err == nil {
			orgID = c.OrganizationID
		}
	}
	return s.store.RecordEvents(ctx, roster.Event{Type: roster.EventLoginFailed, OccurredAt: s.now().UTC(),
		EnvironmentID: lr.EnvironmentID, OrganizationID: orgID,
		Actor: roster.Actor{Type: roster.ActorSSOConnection, ID: lr.ConnectionID},
		Data:  roster.LoginFailedData{ConnectionID: lr.ConnectionID, OrganizationID: orgID, Email: email, Reason: reason, Message: message}})
}

// SignInFailure is the reason (roster.LoginFailed*) of an error of SignIn: the one the
// error carries, else the one its code implies.
func SignInFailure(err error) string {
	if r := roster.ErrorReason(err); r != "" {
		return r
	}
	switch roster.ErrorCode(err) {
	case roster.EInvalid:
		return roster.LoginFailedInvalidProfile
	case roster.EPermissionDenied:
		return roster.LoginFailedLinkRefused
	}
	return roster.LoginFailedServerError
}
