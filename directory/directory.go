// Package directory is Roster's application layer: every entry point (gRPC, REST, the
// command line, later SCIM, SSO and the dashboard) changes the directory through it, so each
// rule is applied the same way everywhere. It validates with the domain's rules, makes IDs
// and page tokens, and calls the store.
package directory

import (
	"log/slog"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/outbound"
	"github.com/rosterhq/roster/secretbox"
	"github.com/rosterhq/roster/store"
)

// Service is the directory of one deployment.
type Service struct {
	store  store.Store
	ids    *roster.IDGenerator
	now    func() time.Time
	mailer Mailer
	log    *slog.Logger
	box    *secretbox.Box // seals connection client secrets and signing keys
	// outbound fetches SAML metadata URLs (samlmetadata.go); New's default refuses private
	// networks.
	outbound *outbound.Guard

	reapplyBatch int // directory users per transaction of ReapplyDirectoryMapping

	syncs    syncTimes    // when this process last recorded each directory's last SCIM write (scim.go)
	requests scimRequests // writes the directories' latest SCIM requests in batches (scimrequests.go)
}

// Option configures a Service.
type Option func(*Service)

// WithMailer sends invitations through m.
func WithMailer(m Mailer) Option { return func(s *Service) { s.mailer = m } }

// WithLogger logs through l.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// New returns a Service over s.
func New(s store.Store, opts ...Option) *Service {
	svc := &Service{store: s, ids: roster.NewIDGenerator(), now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
		log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(svc)
	}
	if svc.outbound == nil {
		svc.outbound = outbound.New(outbound.Options{Log: svc.log})
	}
	return svc
}

// Store returns the underlying store.
func (s *Service) Store() store.Store { return s.store }
