// Package smtpmail delivers Roster's emails (invitations) through an SMTP server, configured by
// one URL: smtp://user:password@host:port?from=roster@example.com&tls=starttls.
package smtpmail

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/rosterhq/roster/directory"
	gomail "github.com/wneessen/go-mail"
)

// Mailer sends invitations through one SMTP server.
type Mailer struct {
	client *gomail.Client
	from   string
	appURL string
}

// New parses an SMTP URL. tls is "starttls" (default: required when the server offers it),
// "tls" (implicit TLS, port 465) or "none" (plain, for a relay on localhost).
func New(rawURL, appURL string) (*Mailer, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
		return nil, fmt.Errorf("--smtp-url must look like smtp://user:password@host:587?from=roster@example.com")
	}
	q := u.Query()
	from := q.Get("from")
	if from == "" {
		return nil, fmt.Errorf("--smtp-url needs a from= address")
	}
	opts := []gomail.Option{gomail.WithTimeout(10 * time.Second)}
	port := 587
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("--smtp-url: bad port %q", p)
		}
	}
	opts = append(opts, gomail.WithPort(port))
	switch mode := q.Get("tls"); {
	case u.Scheme == "smtps" || mode == "tls":
		opts = append(opts, gomail.WithSSL())
	case mode == "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case mode == "" || mode == "starttls":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		return nil, fmt.Errorf("--smtp-url: tls must be starttls, tls or none")
	}
	if user := u.User.Username(); user != "" {
		pass, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(user), gomail.WithPassword(pass))
	}
	c, err := gomail.NewClient(u.Hostname(), opts...)
	if err != nil {
		return nil, err
	}
	return &Mailer{client: c, from: from, appURL: appURL}, nil
}

// SendInvitation emails an invitation.
func (m *Mailer) SendInvitation(ctx context.Context, inv directory.Invitation) error {
	msg := gomail.NewMsg()
	if err := msg.From(m.from); err != nil {
		return err
	}
	if err := msg.To(inv.Email); err != nil {
		return err
	}
	org := inv.OrganizationName
	if org == "" {
		org = "an organization"
	}
	subject := "You are invited to join " + org
	if inv.Resent {
		subject = "Reminder: you are invited to join " + org
	}
	msg.Subject(subject)
	by := ""
	if inv.InviterEmail != "" {
		by = " by " + inv.InviterEmail
	}
	msg.SetBodyString(gomail.TypeTextPlain, fmt.Sprintf(
		"You have been invited%s to join %s.\n\nSign in at %s to accept. The invitation expires on %s.\n",
		by, org, m.appURL, inv.ExpireTime.UTC().Format("2 January 2006 at 15:04 MST")))
	return m.client.DialAndSendWithContext(ctx, msg)
}
