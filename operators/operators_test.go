package operators_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the raw reads of TestPasswordNeverStoredInClear
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/password"
	"github.com/rosterhq/roster/operators"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/store/postgres"
	"github.com/rosterhq/roster/store/postgres/pgtest"
	"github.com/rosterhq/roster/store/sqlite"
)

// cheap keeps the tests fast: the format and checks are the same at any cost.
var cheap = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

const (
	adaPassword = "correct horse battery"
	addr1       = "192.0.2.1:50000"
	addr2       = "198.51.100.7:40000"
)

// backend is a store and a raw connection to its database, for the tests that read rows.
type backend struct {
	name string
	st   store.Store
	raw  *sql.DB
}

// eachBackend runs fn on a fresh SQLite store and a fresh PostgreSQL schema.
func eachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		st, err := sqlite.Open(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName)+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		fn(t, backend{"sqlite", st, raw})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		url := pgtest.NewSchema(t)
		st, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		raw, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		fn(t, backend{"postgres", st, raw})
	})
}

func newService(b backend, set operators.Settings) *operators.Service {
	if set.Password == (password.Params{}) {
		set.Password = cheap
	}
	return operators.New(b.st, set)
}

func mustCreate(t *testing.T, svc *operators.Service, email, pw string) operators.Created {
	t.Helper()
	c, err := svc.Create(context.Background(), roster.NewOperator{Email: email, DisplayName: "Ada"}, pw)
	if err != nil {
		t.Fatalf("create %s: %v", email, err)
	}
	return c
}

func mustSignIn(t *testing.T, svc *operators.Service, email, pw, addr string) operators.Session {
	t.Helper()
	s, err := svc.SignIn(context.Background(), email, pw, addr)
	if err != nil {
		t.Fatalf("sign in %s: %v", email, err)
	}
	return s
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

func wantCode(t *testing.T, err error, code roster.Code) {
	t.Helper()
	if err == nil || roster.ErrorCode(err) != code {
		t.Fatalf("got %v (%s), want a %s error", err, roster.ErrorCode(err), code)
	}
}

func TestSignIn(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		svc := newService(b, operators.Settings{})
		c := mustCreate(t, svc, "Ada@Example.com", adaPassword)
		if c.SetUpToken != "" {
			t.Error("an operator created with a password got a set-up link")
		}
		s := mustSignIn(t, svc, "  ada@example.COM ", adaPassword, addr1) // emails compare case-insensitively
		if s.Token == "" || s.Operator.ID != c.Operator.ID || s.Session.RemoteAddr != "192.0.2.1" {
			t.Fatalf("session = %+v", s)
		}
		op, ses, err := svc.Authenticate(ctx, s.Token)
		if err != nil || op.ID != c.Operator.ID || ses.OperatorID != op.ID {
			t.Fatalf("authenticate = %+v, %+v, %v", op, ses, err)
		}
		// A token that is not the session's, or a prefix of it, finds nothing.
		for _, bad := range []string{"", "x", s.Token[:len(s.Token)-1], strings.ToUpper(s.Token)} {
			_, _, err := svc.Authenticate(ctx, bad)
			wantErr(t, err, operators.ErrNoSession)
		}
		if err := svc.SignOut(ctx, s.Token); err != nil {
			t.Fatal(err)
		}
		_, _, err = svc.Authenticate(ctx, s.Token)
		wantErr(t, err, operators.ErrNoSession)
		wantCode(t, err, roster.EUnauthenticated)
	})
}

// A wrong password and an unknown email get the same error; so does an operator that has not
// chosen a password yet.
func TestWrongPasswordAndUnknownEmailAlike(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		svc := newService(b, operators.Settings{})
		mustCreate(t, svc, "ada@example.com", adaPassword)
		mustCreate(t, svc, "pending@example.com", "")
		var msgs []string
		for _, try := range [][2]string{
			{"ada@example.com", "wrong password!"},
			{"nobody@example.com", adaPassword},
			{"pending@example.com", ""},
			{"pending@example.com", adaPassword},
			{"not an email", adaPassword},
		} {
			_, err := svc.SignIn(ctx, try[0], try[1], addr1)
			wantErr(t, err, operators.ErrBadCredentials)
			msgs = append(msgs, roster.ErrorMessage(err))
		}
		if len(slices.Compact(slices.Clone(msgs))) != 1 {
			t.Errorf("the refusals differ: %q", msgs)
		}
	})
}

