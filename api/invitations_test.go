package api_test

import (
	"strings"
	"testing"

	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/internal/smtptest"
	"github.com/rosterhq/roster/smtpmail"
)

// Invitations go out through a real SMTP server; ResendInvite renews and resends them.
func TestInvitationEmails(t *testing.T) {
	inbox := smtptest.StartInbox(t)
	m, err := smtpmail.New("smtp://"+inbox.Addr+"?from=roster@example.com&tls=none", "http://roster.test")
	if err != nil {
		t.Fatal(err)
	}
	r := rostertest.Start(t, "sqlite", rostertest.WithDirectory(directory.WithMailer(m)))
	token := r.Token(t)
	orgID := newOrgREST(t, r, token, "Acme Corp")
	res := r.REST(t, token, "POST", "/api/v1/organizations/"+orgID+"/users", `{"email": "invitee@example.com", "membership": {"inviter_email": "boss@acme.com"}}`)
	wantStatus(t, res, 200)
	uid := user(res)["id"].(string)
	m0 := obj(user(res)["memberships"].([]any)[0])
	if m0["membership_status"] != "PENDING_INVITE" || m0["inviter_email"] != "boss@acme.com" {
		t.Fatalf("membership: %s", res.Raw)
	}
	// No invitation for a member added directly.
	wantStatus(t, r.REST(t, token, "POST", "/api/v1/organizations/"+orgID+"/users?send_invitation_email=false", `{"email": "direct@example.com"}`), 200)
	msgs := inbox.Messages()
	if len(msgs) != 1 || msgs[0].To != "invitee@example.com" || !strings.Contains(msgs[0].Data, "Subject: You are invited to join Acme Corp") {
		t.Fatalf("emails: %+v", msgs)
	}
	res = r.REST(t, token, "PATCH", "/api/v1/invites/organizations/"+orgID+"/users/"+uid+"/resend", `{}`)
	wantStatus(t, res, 200)
	inv := obj(res.Body, "invite")
	if inv["resent_count"] != float64(1) || inv["status"] != "PENDING_INVITE" || inv["expires_at"] == nil {
		t.Fatalf("resend: %s", res.Raw)
	}
	if msgs := inbox.Messages(); len(msgs) != 2 || !strings.Contains(msgs[1].Data, "Subject: Reminder: you are invited") {
		t.Fatalf("resent email: %+v", msgs)
	}
	// An active membership has no invitation to resend.
	res = r.REST(t, token, "GET", "/api/v1/users:search?query=direct@", "")
	direct := obj(res.Body["users"].([]any)[0])["id"].(string)
	wantStatus(t, r.REST(t, token, "PATCH", "/api/v1/invites/organizations/"+orgID+"/users/"+direct+"/resend", `{}`), 400)
}
