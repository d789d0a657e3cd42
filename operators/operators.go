// Package operators is the application layer of the dashboard's operator accounts
// (docs/operators.md): creating, resetting and removing operators, their one-time set-up
// links, signing in with throttling, and server-side sessions with idle and absolute
// timeouts. The command line (roster admins) and the dashboard go through it; it knows no
// transport. Its errors are *roster.Error values, mapped to statuses in one place by each
// transport.
package operators

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/netaddr"
	"github.com/rosterhq/roster/internal/password"
	"github.com/rosterhq/roster/store"
)

// SetUpPath is the dashboard page of a set-up link; the link carries its token as ?token=.
const SetUpPath = "/dashboard/setup"

// SetUpURL is the set-up link of token at a Roster whose public URL is publicURL.
func SetUpURL(publicURL, token string) string {
	return strings.TrimSuffix(publicURL, "/") + SetUpPath + "?token=" + url.QueryEscape(token)
}

// The refusals of sign-in and of sessions. An unknown email and a wrong password are the same
// error, after the same work (an argon2id check), so that a caller cannot tell which emails
// have accounts from the answer or its timing.
var (
	ErrBadCredentials = &roster.Error{Code: roster.EUnauthenticated, Message: "wrong email or password"}
	ErrLocked         = &roster.Error{Code: roster.EUnauthenticated,
		Message: "too many failed sign-ins: the account is locked for a while; try again later, or ask another operator to reset it"}
	ErrThrottled = &roster.Error{Code: roster.EUnavailable, Message: "too many failed sign-ins from this address; try again later"}
	ErrBusy      = &roster.Error{Code: roster.EUnavailable, Message: "too many sign-ins at once; try again in a moment"}
	// ErrNoSession refuses a session token that is unknown, revoked, expired, or whose
	// operator was removed.
	ErrNoSession = &roster.Error{Code: roster.EUnauthenticated, Message: "the session has ended; sign in again"}
)

// Service manages operators over a store.
type Service struct {
	store store.OperatorStore
	set   Settings
	ids   *roster.IDGenerator
	now   func() time.Time
	log   *slog.Logger
	addrs *addrLimiter
	slots chan struct{}

	dummyOnce sync.Once
	dummy     string // a hash that no password matches, checked for unknown emails
}

// Option configures a Service.
type Option func(*Service)

// WithLogger logs lockouts and throttled addresses through l (never a password or token).
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.log = l } }