// An unknown email costs an argon2id check, as a wrong password does: the time of the answer
// does not tell which emails have accounts.
func TestUnknownEmailTakesAPasswordCheck(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// The production parameters, and a high address limit (every try here fails).
	svc := operators.New(st, operators.Settings{AddressFailures: 1000, MaxFailures: 1000})
	mustCreate(t, svc, "ada@example.com", adaPassword)
	median := func(email string) time.Duration {
		var d []time.Duration
		for i := 0; i < 5; i++ {
			start := time.Now()
			_, err := svc.SignIn(context.Background(), email, "wrong password!", addr1)
			d = append(d, time.Since(start))
			wantErr(t, err, operators.ErrBadCredentials)
		}
		slices.Sort(d)
		return d[len(d)/2]
	}
	svc.SignIn(context.Background(), "warm@example.com", "x", addr1) // makes the dummy hash
	wrong, unknown := median("ada@example.com"), median("nobody@example.com")
	t.Logf("median sign-in time: wrong password %v, unknown email %v", wrong, unknown)
	if unknown < wrong/2 {
		t.Errorf("an unknown email answers in %v, a wrong password in %v: the difference shows which emails exist", unknown, wrong)
	}
}

// MaxFailures wrong passwords lock the account, even for the right password, until Lockout
// has passed; then the right password works and the count starts afresh.
func TestLockout(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		const lockout = 400 * time.Millisecond
		svc := newService(b, operators.Settings{MaxFailures: 3, Lockout: lockout})
		mustCreate(t, svc, "ada@example.com", adaPassword)
		mustCreate(t, svc, "bob@example.com", "bob's long password")
		for i := 1; i <= 2; i++ {
			_, err := svc.SignIn(ctx, "ada@example.com", "wrong password!", addr1)
			wantErr(t, err, operators.ErrBadCredentials)
		}
		start := time.Now()
		_, err := svc.SignIn(ctx, "ada@example.com", "wrong password!", addr1)
		wantErr(t, err, operators.ErrLocked)
		// Several nodes see the lock: it is in the database.
		other := newService(b, operators.Settings{MaxFailures: 3, Lockout: lockout})
		_, err = other.SignIn(ctx, "ada@example.com", adaPassword, addr2)
		wantErr(t, err, operators.ErrLocked)
		if f, _ := b.st.SignInFailures(ctx, "ada@example.com"); !f.Locked(time.Now()) {
			t.Fatalf("email not locked: %+v", f)
		}
		// Another account is not affected.
		mustSignIn(t, svc, "bob@example.com", "bob's long password", addr2)
		// An unknown email locks alike: a lockout does not tell which emails have accounts.
		for i := 1; i <= 3; i++ {
			_, err := svc.SignIn(ctx, "nobody@example.com", "wrong password!", addr2)
			if want := operators.ErrBadCredentials; i == 3 {
				wantErr(t, err, operators.ErrLocked)
			} else {
				wantErr(t, err, want)
			}
		}

		time.Sleep(lockout - time.Since(start) + 50*time.Millisecond)
		mustSignIn(t, svc, "ada@example.com", adaPassword, addr2)
		if f, _ := b.st.SignInFailures(ctx, "ada@example.com"); f.Count != 0 || f.LockedUntil != nil {
			t.Errorf("after a success: %+v", f)
		}
		// A success in between resets the count: two failures, a success, two failures: no lock.
		for _, pw := range []string{"wrong", "wrong", adaPassword, "wrong", "wrong"} {
			svc.SignIn(ctx, "ada@example.com", pw, addr2)
		}
		mustSignIn(t, svc, "ada@example.com", adaPassword, addr2)
	})
}

// Concurrent wrong passwords all count (the count is a read-modify-write in one transaction).
func TestLockoutCountsConcurrentFailures(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		svc := newService(b, operators.Settings{MaxFailures: 4, Lockout: time.Hour, AddressFailures: 100})
		mustCreate(t, svc, "ada@example.com", adaPassword)
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				svc.SignIn(ctx, "ada@example.com", "wrong password!", fmt.Sprintf("192.0.2.%d:1", i))
			}()
		}
		wg.Wait()
		_, err := svc.SignIn(ctx, "ada@example.com", adaPassword, addr2)
		wantErr(t, err, operators.ErrLocked)
	})
}

