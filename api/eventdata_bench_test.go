package api

import (
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// What a write's events cost on the write's path (docs/events.md, "Storage"; bench/README.md
// "Events" measures the whole write): a create's two events' data in stored form, which show one user
// (converted once through roster.EventMemo), and a SCIM write's directory user with its
// resource. The .../rendered sub-benchmarks are what reading or delivering them adds.
func BenchmarkEventEnvelopesOfACreate(b *testing.B) {
	at := time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)
	u := roster.NewUser{Email: "ada@example.com", ExternalID: "E1", Metadata: map[string]string{"team": "v"}}.Build("usr_1", "env_1", at)
	u.Memberships = []roster.Membership{{OrganizationID: "org_1", Status: roster.MembershipActive, Roles: []roster.RoleRef{{ID: "role_1", Name: "member"}}, CreateTime: at, UpdateTime: at}}
	org := roster.Organization{ID: "org_1", EnvironmentID: "env_1", DisplayName: "Acme"}
	enc := EventDataFor("https://roster.example")
	actor := roster.Actor{Type: roster.ActorAPIClient, ID: "skc_1"}
	events := func() []roster.Event {
		return []roster.Event{
			{ID: "evt_1", Type: roster.EventUserCreated, OccurredAt: at, EnvironmentID: "env_1", OrganizationID: "org_1", Actor: actor, Data: u},
			{ID: "evt_2", Type: roster.EventMembershipCreated, OccurredAt: at, EnvironmentID: "env_1", OrganizationID: "org_1", Actor: actor,
				Data: roster.MembershipEventData{Organization: org, User: u}},
		}
	}
	var stored [][]byte
	b.Run("stored", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var memo roster.EventMemo
			stored = stored[:0]
			evs := events()
			for i := range evs {
				s, err := enc.AppendData(nil, evs[i].Data, &memo)
				if err != nil {
					b.Fatal(err)
				}
				stored = append(stored, s)
			}
		}
		b.ReportMetric(float64(len(stored[0])+len(stored[1])), "stored-bytes")
	})
	b.Run("rendered", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			n = 0
			evs := events()
			for i, s := range stored {
				js, err := evs[i].AppendEnvelope(nil, enc, s)
				if err != nil {
					b.Fatal(err)
				}
				n += len(js)
			}
		}
		b.ReportMetric(float64(n), "json-bytes")
	})
}

func BenchmarkEventEnvelopeOfADirectoryUser(b *testing.B) {
	at := time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)
	raw := []byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],` +
		`"userName":"ada@example.com","externalId":"00u1","active":true,"name":{"givenName":"Ada","familyName":"Lovelace"},` +
		`"emails":[{"value":"ada@example.com","type":"work","primary":true}],"title":"Engineer",` +
		`"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701","department":"R&D"}}`)
	d := roster.DirectoryUser{ID: "diru_1", Email: "ada@example.com", GivenName: "Ada", FamilyName: "Lovelace", UpdateTime: at, Raw: raw}
	enc := EventDataFor("https://roster.example")
	e := roster.Event{ID: "evt_1", Type: roster.EventDirectoryUserCreated, OccurredAt: at, EnvironmentID: "env_1", OrganizationID: "org_1",
		Actor: roster.Actor{Type: roster.ActorSCIMDirectory, ID: "dir_1"}, Data: d}
	var stored []byte
	b.Run("stored", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if stored, err = enc.AppendData(nil, e.Data, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(stored)), "stored-bytes")
	})
	b.Run("rendered", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.AppendEnvelope(nil, enc, stored); err != nil {
				b.Fatal(err)
			}
		}
	})
}
