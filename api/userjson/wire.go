package userjson

import (
	"errors"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/rosterhq/roster/gen/scalekit/v1/commons"
)

// AppendWire appends the JSON of the user whose wire bytes are wire: what protojson writes for
// the message proto.Unmarshal reads from them, and an error where either fails. It reads the
// wire bytes as proto.Unmarshal does, without building the message:
//   - a field given several times keeps its last value; a message given several times is the
//     merge of all of them; a list or map given in several pieces is all of them, in order, and
//     a map key given twice keeps its last value;
//   - a field of another wire type than its declared one is an unknown field; unknown fields
//     are skipped, but must be well formed;
//   - every string, kept or overwritten, must be valid UTF-8.
func AppendWire(b, wire []byte) ([]byte, error) {
	e := encoder{b: b}
	e.wireUser(wmsg{buf: wire})
	if e.err != nil {
		return b, e.err
	}
	return e.b, nil
}

var errWire = errors.New("userjson: invalid wire bytes")

// A kind is what a field of a message is, as far as reading its wire bytes goes.
type kind uint8

const (
	unknown kind = iota
	str          // string, optional string, repeated string: checked for UTF-8
	varint       // bool, enum, int32, int64
	message      // message, repeated message, map
)

// The kinds of the fields of each message, by field number.
var (
	userKinds       = []kind{1: str, 2: str, 3: message, 4: message, 5: str, 6: str, 7: message, 8: message, 9: message, 10: message}
	membershipKinds = []kind{1: str, 2: message, 3: varint, 4: message, 5: str, 7: message, 9: str, 10: str, 11: message,
		12: message, 13: message, 14: str, 15: str}
	roleKinds     = []kind{1: str, 2: str, 3: str}
	profileKinds  = []kind{1: str, 2: str, 3: str, 4: str, 5: str, 6: varint, 7: str, 8: message, 9: message, 10: message, 12: str, 13: varint, 14: str, 15: str, 16: str, 21: str, 22: str}
	identityKinds = []kind{1: str, 2: str, 3: varint, 4: str, 5: varint, 6: message, 7: message, 8: message}
	timeKinds     = []kind{1: varint, 2: varint}
	entryKinds    = []kind{1: str, 2: str}
)

// wmsg is a message in wire bytes: buf itself when num is 0, else the merge of the occurrences
// of field num in buf.
type wmsg struct {
	buf []byte
	num protowire.Number
}

// field is what scan keeps of a field: its last value, and how many times it was given.
type field struct {
	v uint64
	b []byte
	n int
}

// consumeField reads one field from b as proto.Unmarshal does, or returns n < 0.
func consumeField(b []byte) (num protowire.Number, typ protowire.Type, v uint64, val []byte, n int) {
	tag, n := protowire.ConsumeVarint(b)
	if n < 0 || tag>>3 < uint64(protowire.MinValidNumber) || tag>>3 > uint64(protowire.MaxValidNumber) {
		return 0, 0, 0, nil, -1
	}
	num, typ = protowire.Number(tag>>3), protowire.Type(tag&7)
	var m int
	switch typ {
	case protowire.VarintType:
		v, m = protowire.ConsumeVarint(b[n:])
	case protowire.BytesType:
		val, m = protowire.ConsumeBytes(b[n:])
	default: // groups, fixed: unknown here; an end group with no start is an error
		m = protowire.ConsumeFieldValue(num, typ, b[n:])
	}
	if m < 0 {
		return 0, 0, 0, nil, -1
	}
	return num, typ, v, val, n + m
}

// iter walks the fields of a wmsg, occurrence after occurrence.
type iter struct {
	outer, inner []byte
	num          protowire.Number
}

func (m wmsg) iter() iter {
	if m.num == 0 {
		return iter{inner: m.buf}
	}
	return iter{outer: m.buf, num: m.num}
}

// next returns the next field, or ok false at the end or on an error (e.err).
func (it *iter) next(e *encoder) (num protowire.Number, typ protowire.Type, v uint64, val []byte, ok bool) {
	for {
		if len(it.inner) > 0 {
			num, typ, v, val, n := consumeField(it.inner)
			if n < 0 {
				e.fail(errWire)
				return 0, 0, 0, nil, false
			}
			it.inner = it.inner[n:]
			return num, typ, v, val, true
		}
		if len(it.outer) == 0 {
			return 0, 0, 0, nil, false
		}
		num, typ, _, val, n := consumeField(it.outer)
		if n < 0 {
			e.fail(errWire)
			return 0, 0, 0, nil, false
		}
		it.outer = it.outer[n:]
		if num == it.num && typ == protowire.BytesType {
			it.inner = val
		}
	}
}