// An address that failed AddressFailures times is refused before any password is checked,
// whatever account it tries; other addresses are not; an IPv6 /64 counts as one address.
func TestAddressThrottle(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		svc := newService(b, operators.Settings{AddressFailures: 3, AddressInterval: 300 * time.Millisecond, MaxFailures: 100})
		mustCreate(t, svc, "ada@example.com", adaPassword)
		for _, email := range []string{"a@example.com", "b@example.com", "ada@example.com"} {
			_, err := svc.SignIn(ctx, email, "wrong password!", addr1)
			wantErr(t, err, operators.ErrBadCredentials)
		}
		_, err := svc.SignIn(ctx, "ada@example.com", adaPassword, addr1)
		wantErr(t, err, operators.ErrThrottled)
		mustSignIn(t, svc, "ada@example.com", adaPassword, addr2)
		// One more try per interval.
		time.Sleep(350 * time.Millisecond)
		mustSignIn(t, svc, "ada@example.com", adaPassword, addr1)

		for i := 0; i < 3; i++ {
			svc.SignIn(ctx, "x@example.com", "wrong password!", fmt.Sprintf("[2001:db8:1:2::%d]:443", i+1))
		}
		_, err = svc.SignIn(ctx, "ada@example.com", adaPassword, "[2001:db8:1:2:ffff::9]:443")
		wantErr(t, err, operators.ErrThrottled)
		mustSignIn(t, svc, "ada@example.com", adaPassword, "[2001:db8:1:3::1]:443")
	})
}

// A set-up link works once, before it expires; a weak password does not spend it.
func TestSetUpLink(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		svc := newService(b, operators.Settings{LinkTTL: 400 * time.Millisecond})
		c := mustCreate(t, svc, "new@example.com", "")
		if c.SetUpToken == "" || c.Operator.HasPassword() {
			t.Fatalf("created without a password: %+v", c)
		}
		link, err := svc.LookUpLink(ctx, c.SetUpToken)
		if err != nil || link.First || link.Operator.ID != c.Operator.ID {
			t.Fatalf("look up link = %+v, %v", link, err)
		}
		_, err = svc.SetUpWithToken(ctx, c.SetUpToken, operators.SetUp{Password: "short"})
		wantCode(t, err, roster.EInvalid)
		if e := err.(*roster.Error); e.Violations[0].Field != "password" {
			t.Errorf("weak password error names %q", e.Violations[0].Field)
		}
		op, err := svc.SetUpWithToken(ctx, c.SetUpToken, operators.SetUp{Password: adaPassword})
		if err != nil || op.ID != c.Operator.ID || !op.HasPassword() {
			t.Fatalf("set up = %+v, %v", op, err)
		}
		mustSignIn(t, svc, "new@example.com", adaPassword, addr1)
		_, err = svc.SetUpWithToken(ctx, c.SetUpToken, operators.SetUp{Password: "another long password"})
		wantCode(t, err, roster.ENotFound)
		_, err = svc.LookUpLink(ctx, c.SetUpToken)
		wantCode(t, err, roster.ENotFound)
		mustSignIn(t, svc, "new@example.com", adaPassword, addr1) // the password stayed

		// Expiry.
		late := mustCreate(t, svc, "late@example.com", "")
		time.Sleep(450 * time.Millisecond)
		_, err = svc.SetUpWithToken(ctx, late.SetUpToken, operators.SetUp{Password: adaPassword})
		wantCode(t, err, roster.ENotFound)
		_, err = svc.SetUpWithToken(ctx, "no such token", operators.SetUp{Password: adaPassword})
		wantCode(t, err, roster.ENotFound)
	})
}

// Two redemptions of one link at once: exactly one wins.
func TestSetUpLinkConcurrent(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		svc := newService(b, operators.Settings{})
		c := mustCreate(t, svc, "race@example.com", "")
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = svc.SetUpWithToken(ctx, c.SetUpToken, operators.SetUp{Password: fmt.Sprintf("password number %d", i)})
			}()
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			if err == nil {
				won = i
			} else if roster.ErrorCode(err) != roster.ENotFound {
				t.Errorf("redemption %d: %v", i, err)
			}
		}
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("redemptions: %v; want exactly one to succeed", errs)
		}
		mustSignIn(t, svc, "race@example.com", fmt.Sprintf("password number %d", won), addr1)
	})
}

