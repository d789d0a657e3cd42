package operators

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// AuditPageSize is how many entries a page of the audit log holds.
const AuditPageSize = 50

// auditFieldMax bounds each text field of an entry (a typed email, a target), so that a
// request cannot write a large row.
const auditFieldMax = 320

func clip(s string) string {
	if len(s) <= auditFieldMax {
		return s
	}
	s = s[:auditFieldMax]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Record appends an operator action to the audit log. The caller passes no secret: the
// action names what was done and the target what it was done to.
func (s *Service) Record(ctx context.Context, e roster.OperatorAuditEntry) error {
	e.ID, e.CreateTime = s.ids.New(roster.PrefixOperatorAudit), s.now()
	e.Email, e.Action, e.Target, e.RemoteAddr = clip(e.Email), clip(e.Action), clip(e.Target), clip(e.RemoteAddr)
	return s.store.AppendOperatorAudit(ctx, e)
}

// AuditPage is a page of the audit log, newest first; Next is the token of the next (older)
// page, "" at the end.
type AuditPage struct {
	Entries []roster.OperatorAuditEntry
	Next    string
}

// ListAudit returns a page of the audit log, newest first, from a page token ("" for the
// newest page).
func (s *Service) ListAudit(ctx context.Context, pageToken string) (AuditPage, error) {
	var cur store.AuditCursor
	if pageToken != "" {
		var ok bool
		if cur, ok = decodeAuditToken(pageToken); !ok {
			return AuditPage{}, &roster.Error{Code: roster.EInvalid, Message: "invalid request: page_token: is not a page token of the audit log",
				Violations: []roster.FieldViolation{{Field: "page_token", Constraint: "valid", Description: "is not a page token of the audit log"}}}
		}
	}
	list, err := s.store.ListOperatorAudit(ctx, cur, AuditPageSize+1)
	if err != nil {
		return AuditPage{}, err
	}
	var p AuditPage
	if len(list) > AuditPageSize {
		list = list[:AuditPageSize]
		last := list[len(list)-1]
		p.Next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(last.CreateTime.UnixMicro(), 10) + " " + last.ID))
	}
	p.Entries = list
	return p, nil
}

func decodeAuditToken(t string) (store.AuditCursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil {
		return store.AuditCursor{}, false
	}
	at, id, ok := strings.Cut(string(b), " ")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || !strings.HasPrefix(id, roster.PrefixOperatorAudit) {
		return store.AuditCursor{}, false
	}
	return store.AuditCursor{Time: time.UnixMicro(n).UTC(), ID: id}, true
}
