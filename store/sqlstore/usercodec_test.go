package sqlstore

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// fullUser has every field of a user set, each pointer too, and the cases that the encoding
// marks: a membership and an identity of another user's (never so in reads, kept exact
// anyway), raw claims.
func fullUser() roster.User {
	at := func(us int64) *time.Time { t := fromMicros(1_700_000_000_000_000 + us); return &t }
	ext, inviter := "ext-1", "boss@example.com"
	return roster.User{ID: "usr_1", EnvironmentID: "env_1", Email: "Ada@Example.com", ExternalID: &ext,
		Metadata: map[string]string{"a": "1", "b": ""}, CreateTime: *at(1), UpdateTime: *at(2), LastLoginTime: at(3),
		Profile: roster.Profile{GivenName: "Ada", FamilyName: "Lovelace", Name: "Ada Lovelace", Locale: "en-GB", PhoneNumber: "+441234567890",
			PreferredUsername: "ada", Picture: "https://example.com/a.png", Gender: "female", EmailVerified: true, PhoneNumberVerified: true,
			Groups: []string{"eng", "", "ops"}, Metadata: map[string]string{"dept": "R&D"}, CustomAttributes: map[string]string{"tier": "gold", "é": "ü"}},
		Memberships: []roster.Membership{
			{OrganizationID: "org_1", UserID: "usr_1", OrganizationName: "Analytical Engines", Status: roster.MembershipActive,
				Roles:    []roster.RoleRef{{ID: "rol_1", Name: "admin", DisplayName: "Admin"}, {ID: "rol_2", Name: "billing", DisplayName: ""}},
				Metadata: map[string]string{"k": "v"}, InviterEmail: &inviter, CreateTime: *at(4), AcceptTime: at(5), ExpireTime: at(-6),
				ProvisioningMethod: "invitation", InviteResentCount: 3, InviteResentTime: at(7), UpdateTime: *at(8)},
			{OrganizationID: "org_2", UserID: "usr_other", Status: roster.MembershipPendingInvite, Metadata: map[string]string{}, CreateTime: *at(9), UpdateTime: *at(10)},
		},
		Identities: []roster.Identity{
			{ConnectionID: "conn_1", ConnectionType: "OIDC", Provider: "OKTA", Subject: "00u1", UserID: "usr_1", EnvironmentID: "env_1", CreateTime: *at(11), LastLoginTime: *at(12)},
			{ConnectionID: "conn_2", ConnectionType: "SAML", Provider: "ENTRA", Subject: "x", UserID: "usr_9", EnvironmentID: "env_9", RawClaims: []byte(`{"a":1}`)},
		},
	}
}

// Every field survives the encoding, with and without a dictionary: a user decodes as it was
// (its empty maps shared).
func TestUserEncodingRoundTrips(t *testing.T) {
	dict := newUserDict()
	for name, u := range map[string]roster.User{
		"every field": fullUser(), "realistic": realisticUser(42), "bare": cacheUser("usr_2", "b@x.com", "b"),
		"zero": {Metadata: map[string]string{}},
		// emails whose domain goes in the dictionary and those whose does not
		"two at signs": cacheUser("usr_3", "a@b@c.example", "c"), "no at sign": cacheUser("usr_4", "local-only", "d"),
		"at sign first": cacheUser("usr_5", "@example.com", "e"), "at sign last": cacheUser("usr_6", "a@", "f"),
		"long domain": cacheUser("usr_7", "a@"+strings.Repeat("d", maxInterned)+".example", "g"),
	} {
		for _, d := range []*userDict{nil, dict} {
			var strs []string
			if d != nil {
				strs = d.strs
			}
			enc := encodeUser(nil, &u, d)
			if d != nil {
				strs = d.strs
			}
			back, err := decodeUser(enc, strs)
			if err != nil {
				t.Fatalf("%s (dictionary %v): %v", name, d != nil, err)
			}
			if want := withEmptyShared(u); !reflect.DeepEqual(back, want) {
				t.Fatalf("%s (dictionary %v): decoded\n%+v\nwant\n%+v", name, d != nil, back, want)
			}
		}
	}
	// The shared strings went into the dictionary once each, and a second user of the same
	// organizations and roles adds none.
	n := len(dict.strs)
	u := realisticUser(42 + 1000)
	encodeUser(nil, &u, dict)
	if len(dict.strs) != n || n == 0 {
		t.Fatalf("dictionary of %d strings, %d after another user of the same organizations", n, len(dict.strs))
	}
}