// The first-operator link creates the first operator, with the email it is given, and only
// while there is none.
func TestFirstRunLink(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		svc := newService(b, operators.Settings{})
		old, _, ok, err := svc.FirstRunLink(ctx)
		if err != nil || !ok {
			t.Fatalf("first run link on an empty store: %v, %v", ok, err)
		}
		token, expire, ok, err := svc.FirstRunLink(ctx) // a second start: a new link, the old one void
		if err != nil || !ok || token == old || time.Until(expire) < 23*time.Hour {
			t.Fatalf("second first-run link: %v, %v, %v", ok, expire, err)
		}
		_, err = svc.SetUpWithToken(ctx, old, operators.SetUp{Email: "first@example.com", Password: adaPassword})
		wantCode(t, err, roster.ENotFound)
		link, err := svc.LookUpLink(ctx, token)
		if err != nil || !link.First {
			t.Fatalf("look up first link = %+v, %v", link, err)
		}
		// The first operator's email is checked with the password, before the link is spent.
		_, err = svc.SetUpWithToken(ctx, token, operators.SetUp{Email: "not an email", Password: "short"})
		wantCode(t, err, roster.EInvalid)
		if e := err.(*roster.Error); len(e.Violations) != 2 {
			t.Errorf("violations %+v, want email and password", e.Violations)
		}
		op, err := svc.SetUpWithToken(ctx, token, operators.SetUp{Email: "First@Example.com", DisplayName: "First", Password: adaPassword})
		if err != nil || op.Email != "First@Example.com" || op.DisplayName != "First" || !strings.HasPrefix(op.ID, roster.PrefixOperator) {
			t.Fatalf("first operator = %+v, %v", op, err)
		}
		mustSignIn(t, svc, "first@example.com", adaPassword, addr1)
		if _, _, ok, err := svc.FirstRunLink(ctx); ok || err != nil {
			t.Errorf("a first-run link was made while an operator exists: %v, %v", ok, err)
		}
		_, err = svc.SetUpWithToken(ctx, token, operators.SetUp{Email: "second@example.com", Password: adaPassword})
		wantCode(t, err, roster.ENotFound)
	})
}

// Reset ends the operator's sessions: with a link, the old password stops working and the
// link sets a new one; with a password, that password works at once. The lockout is cleared.
func TestResetRevokesSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		svc := newService(b, operators.Settings{MaxFailures: 2, Lockout: time.Hour})
		mustCreate(t, svc, "ada@example.com", adaPassword)
		s1 := mustSignIn(t, svc, "ada@example.com", adaPassword, addr1)
		s2 := mustSignIn(t, svc, "ada@example.com", adaPassword, addr2)
		r, err := svc.Reset(ctx, "ADA@example.com", "")
		if err != nil || r.SetUpToken == "" {
			t.Fatalf("reset = %+v, %v", r, err)
		}
		for _, s := range []operators.Session{s1, s2} {
			_, _, err := svc.Authenticate(ctx, s.Token)
			wantErr(t, err, operators.ErrNoSession)
		}
		_, err = svc.SignIn(ctx, "ada@example.com", adaPassword, addr1)
		wantErr(t, err, operators.ErrBadCredentials)
		if _, err := svc.SetUpWithToken(ctx, r.SetUpToken, operators.SetUp{Password: "a brand new password"}); err != nil {
			t.Fatal(err)
		}
		s3 := mustSignIn(t, svc, "ada@example.com", "a brand new password", addr1)

		// Locked, then reset with a password: unlocked, the old sessions end.
		for i := 0; i < 2; i++ {
			svc.SignIn(ctx, "ada@example.com", "wrong password!", addr2)
		}
		if _, err := svc.Reset(ctx, "ada@example.com", "short"); roster.ErrorCode(err) != roster.EInvalid {
			t.Fatalf("reset with a weak password: %v", err)
		}
		if r, err := svc.Reset(ctx, "ada@example.com", "the operator's choice"); err != nil || r.SetUpToken != "" {
			t.Fatalf("reset with a password = %+v, %v", r, err)
		}
		_, _, err = svc.Authenticate(ctx, s3.Token)
		wantErr(t, err, operators.ErrNoSession)
		mustSignIn(t, svc, "ada@example.com", "the operator's choice", addr1)
		_, err = svc.Reset(ctx, "nobody@example.com", "")
		wantCode(t, err, roster.ENotFound)
	})
}

