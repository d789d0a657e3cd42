package roster

import (
	"strings"
	"time"
	"unicode/utf8"
)

// PrefixOperator is the ID prefix of operator accounts.
const PrefixOperator = "op_"

// Operator limits and the password policy (docs/operators.md).
const (
	OperatorNameMax = 255
	// OperatorPasswordMin is the fewest characters (Unicode code points) of a password: length
	// is what makes a password hard to guess (NIST SP 800-63B), so there are no composition
	// rules beyond OperatorPasswordCheck's.
	OperatorPasswordMin = 12
	// OperatorPasswordMaxBytes bounds a password in bytes, so that hashing it costs what it
	// should: a long passphrase fits, a megabyte body does not.
	OperatorPasswordMaxBytes = 256
)

// Operator is a person who runs this Roster through the dashboard: an account of the
// deployment, not of an environment, and not an API client. Operators sign in with their email
// and a password; see docs/operators.md.
type Operator struct {
	ID          string
	Email       string // as given, normalized (NormalizeEmail); the sign-in name
	DisplayName string // optional
	// PasswordHash is the argon2id PHC string of the password; "" until the operator has
	// chosen one through a set-up link.
	PasswordHash string
	CreateTime   time.Time
	UpdateTime   time.Time
	// PasswordTime is when the password was last set.
	PasswordTime *time.Time
	// RemoveTime is when the operator was removed: a removed operator cannot sign in, its
	// sessions and links stop working, and its email may be given to a new operator. The row
	// stays, so that what it did can still name it.
	RemoveTime *time.Time
}

// Removed reports whether the operator was removed.
func (o Operator) Removed() bool { return o.RemoveTime != nil }

// HasPassword reports whether the operator has chosen a password (set up).
func (o Operator) HasPassword() bool { return o.PasswordHash != "" }

// EmailKey is the form in which operators' emails are compared (unique among operators that
// are not removed).
func (o Operator) EmailKey() string { return EmailKey(o.Email) }

// NewOperator is what creating an operator takes.
type NewOperator struct {
	Email       string
	DisplayName string
}

// Check validates a new operator: an email address by the rules of user emails, and a
// display name of at most OperatorNameMax characters.
func (n NewOperator) Check() error {
	var v Violations
	checkEmail(&v, "email", n.Email)
	checkOperatorName(&v, n.DisplayName)
	return v.Err()
}

func checkOperatorName(v *Violations, name string) {
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > OperatorNameMax {
		v.Add("display_name", "string.max_len=255", "must be at most %d characters", OperatorNameMax)
	}
	if !utf8.ValidString(name) {
		v.Add("display_name", "string.utf8", "must be UTF-8 text")
	}
}

// Build returns the operator with its fields normalized.
func (n NewOperator) Build(id string, now time.Time) Operator {
	return Operator{ID: id, Email: NormalizeEmail(n.Email), DisplayName: strings.TrimSpace(n.DisplayName), CreateTime: now, UpdateTime: now}
}

// CheckOperatorPassword applies the password policy: at least OperatorPasswordMin characters,
// at most OperatorPasswordMaxBytes bytes of UTF-8, and not one character repeated. Nothing
// else (no required digits or symbols, no expiry); the field is "password".
func CheckOperatorPassword(password string) error {
	var v Violations
	n := utf8.RuneCountInString(password)
	switch {
	case !utf8.ValidString(password):
		v.Add("password", "string.utf8", "must be UTF-8 text")
	case n < OperatorPasswordMin:
		v.Add("password", "string.min_len=12", "must be at least %d characters", OperatorPasswordMin)
	case len(password) > OperatorPasswordMaxBytes:
		v.Add("password", "string.max_bytes=256", "must be at most %d bytes", OperatorPasswordMaxBytes)
	case oneCharacter(password):
		v.Add("password", "string.not_repeated", "must not be one character repeated")
	}
	return v.Err()
}

func oneCharacter(s string) bool {
	first, _ := utf8.DecodeRuneInString(s)
	for _, r := range s {
		if r != first {
			return false
		}
	}
	return true
}

// OperatorToken is a one-time link that lets an operator choose a password: a set-up link for
// a new operator or a reset, or (OperatorID "") the link that the first start prints, which
// creates the first operator. Only the SHA-256 of the token is stored.
type OperatorToken struct {
	Hash       string
	OperatorID string // "": the first-operator link
	CreateTime time.Time
	ExpireTime time.Time
	UseTime    *time.Time // set once, when it is redeemed (or voided)
}

// Usable reports whether the token may still be redeemed at now.
func (t OperatorToken) Usable(now time.Time) bool {
	return t.UseTime == nil && now.Before(t.ExpireTime)
}

// OperatorSession is a signed-in operator's session (the dashboard's cookie holds the token;
// only its SHA-256 is stored, so any node finds it and a database dump does not hold it).
type OperatorSession struct {
	Hash         string
	OperatorID   string
	RemoteAddr   string // where the sign-in came from, for the operator's list of sessions
	CreateTime   time.Time
	LastSeenTime time.Time
	// IdleExpireTime is when the session ends if unused (sliding: moved on as it is used);
	// ExpireTime is when it ends however used (absolute).
	IdleExpireTime time.Time
	ExpireTime     time.Time
	RevokeTime     *time.Time
}

// Valid reports whether the session may be used at now.
func (s OperatorSession) Valid(now time.Time) bool {
	return s.RevokeTime == nil && now.Before(s.IdleExpireTime) && now.Before(s.ExpireTime)
}

// SignInFailures is the per-account sign-in throttle of one email (EmailKey), kept whether or
// not an operator has that email, so that an unknown email is refused exactly as a known one:
// Count wrong passwords in a row (within the lockout window) and, once they reach the limit,
// no sign-in until LockedUntil.
type SignInFailures struct {
	EmailKey    string
	Count       int
	LockedUntil *time.Time
	UpdateTime  time.Time // the last failure
}

// Locked reports whether sign-ins of the email are refused at now.
func (f SignInFailures) Locked(now time.Time) bool {
	return f.LockedUntil != nil && now.Before(*f.LockedUntil)
}

// PrefixOperatorAudit is the ID prefix of audit log entries.
const PrefixOperatorAudit = "aud_"

// OperatorAuditEntry is one action of an operator, as the dashboard's audit log records it:
// who (OperatorID and Email, "" when nobody was signed in, as for a failed sign-in where
// Email is what was typed), what (Action, e.g. "attribute.create", and Target, e.g.
// "employee_id"), when, and from which address. It never holds a secret or a password.
type OperatorAuditEntry struct {
	ID         string
	OperatorID string
	Email      string
	Action     string
	Target     string
	RemoteAddr string
	CreateTime time.Time
}
