package directory_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/secretbox"
)

func newBulkDirectory(t testing.TB, backend string) (*directory.Service, roster.Environment, roster.Organization) {
	t.Helper()
	ctx := context.Background()
	box, err := secretbox.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc := directory.New(rostertest.Open(t, backend), directory.WithSecretBox(box))
	env, err := svc.EnsureEnvironment(ctx)
	if err != nil {
		t.Fatal(err)
	}
	org, err := svc.CreateOrganization(ctx, env, roster.NewOrganization{DisplayName: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	return svc, env, org
}

func fieldOf(err error) string {
	var e *roster.Error
	if !errors.As(err, &e) || len(e.Violations) == 0 {
		return ""
	}
	return e.Violations[0].Field
}

// TestImportUsersLines checks the directory's part of an import: unreadable and invalid lines,
// role names resolved per organization (an unknown one refuses the whole line), the default
// member role, field names as in the line, and that nothing of a refused line is written.
func TestImportUsersLines(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			svc, env, org := newBulkDirectory(t, backend)
			ext := "e-ada"
			lines := []directory.ImportLine{
				{Number: 1, User: roster.ImportUser{Email: "ada@example.com", ExternalID: &ext,
					Memberships: []roster.ImportMembership{{OrganizationID: org.ID, Roles: []string{roster.RoleAdmin}}}}},
				{Number: 2, Err: roster.Errorf(roster.EInvalid, "line 2: not JSON")},
				{Number: 3, User: roster.ImportUser{Email: "not an email"}},
				{Number: 4, User: roster.ImportUser{Email: "bob@example.com",
					Memberships: []roster.ImportMembership{{OrganizationID: org.ID}, {OrganizationID: org.ID + "x", Roles: []string{"nope"}}}}},
				{Number: 5, User: roster.ImportUser{Email: "carol@example.com", Memberships: []roster.ImportMembership{{OrganizationID: org.ID}}}},
				{Number: 6, User: roster.ImportUser{Email: "dan@example.com", Profile: roster.ProfilePatch{CustomAttributes: map[string]string{"undefined": "x"}}}},
				{Number: 7, User: roster.ImportUser{Email: "ada@example.com", ExternalID: &ext}},
			}
			out, err := svc.ImportUsers(ctx, env, lines)
			if err != nil {
				t.Fatal(err)
			}
			want := []struct {
				result roster.ImportResult
				field  string
			}{
				{roster.ImportCreated, ""}, {roster.ImportFailed, ""}, {roster.ImportFailed, "email"},
				{roster.ImportFailed, "memberships[1].roles"}, {roster.ImportCreated, ""},
				{roster.ImportFailed, "user_profile.custom_attributes"}, {roster.ImportUnchanged, ""},
			}
			for i, w := range want {
				o := out[i]
				if o.Line != lines[i].Number || o.Result != w.result || fieldOf(o.Err) != w.field {
					t.Errorf("line %d: got %s %v (field %q), want %s %q", lines[i].Number, o.Result, o.Err, fieldOf(o.Err), w.result, w.field)
				}
			}
			if out[0].UserID == "" || out[0].UserID != out[6].UserID {
				t.Fatalf("line 7 matches line 1's user: %+v %+v", out[0], out[6])
			}
			carol, err := svc.GetUser(ctx, env, roster.UserRef{ID: out[4].UserID})
			if err != nil || len(carol.Memberships) != 1 || carol.Memberships[0].Roles[0].Name != roster.RoleMember ||
				carol.Memberships[0].Status != roster.MembershipActive {
				t.Fatalf("the default member role, active: %+v %v", carol.Memberships, err)
			}
			list, err := svc.ListUsers(ctx, env, directory.ListUsersInput{Query: ptr("bob@example.com")})
			if err != nil || len(list.Items) != 0 {
				t.Fatalf("line 4's user was created: %+v %v", list.Items, err)
			}
			var exported []roster.User
			if err := svc.ExportUsers(ctx, env, org.ID, func(us []roster.User) error { exported = append(exported, us...); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(exported) != 2 {
				t.Fatalf("exported %d members, want 2", len(exported))
			}
			if _, err := svc.ImportUsers(ctx, env, make([]directory.ImportLine, directory.ImportBatchMax+1)); roster.ErrorCode(err) != roster.EInvalid {
				t.Fatalf("an oversized batch: %v", err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