// scan reads every field of m into f (the last value of each known one, by number: f is as long
// as kinds), checking the UTF-8 of every string and the form of every unknown field. It returns
// false on an error (e.err).
func (e *encoder) scan(m wmsg, kinds []kind, f []field) bool {
	it := m.iter()
	for {
		num, typ, v, val, ok := it.next(e)
		if !ok {
			return e.err == nil
		}
		k := unknown
		if int(num) < len(kinds) {
			k = kinds[num]
		}
		switch {
		case k == unknown, k == varint && typ != protowire.VarintType, k != varint && typ != protowire.BytesType:
			continue // an unknown field: consumeField has checked its form
		case k == str && !utf8.Valid(val):
			e.fail(errInvalidUTF8)
			return false
		}
		f[num] = field{v: v, b: val, n: f[num].n + 1}
	}
}

// each calls fn with the value of every occurrence of the length-delimited field num of m (the
// elements of a list or map), in order; f is what scan kept of the field.
func (e *encoder) each(m wmsg, num protowire.Number, f field, fn func(val []byte)) {
	switch f.n {
	case 0:
		return
	case 1: // no need to look for it
		fn(f.b)
		return
	}
	it := m.iter()
	for {
		n, typ, _, val, ok := it.next(e)
		if !ok || e.err != nil {
			return
		}
		if n == num && typ == protowire.BytesType {
			fn(val)
		}
	}
}

// sub is the singular message field num of m, of which scan kept f: its one occurrence, or
// the merge of them all (m must then be a single buffer).
func sub(m wmsg, num protowire.Number, f field) wmsg {
	if f.n <= 1 {
		return wmsg{buf: f.b}
	}
	if m.num != 0 {
		panic("userjson: a message field of a merged message")
	}
	return wmsg{buf: m.buf, num: num}
}

// wstr writes a string field (already checked for UTF-8).
func (e *encoder) wstr(name string, f field) {
	e.str(name, unsafe.String(unsafe.SliceData(f.b), len(f.b)))
}

func (e *encoder) wOptStr(name string, f field) {
	if f.n > 0 {
		e.wstr(name, f)
	}
}

func (e *encoder) wTime(name string, m wmsg, f field) {
	if f.n == 0 {
		e.b = append(e.b, name...)
		e.b = append(e.b, "null"...)
		return
	}
	var t [3]field
	if !e.scan(m, timeKinds, t[:]) {
		return
	}
	e.b = append(e.b, name...)
	e.time(int64(t[1].v), int32(t[2].v))
}

func (e *encoder) wOptTime(name string, m wmsg, f field) {
	if f.n > 0 {
		e.wTime(name, m, f)
	}
}

func (e *encoder) wStrList(name string, m wmsg, num protowire.Number, f field) {
	e.b = append(e.b, name...)
	e.b = append(e.b, '[')
	first := true
	e.each(m, num, f, func(val []byte) {
		if !first {
			e.b = append(e.b, ',')
		}
		first = false
		e.string(unsafe.String(unsafe.SliceData(val), len(val))) // checked by scan
	})
	e.b = append(e.b, ']')
}

// entry is a map entry of strings.
type entry struct{ k, v string }

// wStrMap writes a map<string, string> field: its entries sorted by key, the last of a key's.
func (e *encoder) wStrMap(name string, m wmsg, num protowire.Number, f field) {
	var small [16]entry
	entries := small[:0]
	e.each(m, num, f, func(val []byte) {
		var f [3]field
		if !e.scan(wmsg{buf: val}, entryKinds, f[:]) {
			return
		}
		entries = append(entries, entry{unsafe.String(unsafe.SliceData(f[1].b), len(f[1].b)),
			unsafe.String(unsafe.SliceData(f[2].b), len(f[2].b))})
	})
	if e.err != nil {
		return
	}
	slices.SortStableFunc(entries, func(a, b entry) int { return strings.Compare(a.k, b.k) })
	e.b = append(e.b, name...)
	e.b = append(e.b, '{')
	first := true
	for i, en := range entries {
		if i+1 < len(entries) && entries[i+1].k == en.k {
			continue // a later entry has the same key
		}
		if !first {
			e.b = append(e.b, ',')
		}
		first = false
		e.string(en.k)
		e.b = append(e.b, ':')
		e.string(en.v)
	}
	e.b = append(e.b, '}')
}

func (e *encoder) wEnum(name string, f field, names map[int32]string) {
	e.enum(name, int32(f.v), names)
}

func (e *encoder) wBool(name string, f field) {
	e.bool(name, f.v != 0)
}

