// Package password hashes operators' passwords with argon2id (RFC 9106) and checks them. A
// hash is a PHC string that carries its own parameters and salt,
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// so the parameters may change later: a hash made with other parameters still verifies, and
// NeedsRehash tells the caller to store a new one at the next successful sign-in. Nothing here
// is home-made cryptography: the key comes from argon2.IDKey, the salt from crypto/rand, and
// keys are compared with crypto/subtle. Passwords are never logged or kept.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// Default is OWASP's recommended minimum for argon2id (Password Storage Cheat Sheet): 19 MiB,
// 2 passes, 1 lane; about 25 ms on one core. The salt is 16 random bytes, the key 32.
var Default = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on what a stored hash may ask for, so that a damaged or hostile row cannot make one
// check take gigabytes or minutes.
const (
	maxMemory = 1 << 20 // KiB: 1 GiB
	maxTime   = 100
	maxKeyLen = 1024
)

// ErrMalformed is returned by Verify for a string that is not an argon2id PHC hash.
var ErrMalformed = errors.New("password: not an argon2id hash")

// Hash returns the PHC string of password with a fresh random salt.
func Hash(password string, p Params) (string, error) {
	if p.Memory == 0 || p.Time == 0 || p.Threads == 0 || p.SaltLen < 8 || p.KeyLen < 16 {
		return "", fmt.Errorf("password: parameters too weak: %+v", p)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// decoded is a parsed hash.
type decoded struct {
	p         Params
	salt, key []byte
}

func decode(hash string) (decoded, error) {
	var d decoded
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return d, ErrMalformed
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return d, ErrMalformed
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &d.p.Memory, &d.p.Time, &d.p.Threads); err != nil {
		return d, ErrMalformed
	}
	var err1, err2 error
	d.salt, err1 = base64.RawStdEncoding.DecodeString(parts[4])
	d.key, err2 = base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(d.salt) == 0 || len(d.key) < 16 || len(d.key) > maxKeyLen ||
		d.p.Memory == 0 || d.p.Memory > maxMemory || d.p.Time == 0 || d.p.Time > maxTime || d.p.Threads == 0 {
		return d, ErrMalformed
	}
	d.p.SaltLen, d.p.KeyLen = uint32(len(d.salt)), uint32(len(d.key))
	return d, nil
}

// Verify reports whether password matches hash, comparing the keys in constant time. A hash
// that does not parse is ErrMalformed (and no match).
func Verify(hash, password string) (bool, error) {
	d, err := decode(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), d.salt, d.p.Time, d.p.Memory, d.p.Threads, d.p.KeyLen)
	return subtle.ConstantTimeCompare(got, d.key) == 1, nil
}

// NeedsRehash reports whether hash was made with parameters other than p (or does not parse).
func NeedsRehash(hash string, p Params) bool {
	d, err := decode(hash)
	return err != nil || d.p != p
}
