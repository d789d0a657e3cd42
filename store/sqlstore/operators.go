package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

// Operators, their set-up links and sessions (store.OperatorStore, docs/operators.md). They
// change nothing a user shows, so their transactions are inOtherTx, and nothing is cached.

const operatorColumns = `id, email, display_name, password_hash, create_time, update_time, password_time, remove_time`

func scanOperator(row interface{ Scan(...any) error }) (roster.Operator, error) {
	var o roster.Operator
	var created, updated int64
	var pwTime, removed sql.NullInt64
	err := row.Scan(&o.ID, &o.Email, &o.DisplayName, &o.PasswordHash, &created, &updated, &pwTime, &removed)
	o.CreateTime, o.UpdateTime, o.PasswordTime, o.RemoveTime = fromMicros(created), fromMicros(updated), timePtr(pwTime), timePtr(removed)
	return o, err
}

// operatorConflict is the error of a second operator with an email.
func (s *Store) operatorConflict(err error, email string) error {
	if _, ok := s.dialect.UniqueViolation(err); !ok {
		return err
	}
	return &roster.Error{Code: roster.EConflict, Message: fmt.Sprintf("an operator with email %q already exists", email),
		Violations: []roster.FieldViolation{{Field: "email", Constraint: "unique", Description: "must be unique among operators"}}}
}

func insertOperator(ctx context.Context, tx txConn, o roster.Operator) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO operators (`+operatorColumns+`, email_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		o.ID, o.Email, o.DisplayName, o.PasswordHash, micros(o.CreateTime), micros(o.UpdateTime),
		nullMicros(o.PasswordTime), nullMicros(o.RemoveTime), o.EmailKey())
	return err
}

func insertOperatorToken(ctx context.Context, tx txConn, t roster.OperatorToken) error {
	var opID sql.NullString
	if t.OperatorID != "" {
		opID = sql.NullString{String: t.OperatorID, Valid: true}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO operator_tokens (hash, operator_id, create_time, expire_time, use_time) VALUES ($1, $2, $3, $4, $5)`,
		t.Hash, opID, micros(t.CreateTime), micros(t.ExpireTime), nullMicros(t.UseTime))
	return err
}

// CreateOperator stores an operator and its set-up link.
func (s *Store) CreateOperator(ctx context.Context, op roster.Operator, token *roster.OperatorToken) error {
	err := s.inOtherTx(ctx, func(tx txConn) error {
		if err := insertOperator(ctx, tx, op); err != nil {
			return s.operatorConflict(err, op.Email)
		}
		if token != nil {
			t := *token
			t.OperatorID = op.ID
			return insertOperatorToken(ctx, tx, t)
		}
		return nil
	})
	return err
}

// GetOperator returns an operator, removed or not.
func (s *Store) GetOperator(ctx context.Context, id string) (roster.Operator, error) {
	o, err := scanOperator(s.read.QueryRowContext(ctx, `SELECT `+operatorColumns+` FROM operators WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return o, notFound("operator")
	}
	return o, err
}

// FindOperator returns the operator of an email, not removed.
func (s *Store) FindOperator(ctx context.Context, emailKey string) (roster.Operator, error) {
	o, err := scanOperator(s.read.QueryRowContext(ctx, `SELECT `+operatorColumns+` FROM operators WHERE email_key = $1 AND remove_time IS NULL`, emailKey))
	if errors.Is(err, sql.ErrNoRows) {
		return o, notFound("operator")
	}
	return o, err
}

// ListOperators returns the operators that are not removed, oldest first.
func (s *Store) ListOperators(ctx context.Context) ([]roster.Operator, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+operatorColumns+` FROM operators WHERE remove_time IS NULL ORDER BY create_time, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []roster.Operator
	for rows.Next() {
		o, err := scanOperator(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// lockOperator reads and locks an operator that is not removed.
func (s *Store) lockOperator(ctx context.Context, tx txConn, id string) (roster.Operator, error) {
	o, err := scanOperator(tx.QueryRowContext(ctx, `SELECT `+operatorColumns+` FROM operators WHERE id = $1 AND remove_time IS NULL`+s.dialect.RowLock(), id))
	if errors.Is(err, sql.ErrNoRows) {
		return o, notFound("operator")
	}
	return o, err
}

func updateOperatorRow(ctx context.Context, tx txConn, o roster.Operator) error {
	_, err := tx.ExecContext(ctx, `UPDATE operators SET email = $2, email_key = $3, display_name = $4, password_hash = $5,
		update_time = $6, password_time = $7, remove_time = $8 WHERE id = $1`,
		o.ID, o.Email, o.EmailKey(), o.DisplayName, o.PasswordHash, micros(o.UpdateTime), nullMicros(o.PasswordTime), nullMicros(o.RemoveTime))
	return err
}

func revokeSessions(ctx context.Context, tx execQuerier, operatorID string, at time.Time) (int, error) {
	res, err := tx.ExecContext(ctx, `UPDATE operator_sessions SET revoke_time = $2 WHERE operator_id = $1 AND revoke_time IS NULL`, operatorID, micros(at))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func voidTokens(ctx context.Context, tx txConn, operatorID string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE operator_tokens SET use_time = $2 WHERE operator_id = $1 AND use_time IS NULL`, operatorID, micros(at))
	return err
}

