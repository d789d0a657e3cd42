package rest

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rosterhq/roster/api/userjson"
	"github.com/rosterhq/roster/gen/scalekit/v1/commons"
	"github.com/rosterhq/roster/gen/scalekit/v1/organizations"
	usersv1 "github.com/rosterhq/roster/gen/scalekit/v1/users"
)

func newMemo(max int) *jsonMemo {
	t := &Transcoder{}
	WithJSONMemo(max, "scalekit.v1.users.User", "scalekit.v1.organizations.Organization")(t)
	return t.memo
}

// newEncoderMemo writes users with userjson, as the API does, and remembers up to max bytes of
// the rest.
func newEncoderMemo(max int) *jsonMemo {
	t := &Transcoder{}
	WithJSONEncoder("scalekit.v1.users.User", userjson.AppendWire)(t)
	WithJSONMemo(max, "scalekit.v1.organizations.Organization")(t)
	return t.memo
}

// memos are the ways answers with users are written: the memo of users, and userjson with and
// without a memo of the rest.
var memos = []struct {
	name string
	new  func() *jsonMemo
}{
	{"memo", func() *jsonMemo { return newMemo(1 << 20) }},
	{"userjson", func() *jsonMemo { return newEncoderMemo(1 << 20) }},
	{"userjson without memo", func() *jsonMemo { return newEncoderMemo(0) }},
}