// A session ends after SessionIdle without use (each use moves that on) and after SessionMax
// however used.
func TestSessionTimeouts(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		svc := newService(b, operators.Settings{SessionIdle: 400 * time.Millisecond, SessionMax: 1200 * time.Millisecond, TouchEvery: 10 * time.Millisecond})
		mustCreate(t, svc, "ada@example.com", adaPassword)

		// Idle: used every 200 ms, it lives past its first idle deadline; left alone, it ends.
		s := mustSignIn(t, svc, "ada@example.com", adaPassword, addr1)
		for i := 0; i < 3; i++ {
			time.Sleep(200 * time.Millisecond)
			if _, _, err := svc.Authenticate(ctx, s.Token); err != nil {
				t.Fatalf("a session used every 200 ms ended at use %d: %v", i, err)
			}
		}
		time.Sleep(500 * time.Millisecond)
		_, _, err := svc.Authenticate(ctx, s.Token)
		wantErr(t, err, operators.ErrNoSession)

		// Absolute: used every 200 ms, it still ends at SessionMax.
		start := time.Now()
		s = mustSignIn(t, svc, "ada@example.com", adaPassword, addr1)
		for time.Since(start) < 1100*time.Millisecond {
			if _, _, err := svc.Authenticate(ctx, s.Token); err != nil {
				t.Fatalf("session ended after %v, before its absolute timeout: %v", time.Since(start), err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		time.Sleep(time.Until(start.Add(1250 * time.Millisecond)))
		_, _, err = svc.Authenticate(ctx, s.Token)
		wantErr(t, err, operators.ErrNoSession)
	})
}

// Uses within TouchEvery do not write; the first use after it moves the idle deadline on.
func TestSessionUseWrittenAtMostOncePerTouchEvery(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		svc := newService(b, operators.Settings{TouchEvery: 300 * time.Millisecond})
		mustCreate(t, svc, "ada@example.com", adaPassword)
		s := mustSignIn(t, svc, "ada@example.com", adaPassword, addr1)
		for i := 0; i < 5; i++ {
			_, ses, err := svc.Authenticate(ctx, s.Token)
			if err != nil || !ses.LastSeenTime.Equal(s.Session.LastSeenTime) {
				t.Fatalf("use %d: last seen %v, want the sign-in's %v (%v)", i, ses.LastSeenTime, s.Session.LastSeenTime, err)
			}
		}
		time.Sleep(350 * time.Millisecond)
		_, ses, err := svc.Authenticate(ctx, s.Token)
		if err != nil || !ses.LastSeenTime.After(s.Session.LastSeenTime) || !ses.IdleExpireTime.After(s.Session.IdleExpireTime) {
			t.Fatalf("after TouchEvery: %+v, %v", ses, err)
		}
		stored, _, _ := b.st.GetOperatorSession(ctx, ses.Hash)
		if !stored.LastSeenTime.Equal(ses.LastSeenTime) {
			t.Errorf("stored last seen %v, want %v", stored.LastSeenTime, ses.LastSeenTime)
		}
	})
}

