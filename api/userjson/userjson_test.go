package userjson

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rosterhq/roster/api/rest"
	"github.com/rosterhq/roster/gen/scalekit/v1/commons"
	usersv1 "github.com/rosterhq/roster/gen/scalekit/v1/users"
)

// fullUser has every field of a user set, with strings that need escaping.
func fullUser() *usersv1.User {
	ext, name, inviter, method := `ext-"1"\`, "Acme <&> \u2028", "", "scim"
	ts := func(s int64, n int32) *timestamppb.Timestamp { return &timestamppb.Timestamp{Seconds: s, Nanos: n} }
	return &usersv1.User{
		Id: "usr_1", EnvironmentId: "env_1", CreateTime: ts(1700000000, 0), UpdateTime: ts(1700000000, 120_000_000),
		Email: "ada@example.com", ExternalId: &ext,
		Memberships: []*commons.OrganizationMembership{
			{OrganizationId: "org_1", JoinTime: ts(0, 1), MembershipStatus: commons.MembershipStatus_ACTIVE,
				Roles: []*commons.Role{{Id: "role_1", Name: "admin", DisplayName: "Admin"}, {}}, Name: &name,
				Metadata: map[string]string{"b": "1", "a": "2", "": "empty"}, DisplayName: &name, InviterEmail: &inviter,
				CreatedAt: ts(-62135596800, 0), AcceptedAt: ts(253402300799, 999_999_999), ExpiresAt: ts(1, 1000),
				ProvisioningMethod: &method, Permissions: []string{"read", "write"}},
			{MembershipStatus: 42},
		},
		UserProfile: &commons.UserProfile{
			Id: "usp_1", GivenName: "Ada\x00\x1f\x7f", FamilyName: "Lovelace\t\n\r\b\f", Name: "Ada Lovelace", Locale: "en-GB",
			EmailVerified: true, PhoneNumber: "+441234", Metadata: map[string]string{"z": "ü", "y": "😀"},
			CustomAttributes: map[string]string{"dept": "eng"}, FirstName: "Ada", LastName: "Lovelace",
			PreferredUsername: "ada", PhoneNumberVerified: true, Picture: "https://example.com/a.png?x=1&y=<2>",
			Groups: []string{"g1", ""}, Gender: "f",
			ExternalIdentities: []*commons.ExternalIdentity{
				{ConnectionId: "conn_1", ConnectionType: "OIDC", ConnectionProvider: commons.IdentityProviderType_OKTA,
					ConnectionUserId: "00u1", IsSocial: true, LastLoginTime: ts(1700000000, 5)},
				{ConnectionProvider: 99},
			},
		},
		Metadata: map[string]string{"plan": "pro", "\u2029": "\ufffd"}, LastLoginTime: ts(1700000001, 0),
	}
}

// check fails t unless Append writes what protojson writes for u (or fails where it fails).
func check(t *testing.T, u *usersv1.User) {
	t.Helper()
	want, werr := rest.MarshalJSON(u)
	got, err := Append([]byte("prefix"), u)
	switch {
	case werr != nil && err == nil:
		t.Fatalf("protojson fails (%v) but Append wrote %s", werr, got)
	case werr == nil && err != nil:
		t.Fatalf("Append fails (%v) but protojson writes %s", err, want)
	case werr == nil && string(got) != "prefix"+string(want):
		t.Fatalf("Append\n got %s\nwant prefix%s", got, want)
	}
}

func TestAppendAsProtojson(t *testing.T) {
	bad := string([]byte{'a', 0xff, 'b'})
	cases := map[string]func(u *usersv1.User){
		"every field":     func(*usersv1.User) {},
		"empty user":      func(u *usersv1.User) { *u = usersv1.User{} },
		"empty optionals": func(u *usersv1.User) { e := ""; u.ExternalId = &e; u.Memberships[1].Name = &e },
		"empty profile":   func(u *usersv1.User) { u.UserProfile = &commons.UserProfile{} },
		"empty timestamps": func(u *usersv1.User) {
			u.CreateTime = &timestamppb.Timestamp{}
			u.Memberships[1].CreatedAt = &timestamppb.Timestamp{}
		},
		"empty maps and lists": func(u *usersv1.User) {
			u.Metadata = map[string]string{}
			u.Memberships = []*commons.OrganizationMembership{}
		},
		"large map":             func(u *usersv1.User) { u.Metadata = largeMap(300) },
		"invalid UTF-8 value":   func(u *usersv1.User) { u.Email = bad },
		"invalid UTF-8 key":     func(u *usersv1.User) { u.UserProfile.CustomAttributes = map[string]string{bad: "x"} },
		"invalid UTF-8 in list": func(u *usersv1.User) { u.UserProfile.Groups = []string{"ok", bad} },
		"year 0":                func(u *usersv1.User) { u.CreateTime.Seconds = -62135596801 },
		"year 10000":            func(u *usersv1.User) { u.Memberships[0].ExpiresAt.Seconds = 253402300800 },
		"negative nanos":        func(u *usersv1.User) { u.UpdateTime.Nanos = -1 },
		"a second of nanos":     func(u *usersv1.User) { u.UpdateTime.Nanos = 1_000_000_000 },
		"before 1970":           func(u *usersv1.User) { u.CreateTime = &timestamppb.Timestamp{Seconds: -1, Nanos: 999_000} },
		"every control char": func(u *usersv1.User) {
			var s strings.Builder
			for c := range 0x80 {
				s.WriteByte(byte(c))
			}
			u.Id = s.String()
		},
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			u := fullUser()
			change(u)
			check(t, u)
		})
	}
}

func largeMap(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprintf("key%d", i*7919%1000)] = fmt.Sprint(i)
	}
	return m
}

func TestAppendWireAsProtojson(t *testing.T) {
	u := fullUser()
	b, _ := proto.Marshal(u)
	// Unknown fields are left out; a message given twice is merged; a scalar given twice is
	// its last value.
	b = protowire.AppendTag(b, 99, protowire.BytesType)
	b = protowire.AppendString(b, "unknown")
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, "usr_2")
	profile, _ := proto.Marshal(&commons.UserProfile{Gender: "m"})
	b = protowire.AppendTag(b, 8, protowire.BytesType)
	b = protowire.AppendBytes(b, profile)
	whole := &usersv1.User{}
	if err := proto.Unmarshal(b, whole); err != nil {
		t.Fatal(err)
	}
	want, _ := rest.MarshalJSON(whole)
	got, err := AppendWire(nil, b)
	if err != nil || string(got) != string(want) {
		t.Fatalf("AppendWire %s %v\nprotojson %s", got, err, want)
	}
	if _, err := AppendWire(nil, []byte{0x0a, 0x05}); err == nil {
		t.Fatal("AppendWire took broken bytes")
	}
}

// TestAppendAllocations: a user with small maps costs no allocation but the buffer's, from the
// message or from its wire bytes.
func TestAppendAllocations(t *testing.T) {
	u := fullUser()
	buf, _ := Append(nil, u)
	if n := testing.AllocsPerRun(100, func() { buf, _ = Append(buf[:0], u) }); n > 0 {
		t.Fatalf("Append allocates %v times per user", n)
	}
	wire, _ := proto.Marshal(u)
	wire = append(wire, wire...) // merged fields and lists in pieces too
	if _, err := AppendWire(nil, wire); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { buf, _ = AppendWire(buf[:0], wire) }); n > 0 {
		t.Fatalf("AppendWire allocates %v times per user", n)
	}
}

// gen makes a user out of fuzz input: each byte read picks what comes next (a field set or
// not, a string's length and characters, a timestamp), so that the fuzzer's mutations reach
// every field; input that runs out leaves the rest empty. Strings hold invalid UTF-8 only when
// the first byte says so: otherwise few users of many strings would be valid.
type gen struct {
	data    []byte
	invalid bool
}

func newGen(data []byte) *gen {
	g := &gen{data: data}
	g.invalid = g.byte()&0x80 != 0
	return g
}

func (g *gen) byte() byte {
	if len(g.data) == 0 {
		return 0
	}
	c := g.data[0]
	g.data = g.data[1:]
	return c
}

func (g *gen) bool() bool { return g.byte()&1 == 1 }

// pieces of strings: plain, escaped, HTML-unsafe, multi-byte; and invalid UTF-8.
var (
	pieces = []string{"a", "Z", "0", " ", "\"", "\\", "/", "<", ">", "&", "'", "\n", "\r", "\t", "\b", "\f", "\x00",
		"\x01", "\x1f", "\x7f", "é", "ü", "€", "\u2028", "\u2029", "😀", "\ufffd", "users", "null", "{}", ":", ","}
	invalidPieces = []string{"\xff", "\xc3", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"}
)

func (g *gen) string() string {
	n := int(g.byte() % 12)
	var s strings.Builder
	for range n {
		c := g.byte()
		switch {
		case g.invalid && c >= 0xf0: // a raw byte, valid or not
			s.WriteByte(c)
		case g.invalid && c >= 0xe0:
			s.WriteString(invalidPieces[int(c)%len(invalidPieces)])
		default:
			s.WriteString(pieces[int(c)%len(pieces)])
		}
	}
	return s.String()
}

func (g *gen) optString() *string {
	if !g.bool() {
		return nil
	}
	s := g.string()
	return &s
}

func (g *gen) strings() []string {
	if !g.bool() {
		return nil
	}
	l := []string{}
	for range g.byte() % 5 {
		l = append(l, g.string())
	}
	return l
}

func (g *gen) strMap() map[string]string {
	if !g.bool() {
		return nil
	}
	m := map[string]string{}
	n := int(g.byte())
	if n > 40 {
		n = n % 8
	}
	for range n {
		m[g.string()] = g.string()
	}
	return m
}

func (g *gen) timestamp() *timestamppb.Timestamp {
	switch g.byte() % 4 {
	case 0:
		return nil
	case 1:
		return &timestamppb.Timestamp{}
	case 2: // a plausible time, with 0, 3, 6 or 9 digits of nanos
		nanos := []int32{0, 123_000_000, 123_456_000, 123_456_789, 1, 999_999_999}[g.byte()%6]
		return &timestamppb.Timestamp{Seconds: int64(binary.LittleEndian.Uint32(g.bytes(4))), Nanos: nanos}
	}
	return &timestamppb.Timestamp{Seconds: int64(binary.LittleEndian.Uint64(g.bytes(8))) >> (g.byte() % 64), Nanos: int32(binary.LittleEndian.Uint32(g.bytes(4)))}
}

func (g *gen) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = g.byte()
	}
	return b
}

func (g *gen) user() *usersv1.User {
	u := &usersv1.User{Id: g.string(), EnvironmentId: g.string(), CreateTime: g.timestamp(), UpdateTime: g.timestamp(),
		Email: g.string(), ExternalId: g.optString(), Metadata: g.strMap(), LastLoginTime: g.timestamp()}
	for range g.byte() % 4 {
		m := &commons.OrganizationMembership{OrganizationId: g.string(), JoinTime: g.timestamp(),
			MembershipStatus: commons.MembershipStatus(int8(g.byte())), Name: g.optString(), Metadata: g.strMap(),
			DisplayName: g.optString(), InviterEmail: g.optString(), ProvisioningMethod: g.optString(), Permissions: g.strings()}
		if g.bool() {
			m.CreatedAt, m.AcceptedAt, m.ExpiresAt = g.timestamp(), g.timestamp(), g.timestamp()
		}
		for range g.byte() % 3 {
			m.Roles = append(m.Roles, &commons.Role{Id: g.string(), Name: g.string(), DisplayName: g.string()})
		}
		u.Memberships = append(u.Memberships, m)
	}
	if g.bool() {
		p := &commons.UserProfile{Id: g.string(), GivenName: g.string(), FamilyName: g.string(), Name: g.string(),
			Locale: g.string(), EmailVerified: g.bool(), PhoneNumber: g.string(), Metadata: g.strMap(),
			CustomAttributes: g.strMap(), FirstName: g.string(), LastName: g.string(), PreferredUsername: g.string(),
			PhoneNumberVerified: g.bool(), Picture: g.string(), Groups: g.strings(), Gender: g.string()}
		for range g.byte() % 3 {
			p.ExternalIdentities = append(p.ExternalIdentities, &commons.ExternalIdentity{ConnectionId: g.string(),
				ConnectionType: g.string(), ConnectionProvider: commons.IdentityProviderType(int8(g.byte())),
				ConnectionUserId: g.string(), IsSocial: g.bool(), LastLoginTime: g.timestamp(), CreatedTime: g.timestamp(),
				LastSyncedTime: g.timestamp()})
		}
		u.UserProfile = p
	}
	return u
}

// checkWire fails t unless AppendWire writes what protojson writes for the message
// proto.Unmarshal reads from wire, or fails where either fails.
func checkWire(t *testing.T, wire []byte) {
	t.Helper()
	got, err := AppendWire([]byte("prefix"), wire)
	whole := &usersv1.User{}
	if uerr := proto.Unmarshal(wire, whole); uerr != nil {
		if err == nil {
			t.Fatalf("AppendWire took bytes that proto.Unmarshal refuses (%v): %s", uerr, got)
		}
		return
	}
	want, werr := rest.MarshalJSON(whole)
	if (werr == nil) != (err == nil) || werr == nil && string(got) != "prefix"+string(want) {
		t.Fatalf("AppendWire %s (%v)\nprotojson prefix%s (%v)", got, err, want, werr)
	}
}

// FuzzUserJSON: for any user (made from the fuzzer's bytes by gen) Append writes protojson's
// bytes, or fails where protojson fails; and AppendWire does the same for any wire bytes: the
// input itself, the generated user's, and those followed by the input (which protobuf reads as
// the user merged with more fields).
// Its corpus (testdata/fuzz) runs as a regression test.
func FuzzUserJSON(f *testing.F) {
	full, _ := proto.Marshal(fullUser())
	f.Add(full)
	f.Add([]byte{})
	f.Add([]byte("\x01\x03\x05a\"\\\x01\x02\xff\xfe\x03\x09\x10"))
	for seed := range uint64(4) { // long inputs: users with most fields set, valid or not
		r := rand.New(rand.NewPCG(seed, seed))
		data := make([]byte, 4096)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		data[0] = byte(seed&1) << 7
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		u := newGen(data).user()
		check(t, u)
		checkWire(t, data)
		if wire, err := proto.Marshal(u); err == nil { // not with invalid UTF-8
			checkWire(t, wire)
			checkWire(t, append(wire, data...))
		}
	})
}

// benchUser is a user as the API answers it: a profile, metadata, one membership with a role.
func benchUser() *usersv1.User {
	ext, name, method := "bench-17", "Bench", "dashboard"
	ts := &timestamppb.Timestamp{Seconds: 1764979200, Nanos: 123_456_000}
	return &usersv1.User{
		Id: "usr_383786134666313728", EnvironmentId: "env_383786134666313000", CreateTime: ts, UpdateTime: ts,
		Email: "user17@bench.example.com", ExternalId: &ext, Metadata: map[string]string{"department": "engineering"},
		UserProfile: &commons.UserProfile{Id: "usp_383786134666313728", GivenName: "John", FamilyName: "Doe",
			Metadata: map[string]string{}, CustomAttributes: map[string]string{"dept": "eng"}, FirstName: "John", LastName: "Doe",
			Groups: []string{}},
		Memberships: []*commons.OrganizationMembership{{OrganizationId: "org_383786193751474176", JoinTime: ts,
			MembershipStatus: commons.MembershipStatus_ACTIVE, Roles: []*commons.Role{{Id: "role_1", Name: "member", DisplayName: "Member"}},
			Name: &name, DisplayName: &name, Metadata: map[string]string{}, CreatedAt: ts, ProvisioningMethod: &method, Permissions: []string{}}},
	}
}

// BenchmarkUserJSON compares userjson with protojson (rest.MarshalJSON) on one user, from the
// message (the export) and from its wire bytes (a REST answer).
func BenchmarkUserJSON(b *testing.B) {
	u := benchUser()
	wire, _ := proto.MarshalOptions{Deterministic: true}.Marshal(u)
	var buf []byte
	b.Run("message/protojson", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rest.MarshalJSON(u); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("message/userjson", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = Append(buf[:0], u)
		}
	})
	b.Run("wire/protojson", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m := &usersv1.User{}
			if err := proto.Unmarshal(wire, m); err != nil {
				b.Fatal(err)
			}
			if _, err := rest.MarshalJSON(m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("wire/userjson", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = AppendWire(buf[:0], wire)
		}
	})
}

// TestKnowsEveryField: a field added to User or to a message it holds must be added here too.
// The fuzz tests catch most such fields (protojson writes them even when empty) but not a
// proto3 optional one, which protojson leaves out when unset.
func TestKnowsEveryField(t *testing.T) {
	for _, c := range []struct {
		msg   protoreflect.MessageDescriptor
		kinds []kind
	}{
		{(&usersv1.User{}).ProtoReflect().Descriptor(), userKinds},
		{(&commons.OrganizationMembership{}).ProtoReflect().Descriptor(), membershipKinds},
		{(&commons.Role{}).ProtoReflect().Descriptor(), roleKinds},
		{(&commons.UserProfile{}).ProtoReflect().Descriptor(), profileKinds},
		{(&commons.ExternalIdentity{}).ProtoReflect().Descriptor(), identityKinds},
		{(&timestamppb.Timestamp{}).ProtoReflect().Descriptor(), timeKinds},
	} {
		fields := c.msg.Fields()
		known := 0
		for _, k := range c.kinds {
			if k != unknown {
				known++
			}
		}
		if known != fields.Len() {
			t.Errorf("%s has %d fields, userjson knows %d", c.msg.FullName(), fields.Len(), known)
		}
		for i := range fields.Len() {
			f := fields.Get(i)
			want := message
			switch f.Kind() {
			case protoreflect.StringKind:
				want = str
			case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Int64Kind:
				want = varint
			}
			if int(f.Number()) >= len(c.kinds) || c.kinds[f.Number()] != want {
				t.Errorf("%s: userjson does not know it as %v", f.FullName(), want)
			}
		}
	}
}
