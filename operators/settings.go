package operators

import (
	"runtime"
	"time"

	"github.com/rosterhq/roster/internal/password"
)

// Settings are the timings and limits of operator accounts (docs/operators.md). A zero field
// takes its default, so Settings{} is production's; tests set milliseconds.
type Settings struct {
	// MaxFailures wrong passwords in a row lock an account for Lockout (per-account
	// throttling, in the database: every node counts and sees it).
	MaxFailures int
	Lockout     time.Duration
	// AddressFailures failed sign-ins in a row are allowed from one address (an IPv4 address
	// or an IPv6 /64), then one more every AddressInterval; the others are refused before any
	// password is checked. This count is in the memory of each node (bounded to
	// AddressMaxKeys addresses), not in the database.
	AddressFailures int
	AddressInterval time.Duration
	AddressMaxKeys  int
	// SessionIdle ends a session unused for that long (sliding); SessionMax ends any session
	// that long after sign-in (absolute). A session's use is written at most once per
	// TouchEvery, so the idle timeout is exact to within TouchEvery.
	SessionIdle time.Duration
	SessionMax  time.Duration
	TouchEvery  time.Duration
	// LinkTTL is how long a set-up or reset link (and the first-operator link) works.
	LinkTTL time.Duration
	// Password is the argon2id cost of new hashes; older hashes are replaced at sign-in.
	Password password.Params
	// Hashes bounds the argon2id checks that run at once (each takes ~19 MiB and a core for
	// tens of milliseconds); a sign-in waits at most HashWait for its turn.
	Hashes   int
	HashWait time.Duration
}

// Defaults of Settings.
const (
	DefaultMaxFailures     = 5
	DefaultLockout         = 15 * time.Minute
	DefaultAddressFailures = 20
	DefaultAddressInterval = 30 * time.Second
	DefaultAddressMaxKeys  = 10000
	DefaultSessionIdle     = 30 * time.Minute
	DefaultSessionMax      = 12 * time.Hour
	DefaultTouchEvery      = time.Minute
	DefaultLinkTTL         = 24 * time.Hour
	DefaultHashWait        = 3 * time.Second
)

func (s Settings) withDefaults() Settings {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	setInt := func(n *int, v int) {
		if *n <= 0 {
			*n = v
		}
	}
	setInt(&s.MaxFailures, DefaultMaxFailures)
	set(&s.Lockout, DefaultLockout)
	setInt(&s.AddressFailures, DefaultAddressFailures)
	set(&s.AddressInterval, DefaultAddressInterval)
	setInt(&s.AddressMaxKeys, DefaultAddressMaxKeys)
	set(&s.SessionIdle, DefaultSessionIdle)
	set(&s.SessionMax, DefaultSessionMax)
	set(&s.TouchEvery, DefaultTouchEvery)
	set(&s.LinkTTL, DefaultLinkTTL)
	set(&s.HashWait, DefaultHashWait)
	setInt(&s.Hashes, max(1, runtime.GOMAXPROCS(0)/2))
	if s.Password == (password.Params{}) {
		s.Password = password.Default
	}
	return s
}
