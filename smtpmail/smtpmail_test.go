package smtpmail_test

import (
	"context"
	"io"
	"mime/quotedprintable"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/internal/smtptest"
	"github.com/rosterhq/roster/smtpmail"
)

func TestSendInvitation(t *testing.T) {
	in := smtptest.StartInbox(t)
	m, err := smtpmail.New("smtp://"+in.Addr+"?from=roster@example.com&tls=none", "http://roster.test")
	if err != nil {
		t.Fatal(err)
	}
	err = m.SendInvitation(context.Background(), directory.Invitation{
		Email: "new.hire@acme.com", OrganizationName: "Acme Corp", InviterEmail: "boss@acme.com",
		ExpireTime: time.Date(2030, 1, 2, 15, 4, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	msgs := in.Messages()
	body := ""
	if len(msgs) == 1 {
		_, raw, _ := strings.Cut(msgs[0].Data, "\r\n\r\n")
		b, _ := io.ReadAll(quotedprintable.NewReader(strings.NewReader(raw)))
		body = string(b)
	}
	if len(msgs) != 1 || msgs[0].To != "new.hire@acme.com" || msgs[0].From != "roster@example.com" ||
		!strings.Contains(msgs[0].Data, "Subject: You are invited to join Acme Corp") || !strings.Contains(body, "invited by boss@acme.com to join Acme Corp") ||
		!strings.Contains(body, "expires on 2 January 2030 at 15:04 UTC") {
		t.Fatalf("received %+v", msgs)
	}
}

func TestURLChecks(t *testing.T) {
	for _, bad := range []string{"", "http://x", "smtp://host:587", "smtp://host:x?from=a@b.c", "smtp://host?from=a@b.c&tls=maybe"} {
		if _, err := smtpmail.New(bad, ""); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