// Sign out everywhere ends every session from before it (on any node); a later sign-in works.
func TestSignOutEverywhere(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		svc := newService(b, operators.Settings{})
		node2 := newService(b, operators.Settings{})
		c := mustCreate(t, svc, "ada@example.com", adaPassword)
		bob := mustCreate(t, svc, "bob@example.com", "bob's long password")
		s1 := mustSignIn(t, svc, "ada@example.com", adaPassword, addr1)
		s2 := mustSignIn(t, node2, "ada@example.com", adaPassword, addr2)
		sb := mustSignIn(t, svc, "bob@example.com", "bob's long password", addr1)
		n, err := svc.SignOutEverywhere(ctx, c.Operator.ID)
		if err != nil || n != 2 {
			t.Fatalf("sign out everywhere = %d, %v; want 2", n, err)
		}
		for _, s := range []operators.Session{s1, s2} {
			for _, node := range []*operators.Service{svc, node2} {
				_, _, err := node.Authenticate(ctx, s.Token)
				wantErr(t, err, operators.ErrNoSession)
			}
		}
		if op, _, err := node2.Authenticate(ctx, sb.Token); err != nil || op.ID != bob.Operator.ID {
			t.Errorf("another operator's session: %v", err)
		}
		s3 := mustSignIn(t, svc, "ada@example.com", adaPassword, addr1)
		if _, _, err := node2.Authenticate(ctx, s3.Token); err != nil {
			t.Errorf("a session after sign-out-everywhere: %v", err)
		}
	})
}

// A removed operator's sessions end and it cannot sign in; its email may be used again.
func TestRemovedOperator(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		svc := newService(b, operators.Settings{})
		mustCreate(t, svc, "ada@example.com", adaPassword)
		_, err := svc.Create(ctx, roster.NewOperator{Email: "ADA@example.com"}, adaPassword)
		wantCode(t, err, roster.EConflict)
		s := mustSignIn(t, svc, "ada@example.com", adaPassword, addr1)
		if _, err := svc.Remove(ctx, "ada@example.com"); err != nil {
			t.Fatal(err)
		}
		_, _, err = svc.Authenticate(ctx, s.Token)
		wantErr(t, err, operators.ErrNoSession)
		_, err = svc.SignIn(ctx, "ada@example.com", adaPassword, addr1)
		wantErr(t, err, operators.ErrBadCredentials)
		_, err = svc.Remove(ctx, "ada@example.com")
		wantCode(t, err, roster.ENotFound)
		if list, _ := svc.List(ctx); len(list) != 0 {
			t.Errorf("list after remove: %+v", list)
		}
		again := mustCreate(t, svc, "ada@example.com", "a different password")
		mustSignIn(t, svc, "ada@example.com", "a different password", addr1)
		if list, _ := svc.List(ctx); len(list) != 1 || list[0].ID != again.Operator.ID {
			t.Errorf("list after re-create: %+v", list)
		}
	})
}

// The database holds neither a password nor a session or link token: only argon2id hashes
// and SHA-256 digests.
func TestPasswordNeverStoredInClear(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		svc := newService(b, operators.Settings{})
		mustCreate(t, svc, "ada@example.com", adaPassword)
		s := mustSignIn(t, svc, "ada@example.com", adaPassword, addr1)
		c := mustCreate(t, svc, "bob@example.com", "")
		secrets := []string{adaPassword, s.Token, c.SetUpToken}
		for _, table := range []string{"operators", "operator_sessions", "operator_tokens"} {
			rows, err := b.raw.QueryContext(ctx, "SELECT * FROM "+table)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			n := 0
			for rows.Next() {
				n++
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				for i, v := range vals {
					text := fmt.Sprint(v)
					if bs, ok := v.([]byte); ok {
						text = string(bs)
					}
					for _, secret := range secrets {
						if strings.Contains(text, secret) {
							t.Errorf("%s.%s holds a secret in clear: %q", table, cols[i], text)
						}
					}
					if table == "operators" && cols[i] == "password_hash" && text != "" && !strings.HasPrefix(text, "$argon2id$v=19$") {
						t.Errorf("password_hash %q is not an argon2id PHC string", text)
					}
				}
			}
			rows.Close()
			if n == 0 {
				t.Errorf("no rows in %s", table)
			}
		}
	})
}

// A hash made with older parameters is replaced at the next successful sign-in.
func TestRehashOnSignIn(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		old := newService(b, operators.Settings{})
		mustCreate(t, old, "ada@example.com", adaPassword)
		stronger := cheap
		stronger.Time = 2
		svc := newService(b, operators.Settings{Password: stronger})
		mustSignIn(t, svc, "ada@example.com", adaPassword, addr1)
		op, _ := svc.Get(ctx, "ada@example.com")
		if password.NeedsRehash(op.PasswordHash, stronger) {
			t.Errorf("hash %q not upgraded", op.PasswordHash)
		}
		mustSignIn(t, svc, "ada@example.com", adaPassword, addr1)
	})
}
