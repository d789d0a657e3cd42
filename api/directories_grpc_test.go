package api_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	dirv1 "github.com/rosterhq/roster/gen/scalekit/v1/directories"
	"github.com/rosterhq/roster/gen/scalekit/v1/directories/directoriesconnect"
	"github.com/rosterhq/roster/gen/scalekit/v1/errdetails"
	"github.com/rosterhq/roster/internal/rostertest"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// TestDirectoriesGRPC drives every DirectoryService RPC over gRPC (h2c, binary protobuf, as the
// Node SDK does) on both backends, with the same errors as REST.
func TestDirectoriesGRPC(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		ctx := context.Background()
		anon := directoriesconnect.NewDirectoryServiceClient(h2cClient(), r.URL, connect.WithGRPC())
		if _, err := anon.ListDirectories(ctx, connect.NewRequest(&dirv1.ListDirectoriesRequest{OrganizationId: "org_1"})); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("without a token: %v", err)
		}
		c := directoriesconnect.NewDirectoryServiceClient(h2cClient(), r.URL, connect.WithGRPC(), connect.WithInterceptors(bearer(token)))
		orgID := newOrgREST(t, r, token, "Acme")
		other := newOrgREST(t, r, token, "Globex")

		_, err := c.CreateDirectory(ctx, connect.NewRequest(&dirv1.CreateDirectoryRequest{OrganizationId: orgID,
			Directory: &dirv1.CreateDirectory{DirectoryType: dirv1.DirectoryType_POLL}}))
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !slices.ContainsFunc(errorInfoOf(t, err).GetValidationErrorInfo().GetFieldViolations(),
			func(v *errdetails.ValidationErrorInfo_FieldViolation) bool {
				return v.GetField() == "directory.directory_type"
			}) {
			t.Fatalf("POLL directory: %v", err)
		}
		if _, err := c.CreateDirectory(ctx, connect.NewRequest(&dirv1.CreateDirectoryRequest{OrganizationId: orgID})); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("no directory: %v", err)
		}
		created, err := c.CreateDirectory(ctx, connect.NewRequest(&dirv1.CreateDirectoryRequest{OrganizationId: orgID,
			Directory: &dirv1.CreateDirectory{DirectoryType: dirv1.DirectoryType_SCIM, DirectoryProvider: dirv1.DirectoryProvider_JUMPCLOUD}}))
		if err != nil {
			t.Fatal(err)
		}
		d := created.Msg.GetDirectory()
		if d.GetDirectoryProvider() != dirv1.DirectoryProvider_JUMPCLOUD || d.GetDirectoryEndpoint() != r.Issuer+"/scim/v2/"+d.GetId() || !d.GetEnabled() {
			t.Fatalf("created: %v", d)
		}
		id := d.GetId()
		if _, err := c.GetDirectory(ctx, connect.NewRequest(&dirv1.GetDirectoryRequest{OrganizationId: other, Id: id})); connect.CodeOf(err) != connect.CodeNotFound ||
			errorInfoOf(t, err).GetErrorCode() != "NOT_FOUND" {
			t.Fatalf("another organization's directory: %v", err)
		}
		if _, err := c.UpdateDirectory(ctx, connect.NewRequest(&dirv1.UpdateDirectoryRequest{OrganizationId: orgID, Id: id,
			Directory: &dirv1.UpdateDirectory{Name: "JumpCloud", Mappings: []*dirv1.DirectoryMapping{{Key: "locale", MapTo: "preferredLanguage"}}}})); err != nil {
			t.Fatal(err)
		}
		if _, err := c.UpdateAttributes(ctx, connect.NewRequest(&dirv1.UpdateAttributesRequest{OrganizationId: orgID, Id: id,
			AttributeMapping: &dirv1.AttributeMappings{Attributes: []*dirv1.AttributeMapping{{Key: "shoe_size", MapTo: "shoe"}}}})); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("unknown attribute: %v", err)
		}
		sec, err := c.CreateDirectorySecret(ctx, connect.NewRequest(&dirv1.CreateDirectorySecretRequest{OrganizationId: orgID, DirectoryId: id}))
		if err != nil || !strings.HasSuffix(sec.Msg.GetPlainSecret(), sec.Msg.GetSecret().GetSecretSuffix()) {
			t.Fatalf("secret: %v %v", sec, err)
		}
		regen, err := c.RegenerateDirectorySecret(ctx, connect.NewRequest(&dirv1.RegenerateDirectorySecretRequest{OrganizationId: orgID, DirectoryId: id}))
		if err != nil || regen.Msg.GetPlainSecret() == sec.Msg.GetPlainSecret() {
			t.Fatalf("regenerate: %v %v", regen, err)
		}
		users, groups := seedDirectory(t, r, id, 3, "Admins")
		if _, err := c.AssignRoles(ctx, connect.NewRequest(&dirv1.AssignRolesRequest{OrganizationId: orgID, Id: id,
			RoleAssignments: &dirv1.RoleAssignments{Assignments: []*dirv1.RoleAssignment{{GroupId: groups[0].ID, RoleName: "admin"}}}})); err != nil {
			t.Fatal(err)
		}
		got, err := c.GetDirectory(ctx, connect.NewRequest(&dirv1.GetDirectoryRequest{OrganizationId: orgID, Id: id}))
		if err != nil {
			t.Fatal(err)
		}
		g := got.Msg.GetDirectory()
		if g.GetName() != "JumpCloud" || g.GetTotalUsers() != 3 || g.GetTotalGroups() != 1 || len(g.GetSecrets()) != 1 ||
			g.GetSecrets()[0].GetId() != regen.Msg.GetSecret().GetId() || len(g.GetAttributeMappings().GetAttributes()) != 1 ||
			g.GetRoleAssignments().GetAssignments()[0].GetRoleName() != "admin" {
			t.Fatalf("get: %v", g)
		}
		list, err := c.ListDirectories(ctx, connect.NewRequest(&dirv1.ListDirectoriesRequest{OrganizationId: orgID}))
		if err != nil || len(list.Msg.GetDirectories()) != 1 {
			t.Fatalf("list: %v %v", list, err)
		}
		lu, err := c.ListDirectoryUsers(ctx, connect.NewRequest(&dirv1.ListDirectoryUsersRequest{OrganizationId: orgID, DirectoryId: id,
			PageSize: 2, IncludeDetail: ptrTo(true), UpdatedAfter: timestamppb.New(time.Unix(0, 0))}))
		if err != nil || len(lu.Msg.GetUsers()) != 2 || lu.Msg.GetTotalSize() != 3 || lu.Msg.GetNextPageToken() == "" ||
			lu.Msg.GetUsers()[0].GetUserDetail().GetFields()["userName"].GetStringValue() != users[0].UserName {
			t.Fatalf("list users: %v %v", lu, err)
		}
		if _, err := c.ListDirectoryUsers(ctx, connect.NewRequest(&dirv1.ListDirectoryUsersRequest{OrganizationId: orgID, DirectoryId: id, PageSize: 31})); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("page_size 31: %v", err)
		}
		lg, err := c.ListDirectoryGroups(ctx, connect.NewRequest(&dirv1.ListDirectoryGroupsRequest{OrganizationId: orgID, DirectoryId: id}))
		if err != nil || len(lg.Msg.GetGroups()) != 1 || lg.Msg.GetGroups()[0].GetGroupDetail() != nil {
			t.Fatalf("list groups: %v %v", lg, err)
		}
		tg, err := c.DisableDirectory(ctx, connect.NewRequest(&dirv1.ToggleDirectoryRequest{OrganizationId: orgID, Id: id}))
		if err != nil || tg.Msg.GetEnabled() {
			t.Fatalf("disable: %v %v", tg, err)
		}
		tg, err = c.EnableDirectory(ctx, connect.NewRequest(&dirv1.ToggleDirectoryRequest{OrganizationId: orgID, Id: id}))
		if err != nil || !tg.Msg.GetEnabled() {
			t.Fatalf("enable: %v %v", tg, err)
		}
		if _, err := c.TriggerDirectorySync(ctx, connect.NewRequest(&dirv1.TriggerDirectorySyncRequest{OrganizationId: orgID, DirectoryId: id})); connect.CodeOf(err) != connect.CodeUnimplemented {
			t.Fatalf("sync: %v", err)
		}
		if _, err := c.DeleteDirectory(ctx, connect.NewRequest(&dirv1.DeleteDirectoryRequest{OrganizationId: other, Id: id})); connect.CodeOf(err) != connect.CodeNotFound {
			t.Fatalf("delete from another organization: %v", err)
		}
		if _, err := c.DeleteDirectory(ctx, connect.NewRequest(&dirv1.DeleteDirectoryRequest{OrganizationId: orgID, Id: id})); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetDirectory(ctx, connect.NewRequest(&dirv1.GetDirectoryRequest{OrganizationId: orgID, Id: id})); connect.CodeOf(err) != connect.CodeNotFound {
			t.Fatalf("after delete: %v", err)
		}
	})
}

func ptrTo[T any](v T) *T { return &v }
