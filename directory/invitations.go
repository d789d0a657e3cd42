package directory

import (
	"context"
	"time"
)

// Invitation is an email that invites a user to an organization.
type Invitation struct {
	Email            string
	UserID           string
	OrganizationID   string
	OrganizationName string
	InviterEmail     string
	ExpireTime       time.Time
	Resent           bool
}

// Mailer delivers invitation emails (package mail adapts SMTP; without SMTP a mailer that only
// logs is used).
type Mailer interface {
	SendInvitation(ctx context.Context, inv Invitation) error
}
