// Package userjson writes the JSON of a scalekit.v1.users.User as the REST API answers it: the
// very bytes protojson writes with proto names and every field present (rest.MarshalJSON), once
// compacted, but appended to a []byte without reflection and almost without allocations.
//
// protojson is the specification: FuzzUserJSON holds this package to its output byte for byte.
// What protojson does, this does too:
//   - fields in declaration order (not field-number order: UserProfile's first_name, numbered
//     21, comes after custom_attributes);
//   - unset singular messages are null, except proto3 optional ones (OrganizationMembership's
//     created_at, ...), which are left out like unset optional strings;
//   - map entries sorted by key, bytewise;
//   - enums by name, or by number when the number has no name;
//   - timestamps in RFC 3339, UTC, with 0, 3, 6 or 9 fractional digits, refused outside years
//     1 to 9999 or with nanos outside [0, 1e9);
//   - strings escaped as protojson escapes them ('"', '\\' and control characters only: no HTML
//     escaping, U+2028 as is), and refused when they are not valid UTF-8;
//   - unknown fields left out.
package userjson

import (
	"errors"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rosterhq/roster/gen/scalekit/v1/commons"
	usersv1 "github.com/rosterhq/roster/gen/scalekit/v1/users"
	"github.com/rosterhq/roster/internal/jsonesc"
)

// Append appends the JSON of u to b. It fails, as protojson does, on a string that is not valid
// UTF-8 and on a timestamp out of range; b then holds a partial value.
func Append(b []byte, u *usersv1.User) ([]byte, error) {
	var e encoder
	e.b = b
	e.user(u)
	return e.b, e.err
}

// errInvalidUTF8 and errTimestamp are the two ways a user can have no JSON.
var (
	errInvalidUTF8 = errors.New("userjson: string field contains invalid UTF-8")
	errTimestamp   = errors.New("userjson: timestamp out of range")
)

type encoder struct {
	b   []byte
	err error
}

func (e *encoder) user(u *usersv1.User) {
	if u == nil {
		u = &usersv1.User{}
	}
	e.str(`{"id":`, u.Id)
	e.str(`,"environment_id":`, u.EnvironmentId)
	e.timestamp(`,"create_time":`, u.CreateTime)
	e.timestamp(`,"update_time":`, u.UpdateTime)
	e.str(`,"email":`, u.Email)
	e.optStr(`,"external_id":`, u.ExternalId)
	e.b = append(e.b, `,"memberships":[`...)
	for i, m := range u.Memberships {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.membership(m)
	}
	e.b = append(e.b, `],"user_profile":`...)
	if u.UserProfile == nil {
		e.b = append(e.b, "null"...)
	} else {
		e.profile(u.UserProfile)
	}
	e.strMap(`,"metadata":`, u.Metadata)
	e.timestamp(`,"last_login_time":`, u.LastLoginTime)
	e.b = append(e.b, '}')
}

func (e *encoder) membership(m *commons.OrganizationMembership) {
	if m == nil {
		m = &commons.OrganizationMembership{}
	}
	e.str(`{"organization_id":`, m.OrganizationId)
	e.timestamp(`,"join_time":`, m.JoinTime)
	e.enum(`,"membership_status":`, int32(m.MembershipStatus), commons.MembershipStatus_name)
	e.b = append(e.b, `,"roles":[`...)
	for i, r := range m.Roles {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		if r == nil {
			r = &commons.Role{}
		}
		e.str(`{"id":`, r.Id)
		e.str(`,"name":`, r.Name)
		e.str(`,"display_name":`, r.DisplayName)
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, ']')
	e.optStr(`,"name":`, m.Name)
	e.strMap(`,"metadata":`, m.Metadata)
	e.optStr(`,"display_name":`, m.DisplayName)
	e.optStr(`,"inviter_email":`, m.InviterEmail)
	e.optTimestamp(`,"created_at":`, m.CreatedAt)
	e.optTimestamp(`,"accepted_at":`, m.AcceptedAt)
	e.optTimestamp(`,"expires_at":`, m.ExpiresAt)
	e.optStr(`,"provisioning_method":`, m.ProvisioningMethod)
	e.strList(`,"permissions":`, m.Permissions)
	e.b = append(e.b, '}')
}

