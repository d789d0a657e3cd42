package api

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/cputime"
)

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", 100)
	in := "a\r\n\n  \nb\n" + long + "\nc\n" + long + long + "\nd"
	lr := newLineReader(strings.NewReader(in), 150)
	type got struct {
		line    string
		num     int
		tooLong bool
	}
	var lines []got
	for {
		line, num, tooLong, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, got{string(line), num, tooLong})
	}
	want := []got{{"a", 1, false}, {"b", 4, false}, {long, 5, false}, {"c", 6, false}, {"", 7, true}, {"d", 8, false}}
	if len(lines) != len(want) {
		t.Fatalf("lines %v, want %v", lines, want)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, lines[i], want[i])
		}
	}
	// A line far longer than the reader's buffer is skipped without being held.
	lr = newLineReader(io.MultiReader(strings.NewReader(strings.Repeat("y", 10<<20)), strings.NewReader("\nz\n")), 1<<20)
	if _, num, tooLong, err := lr.next(); err != nil || !tooLong || num != 1 {
		t.Fatalf("10 MiB line: %d %t %v", num, tooLong, err)
	}
	if cap(lr.buf) > 2<<20 {
		t.Errorf("the reader grew to %d bytes for a line it refuses", cap(lr.buf))
	}
	if line, num, _, err := lr.next(); string(line) != "z" || num != 2 || err != nil {
		t.Fatalf("after the long line: %q %d %v", line, num, err)
	}
	if _, _, _, err := lr.next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	// A read error is returned as it is.
	boom := errors.New("boom")
	lr = newLineReader(io.MultiReader(strings.NewReader("a\nb"), errReader{boom}), 100)
	if line, _, _, err := lr.next(); string(line) != "a" || err != nil {
		t.Fatalf("%q %v", line, err)
	}
	if _, _, _, err := lr.next(); !errors.Is(err, boom) {
		t.Fatalf("read error: %v", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestDecodeUserLineErrors(t *testing.T) {
	for _, tc := range []struct {
		line, field, constraint string
	}{
		{`{"email": 5}`, "email", "type"},
		{`{"email": "a@example.com", "userProfile": {"emailVerified": "yes"}}`, "user_profile.email_verified", "type"},
		{`{"email": "a@example.com", "nickname": "x"}`, "nickname", "unknown_field"},
		{`{"email": "a@example.com", "email": "b@example.com"}`, "email", "duplicate_key"},
		{`{"email": "a@example.com", "metadata": {"k1x": "a", "k1x": "b"}}`, "", "duplicate_key"},
		{`{"email": "a@example.com", "memberships": [{"organization_id": 7}]}`, "memberships.organization_id", "type"},
		{`{"email": "a@example.com"`, "", "json"},
		{`"just a string"`, "", "json"},
		{`{"email": "a\u0000@example.com"}`, "email", ""},
		{`{"email": "a@example.com", "metadata": ` + strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40) + `}`, "", "json"},
	} {
		_, err := DecodeUserLine([]byte(tc.line))
		var e *roster.Error
		if !errors.As(err, &e) || e.Code != roster.EInvalid {
			t.Errorf("%s: %v, want INVALID_ARGUMENT", tc.line, err)
			continue
		}
		if tc.field == "" && tc.constraint == "" {
			continue
		}
		if len(e.Violations) == 0 || e.Violations[0].Field != tc.field || (tc.constraint != "" && e.Violations[0].Constraint != tc.constraint) {
			t.Errorf("%s: %+v, want field %q constraint %q", tc.line, e.Violations, tc.field, tc.constraint)
		}
	}
}

func TestImportUserFromLine(t *testing.T) {
	line := `{"id": "usr_1", "email": "Ann@Example.com", "externalId": "crm-1", "create_time": "2024-01-01T00:00:00Z",
		"user_profile": {"first_name": "Ann", "given_name": "", "last_name": "Lee", "email_verified": false, "groups": [], "custom_attributes": {"department": "eng"}},
		"memberships": [{"organization_id": "org_1", "roles": [{"id": "role_1", "name": "admin"}], "membership_status": "INVITE_EXPIRED", "name": "Acme"},
		                {"organization_id": "org_2", "membership_status": "INACTIVE"}]}`
	u, err := DecodeUserLine([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	email, phone := verifiedFlagsGiven([]byte(line))
	if !email || phone {
		t.Fatalf("flags given: email %t phone %t, want true false", email, phone)
	}
	in := ImportUserFromProto(u, email, phone)
	if in.ID != "usr_1" || in.Email != "Ann@Example.com" || in.ExternalID == nil || *in.ExternalID != "crm-1" {
		t.Errorf("user: %+v", in)
	}
	p := in.Profile
	if p.GivenName == nil || *p.GivenName != "Ann" || p.FamilyName == nil || *p.FamilyName != "Lee" || p.Name != nil || p.Groups != nil ||
		p.CustomAttributes["department"] != "eng" {
		t.Errorf("profile: %+v", p)
	}
	if in.EmailVerified == nil || *in.EmailVerified || in.PhoneNumberVerified != nil {
		t.Errorf("flags: %v %v, want false given and phone absent", in.EmailVerified, in.PhoneNumberVerified)
	}
	if len(in.Memberships) != 2 || in.Memberships[0].Status != "" || len(in.Memberships[0].Roles) != 1 || in.Memberships[0].Roles[0] != "admin" ||
		in.Memberships[1].Status != roster.MembershipInactive || in.Memberships[1].Roles != nil {
		t.Errorf("memberships: %+v", in.Memberships)
	}
	// A key inside a string is not a key; a flag of another object is not the profile's.
	for _, l := range []string{
		`{"email": "a@example.com", "metadata": {"note": "\"email_verified\": true"}, "user_profile": {"given_name": "x"}}`,
		`{"email": "a@example.com", "memberships": [{"email_verified": true}], "user_profile": {}}`,
	} {
		if e, p := verifiedFlagsGiven([]byte(l)); e || p {
			t.Errorf("%s: flags given %t %t", l, e, p)
		}
	}
}

func FuzzDecodeUserLine(f *testing.F) {
	f.Add([]byte(`{"email": "a@example.com", "user_profile": {"email_verified": true, "phoneNumberVerified": false}}`))
	f.Add([]byte(`{"email": "a@example.com", "memberships": [{"organization_id": "org_1", "roles": [{"name": "admin"}]}]}`))
	f.Add([]byte(`{"user_profile": {"emailVerified": "x"`))
	f.Fuzz(func(t *testing.T, line []byte) {
		if len(line) == 0 {
			return
		}
		u, err := DecodeUserLine(line)
		email, phone := verifiedFlagsGiven(line)
		if err == nil {
			_ = ImportUserFromProto(u, email, phone)
		} else if roster.ErrorCode(err) != roster.EInvalid {
			t.Fatalf("%q: %v is not INVALID_ARGUMENT", line, err)
		}
	})
}

// BenchmarkDecodeUserLine is the cost of reading one import line (shape check, protojson,
// text rule, the verified flags, the domain's input): the ceiling it puts on an import is
// 1s / ns/op per core.
func BenchmarkDecodeUserLine(b *testing.B) {
	line := []byte(`{"email":"user17@example.com","external_id":"ext-17","metadata":{"plan":"p3","source":"bulk"},` +
		`"user_profile":{"given_name":"Given17","family_name":"Family17","locale":"en-US","email_verified":false,` +
		`"custom_attributes":{"department":"ops"},"groups":["g3"]},` +
		`"memberships":[{"organization_id":"org_383786193751474176","roles":[{"name":"member"}],"metadata":{"seat":"s3"}}]}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		u, err := DecodeUserLine(line)
		if err != nil {
			b.Fatal(err)
		}
		email, phone := verifiedFlagsGiven(line)
		_ = ImportUserFromProto(u, email, phone)
	}
}

// BenchmarkAppendUserLine is the cost of writing one export line.
func BenchmarkAppendUserLine(b *testing.B) {
	u, err := DecodeUserLine([]byte(`{"id":"usr_383786134666313728","email":"user17@example.com","external_id":"ext-17","metadata":{"plan":"p3","source":"bulk"},` +
		`"user_profile":{"given_name":"Given17","family_name":"Family17","locale":"en-US","custom_attributes":{"department":"ops"},"groups":["g3"]}}`))
	if err != nil {
		b.Fatal(err)
	}
	in := ImportUserFromProto(u, false, false)
	user := roster.User{ID: in.ID, Email: in.Email, ExternalID: in.ExternalID, Metadata: in.Metadata,
		Profile: roster.Profile{GivenName: *in.Profile.GivenName, FamilyName: *in.Profile.FamilyName, Locale: "en-US",
			CustomAttributes: in.Profile.CustomAttributes, Groups: in.Profile.Groups},
		Memberships: []roster.Membership{{OrganizationID: "org_383786193751474176", OrganizationName: "Acme", Status: roster.MembershipActive,
			Roles: []roster.RoleRef{{ID: "role_1", Name: "member", DisplayName: "Member"}}, Metadata: map[string]string{"seat": "s3"}}}}
	var buf []byte
	b.ReportAllocs()
	cpu0 := cputime.Process()
	for b.Loop() {
		if buf, err = AppendUserLine(buf[:0], user); err != nil {
			b.Fatal(err)
		}
	}
	cputime.Report(b, cpu0)
	b.SetBytes(int64(len(buf)))
}
