package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// operatorTests check the dashboard's operators, their links and sessions
// (store.OperatorStore, docs/operators.md).
var operatorTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"Operators", testOperators},
	{"OperatorEmailConcurrentCreate", testOperatorEmailConcurrentCreate},
	{"OperatorUpdateAtomic", testOperatorUpdateAtomic},
	{"SignInFailures", testSignInFailures},
	{"OperatorTokens", testOperatorTokens},
	{"OperatorTokenConcurrentRedeem", testOperatorTokenConcurrentRedeem},
	{"FirstOperatorToken", testFirstOperatorToken},
	{"OperatorSessions", testOperatorSessions},
	{"OperatorAudit", testOperatorAudit},
}

func hashOf(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

func newOperator(email string) roster.Operator {
	return roster.NewOperator{Email: email, DisplayName: "Op " + email}.Build(ids.New(roster.PrefixOperator), now())
}

func mustCreateOperator(t *testing.T, s store.Store, email string) roster.Operator {
	t.Helper()
	o := newOperator(email)
	o.PasswordHash = "$argon2id$fake"
	if err := s.CreateOperator(context.Background(), o, nil); err != nil {
		t.Fatalf("create operator %s: %v", email, err)
	}
	return o
}

func testOperators(t *testing.T, s store.Store) {
	ctx := context.Background()
	if list, err := s.ListOperators(ctx); err != nil || len(list) != 0 {
		t.Fatalf("empty store lists operators %+v, %v", list, err)
	}
	a := mustCreateOperator(t, s, "Ada@Example.com")
	b := mustCreateOperator(t, s, "bob@example.com")
	// Emails compare case-insensitively.
	dup := newOperator("ada@EXAMPLE.com")
	err := s.CreateOperator(ctx, dup, nil)
	mustCode(t, err, roster.EConflict)
	if e, ok := err.(*roster.Error); !ok || len(e.Violations) != 1 || e.Violations[0].Field != "email" {
		t.Errorf("conflict does not name the email field: %#v", err)
	}
	got, err := s.FindOperator(ctx, roster.EmailKey("ADA@example.COM"))
	if err != nil || got.ID != a.ID || got.Email != "Ada@Example.com" || got.DisplayName != a.DisplayName || !got.CreateTime.Equal(a.CreateTime) {
		t.Fatalf("find operator = %+v, %v", got, err)
	}
	if got, err := s.GetOperator(ctx, b.ID); err != nil || got.Email != b.Email || got.PasswordHash != b.PasswordHash {
		t.Fatalf("get operator = %+v, %v", got, err)
	}
	_, err = s.GetOperator(ctx, "op_1")
	mustCode(t, err, roster.ENotFound)
	_, err = s.FindOperator(ctx, "nobody@example.com")
	mustCode(t, err, roster.ENotFound)
	list, err := s.ListOperators(ctx)
	if err != nil || len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID {
		t.Fatalf("list operators = %+v, %v", list, err)
	}

	// Update: a read-modify-write of the row.
	up, err := s.UpdateOperator(ctx, a.ID, func(o *roster.Operator) error {
		o.DisplayName = "Ada L."
		return nil
	}, store.OperatorWrite{Now: now()})
	if err != nil || up.DisplayName != "Ada L." {
		t.Fatalf("update = %+v, %v", up, err)
	}
	got, _ = s.GetOperator(ctx, a.ID)
	if got.DisplayName != "Ada L." {
		t.Fatalf("after update: %+v", got)
	}
	// An update's error is returned and nothing is written.
	boom := roster.Errorf(roster.EInvalid, "boom")
	if _, err := s.UpdateOperator(ctx, a.ID, func(o *roster.Operator) error { o.DisplayName = "x"; return boom }, store.OperatorWrite{Now: now()}); err != boom {
		t.Fatalf("update error = %v, want boom", err)
	}
	if got, _ := s.GetOperator(ctx, a.ID); got.DisplayName != "Ada L." {
		t.Errorf("a failed update wrote %q", got.DisplayName)
	}

	// Remove: the operator leaves the list and its email is free; the row stays.
	removed, err := s.UpdateOperator(ctx, a.ID, nil, store.OperatorWrite{Now: now(), Remove: true})
	if err != nil || !removed.Removed() {
		t.Fatalf("remove = %+v, %v", removed, err)
	}
	if got, err := s.GetOperator(ctx, a.ID); err != nil || !got.Removed() {
		t.Fatalf("removed operator read back %+v, %v", got, err)
	}
	_, err = s.FindOperator(ctx, roster.EmailKey(a.Email))
	mustCode(t, err, roster.ENotFound)
	_, err = s.UpdateOperator(ctx, a.ID, nil, store.OperatorWrite{Now: now()})
	mustCode(t, err, roster.ENotFound)
	again := mustCreateOperator(t, s, "ada@example.com")
	if list, _ := s.ListOperators(ctx); len(list) != 2 || list[0].ID != b.ID || list[1].ID != again.ID {
		t.Fatalf("list after remove and re-create = %+v", list)
	}
}

// Two creates of one email at once: one wins, the other is ALREADY_EXISTS.
func testOperatorEmailConcurrentCreate(t *testing.T, s store.Store) {
	ctx := context.Background()
	for round := 0; round < 5; round++ {
		email := fmt.Sprintf("race%d@example.com", round)
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.CreateOperator(ctx, newOperator(email), nil)
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch roster.ErrorCode(err) {
			case "":
				ok++
			case roster.EConflict:
			default:
				t.Errorf("concurrent create: %v", err)
			}
		}
		if ok != 1 {
			t.Errorf("round %d: %d creates of one email succeeded, want 1", round, ok)
		}
	}
}