// memoUser is a user with every kind of field: maps, nested lists, optional and empty values,
// and strings that look like the JSON around them.
func memoUser(i int) *usersv1.User {
	ext := fmt.Sprintf(`ext-"%d"\`, i)
	return &usersv1.User{
		Id: fmt.Sprintf("usr_%d", i), Email: fmt.Sprintf("user%d@example.com", i), ExternalId: &ext,
		CreateTime: timestamppb.New(timestamppb.Now().AsTime().Truncate(1000)),
		Metadata:   map[string]string{"b": `"users":[]`, "a": "ü\u2028", "c": fmt.Sprint(i)},
		UserProfile: &commons.UserProfile{GivenName: "Ada", CustomAttributes: map[string]string{"zip_code": "10001", "dept": "eng"},
			Groups: []string{"x", "y"}},
		Memberships: []*commons.OrganizationMembership{
			{OrganizationId: "org_1", Name: proto.String(`Acme "users":null`), Metadata: map[string]string{"k": "v", "a": "b"},
				Roles: []*commons.Role{{Id: "role_1", Name: "admin"}}},
			{OrganizationId: "org_2"},
		},
	}
}

// wholeJSON is the answer converted without the memo.
func wholeJSON(t *testing.T, m proto.Message, rf protoreflect.FieldDescriptor) string {
	t.Helper()
	msg := m.ProtoReflect()
	if rf != nil {
		msg = msg.Get(rf).Message()
	}
	b, err := marshalCompact(msg.Interface())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestJSONMemoAnswersAsProtojson(t *testing.T) {
	for _, m := range memos {
		t.Run(m.name, func(t *testing.T) { testAnswersAsProtojson(t, m.new()) })
	}
}

func testAnswersAsProtojson(t *testing.T, memo *jsonMemo) {
	list := &usersv1.ListOrganizationUsersResponse{NextPageToken: `tok"users":[]`, TotalSize: 500, PrevPageToken: "p"}
	for i := range 5 {
		list.Users = append(list.Users, memoUser(i))
	}
	getUser := &usersv1.GetUserResponse{User: memoUser(7)}
	org := &organizations.GetOrganizationResponse{Organization: &organizations.Organization{Id: "org_1", DisplayName: `{"organization":null}`}}
	cases := []struct {
		name string
		msg  proto.Message
		rf   protoreflect.FieldDescriptor
	}{
		{"a page of users", list, nil},
		{"an empty page", &usersv1.ListOrganizationUsersResponse{TotalSize: 0}, nil},
		{"one user", getUser, nil},
		{"no user", &usersv1.GetUserResponse{}, nil},
		{"an organization", org, nil},
		{"the user field as the body", getUser, getUser.ProtoReflect().Descriptor().Fields().ByName("user")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c.msg)
			if err != nil {
				t.Fatal(err)
			}
			want := wholeJSON(t, c.msg, c.rf)
			var dst []byte
			for pass := range 3 { // the later passes answer from the memo
				got, ok, err := memo.appendAnswerJSON(dst, c.msg.ProtoReflect().Type(), c.rf, b)
				if err != nil || !ok {
					t.Fatalf("pass %d: ok=%v err=%v", pass, ok, err)
				}
				if string(got) != want {
					t.Fatalf("pass %d:\n got %s\nwant %s", pass, got, want)
				}
				// writeResponse reuses the answer's memory for the next one: scribbling
				// over it must not reach what the memo remembers.
				for i := range got {
					got[i] = '#'
				}
				dst = got[:0]
			}
		})
	}
	// Answers without remembered fields are left to the caller.
	if _, ok, _ := memo.answerJSON((&usersv1.ListUserRolesResponse{}).ProtoReflect().Type(), nil, nil); ok {
		t.Fatal("an answer without users was taken by the memo")
	}
}

func TestJSONMemoRecognizesChangedUsers(t *testing.T) {
	memo := newMemo(1 << 20)
	mt := (&usersv1.GetUserResponse{}).ProtoReflect().Type()
	u := memoUser(1)
	for _, name := range []string{"Ada", "Augusta", "Ada"} {
		u.UserProfile.GivenName = name
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(&usersv1.GetUserResponse{User: u})
		got, _, err := memo.answerJSON(mt, nil, b)
		if err != nil || string(got) != wholeJSON(t, &usersv1.GetUserResponse{User: u}, nil) {
			t.Fatalf("after renaming to %s: %s %v", name, got, err)
		}
	}
}

func TestJSONMemoBound(t *testing.T) {
	const max = 64 << 10
	memo := newMemo(max)
	mt := (&usersv1.GetUserResponse{}).ProtoReflect().Type()
	for i := range 1000 {
		b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(&usersv1.GetUserResponse{User: memoUser(i)})
		if _, _, err := memo.answerJSON(mt, nil, b); err != nil {
			t.Fatal(err)
		}
		if memo.size > max {
			t.Fatalf("memo holds %d bytes, more than %d", memo.size, max)
		}
	}
	if len(memo.m["scalekit.v1.users.User"]) == 0 {
		t.Fatal("memo kept no user")
	}
}

func TestJSONMemoRefusesBrokenBytes(t *testing.T) {
	memo := newMemo(1 << 20)
	mt := (&usersv1.ListOrganizationUsersResponse{}).ProtoReflect().Type()
	for _, b := range [][]byte{{0x1a, 0x05, 0x0a}, {0xff}, {0x1a, 0x02, 0xff, 0xff}} {
		if _, ok, err := memo.answerJSON(mt, nil, b); err == nil && ok {
			t.Errorf("% x was answered", b)
		}
	}
}

// FuzzJSONMemo: whatever bytes a handler answers, the memo's JSON is protojson's, or it fails
// where protojson's path also fails. Its corpus (testdata/fuzz) runs as a regression test.
func FuzzJSONMemo(f *testing.F) {
	list := &usersv1.ListOrganizationUsersResponse{TotalSize: 3, Users: []*usersv1.User{memoUser(1), memoUser(2)}}
	b, _ := proto.Marshal(list)
	f.Add(b)
	b, _ = proto.Marshal(&usersv1.ListOrganizationUsersResponse{Users: []*usersv1.User{{}}})
	f.Add(b)
	mt := list.ProtoReflect().Type()
	f.Fuzz(func(t *testing.T, b []byte) {
		whole := mt.New()
		werr := proto.Unmarshal(b, whole.Interface())
		want, merr := marshalCompact(whole.Interface())
		for _, m := range memos {
			got, ok, err := m.new().answerJSON(mt, nil, b)
			if werr != nil {
				continue // the caller answers an error either way
			}
			if err != nil && merr == nil {
				t.Fatalf("%s refused an answer that protojson converts: %v", m.name, err)
			}
			if err == nil && ok && merr != nil {
				t.Fatalf("%s converted an answer that protojson refuses (%v): %s", m.name, merr, got)
			}
			if err != nil || !ok || merr != nil {
				continue // both fail, or the caller converts the answer whole
			}
			if string(got) != string(want) {
				t.Fatalf("%s %s\nprotojson %s", m.name, got, want)
			}
		}
	})
}

// BenchmarkPageJSON writes the JSON of a page of 100 users (as ListOrganizationUsers answers):
// every user remembered, none (a memo too small for them: what a large directory sees), and
// with userjson.
func BenchmarkPageJSON(b *testing.B) {
	list := &usersv1.ListOrganizationUsersResponse{NextPageToken: "next", TotalSize: 250}
	for i := range 100 {
		list.Users = append(list.Users, memoUser(i))
	}
	wire, _ := proto.MarshalOptions{Deterministic: true}.Marshal(list)
	mt := list.ProtoReflect().Type()
	for _, c := range []struct {
		name string
		memo *jsonMemo
	}{
		{"memo_hit", newMemo(16 << 20)},
		{"memo_miss", newMemo(1)},
		{"userjson", newEncoderMemo(16 << 20)},
	} {
		b.Run(c.name, func(b *testing.B) {
			c.memo.answerJSON(mt, nil, wire) //nolint:errcheck // warms the memo
			b.ReportAllocs()
			for b.Loop() {
				if _, ok, err := c.memo.answerJSON(mt, nil, wire); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}