// New returns a Service; zero fields of set take their defaults.
func New(st store.OperatorStore, set Settings, opts ...Option) *Service {
	set = set.withDefaults()
	s := &Service{store: st, set: set, ids: roster.NewIDGenerator(), log: slog.New(slog.DiscardHandler),
		now:   func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
		addrs: newAddrLimiter(set.AddressFailures, set.AddressInterval, set.AddressMaxKeys), slots: make(chan struct{}, set.Hashes)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Settings returns the settings in force (defaults filled in).
func (s *Service) Settings() Settings { return s.set }

// newToken returns a random token (32 bytes from crypto/rand, URL-safe) and the SHA-256 hash
// under which it is stored.
func newToken() (token, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token)
}

func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Created is an operator just created or reset, and its set-up link's token when one was
// made (shown once: only its hash is stored).
type Created struct {
	Operator    roster.Operator
	SetUpToken  string
	SetUpExpire time.Time
}

func (s *Service) hash(pw string) (string, error) {
	if err := roster.CheckOperatorPassword(pw); err != nil {
		return "", err
	}
	return password.Hash(pw, s.set.Password)
}

// Create makes an operator. With a password, the operator can sign in at once; without ("")
// it gets a one-time set-up link (Created.SetUpToken, valid for LinkTTL) to choose one.
func (s *Service) Create(ctx context.Context, n roster.NewOperator, pw string) (Created, error) {
	if err := n.Check(); err != nil {
		return Created{}, err
	}
	now := s.now()
	op := n.Build(s.ids.New(roster.PrefixOperator), now)
	var out Created
	var tok *roster.OperatorToken
	if pw != "" {
		h, err := s.hash(pw)
		if err != nil {
			return Created{}, err
		}
		op.PasswordHash, op.PasswordTime = h, &now
	} else {
		token, hash := newToken()
		tok = &roster.OperatorToken{Hash: hash, CreateTime: now, ExpireTime: now.Add(s.set.LinkTTL)}
		out.SetUpToken, out.SetUpExpire = token, tok.ExpireTime
	}
	if err := s.store.CreateOperator(ctx, op, tok); err != nil {
		return Created{}, err
	}
	out.Operator = op
	return out, nil
}

// List returns the operators (not removed), oldest first.
func (s *Service) List(ctx context.Context) ([]roster.Operator, error) {
	return s.store.ListOperators(ctx)
}

// Get returns an operator (not removed) by email.
func (s *Service) Get(ctx context.Context, email string) (roster.Operator, error) {
	op, err := s.store.FindOperator(ctx, roster.EmailKey(email))
	if roster.ErrorCode(err) == roster.ENotFound {
		return op, &roster.Error{Code: roster.ENotFound, Message: fmt.Sprintf("no operator has the email %q", strings.TrimSpace(email)),
			Violations: []roster.FieldViolation{{Field: "email", Constraint: "exists", Description: "is not an operator's email"}}}
	}
	return op, err
}

// Reset ends every session of the operator of email and clears its lockout. With a password
// it sets that password; without ("") it clears the password and makes a new set-up link
// (the older links stop working), so that only the link's holder can sign in next.
func (s *Service) Reset(ctx context.Context, email, pw string) (Created, error) {
	op, err := s.Get(ctx, email)
	if err != nil {
		return Created{}, err
	}
	now := s.now()
	var hash string
	var out Created
	w := store.OperatorWrite{Now: now, RevokeSessions: true}
	if pw != "" {
		if hash, err = s.hash(pw); err != nil {
			return Created{}, err
		}
	} else {
		token, th := newToken()
		w.Token = &roster.OperatorToken{Hash: th, CreateTime: now, ExpireTime: now.Add(s.set.LinkTTL)}
		out.SetUpToken, out.SetUpExpire = token, w.Token.ExpireTime
	}
	out.Operator, err = s.store.UpdateOperator(ctx, op.ID, func(o *roster.Operator) error {
		o.PasswordHash, o.UpdateTime = hash, now
		o.PasswordTime = nil
		if hash != "" {
			o.PasswordTime = &now
		}
		return nil
	}, w)
	if err != nil {
		return Created{}, err
	}
	return out, s.store.ClearSignInFailures(ctx, op.EmailKey())
}

// Remove removes the operator of email: it can no longer sign in, and its sessions and links
// end at once.
func (s *Service) Remove(ctx context.Context, email string) (roster.Operator, error) {
	op, err := s.Get(ctx, email)
	if err != nil {
		return op, err
	}
	now := s.now()
	return s.store.UpdateOperator(ctx, op.ID, func(o *roster.Operator) error { o.UpdateTime = now; return nil },
		store.OperatorWrite{Now: now, Remove: true})
}

// FirstRunLink makes the first-operator link when no operator exists (ok false otherwise).
// Each call makes a new link and voids the earlier ones: serve calls it at each start until
// the first operator has chosen a password.
func (s *Service) FirstRunLink(ctx context.Context) (token string, expire time.Time, ok bool, err error) {
	ops, err := s.store.ListOperators(ctx)
	if err != nil || len(ops) > 0 {
		return "", time.Time{}, false, err
	}
	now := s.now()
	token, hash := newToken()
	t := roster.OperatorToken{Hash: hash, CreateTime: now, ExpireTime: now.Add(s.set.LinkTTL)}
	if err := s.store.CreateFirstOperatorToken(ctx, t); err != nil {
		return "", time.Time{}, false, err
	}
	return token, t.ExpireTime, true, nil
}

// Link is what a set-up link's page shows before the operator chooses a password.
type Link struct {
	// First is the first-operator link: the page asks for the email (and display name) too.
	First      bool
	Operator   roster.Operator // the operator the link sets up, unless First
	ExpireTime time.Time
}

// errLink is the one answer for a link that cannot be used, whatever the reason.
var errLink = &roster.Error{Code: roster.ENotFound, Message: "the set-up link is not valid: it was used, has expired or was replaced; ask for a new one"}

// LookUpLink returns what a set-up link is for, if it can still be used.
func (s *Service) LookUpLink(ctx context.Context, token string) (Link, error) {
	if token == "" {
		return Link{}, errLink
	}
	t, err := s.store.GetOperatorToken(ctx, hashToken(token))
	if roster.ErrorCode(err) == roster.ENotFound || (err == nil && !t.Usable(s.now())) {
		return Link{}, errLink
	} else if err != nil {
		return Link{}, err
	}
	l := Link{First: t.OperatorID == "", ExpireTime: t.ExpireTime}
	if !l.First {
		l.Operator, err = s.store.GetOperator(ctx, t.OperatorID)
		if roster.ErrorCode(err) == roster.ENotFound || (err == nil && l.Operator.Removed()) {
			return Link{}, errLink
		} else if err != nil {
			return Link{}, err
		}
	}
	return l, nil
}

// SetUp is what the holder of a set-up link sends: the chosen password and, for the
// first-operator link only, the operator's email and display name.
type SetUp struct {
	Password    string
	Email       string
	DisplayName string
}

// SetUpWithToken redeems a set-up link: the operator gets the password (and, for the
// first-operator link, is created), and the link is used up. The password policy and the
// email are checked before the link is spent. Of two concurrent redemptions one wins; the
// other gets the link's NOT_FOUND.
func (s *Service) SetUpWithToken(ctx context.Context, token string, in SetUp) (roster.Operator, error) {
	link, err := s.LookUpLink(ctx, token)
	if err != nil {
		return roster.Operator{}, err
	}
	// Every field's violations at once, as the API reports them.
	var v roster.Violations
	add := func(err error) {
		var e *roster.Error
		if errors.As(err, &e) {
			v = append(v, e.Violations...)
		}
	}
	if link.First {
		add(roster.NewOperator{Email: in.Email, DisplayName: in.DisplayName}.Check())
	}
	add(roster.CheckOperatorPassword(in.Password))
	if err := v.Err(); err != nil {
		return roster.Operator{}, err
	}
	// Hash before the transaction: argon2id takes tens of milliseconds.
	h, err := password.Hash(in.Password, s.set.Password)
	if err != nil {
		return roster.Operator{}, err
	}
	newID := s.ids.New(roster.PrefixOperator)
	now := s.now()
	op, err := s.store.RedeemOperatorToken(ctx, hashToken(token), now, func(t roster.OperatorToken, op *roster.Operator) error {
		if t.OperatorID == "" {
			n := roster.NewOperator{Email: in.Email, DisplayName: in.DisplayName}
			if err := n.Check(); err != nil {
				return err
			}
			*op = n.Build(newID, now)
		}
		op.PasswordHash, op.PasswordTime, op.UpdateTime = h, &now, now
		return nil
	})
	if roster.ErrorCode(err) == roster.ENotFound {
		return op, errLink
	} else if err != nil {
		return op, err
	}
	return op, s.store.ClearSignInFailures(ctx, op.EmailKey())
}

// Session is a new session: its token goes to the operator (a cookie) and is never stored.
type Session struct {
	Token    string
	Session  roster.OperatorSession
	Operator roster.Operator
}

// acquire waits for an argon2id slot, at most HashWait.
func (s *Service) acquire(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(s.set.HashWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-t.C:
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

// verify checks pw against hash ("" checks against a hash nothing matches, at the same cost),
// one of at most Hashes checks at a time.
func (s *Service) verify(ctx context.Context, hash, pw string) (bool, error) {
	if err := s.acquire(ctx); err != nil {
		return false, err
	}
	defer func() { <-s.slots }()
	if hash == "" {
		s.dummyOnce.Do(func() {
			token, _ := newToken()
			s.dummy, _ = password.Hash(token, s.set.Password)
		})
		_, _ = password.Verify(s.dummy, pw)
		return false, nil
	}
	ok, err := password.Verify(hash, pw)
	if errors.Is(err, password.ErrMalformed) {
		return false, nil // a damaged row refuses the sign-in; it is not an internal error
	}
	return ok, err
}

// SignIn checks an operator's email and password and starts a session. It is refused with
// ErrThrottled when remoteAddr has failed too often, ErrLocked while the email is locked,
// and ErrBadCredentials for an unknown email, an operator without a password yet, or a wrong
// password. MaxFailures wrong passwords in a row lock the email for Lockout. An unknown email
// goes through the same steps as a known one (the throttle read, an argon2id check against a
// dummy hash, the failure's write, the lockout), so neither the answer, nor its timing, nor a
// lockout tells which emails have accounts.
func (s *Service) SignIn(ctx context.Context, email, pw, remoteAddr string) (Session, error) {
	addr := netaddr.ThrottleKey(remoteAddr)
	if !s.addrs.allowed(addr, time.Now()) {
		s.log.Warn("operator sign-in throttled", "addr", addr)
		return Session{}, ErrThrottled
	}
	key := roster.EmailKey(email)
	fails, err := s.store.SignInFailures(ctx, key)
	if err != nil {
		return Session{}, err
	}
	if fails.Locked(s.now()) {
		s.addrs.failed(addr, time.Now())
		return Session{}, ErrLocked
	}
	op, err := s.store.FindOperator(ctx, key)
	if err != nil && roster.ErrorCode(err) != roster.ENotFound {
		return Session{}, err
	}
	hash := ""
	if err == nil {
		hash = op.PasswordHash // "" for an operator that has not chosen one yet
	}
	ok, err := s.verify(ctx, hash, pw)
	if err != nil {
		return Session{}, err
	}
	now := s.now()
	if !ok {
		s.addrs.failed(addr, time.Now())
		return Session{}, s.failed(ctx, key, now, addr)
	}
	if fails.Count != 0 || fails.LockedUntil != nil {
		if err := s.store.ClearSignInFailures(ctx, key); err != nil {
			return Session{}, err
		}
	}
	// Bring a hash made with older parameters up to the current ones.
	if password.NeedsRehash(op.PasswordHash, s.set.Password) {
		newHash, err := password.Hash(pw, s.set.Password)
		if err != nil {
			return Session{}, err
		}
		old := op.PasswordHash
		op, err = s.store.UpdateOperator(ctx, op.ID, func(o *roster.Operator) error {
			if o.PasswordHash == old { // not changed meanwhile
				o.PasswordHash = newHash
			}
			return nil
		}, store.OperatorWrite{Now: now})
		if err != nil {
			return Session{}, err
		}
	}
	token, th := newToken()
	ses := roster.OperatorSession{Hash: th, OperatorID: op.ID, RemoteAddr: addr, CreateTime: now, LastSeenTime: now,
		IdleExpireTime: now.Add(min(s.set.SessionIdle, s.set.SessionMax)), ExpireTime: now.Add(s.set.SessionMax)}
	if err := s.store.CreateOperatorSession(ctx, ses); err != nil {
		return Session{}, err
	}
	return Session{Token: token, Session: ses, Operator: op}, nil
}

// failed counts a wrong password against the email, locking it at MaxFailures. Failures
// older than Lockout are forgotten: MaxFailures must come within one window.
func (s *Service) failed(ctx context.Context, key string, now time.Time, addr string) error {
	f, err := s.store.RecordSignInFailure(ctx, key, now, now.Add(-s.set.Lockout), func(f *roster.SignInFailures) {
		if f.Locked(now) { // locked by concurrent failures meanwhile
			return
		}
		if f.LockedUntil != nil || now.Sub(f.UpdateTime) > s.set.Lockout { // a lockout that ended, or old failures
			f.Count, f.LockedUntil = 0, nil
		}
		f.Count++
		if f.Count >= s.set.MaxFailures {
			until := now.Add(s.set.Lockout)
			f.Count, f.LockedUntil = 0, &until
		}
	})
	if err != nil {
		return err
	}
	if f.Locked(now) {
		s.log.Warn("operator sign-ins locked after failed attempts", "addr", addr, "until", f.LockedUntil)
		return ErrLocked
	}
	return ErrBadCredentials
}

// Authenticate returns the operator and session of a session token, or ErrNoSession when it
// is unknown, revoked, idle for SessionIdle, older than SessionMax, or its operator was
// removed. A use moves the idle timeout on, written at most once per TouchEvery.
func (s *Service) Authenticate(ctx context.Context, token string) (roster.Operator, roster.OperatorSession, error) {
	if token == "" {
		return roster.Operator{}, roster.OperatorSession{}, ErrNoSession
	}
	h := hashToken(token)
	ses, op, err := s.store.GetOperatorSession(ctx, h)
	if roster.ErrorCode(err) == roster.ENotFound {
		return roster.Operator{}, roster.OperatorSession{}, ErrNoSession
	} else if err != nil {
		return roster.Operator{}, roster.OperatorSession{}, err
	}
	now := s.now()
	if !ses.Valid(now) || op.Removed() {
		return roster.Operator{}, roster.OperatorSession{}, ErrNoSession
	}
	if now.Sub(ses.LastSeenTime) >= s.set.TouchEvery {
		idle := now.Add(s.set.SessionIdle)
		if idle.After(ses.ExpireTime) {
			idle = ses.ExpireTime
		}
		if err := s.store.TouchOperatorSession(ctx, h, now, idle); err != nil {
			return roster.Operator{}, roster.OperatorSession{}, err
		}
		ses.LastSeenTime, ses.IdleExpireTime = now, idle
	}
	return op, ses, nil
}

// SignOut ends the session of token (an unknown one is not an error).
func (s *Service) SignOut(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	return s.store.RevokeOperatorSession(ctx, hashToken(token), s.now())
}

// SignOutEverywhere ends every session of an operator and reports how many it ended.
func (s *Service) SignOutEverywhere(ctx context.Context, operatorID string) (int, error) {
	return s.store.RevokeOperatorSessions(ctx, operatorID, s.now())
}
