package api_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"connectrpc.com/connect"
	orgsv1 "github.com/rosterhq/roster/gen/scalekit/v1/organizations"
	"github.com/rosterhq/roster/gen/scalekit/v1/organizations/organizationsconnect"
	"github.com/rosterhq/roster/internal/rostertest"
)

// TestControlCharactersRefused: a NUL (or any other control character, or invalid UTF-8) in a
// text field, a map key or value, a path segment or a query parameter is refused with 400
// naming the field, on both backends alike (PostgreSQL used to answer 500, SQLite stored it),
// and nothing is stored. Tab and line breaks stay allowed where a field is free text.
func TestControlCharactersRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		orgID := newOrgREST(t, r, token, "Acme")
		for _, tc := range []struct {
			method, path, body, field string
		}{
			{"GET", "/api/v1/organizations/%00", "", "id"},
			{"GET", "/api/v1/organizations/org_%00x", "", "id"},
			{"DELETE", "/api/v1/organizations/%00", "", "id"},
			{"GET", "/api/v1/organizations:external/%00abc", "", "external_id"},
			{"GET", "/api/v1/users:external/%00abc", "", "external_id"},
			{"GET", "/api/v1/users/usr_%00", "", "id"},
			{"GET", "/api/v1/organizations?page_token=%00", "", "page_token"},
			{"GET", "/api/v1/users:search?query=a%00b", "", "query"},
			{"GET", "/api/v1/organizations:search?query=%C2%85", "", "query"},
			{"GET", "/api/v1/organizations/%ff", "", "id"},
			{"GET", "/api/v1/users:external/a%ffb", "", "external_id"},
			{"GET", "/api/v1/users:search?query=%ff", "", "query"},
			{"GET", "/api/v1/organizations?page_size=abc", "", "page_size"},
			{"GET", "/api/v1/organizations?pageToken=%ff", "", "page_token"},
			{"POST", "/api/v1/organizations", `{"display_name": "a\u0000b"}`, "organization.display_name"},
			{"POST", "/api/v1/organizations", `{"display_name": "a\nb"}`, "organization.display_name"},
			{"POST", "/api/v1/organizations", `{"display_name": "a\u007fb"}`, "organization.display_name"},
			{"POST", "/api/v1/organizations", `{"display_name": "a\u009bb"}`, "organization.display_name"},
			{"POST", "/api/v1/organizations", `{"display_name": "ok", "external_id": "\u001b[31m"}`, "organization.external_id"},
			{"POST", "/api/v1/organizations", `{"display_name": "ok", "metadata": {"k\u0000": "v"}}`, "organization.metadata"},
			{"POST", "/api/v1/organizations", `{"display_name": "ok", "metadata": {"k": "v\u0000"}}`, "organization.metadata"},
			{"PATCH", "/api/v1/organizations/" + orgID, `{"display_name": "\u0000"}`, "organization.display_name"},
			{"POST", "/api/v1/organizations/" + orgID + "/users", `{"email": "a\u0000@example.com"}`, "user.email"},
			{"POST", "/api/v1/organizations/" + orgID + "/users", `{"email": "b@example.com", "user_profile": {"given_name": "\u0000"}}`, "user.user_profile.given_name"},
			{"POST", "/api/v1/organizations/" + orgID + "/users", `{"email": "c@example.com", "user_profile": {"groups": ["ok", "x\u0000"]}}`, "user.user_profile.groups"},
			{"POST", "/api/v1/roles", `{"name": "r\u0000", "display_name": "R"}`, "role.name"},
		} {
			res := r.REST(t, token, tc.method, tc.path, tc.body)
			if res.Status != 400 {
				t.Errorf("%s %s %s: status %d, want 400: %s", tc.method, tc.path, tc.body, res.Status, res.Raw)
				continue
			}
			if f := violationFields(t, res); !slices.Contains(f, tc.field) {
				t.Errorf("%s %s %s: violations %v do not name %s: %s", tc.method, tc.path, tc.body, f, tc.field, res.Raw)
			}
		}
		// Nothing was stored: one organization, no user.
		res := r.REST(t, token, "GET", "/api/v1/organizations", "")
		wantStatus(t, res, 200)
		if n := res.Body["total_size"]; n != float64(1) {
			t.Errorf("total_size %v after refused creates: %s", n, res.Raw)
		}
		res = r.REST(t, token, "GET", "/api/v1/organizations/"+orgID+"/users", "")
		if n := res.Body["total_size"]; n != float64(0) {
			t.Errorf("users total_size %v after refused creates: %s", n, res.Raw)
		}
		// Free text keeps its tabs and line breaks.
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/organizations", `{"display_name": "Tabs", "metadata": {"address": "1 Main St\r\nSpringfield\tUSA"}}`), 200)
		wantStatus(t, r.REST(t, token, "POST", "/api/v1/roles", `{"name": "auditor", "display_name": "Auditor", "description": "Reads logs.\nWrites nothing."}`), 200)
	})
}

// TestControlCharactersRefusedRPC: the same rule holds for gRPC-Web and Connect clients, since
// the check is an interceptor of the handlers that REST also calls.
func TestControlCharactersRefusedRPC(t *testing.T) {
	r := rostertest.Start(t, "postgres")
	token := r.Token(t)
	for name, opt := range map[string]connect.ClientOption{"connect": connect.WithProtoJSON(), "grpcweb": connect.WithGRPCWeb()} {
		c := organizationsconnect.NewOrganizationServiceClient(http.DefaultClient, r.URL, opt, connect.WithInterceptors(bearer(token)))
		_, err := c.CreateOrganization(context.Background(), connect.NewRequest(&orgsv1.CreateOrganizationRequest{
			Organization: &orgsv1.CreateOrganization{DisplayName: "a\x00b"},
		}))
		info := errorInfoOf(t, err)
		if connect.CodeOf(err) != connect.CodeInvalidArgument || len(info.GetValidationErrorInfo().GetFieldViolations()) != 1 ||
			info.GetValidationErrorInfo().GetFieldViolations()[0].GetField() != "organization.display_name" {
			t.Errorf("%s: %v %v", name, err, info)
		}
		_, err = c.GetOrganization(context.Background(), connect.NewRequest(&orgsv1.GetOrganizationRequest{
			Identities: &orgsv1.GetOrganizationRequest_ExternalId{ExternalId: "\x00"},
		}))
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("%s: external_id with a NUL: %v", name, err)
		}
	}
}