func (e *encoder) wireUser(m wmsg) {
	var f [11]field
	if !e.scan(m, userKinds, f[:]) {
		return
	}
	e.wstr(`{"id":`, f[1])
	e.wstr(`,"environment_id":`, f[2])
	e.wTime(`,"create_time":`, sub(m, 3, f[3]), f[3])
	e.wTime(`,"update_time":`, sub(m, 4, f[4]), f[4])
	e.wstr(`,"email":`, f[5])
	e.wOptStr(`,"external_id":`, f[6])
	e.b = append(e.b, `,"memberships":[`...)
	first := true
	e.each(m, 7, f[7], func(val []byte) {
		if !first {
			e.b = append(e.b, ',')
		}
		first = false
		e.wireMembership(wmsg{buf: val})
	})
	e.b = append(e.b, `],"user_profile":`...)
	if f[8].n > 0 {
		e.wireProfile(sub(m, 8, f[8]))
	} else {
		e.b = append(e.b, "null"...)
	}
	e.wStrMap(`,"metadata":`, m, 9, f[9])
	e.wTime(`,"last_login_time":`, sub(m, 10, f[10]), f[10])
	e.b = append(e.b, '}')
}

func (e *encoder) wireMembership(m wmsg) {
	var f [16]field
	if !e.scan(m, membershipKinds, f[:]) {
		return
	}
	e.wstr(`{"organization_id":`, f[1])
	e.wTime(`,"join_time":`, sub(m, 2, f[2]), f[2])
	e.wEnum(`,"membership_status":`, f[3], commons.MembershipStatus_name)
	e.b = append(e.b, `,"roles":[`...)
	first := true
	e.each(m, 4, f[4], func(val []byte) {
		var r [4]field
		if !e.scan(wmsg{buf: val}, roleKinds, r[:]) {
			return
		}
		if !first {
			e.b = append(e.b, ',')
		}
		first = false
		e.wstr(`{"id":`, r[1])
		e.wstr(`,"name":`, r[2])
		e.wstr(`,"display_name":`, r[3])
		e.b = append(e.b, '}')
	})
	e.b = append(e.b, ']')
	e.wOptStr(`,"name":`, f[5])
	e.wStrMap(`,"metadata":`, m, 7, f[7])
	e.wOptStr(`,"display_name":`, f[9])
	e.wOptStr(`,"inviter_email":`, f[10])
	e.wOptTime(`,"created_at":`, sub(m, 11, f[11]), f[11])
	e.wOptTime(`,"accepted_at":`, sub(m, 12, f[12]), f[12])
	e.wOptTime(`,"expires_at":`, sub(m, 13, f[13]), f[13])
	e.wOptStr(`,"provisioning_method":`, f[14])
	e.wStrList(`,"permissions":`, m, 15, f[15])
	e.b = append(e.b, '}')
}

// wireProfile writes the profile m, the merge of the user's occurrences of it.
func (e *encoder) wireProfile(m wmsg) {
	var f [23]field
	if !e.scan(m, profileKinds, f[:]) {
		return
	}
	e.wstr(`{"id":`, f[1])
	e.wstr(`,"given_name":`, f[2])
	e.wstr(`,"family_name":`, f[3])
	e.wstr(`,"name":`, f[4])
	e.wstr(`,"locale":`, f[5])
	e.wBool(`,"email_verified":`, f[6])
	e.wstr(`,"phone_number":`, f[7])
	e.wStrMap(`,"metadata":`, m, 8, f[8])
	e.wStrMap(`,"custom_attributes":`, m, 9, f[9])
	e.wstr(`,"first_name":`, f[21])
	e.wstr(`,"last_name":`, f[22])
	e.wstr(`,"preferred_username":`, f[12])
	e.wBool(`,"phone_number_verified":`, f[13])
	e.wstr(`,"picture":`, f[14])
	e.wStrList(`,"groups":`, m, 15, f[15])
	e.wstr(`,"gender":`, f[16])
	e.b = append(e.b, `,"external_identities":[`...)
	first := true
	e.each(m, 10, f[10], func(val []byte) {
		x := wmsg{buf: val}
		var g [9]field
		if !e.scan(x, identityKinds, g[:]) {
			return
		}
		if !first {
			e.b = append(e.b, ',')
		}
		first = false
		e.wstr(`{"connection_id":`, g[1])
		e.wstr(`,"connection_type":`, g[2])
		e.wEnum(`,"connection_provider":`, g[3], commons.IdentityProviderType_name)
		e.wstr(`,"connection_user_id":`, g[4])
		e.wBool(`,"is_social":`, g[5])
		e.wTime(`,"last_login_time":`, sub(x, 6, g[6]), g[6])
		e.wTime(`,"created_time":`, sub(x, 7, g[7]), g[7])
		e.wTime(`,"last_synced_time":`, sub(x, 8, g[8]), g[8])
		e.b = append(e.b, '}')
	})
	e.b = append(e.b, "]}"...)
}