// UpdateOperator applies update and what w asks in one transaction.
func (s *Store) UpdateOperator(ctx context.Context, id string, update func(*roster.Operator) error, w store.OperatorWrite) (roster.Operator, error) {
	var out roster.Operator
	err := s.inOtherTx(ctx, func(tx txConn) error {
		o, err := s.lockOperator(ctx, tx, id)
		if err != nil {
			return err
		}
		if update != nil {
			if err := update(&o); err != nil {
				return err
			}
		}
		o.ID = id
		if w.Remove {
			at := w.Now
			o.RemoveTime = &at
		}
		if err := updateOperatorRow(ctx, tx, o); err != nil {
			return s.operatorConflict(err, o.Email)
		}
		if w.RevokeSessions || w.Remove {
			if _, err := revokeSessions(ctx, tx, id, w.Now); err != nil {
				return err
			}
		}
		if w.Token != nil || w.Remove {
			if err := voidTokens(ctx, tx, id, w.Now); err != nil {
				return err
			}
		}
		if w.Token != nil {
			t := *w.Token
			t.OperatorID = id
			if err := insertOperatorToken(ctx, tx, t); err != nil {
				return err
			}
		}
		out = o
		return nil
	})
	return out, err
}

// CreateFirstOperatorToken stores a first-operator link and voids the earlier ones.
func (s *Store) CreateFirstOperatorToken(ctx context.Context, t roster.OperatorToken) error {
	t.OperatorID = ""
	return s.inOtherTx(ctx, func(tx txConn) error {
		if _, err := tx.ExecContext(ctx, `UPDATE operator_tokens SET use_time = $1 WHERE operator_id IS NULL AND use_time IS NULL`, micros(t.CreateTime)); err != nil {
			return err
		}
		return insertOperatorToken(ctx, tx, t)
	})
}

const operatorTokenColumns = `hash, operator_id, create_time, expire_time, use_time`

func scanOperatorToken(row interface{ Scan(...any) error }) (roster.OperatorToken, error) {
	var t roster.OperatorToken
	var opID sql.NullString
	var created, expires int64
	var used sql.NullInt64
	err := row.Scan(&t.Hash, &opID, &created, &expires, &used)
	t.OperatorID, t.CreateTime, t.ExpireTime, t.UseTime = opID.String, fromMicros(created), fromMicros(expires), timePtr(used)
	return t, err
}