func (e *encoder) profile(p *commons.UserProfile) {
	e.str(`{"id":`, p.Id)
	e.str(`,"given_name":`, p.GivenName)
	e.str(`,"family_name":`, p.FamilyName)
	e.str(`,"name":`, p.Name)
	e.str(`,"locale":`, p.Locale)
	e.bool(`,"email_verified":`, p.EmailVerified)
	e.str(`,"phone_number":`, p.PhoneNumber)
	e.strMap(`,"metadata":`, p.Metadata)
	e.strMap(`,"custom_attributes":`, p.CustomAttributes)
	e.str(`,"first_name":`, p.FirstName) //nolint:staticcheck // deprecated, still answered
	e.str(`,"last_name":`, p.LastName)   //nolint:staticcheck // deprecated, still answered
	e.str(`,"preferred_username":`, p.PreferredUsername)
	e.bool(`,"phone_number_verified":`, p.PhoneNumberVerified)
	e.str(`,"picture":`, p.Picture)
	e.strList(`,"groups":`, p.Groups)
	e.str(`,"gender":`, p.Gender)
	e.b = append(e.b, `,"external_identities":[`...)
	for i, x := range p.ExternalIdentities {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		if x == nil {
			x = &commons.ExternalIdentity{}
		}
		e.str(`{"connection_id":`, x.ConnectionId)
		e.str(`,"connection_type":`, x.ConnectionType)
		e.enum(`,"connection_provider":`, int32(x.ConnectionProvider), commons.IdentityProviderType_name)
		e.str(`,"connection_user_id":`, x.ConnectionUserId)
		e.bool(`,"is_social":`, x.IsSocial)
		e.timestamp(`,"last_login_time":`, x.LastLoginTime)
		e.timestamp(`,"created_time":`, x.CreatedTime)
		e.timestamp(`,"last_synced_time":`, x.LastSyncedTime)
		e.b = append(e.b, '}')
	}
	e.b = append(e.b, "]}"...)
}

// name is the key of a field with what comes before it: `,"email":`.

func (e *encoder) str(name, s string) {
	e.b = append(e.b, name...)
	e.string(s)
}

// optStr writes a proto3 optional string, which protojson leaves out when it is unset.
func (e *encoder) optStr(name string, s *string) {
	if s != nil {
		e.str(name, *s)
	}
}

func (e *encoder) bool(name string, v bool) {
	e.b = append(e.b, name...)
	if v {
		e.b = append(e.b, "true"...)
	} else {
		e.b = append(e.b, "false"...)
	}
}

func (e *encoder) enum(name string, v int32, names map[int32]string) {
	e.b = append(e.b, name...)
	if n, ok := names[v]; ok {
		e.b = append(append(append(e.b, '"'), n...), '"') // enum names need no escaping
	} else {
		e.b = strconv.AppendInt(e.b, int64(v), 10)
	}
}

func (e *encoder) strList(name string, l []string) {
	e.b = append(e.b, name...)
	e.b = append(e.b, '[')
	for i, s := range l {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.string(s)
	}
	e.b = append(e.b, ']')
}

// strMap writes a map<string, string> with its keys in order, as protojson does.
func (e *encoder) strMap(name string, m map[string]string) {
	e.b = append(e.b, name...)
	e.b = append(e.b, '{')
	var small [16]string // most maps are small: keep their keys on the stack
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			e.b = append(e.b, ',')
		}
		e.string(k)
		e.b = append(e.b, ':')
		e.string(m[k])
	}
	e.b = append(e.b, '}')
}

func (e *encoder) timestamp(name string, t *timestamppb.Timestamp) {
	e.b = append(e.b, name...)
	if t == nil {
		e.b = append(e.b, "null"...)
		return
	}
	e.time(t.Seconds, t.Nanos)
}

// optTimestamp writes a proto3 optional timestamp, which protojson leaves out when it is unset.
func (e *encoder) optTimestamp(name string, t *timestamppb.Timestamp) {
	if t != nil {
		e.timestamp(name, t)
	}
}

// The range of google.protobuf.Timestamp: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
const (
	minSeconds = -62135596800
	maxSeconds = 253402300799
)

// time writes a timestamp as protojson does: "2006-01-02T15:04:05Z", with 3, 6 or 9 fractional
// digits when the nanoseconds need them.
func (e *encoder) time(secs int64, nanos int32) {
	if secs < minSeconds || secs > maxSeconds || nanos < 0 || nanos > 999_999_999 {
		e.fail(errTimestamp)
		e.b = append(e.b, "null"...)
		return
	}
	t := time.Unix(secs, int64(nanos)).UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b := append(e.b, '"')
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	switch n := int(nanos); {
	case n == 0:
	case n%1_000_000 == 0:
		b = appendDigits(append(b, '.'), n/1_000_000, 3)
	case n%1_000 == 0:
		b = appendDigits(append(b, '.'), n/1_000, 6)
	default:
		b = appendDigits(append(b, '.'), n, 9)
	}
	e.b = append(b, 'Z', '"')
}

// appendDigits appends the non-negative v in exactly width decimal digits.
func appendDigits(b []byte, v, width int) []byte {
	for i := width - 1; i >= 0; i-- {
		b = append(b, 0)
	}
	for i := len(b) - 1; i >= len(b)-width; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

func (e *encoder) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

// string writes s quoted as protojson does: '"' and '\\' escaped with a backslash, control
// characters as \b, \f, \n, \r, \t or \u00xx (lowercase hex), everything else as is. A string that
// is not valid UTF-8 fails the encoding.
func (e *encoder) string(s string) {
	b := append(e.b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				e.fail(errInvalidUTF8)
			}
			i += n
			continue
		}
		if c >= ' ' && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		b = jsonesc.AppendASCII(b, c)
		i++
		start = i
	}
	b = append(b, s[start:]...)
	e.b = append(b, '"')
}