// Concurrent read-modify-write updates all apply.
func testOperatorUpdateAtomic(t *testing.T, s store.Store) {
	ctx := context.Background()
	o := mustCreateOperator(t, s, "count@example.com")
	if _, err := s.UpdateOperator(ctx, o.ID, func(op *roster.Operator) error { op.DisplayName = ""; return nil }, store.OperatorWrite{Now: now()}); err != nil {
		t.Fatal(err)
	}
	const n = 12
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.UpdateOperator(ctx, o.ID, func(o *roster.Operator) error { o.DisplayName += "x"; return nil }, store.OperatorWrite{Now: now()}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got, _ := s.GetOperator(ctx, o.ID); len(got.DisplayName) != n {
		t.Errorf("display name %q after %d concurrent appends", got.DisplayName, n)
	}
}

// The sign-in throttle of an email: concurrent failures all count, a lock round-trips,
// clearing forgets, and stale rows of other emails go.
func testSignInFailures(t *testing.T, s store.Store) {
	ctx := context.Background()
	key := "ada@example.com"
	f, err := s.SignInFailures(ctx, key)
	if err != nil || f.EmailKey != key || f.Count != 0 || f.LockedUntil != nil {
		t.Fatalf("no failures = %+v, %v", f, err)
	}
	const n = 10
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.RecordSignInFailure(ctx, key, now(), now().Add(-time.Hour), func(f *roster.SignInFailures) { f.Count++ }); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if f, _ := s.SignInFailures(ctx, key); f.Count != n {
		t.Fatalf("%d failures counted of %d concurrent ones", f.Count, n)
	}
	until := now().Add(time.Minute)
	f, err = s.RecordSignInFailure(ctx, key, now(), now().Add(-time.Hour), func(f *roster.SignInFailures) { f.Count, f.LockedUntil = 0, &until })
	if err != nil || f.Count != 0 || !f.Locked(now()) {
		t.Fatalf("lock = %+v, %v", f, err)
	}
	if got, _ := s.SignInFailures(ctx, key); !got.Locked(now()) || !got.LockedUntil.Equal(until) {
		t.Fatalf("lock read back %+v", got)
	}
	// Stale rows of other emails go with the next failure; a locked one stays, and so does
	// the email being counted.
	t0 := now().Add(-2 * time.Hour)
	for _, k := range []string{"stale@example.com", "fresh@example.com"} {
		if _, err := s.RecordSignInFailure(ctx, k, t0, t0.Add(-time.Hour), func(f *roster.SignInFailures) { f.Count++ }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.RecordSignInFailure(ctx, "fresh@example.com", now(), now().Add(-time.Hour), func(f *roster.SignInFailures) { f.Count++ }); err != nil {
		t.Fatal(err)
	}
	if f, _ := s.SignInFailures(ctx, "stale@example.com"); f.Count != 0 {
		t.Errorf("a stale row stayed: %+v", f)
	}
	if f, _ := s.SignInFailures(ctx, "fresh@example.com"); f.Count != 2 {
		t.Errorf("the counted email's stale row was dropped: %+v", f)
	}
	if f, _ := s.SignInFailures(ctx, key); !f.Locked(now()) {
		t.Errorf("a locked row was dropped as stale: %+v", f)
	}
	if err := s.ClearSignInFailures(ctx, key); err != nil {
		t.Fatal(err)
	}
	if f, _ := s.SignInFailures(ctx, key); f.Count != 0 || f.LockedUntil != nil {
		t.Errorf("after clear: %+v", f)
	}
}

func testOperatorTokens(t *testing.T, s store.Store) {
	ctx := context.Background()
	o := newOperator("link@example.com")
	tok := roster.OperatorToken{Hash: hashOf("t1"), CreateTime: now(), ExpireTime: now().Add(time.Hour)}
	if err := s.CreateOperator(ctx, o, &tok); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetOperatorToken(ctx, tok.Hash)
	if err != nil || got.OperatorID != o.ID || !got.Usable(now()) || !got.ExpireTime.Equal(tok.ExpireTime) {
		t.Fatalf("get token = %+v, %v", got, err)
	}
	_, err = s.GetOperatorToken(ctx, hashOf("nope"))
	mustCode(t, err, roster.ENotFound)

	set := func(pw string) func(roster.OperatorToken, *roster.Operator) error {
		return func(_ roster.OperatorToken, op *roster.Operator) error { op.PasswordHash = pw; return nil }
	}
	// An error from set leaves the link usable.
	boom := roster.Errorf(roster.EInvalid, "weak password")
	if _, err := s.RedeemOperatorToken(ctx, tok.Hash, now(), func(roster.OperatorToken, *roster.Operator) error { return boom }); err != boom {
		t.Fatalf("redeem with a failing set = %v", err)
	}
	op, err := s.RedeemOperatorToken(ctx, tok.Hash, now(), set("hash1"))
	if err != nil || op.ID != o.ID || op.PasswordHash != "hash1" {
		t.Fatalf("redeem = %+v, %v", op, err)
	}
	if got, _ := s.GetOperator(ctx, o.ID); got.PasswordHash != "hash1" {
		t.Fatalf("password after redeem = %q", got.PasswordHash)
	}
	// Used once: a second redemption is refused.
	_, err = s.RedeemOperatorToken(ctx, tok.Hash, now(), set("hash2"))
	mustCode(t, err, roster.ENotFound)
	if got, _ := s.GetOperatorToken(ctx, tok.Hash); got.UseTime == nil {
		t.Error("a redeemed token has no use time")
	}

	// Expired.
	exp := roster.OperatorToken{Hash: hashOf("t2"), CreateTime: now().Add(-2 * time.Hour), ExpireTime: now().Add(-time.Hour)}
	if _, err := s.UpdateOperator(ctx, o.ID, nil, store.OperatorWrite{Now: now(), Token: &exp}); err != nil {
		t.Fatal(err)
	}
	_, err = s.RedeemOperatorToken(ctx, exp.Hash, now(), set("hash3"))
	mustCode(t, err, roster.ENotFound)

	// A new link voids the older unused one.
	l1 := roster.OperatorToken{Hash: hashOf("t3"), CreateTime: now(), ExpireTime: now().Add(time.Hour)}
	l2 := roster.OperatorToken{Hash: hashOf("t4"), CreateTime: now(), ExpireTime: now().Add(time.Hour)}
	for _, l := range []*roster.OperatorToken{&l1, &l2} {
		if _, err := s.UpdateOperator(ctx, o.ID, nil, store.OperatorWrite{Now: now(), Token: l}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = s.RedeemOperatorToken(ctx, l1.Hash, now(), set("hash4"))
	mustCode(t, err, roster.ENotFound)
	// Removing the operator voids its links too.
	if _, err := s.UpdateOperator(ctx, o.ID, nil, store.OperatorWrite{Now: now(), Remove: true}); err != nil {
		t.Fatal(err)
	}
	_, err = s.RedeemOperatorToken(ctx, l2.Hash, now(), set("hash5"))
	mustCode(t, err, roster.ENotFound)
}

// Two redemptions of one link at once: exactly one wins.
func testOperatorTokenConcurrentRedeem(t *testing.T, s store.Store) {
	ctx := context.Background()
	for round := 0; round < 5; round++ {
		o := newOperator(fmt.Sprintf("redeem%d@example.com", round))
		tok := roster.OperatorToken{Hash: hashOf(o.ID), CreateTime: now(), ExpireTime: now().Add(time.Hour)}
		if err := s.CreateOperator(ctx, o, &tok); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.RedeemOperatorToken(ctx, tok.Hash, now(), func(_ roster.OperatorToken, op *roster.Operator) error {
					op.PasswordHash = fmt.Sprintf("hash-%d", i)
					return nil
				})
			}()
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch roster.ErrorCode(err) {
			case "":
				if won >= 0 {
					t.Errorf("round %d: redemptions %d and %d both succeeded", round, won, i)
				}
				won = i
			case roster.ENotFound:
			default:
				t.Errorf("concurrent redeem: %v", err)
			}
		}
		if won < 0 {
			t.Fatalf("round %d: no redemption succeeded: %v", round, errs)
		}
		if got, _ := s.GetOperator(ctx, o.ID); got.PasswordHash != fmt.Sprintf("hash-%d", won) {
			t.Errorf("round %d: password %q, want the winner's hash-%d", round, got.PasswordHash, won)
		}
	}
}

// The first-operator link creates an operator, once, and only while there is none; a newer
// link voids the older.
func testFirstOperatorToken(t *testing.T, s store.Store) {
	ctx := context.Background()
	old := roster.OperatorToken{Hash: hashOf("first-old"), CreateTime: now(), ExpireTime: now().Add(time.Hour)}
	cur := roster.OperatorToken{Hash: hashOf("first-new"), CreateTime: now(), ExpireTime: now().Add(time.Hour)}
	for _, tok := range []roster.OperatorToken{old, cur} {
		if err := s.CreateFirstOperatorToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.GetOperatorToken(ctx, cur.Hash); err != nil || got.OperatorID != "" {
		t.Fatalf("first-operator token = %+v, %v", got, err)
	}
	create := func(email string) func(roster.OperatorToken, *roster.Operator) error {
		return func(tk roster.OperatorToken, op *roster.Operator) error {
			if tk.OperatorID != "" || op.ID != "" {
				return fmt.Errorf("set got %+v, %+v for a first-operator link", tk, op)
			}
			*op = newOperator(email)
			op.PasswordHash = "h"
			return nil
		}
	}
	_, err := s.RedeemOperatorToken(ctx, old.Hash, now(), create("old@example.com"))
	mustCode(t, err, roster.ENotFound)

	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.RedeemOperatorToken(ctx, cur.Hash, now(), create(fmt.Sprintf("first%d@example.com", i)))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if roster.ErrorCode(err) != roster.ENotFound {
			t.Errorf("concurrent first-operator redeem: %v", err)
		}
	}
	if list, _ := s.ListOperators(ctx); ok != 1 || len(list) != 1 || list[0].PasswordHash != "h" {
		t.Fatalf("%d redemptions succeeded and %d operators exist, want 1 and 1", ok, len(list))
	}
	// A first-operator link made while an operator exists does not create a second.
	late := roster.OperatorToken{Hash: hashOf("first-late"), CreateTime: now(), ExpireTime: now().Add(time.Hour)}
	if err := s.CreateFirstOperatorToken(ctx, late); err != nil {
		t.Fatal(err)
	}
	_, err = s.RedeemOperatorToken(ctx, late.Hash, now(), create("late@example.com"))
	mustCode(t, err, roster.EFailedPrecondition)
}

func testOperatorSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	o := mustCreateOperator(t, s, "sess@example.com")
	other := mustCreateOperator(t, s, "other@example.com")
	t0 := now()
	mk := func(token string, op roster.Operator) roster.OperatorSession {
		ses := roster.OperatorSession{Hash: hashOf(token), OperatorID: op.ID, RemoteAddr: "192.0.2.1", CreateTime: t0, LastSeenTime: t0,
			IdleExpireTime: t0.Add(30 * time.Minute), ExpireTime: t0.Add(12 * time.Hour)}
		if err := s.CreateOperatorSession(ctx, ses); err != nil {
			t.Fatal(err)
		}
		return ses
	}
	s1, s2, s3 := mk("s1", o), mk("s2", o), mk("s3", other)
	got, op, err := s.GetOperatorSession(ctx, s1.Hash)
	if err != nil || op.ID != o.ID || op.Email != o.Email || got.OperatorID != o.ID || got.RemoteAddr != "192.0.2.1" ||
		!got.ExpireTime.Equal(s1.ExpireTime) || !got.IdleExpireTime.Equal(s1.IdleExpireTime) || !got.Valid(t0) {
		t.Fatalf("get session = %+v, %+v, %v", got, op, err)
	}
	_, _, err = s.GetOperatorSession(ctx, hashOf("nope"))
	mustCode(t, err, roster.ENotFound)

	// Touch moves last seen and the idle expiry on, never back.
	t1 := t0.Add(time.Minute)
	if err := s.TouchOperatorSession(ctx, s1.Hash, t1, t1.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchOperatorSession(ctx, s1.Hash, t0, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	got, _, _ = s.GetOperatorSession(ctx, s1.Hash)
	if !got.LastSeenTime.Equal(t1) || !got.IdleExpireTime.Equal(t1.Add(30*time.Minute)) {
		t.Fatalf("after touch: %+v", got)
	}

	// Revoke one; then everything of o (sign out everywhere); other's session lives on.
	if err := s.RevokeOperatorSession(ctx, s1.Hash, t1); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeOperatorSession(ctx, s1.Hash, t1.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _, _ = s.GetOperatorSession(ctx, s1.Hash)
	if got.RevokeTime == nil || !got.RevokeTime.Equal(t1) || got.Valid(t1) {
		t.Fatalf("revoked session = %+v", got)
	}
	// A revoked session is not touched back to life.
	if err := s.TouchOperatorSession(ctx, s1.Hash, t1.Add(2*time.Minute), t1.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.GetOperatorSession(ctx, s1.Hash); !got.LastSeenTime.Equal(t1) {
		t.Errorf("a revoked session was touched: %+v", got)
	}
	n, err := s.RevokeOperatorSessions(ctx, o.ID, t1)
	if err != nil || n != 1 {
		t.Fatalf("revoke all = %d, %v; want 1 (s2)", n, err)
	}
	if got, _, _ := s.GetOperatorSession(ctx, s2.Hash); got.RevokeTime == nil {
		t.Error("sign out everywhere left s2")
	}
	if got, _, _ := s.GetOperatorSession(ctx, s3.Hash); got.RevokeTime != nil {
		t.Error("sign out everywhere of one operator ended another's session")
	}
	// UpdateOperator with RevokeSessions, and removal, end sessions too.
	s4 := mk("s4", other)
	if _, err := s.UpdateOperator(ctx, other.ID, func(op *roster.Operator) error { op.PasswordHash = "new"; return nil },
		store.OperatorWrite{Now: t1, RevokeSessions: true}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.GetOperatorSession(ctx, s4.Hash); got.RevokeTime == nil {
		t.Error("a password change with RevokeSessions left a session")
	}
	s5 := mk("s5", other)
	if _, err := s.UpdateOperator(ctx, other.ID, nil, store.OperatorWrite{Now: t1, Remove: true}); err != nil {
		t.Fatal(err)
	}
	got, op, _ = s.GetOperatorSession(ctx, s5.Hash)
	if got.RevokeTime == nil || !op.Removed() {
		t.Errorf("removing the operator left its session %+v (operator removed: %v)", got, op.Removed())
	}
}