// GetOperatorToken returns a link by hash.
func (s *Store) GetOperatorToken(ctx context.Context, hash string) (roster.OperatorToken, error) {
	t, err := scanOperatorToken(s.read.QueryRowContext(ctx, `SELECT `+operatorTokenColumns+` FROM operator_tokens WHERE hash = $1`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return t, notFound("set-up link")
	}
	return t, err
}

// errLinkUnusable is the one answer for a link that cannot be redeemed, whatever the reason:
// the page that shows it need not say whether a token ever existed.
func errLinkUnusable() error {
	return roster.Errorf(roster.ENotFound, "the set-up link is not valid: it was used, has expired or was replaced; ask for a new one")
}

// RedeemOperatorToken uses a link once.
func (s *Store) RedeemOperatorToken(ctx context.Context, hash string, now time.Time, set func(t roster.OperatorToken, op *roster.Operator) error) (roster.Operator, error) {
	var out roster.Operator
	err := s.inOtherTx(ctx, func(tx txConn) error {
		// Taking the link is the statement that decides between concurrent redemptions: on
		// PostgreSQL the second UPDATE waits for the first's row lock, then finds use_time set.
		res, err := tx.ExecContext(ctx, `UPDATE operator_tokens SET use_time = $2 WHERE hash = $1 AND use_time IS NULL AND expire_time > $2`, hash, micros(now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return errLinkUnusable()
		}
		t, err := scanOperatorToken(tx.QueryRowContext(ctx, `SELECT `+operatorTokenColumns+` FROM operator_tokens WHERE hash = $1`, hash))
		if err != nil {
			return err
		}
		if t.OperatorID == "" { // the first operator
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM operators WHERE remove_time IS NULL`).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return roster.Errorf(roster.EFailedPrecondition, "an operator exists already: the first-operator link no longer works; ask an operator for an account")
			}
			var o roster.Operator
			if err := set(t, &o); err != nil {
				return err
			}
			if err := insertOperator(ctx, tx, o); err != nil {
				return s.operatorConflict(err, o.Email)
			}
			out = o
			return nil
		}
		o, err := s.lockOperator(ctx, tx, t.OperatorID)
		if roster.ErrorCode(err) == roster.ENotFound {
			return errLinkUnusable()
		} else if err != nil {
			return err
		}
		if err := set(t, &o); err != nil {
			return err
		}
		o.ID = t.OperatorID
		if err := updateOperatorRow(ctx, tx, o); err != nil {
			return s.operatorConflict(err, o.Email)
		}
		out = o
		return nil
	})
	return out, err
}

// CreateOperatorSession stores a session.
func (s *Store) CreateOperatorSession(ctx context.Context, ses roster.OperatorSession) error {
	_, err := s.writeOther.ExecContext(ctx, `INSERT INTO operator_sessions (hash, operator_id, remote_addr, create_time, last_seen_time, idle_expire_time, expire_time, revoke_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		ses.Hash, ses.OperatorID, ses.RemoteAddr, micros(ses.CreateTime), micros(ses.LastSeenTime), micros(ses.IdleExpireTime), micros(ses.ExpireTime), nullMicros(ses.RevokeTime))
	return err
}

// GetOperatorSession returns a session and its operator in one query.
func (s *Store) GetOperatorSession(ctx context.Context, hash string) (roster.OperatorSession, roster.Operator, error) {
	var ses roster.OperatorSession
	var created, seen, idle, expires int64
	var revoked sql.NullInt64
	var o roster.Operator
	var oCreated, oUpdated int64
	var pwTime, removed sql.NullInt64
	err := s.read.QueryRowContext(ctx, `SELECT s.hash, s.operator_id, s.remote_addr, s.create_time, s.last_seen_time, s.idle_expire_time, s.expire_time, s.revoke_time,
		o.id, o.email, o.display_name, o.password_hash, o.create_time, o.update_time, o.password_time, o.remove_time
		FROM operator_sessions s JOIN operators o ON o.id = s.operator_id WHERE s.hash = $1`, hash).Scan(
		&ses.Hash, &ses.OperatorID, &ses.RemoteAddr, &created, &seen, &idle, &expires, &revoked,
		&o.ID, &o.Email, &o.DisplayName, &o.PasswordHash, &oCreated, &oUpdated, &pwTime, &removed)
	if errors.Is(err, sql.ErrNoRows) {
		return ses, o, notFound("session")
	}
	ses.CreateTime, ses.LastSeenTime, ses.IdleExpireTime, ses.ExpireTime, ses.RevokeTime = fromMicros(created), fromMicros(seen), fromMicros(idle), fromMicros(expires), timePtr(revoked)
	o.CreateTime, o.UpdateTime, o.PasswordTime, o.RemoveTime = fromMicros(oCreated), fromMicros(oUpdated), timePtr(pwTime), timePtr(removed)
	return ses, o, err
}

// TouchOperatorSession moves a live session's last use and idle expiry on (never back).
func (s *Store) TouchOperatorSession(ctx context.Context, hash string, at, idleExpire time.Time) error {
	_, err := s.writeOther.ExecContext(ctx, `UPDATE operator_sessions SET last_seen_time = $2, idle_expire_time = $3
		WHERE hash = $1 AND revoke_time IS NULL AND last_seen_time < $2`, hash, micros(at), micros(idleExpire))
	return err
}

// RevokeOperatorSession ends one session; revoking twice keeps the first time.
func (s *Store) RevokeOperatorSession(ctx context.Context, hash string, at time.Time) error {
	_, err := s.writeOther.ExecContext(ctx, `UPDATE operator_sessions SET revoke_time = $2 WHERE hash = $1 AND revoke_time IS NULL`, hash, micros(at))
	return err
}

// RevokeOperatorSessions ends every live session of an operator.
func (s *Store) RevokeOperatorSessions(ctx context.Context, operatorID string, at time.Time) (int, error) {
	return revokeSessions(ctx, s.writeOther, operatorID, at)
}

// SignInFailures returns an email's sign-in throttle.
func (s *Store) SignInFailures(ctx context.Context, emailKey string) (roster.SignInFailures, error) {
	f, err := scanSignInFailures(s.read.QueryRowContext(ctx, `SELECT email_key, failures, locked_until, update_time FROM operator_sign_in_failures WHERE email_key = $1`, emailKey))
	if errors.Is(err, sql.ErrNoRows) {
		return roster.SignInFailures{EmailKey: emailKey}, nil
	}
	return f, err
}

func scanSignInFailures(row interface{ Scan(...any) error }) (roster.SignInFailures, error) {
	var f roster.SignInFailures
	var locked sql.NullInt64
	var updated int64
	err := row.Scan(&f.EmailKey, &f.Count, &locked, &updated)
	f.LockedUntil, f.UpdateTime = timePtr(locked), fromMicros(updated)
	return f, err
}

// RecordSignInFailure updates an email's throttle in one transaction. The row is made first
// (INSERT ... ON CONFLICT DO NOTHING) so that the read that follows can lock it: two first
// failures of one email at once then count twice, on PostgreSQL as on SQLite.
func (s *Store) RecordSignInFailure(ctx context.Context, emailKey string, now, staleBefore time.Time, update func(*roster.SignInFailures)) (roster.SignInFailures, error) {
	var out roster.SignInFailures
	err := s.inOtherTx(ctx, func(tx txConn) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM operator_sign_in_failures WHERE update_time < $1 AND (locked_until IS NULL OR locked_until < $2) AND email_key <> $3`,
			micros(staleBefore), micros(now), emailKey); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO operator_sign_in_failures (email_key, failures, locked_until, update_time) VALUES ($1, 0, NULL, $2)
			ON CONFLICT (email_key) DO NOTHING`, emailKey, micros(now)); err != nil {
			return err
		}
		f, err := scanSignInFailures(tx.QueryRowContext(ctx, `SELECT email_key, failures, locked_until, update_time FROM operator_sign_in_failures WHERE email_key = $1`+s.dialect.RowLock(), emailKey))
		if err != nil {
			return err
		}
		update(&f)
		f.EmailKey, f.UpdateTime = emailKey, now
		if _, err := tx.ExecContext(ctx, `UPDATE operator_sign_in_failures SET failures = $2, locked_until = $3, update_time = $4 WHERE email_key = $1`,
			emailKey, f.Count, nullMicros(f.LockedUntil), micros(now)); err != nil {
			return err
		}
		out = f
		return nil
	})
	return out, err
}

// ClearSignInFailures forgets an email's failures.
func (s *Store) ClearSignInFailures(ctx context.Context, emailKey string) error {
	_, err := s.writeOther.ExecContext(ctx, `DELETE FROM operator_sign_in_failures WHERE email_key = $1`, emailKey)
	return err
}

// AppendOperatorAudit records an operator action.
func (s *Store) AppendOperatorAudit(ctx context.Context, e roster.OperatorAuditEntry) error {
	_, err := s.writeOther.ExecContext(ctx, `INSERT INTO operator_audit (id, operator_id, email, action, target, remote_addr, create_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, e.ID, e.OperatorID, e.Email, e.Action, e.Target, e.RemoteAddr, micros(e.CreateTime))
	return err
}

// ListOperatorAudit returns a page of the audit log, newest first.
func (s *Store) ListOperatorAudit(ctx context.Context, before store.AuditCursor, limit int) ([]roster.OperatorAuditEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	q := `SELECT id, operator_id, email, action, target, remote_addr, create_time FROM operator_audit`
	args := []any{limit}
	if before.ID != "" {
		q += ` WHERE create_time < $2 OR (create_time = $2 AND id < $3)`
		args = append(args, micros(before.Time), before.ID)
	}
	rows, err := s.read.QueryContext(ctx, q+` ORDER BY create_time DESC, id DESC LIMIT $1`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []roster.OperatorAuditEntry
	for rows.Next() {
		var e roster.OperatorAuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &e.OperatorID, &e.Email, &e.Action, &e.Target, &e.RemoteAddr, &at); err != nil {
			return nil, err
		}
		e.CreateTime = fromMicros(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