// A damaged encoding (any prefix of one, or one with bytes left over) is refused, without a
// panic and without a large allocation.
func TestUserEncodingRefusesDamage(t *testing.T) {
	u := fullUser()
	dict := newUserDict()
	enc := encodeUser(nil, &u, dict)
	for n := range len(enc) {
		if _, err := decodeUser(enc[:n], dict.strs); err == nil {
			t.Fatalf("the first %d of %d bytes decoded", n, len(enc))
		}
	}
	if _, err := decodeUser(append(enc[:len(enc):len(enc)], 0), dict.strs); err == nil {
		t.Fatal("a byte left over was not noticed")
	}
	if _, err := decodeUser(enc, dict.strs[:1]); err == nil {
		t.Fatal("an index past the dictionary was accepted")
	}
	huge := []byte{0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f} // a map of 4 billion pairs
	if _, err := decodeUser(huge, nil); err == nil {
		t.Fatal("a count the bytes cannot hold was accepted")
	}
}

// FuzzDecodeUser: whatever the bytes, decoding returns a user or an error, never a panic.
func FuzzDecodeUser(f *testing.F) {
	dict := newUserDict()
	u := fullUser()
	f.Add(encodeUser(nil, &u, dict))
	r := realisticUser(1)
	f.Add(encodeUser(nil, &r, dict))
	f.Fuzz(func(t *testing.T, b []byte) {
		if u, err := decodeUser(b, dict.strs); err == nil {
			again, err := decodeUser(encodeUser(nil, &u, nil), nil)
			if err != nil || !reflect.DeepEqual(again, withEmptyShared(u)) {
				t.Fatalf("a decoded user does not round-trip: %v", err)
			}
		}
	})
}

// BenchmarkUserCacheHit: one get by ID of a user like the load benchmark's (one membership
// with one role, an external ID, no metadata) and of a realistic one (two memberships with
// three roles, an identity, metadata and groups).
func BenchmarkUserCacheHit(b *testing.B) {
	ext := "bench-user-1"
	now := fromMicros(1_700_000_000_000_000)
	seeded := roster.User{ID: "usr_388421303553150977", EnvironmentID: "env_388421297643376646", Email: "u1@bench.example.com", ExternalID: &ext,
		Metadata: map[string]string{}, CreateTime: now, UpdateTime: now, Profile: roster.Profile{Metadata: map[string]string{}, CustomAttributes: map[string]string{}},
		Memberships: []roster.Membership{{OrganizationID: "org_388421297689513989", UserID: "usr_388421303553150977", OrganizationName: "Bench Org 17",
			Status: roster.MembershipActive, Roles: []roster.RoleRef{{ID: "rol_388421297643376650", Name: "member", DisplayName: "Member"}},
			Metadata: map[string]string{}, CreateTime: now, UpdateTime: now, ProvisioningMethod: "api"}}}
	for name, u := range map[string]roster.User{"seeded": seeded, "realistic": realisticUser(1)} {
		b.Run(name, func(b *testing.B) {
			c := newUserCache(1 << 20)
			c.put(c.begin(), u)
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := c.getID(u.EnvironmentID, u.ID); !ok {
					b.Fatal("miss")
				}
			}
			b.ReportMetric(float64(len(encodeUser(nil, &u, newUserDict()))), "encoded-bytes")
		})
	}
}
