package rest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/rosterhq/roster/gen/scalekit/v1/commons"
	"github.com/rosterhq/roster/gen/scalekit/v1/errdetails"
	"github.com/rosterhq/roster/gen/scalekit/v1/organizations"
	"github.com/rosterhq/roster/gen/scalekit/v1/organizations/organizationsconnect"
)

// fakeOrgs echoes what it receives and records the last request and headers.
type fakeOrgs struct {
	organizationsconnect.UnimplementedOrganizationServiceHandler

	mu      sync.Mutex
	last    proto.Message
	headers http.Header
	caller  any // the authKey value of CreateOrganization's context
}

func (f *fakeOrgs) record(msg proto.Message, h http.Header) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last, f.headers = proto.Clone(msg), h.Clone()
}

func (f *fakeOrgs) lastRequest() (proto.Message, http.Header) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last, f.headers
}

// notFound is the error a Roster handler returns for a missing organization.
func notFound(id string) error {
	err := connect.NewError(connect.CodeNotFound, errors.New("organization "+id+" not found"))
	d, _ := connect.NewErrorDetail(&errdetails.ErrorInfo{
		ErrorCode:    "NOT_FOUND",
		ResourceInfo: &errdetails.ResourceInfo{ResourceName: "organization", Description: id},
	})
	err.AddDetail(d)
	return err
}

func respond[T any](msg *T, req connect.AnyRequest) *connect.Response[T] {
	res := connect.NewResponse(msg)
	if id := req.Header().Get("X-Request-Id"); id != "" {
		res.Header().Set("X-Request-Id", id)
	}
	return res
}

func (f *fakeOrgs) CreateOrganization(ctx context.Context, req *connect.Request[organizations.CreateOrganizationRequest]) (*connect.Response[organizations.CreateOrganizationResponse], error) {
	f.record(req.Msg, req.Header())
	f.mu.Lock()
	f.caller = ctx.Value(authKey{})
	f.mu.Unlock()
	in := req.Msg.GetOrganization()
	if in.GetDisplayName() == "taken" {
		return nil, connect.NewError(connect.CodeAlreadyExists, errors.New("organization exists"))
	}
	return respond(&organizations.CreateOrganizationResponse{Organization: &organizations.Organization{
		Id: "org_1", DisplayName: in.GetDisplayName(), ExternalId: in.ExternalId,
		Metadata: in.GetMetadata(), RegionCode: in.GetRegionCode(),
	}}, req), nil
}

func (f *fakeOrgs) UpdateOrganization(_ context.Context, req *connect.Request[organizations.UpdateOrganizationRequest]) (*connect.Response[organizations.UpdateOrganizationResponse], error) {
	f.record(req.Msg, req.Header())
	return respond(&organizations.UpdateOrganizationResponse{Organization: &organizations.Organization{
		Id: req.Msg.GetId(), DisplayName: req.Msg.GetOrganization().GetDisplayName(),
	}}, req), nil
}

func (f *fakeOrgs) GetOrganization(_ context.Context, req *connect.Request[organizations.GetOrganizationRequest]) (*connect.Response[organizations.GetOrganizationResponse], error) {
	f.record(req.Msg, req.Header())
	if req.Msg.GetId() == "org_missing" {
		return nil, notFound(req.Msg.GetId())
	}
	return respond(&organizations.GetOrganizationResponse{Organization: &organizations.Organization{
		Id: req.Msg.GetId(), DisplayName: "Megasoft Inc",
	}}, req), nil
}

func (f *fakeOrgs) GetOrganizationByExternalId(_ context.Context, req *connect.Request[organizations.GetOrganizationRequest]) (*connect.Response[organizations.GetOrganizationResponse], error) {
	f.record(req.Msg, req.Header())
	ext := req.Msg.GetExternalId()
	return respond(&organizations.GetOrganizationResponse{Organization: &organizations.Organization{
		Id: "org_1", ExternalId: &ext,
	}}, req), nil
}

func (f *fakeOrgs) ListOrganization(_ context.Context, req *connect.Request[organizations.ListOrganizationsRequest]) (*connect.Response[organizations.ListOrganizationsResponse], error) {
	f.record(req.Msg, req.Header())
	return respond(&organizations.ListOrganizationsResponse{
		NextPageToken: req.Msg.GetPageToken() + "+1", TotalSize: req.Msg.GetPageSize(),
	}, req), nil
}

func (f *fakeOrgs) SearchOrganization(_ context.Context, req *connect.Request[organizations.SearchOrganizationsRequest]) (*connect.Response[organizations.SearchOrganizationsResponse], error) {
	f.record(req.Msg, req.Header())
	return respond(&organizations.SearchOrganizationsResponse{
		TotalSize: req.Msg.GetPageSize(),
		Organizations: []*organizations.Organization{{
			Id: "org_1", DisplayName: req.Msg.GetQuery(),
		}},
	}, req), nil
}

func (f *fakeOrgs) DeleteOrganization(_ context.Context, req *connect.Request[organizations.DeleteOrganizationRequest]) (*connect.Response[emptypb.Empty], error) {
	f.record(req.Msg, req.Header())
	return respond(&emptypb.Empty{}, req), nil
}

func (f *fakeOrgs) UpdateOrganizationSessionPolicy(_ context.Context, req *connect.Request[organizations.UpdateOrganizationSessionPolicyRequest]) (*connect.Response[organizations.UpdateOrganizationSessionPolicyResponse], error) {
	f.record(req.Msg, req.Header())
	return respond(&organizations.UpdateOrganizationSessionPolicyResponse{}, req), nil
}

func orgService() protoreflect.ServiceDescriptor {
	return organizations.File_scalekit_v1_organizations_organizations_proto.Services().ByName("OrganizationService")
}

// newOrgTranscoder serves the fake behind a middleware that, like an auth
// layer, answers a plain-text 401 for "Bearer bad".
func newOrgTranscoder(tb testing.TB, opts ...Option) (*Transcoder, *fakeOrgs) {
	tb.Helper()
	fake := &fakeOrgs{}
	mux := http.NewServeMux()
	mux.Handle(organizationsconnect.NewOrganizationServiceHandler(fake))
	target := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer bad" {
			http.Error(w, "token expired", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
	tr, err := New(target, []protoreflect.ServiceDescriptor{orgService()}, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return tr, fake
}

type result struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func serve(t *testing.T, h http.Handler, method, target, body string, header ...string) result {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := result{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q, body %s", method, target, ct, res.raw)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &res.body); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %v: %s", method, target, err, res.raw)
	}
	return res
}

// field walks a decoded JSON object along keys.
func field(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("at %q: %v is not an object", k, v)
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("missing key %q in %v", k, m)
		}
	}
	return v
}

func wantStatus(t *testing.T, r result, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.raw)
	}
}

// wantError checks a grpc-gateway error body.
func wantError(t *testing.T, r result, status int, code connect.Code, msgPart string) {
	t.Helper()
	wantStatus(t, r, status)
	if got := field(t, r.body, "code"); got != float64(code) {
		t.Errorf("code %v, want %d", got, code)
	}
	if msg, _ := field(t, r.body, "message").(string); !strings.Contains(msg, msgPart) {
		t.Errorf("message %q does not contain %q", msg, msgPart)
	}
	if _, ok := field(t, r.body, "details").([]any); !ok {
		t.Errorf("details is not a list: %s", r.raw)
	}
}

func TestCreateOrganization(t *testing.T) {
	tr, fake := newOrgTranscoder(t)
	bodies := map[string]string{
		"snake":          `{"display_name": "Megasoft Inc", "external_id": "CUST-12345-MGSFT", "region_code": "EU", "metadata": {"k": "v"}}`,
		"camel":          `{"displayName": "Megasoft Inc", "externalId": "CUST-12345-MGSFT", "regionCode": 2, "metadata": {"k": "v"}}`,
		"trailing comma": `{"display_name": "Megasoft Inc", "external_id": "CUST-12345-MGSFT", "region_code": "EU", "metadata": {"k": "v",},}`,
		"unknown fields": `{"display_name": "Megasoft Inc", "external_id": "CUST-12345-MGSFT", "region_code": "EU", "metadata": {"k": "v"}, "from_the_future": {"x": [1]}}`,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			r := serve(t, tr, "POST", "/api/v1/organizations", body,
				"Content-Type", "application/json; charset=utf-8",
				"Authorization", "Bearer good", "X-Request-Id", "req-1", "X-Forwarded-For", "10.0.0.1")
			wantStatus(t, r, http.StatusOK)
			want := &organizations.CreateOrganizationRequest{Organization: &organizations.CreateOrganization{
				DisplayName: "Megasoft Inc", ExternalId: proto.String("CUST-12345-MGSFT"),
				RegionCode: commons.RegionCode_EU, Metadata: map[string]string{"k": "v"},
			}}
			got, hdr := fake.lastRequest()
			if !proto.Equal(got, want) {
				t.Errorf("handler got %v, want %v", got, want)
			}
			for k, v := range map[string]string{"Authorization": "Bearer good", "X-Request-Id": "req-1", "X-Forwarded-For": "10.0.0.1", "Content-Type": "application/proto"} {
				if hdr.Get(k) != v {
					t.Errorf("handler saw %s %q, want %q", k, hdr.Get(k), v)
				}
			}
			if r.header.Get("X-Request-Id") != "req-1" {
				t.Errorf("response X-Request-Id %q", r.header.Get("X-Request-Id"))
			}
			org := field(t, r.body, "organization")
			if field(t, org, "display_name") != "Megasoft Inc" || field(t, org, "external_id") != "CUST-12345-MGSFT" || field(t, org, "region_code") != "EU" {
				t.Errorf("organization = %v", org)
			}
			if !reflect.DeepEqual(field(t, org, "metadata"), map[string]any{"k": "v"}) {
				t.Errorf("metadata = %v", field(t, org, "metadata"))
			}
		})
	}

	t.Run("empty body", func(t *testing.T) {
		r := serve(t, tr, "POST", "/api/v1/organizations", "")
		wantStatus(t, r, http.StatusOK)
		got, _ := fake.lastRequest()
		want := &organizations.CreateOrganizationRequest{Organization: &organizations.CreateOrganization{}}
		if !proto.Equal(got, want) {
			t.Errorf("handler got %v, want %v", got, want)
		}
		// Unpopulated fields are emitted, snake_case: an empty map is {}.
		if !reflect.DeepEqual(field(t, r.body, "organization", "metadata"), map[string]any{}) {
			t.Errorf(`want "metadata":{} in %s`, r.raw)
		}
		if _, ok := r.body["organization"].(map[string]any)["displayName"]; ok {
			t.Errorf("camelCase key in %s", r.raw)
		}
	})

	bad := []struct{ name, body, msg string }{
		{"wrong type", `{"display_name": 5}`, "invalid JSON body: invalid value for string field display_name: 5"},
		{"wrong nested type", `{"metadata": {"k": 1}}`, "invalid JSON body: invalid value for string field value: 1"},
		{"bad enum number", `{"region_code": 1.5}`, "invalid JSON body: invalid value for enum field region_code: 1.5"},
		{"nested camel", `{"metadata": {"k": "v"}, "logoUrl": 7}`, "invalid JSON body: invalid value for string field logo_url: 7"},
		{"array", `[{"display_name": "x"}]`, "invalid JSON body: expected a JSON object"},
		{"string", `"x"`, "invalid JSON body: expected a JSON object"},
		{"null", `null`, "invalid JSON body: expected a JSON object"},
		{"malformed", `{"display_name": "x"`, "invalid JSON body"},
		{"garbage", `{"display_name" "x"}`, "invalid JSON body"},
		{"two values", `{} {}`, "invalid JSON body"},
		{"bad utf8", "{\"display_name\": \"\xff\"}", "invalid JSON body"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := serve(t, tr, "POST", "/api/v1/organizations", tc.body, "Content-Type", "application/json")
			wantError(t, r, http.StatusBadRequest, connect.CodeInvalidArgument, tc.msg)
		})
	}

	t.Run("content type", func(t *testing.T) {
		for _, ct := range []string{"", "application/json", "application/merge-patch+json", "text/json"} {
			r := serve(t, tr, "POST", "/api/v1/organizations", `{"display_name":"x"}`, "Content-Type", ct)
			wantStatus(t, r, http.StatusOK)
		}
		r := serve(t, tr, "POST", "/api/v1/organizations", `display_name=x`, "Content-Type", "application/x-www-form-urlencoded")
		wantError(t, r, http.StatusUnsupportedMediaType, connect.CodeInvalidArgument, "Content-Type")
	})

	t.Run("handler error", func(t *testing.T) {
		r := serve(t, tr, "POST", "/api/v1/organizations", `{"display_name":"taken"}`)
		wantError(t, r, http.StatusConflict, connect.CodeAlreadyExists, "organization exists")
	})
}

func TestBodyTooLarge(t *testing.T) {
	tr, fake := newOrgTranscoder(t, WithMaxBodySize(64))
	big := `{"display_name": "` + strings.Repeat("x", 100) + `"}`
	r := serve(t, tr, "POST", "/api/v1/organizations", big)
	wantError(t, r, http.StatusRequestEntityTooLarge, connect.CodeResourceExhausted, "larger than 64 bytes")
	if got, _ := fake.lastRequest(); got != nil {
		t.Errorf("handler was called with %v", got)
	}

	// Without a Content-Length the limit still holds while reading.
	req := httptest.NewRequest("POST", "/api/v1/organizations", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	rec := httptest.NewRecorder()
	tr.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked body: status %d, body %s", rec.Code, rec.Body)
	}

	// The default limit is 1 MiB.
	tr, _ = newOrgTranscoder(t)
	huge := `{"display_name": "` + strings.Repeat("x", DefaultMaxBodySize) + `"}`
	r = serve(t, tr, "POST", "/api/v1/organizations", huge)
	wantStatus(t, r, http.StatusRequestEntityTooLarge)
}

func TestUpdateOrganization(t *testing.T) {
	tr, fake := newOrgTranscoder(t)
	for _, q := range []string{"update_mask=display_name,metadata", "updateMask=displayName,metadata", "update_mask=display_name&update_mask=metadata"} {
		t.Run(q, func(t *testing.T) {
			r := serve(t, tr, "PATCH", "/api/v1/organizations/org_1?"+q, `{"display_name": "New Name", "id": "ignored"}`)
			wantStatus(t, r, http.StatusOK)
			got, _ := fake.lastRequest()
			want := &organizations.UpdateOrganizationRequest{
				Identities:   &organizations.UpdateOrganizationRequest_Id{Id: "org_1"},
				Organization: &organizations.UpdateOrganization{DisplayName: proto.String("New Name")},
				UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"display_name", "metadata"}},
			}
			if !proto.Equal(got, want) {
				t.Errorf("handler got %v, want %v", got, want)
			}
			if field(t, r.body, "organization", "id") != "org_1" {
				t.Errorf("body %s", r.raw)
			}
		})
	}

	t.Run("query cannot override path or body field", func(t *testing.T) {
		serve(t, tr, "PATCH", "/api/v1/organizations/org_1?id=org_2&external_id=x&organization.display_name=q", `{"display_name": "B"}`)
		got, _ := fake.lastRequest()
		req := got.(*organizations.UpdateOrganizationRequest)
		if req.GetId() != "org_1" || req.GetOrganization().GetDisplayName() != "B" {
			t.Errorf("handler got %v", req)
		}
	})

	t.Run("body star: path wins", func(t *testing.T) {
		r := serve(t, tr, "PATCH", "/api/v1/organizations/org_1/session-policy",
			`{"organization_id": "org_2", "policy_source": "CUSTOM", "absolute_session_timeout": 30, "idleSessionTimeoutEnabled": true, "absolute_session_timeout_unit": "HOURS"}`)
		wantStatus(t, r, http.StatusOK)
		got, _ := fake.lastRequest()
		want := &organizations.UpdateOrganizationSessionPolicyRequest{
			OrganizationId:             "org_1",
			PolicySource:               organizations.SessionPolicyType_CUSTOM,
			AbsoluteSessionTimeout:     wrapperspb.Int32(30),
			IdleSessionTimeoutEnabled:  wrapperspb.Bool(true),
			AbsoluteSessionTimeoutUnit: commons.TimeUnit_HOURS.Enum(),
		}
		if !proto.Equal(got, want) {
			t.Errorf("handler got %v, want %v", got, want)
		}
	})
}

func TestGetOrganization(t *testing.T) {
	tr, fake := newOrgTranscoder(t)
	r := serve(t, tr, "GET", "/api/v1/organizations/org_1?unknown=1&id=org_2", "")
	wantStatus(t, r, http.StatusOK)
	got, _ := fake.lastRequest()
	if want := (&organizations.GetOrganizationRequest{Identities: &organizations.GetOrganizationRequest_Id{Id: "org_1"}}); !proto.Equal(got, want) {
		t.Errorf("handler got %v, want %v", got, want)
	}
	org := field(t, r.body, "organization")
	if field(t, org, "id") != "org_1" || field(t, org, "display_name") != "Megasoft Inc" {
		t.Errorf("body %s", r.raw)
	}
	// EmitUnpopulated: every non-optional field is present, snake_case.
	for _, k := range []string{"metadata", "region_code", "create_time", "settings"} {
		field(t, org, k)
	}
	if !reflect.DeepEqual(org.(map[string]any)["metadata"], map[string]any{}) {
		t.Errorf(`want "metadata":{} in %s`, r.raw)
	}

	if proc, ok := tr.Match(httptest.NewRequest("GET", "/api/v1/organizations/org_1", nil)); !ok || proc != "/scalekit.v1.organizations.OrganizationService/GetOrganization" {
		t.Errorf("Match = %q, %v", proc, ok)
	}
	if proc, ok := tr.Match(httptest.NewRequest("GET", "/api/v1/organizations:external/x", nil)); !ok || proc != "/scalekit.v1.organizations.OrganizationService/GetOrganizationByExternalId" {
		t.Errorf("Match = %q, %v", proc, ok)
	}
	if _, ok := tr.Match(httptest.NewRequest("POST", "/api/v1/organizations/org_1", nil)); ok {
		t.Error("Match accepted the wrong method")
	}
}

func TestGetByExternalID(t *testing.T) {
	tr, fake := newOrgTranscoder(t)
	r := serve(t, tr, "GET", "/api/v1/organizations:external/CUST%2F12%20345+x%3Ay", "")
	wantStatus(t, r, http.StatusOK)
	got, _ := fake.lastRequest()
	want := &organizations.GetOrganizationRequest{Identities: &organizations.GetOrganizationRequest_ExternalId{ExternalId: "CUST/12 345+x:y"}}
	if !proto.Equal(got, want) {
		t.Errorf("handler got %v, want %v", got, want)
	}
	if field(t, r.body, "organization", "external_id") != "CUST/12 345+x:y" {
		t.Errorf("body %s", r.raw)
	}

	// Through a real server and client, which keep the escaping as sent.
	srv := httptest.NewServer(tr)
	defer srv.Close()
	res, err := http.Get(srv.URL + "/api/v1/organizations:external/a%2Fb%20c")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	got, _ = fake.lastRequest()
	if res.StatusCode != http.StatusOK || got.(*organizations.GetOrganizationRequest).GetExternalId() != "a/b c" {
		t.Errorf("status %d, handler got %v", res.StatusCode, got)
	}

	r = serve(t, tr, "GET", "/api/v1/organizations:external/%FF", "")
	wantError(t, r, http.StatusBadRequest, connect.CodeInvalidArgument, `path variable "external_id"`)
}

func TestSearchAndList(t *testing.T) {
	tr, fake := newOrgTranscoder(t)

	r := serve(t, tr, "GET", "/api/v1/organizations:search?query=mega+soft&page_size=5&pageToken=t1", "")
	wantStatus(t, r, http.StatusOK)
	got, _ := fake.lastRequest()
	if want := (&organizations.SearchOrganizationsRequest{Query: "mega soft", PageSize: 5, PageToken: "t1"}); !proto.Equal(got, want) {
		t.Errorf("handler got %v, want %v", got, want)
	}
	orgs, _ := field(t, r.body, "organizations").([]any)
	if len(orgs) != 1 || field(t, orgs[0], "display_name") != "mega soft" || field(t, r.body, "total_size") != float64(5) {
		t.Errorf("body %s", r.raw)
	}

	r = serve(t, tr, "GET", "/api/v1/organizations?page_size=10&page_token=abc&external_id=CUST-1", "")
	wantStatus(t, r, http.StatusOK)
	got, _ = fake.lastRequest()
	if want := (&organizations.ListOrganizationsRequest{PageSize: 10, PageToken: "abc", ExternalId: proto.String("CUST-1")}); !proto.Equal(got, want) {
		t.Errorf("handler got %v, want %v", got, want)
	}
	if field(t, r.body, "next_page_token") != "abc+1" || !reflect.DeepEqual(field(t, r.body, "organizations"), []any{}) {
		t.Errorf("body %s", r.raw)
	}

	// proto3 optional: an empty value is still "set".
	serve(t, tr, "GET", "/api/v1/organizations?external_id=", "")
	got, _ = fake.lastRequest()
	if req := got.(*organizations.ListOrganizationsRequest); req.ExternalId == nil || *req.ExternalId != "" {
		t.Errorf("external_id presence lost: %v", req)
	}
	serve(t, tr, "GET", "/api/v1/organizations", "")
	got, _ = fake.lastRequest()
	if req := got.(*organizations.ListOrganizationsRequest); req.ExternalId != nil {
		t.Errorf("external_id set without a parameter: %v", req)
	}

	for _, q := range []string{"page_size=abc", "page_size=-1", "page_size=4294967296", "pageSize=1.5", "page_size=1&page_size=2"} {
		r = serve(t, tr, "GET", "/api/v1/organizations?"+q, "")
		wantError(t, r, http.StatusBadRequest, connect.CodeInvalidArgument, "page")
		if !strings.Contains(r.raw, `query parameter \"page_size\"`) && !strings.Contains(r.raw, `query parameter \"pageSize\"`) {
			t.Errorf("%s: message does not name the parameter: %s", q, r.raw)
		}
	}
	r = serve(t, tr, "GET", "/api/v1/organizations?page_size=%zz", "")
	wantError(t, r, http.StatusBadRequest, connect.CodeInvalidArgument, "invalid query string")
}

func TestDeleteOrganization(t *testing.T) {
	tr, fake := newOrgTranscoder(t)
	// A body on DELETE is never read.
	r := serve(t, tr, "DELETE", "/api/v1/organizations/org_1", `{"id": "org_2"}`, "Content-Type", "text/plain")
	wantStatus(t, r, http.StatusOK)
	if r.raw != "{}" {
		t.Errorf("body %q, want {}", r.raw)
	}
	got, _ := fake.lastRequest()
	if got.(*organizations.DeleteOrganizationRequest).GetId() != "org_1" {
		t.Errorf("handler got %v", got)
	}
}

func TestErrorMapping(t *testing.T) {
	tr, _ := newOrgTranscoder(t)

	r := serve(t, tr, "GET", "/api/v1/organizations/org_missing", "", "X-Request-Id", "req-9")
	wantError(t, r, http.StatusNotFound, connect.CodeNotFound, "organization org_missing not found")
	details := field(t, r.body, "details").([]any)
	if len(details) != 1 {
		t.Fatalf("details %s", r.raw)
	}
	want := map[string]any{
		"@type":         "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo",
		"error_code":    "NOT_FOUND",
		"resource_info": map[string]any{"resource_name": "organization", "description": "org_missing"},
	}
	if !reflect.DeepEqual(details[0], want) {
		t.Errorf("detail %v, want %v", details[0], want)
	}

	// Not a Connect error: keep the status, infer the code.
	r = serve(t, tr, "GET", "/api/v1/organizations/org_1", "", "Authorization", "Bearer bad")
	wantError(t, r, http.StatusUnauthorized, connect.CodeUnauthenticated, "token expired")

	// Registered but unimplemented RPC.
	r = serve(t, tr, "GET", "/api/v1/organizations/org_1/portal_links", "")
	wantError(t, r, http.StatusNotImplemented, connect.CodeUnimplemented, "GetPortalLinks")
}

func TestNoRoute(t *testing.T) {
	tr, _ := newOrgTranscoder(t)
	r := serve(t, tr, "GET", "/api/v1/nothing/here", "")
	wantError(t, r, http.StatusNotFound, connect.CodeNotFound, "no route for GET /api/v1/nothing/here")
	if r.raw != `{"code":5,"message":"no route for GET /api/v1/nothing/here","details":[]}` {
		t.Errorf("body %s", r.raw)
	}

	r = serve(t, tr, "PUT", "/api/v1/organizations/org_1", `{}`)
	wantError(t, r, http.StatusMethodNotAllowed, connect.CodeUnimplemented, "PUT")
	if allow := r.header.Get("Allow"); allow != "DELETE, GET, PATCH" {
		t.Errorf("Allow %q", allow)
	}

	r = serve(t, tr, "POST", "/api/v1/organizations:search", "")
	wantStatus(t, r, http.StatusMethodNotAllowed)
}

func TestHTTPStatus(t *testing.T) {
	want := map[connect.Code]int{
		connect.CodeCanceled: 499, connect.CodeUnknown: 500, connect.CodeInvalidArgument: 400,
		connect.CodeDeadlineExceeded: 504, connect.CodeNotFound: 404, connect.CodeAlreadyExists: 409,
		connect.CodePermissionDenied: 403, connect.CodeResourceExhausted: 429, connect.CodeFailedPrecondition: 400,
		connect.CodeAborted: 409, connect.CodeOutOfRange: 400, connect.CodeUnimplemented: 501,
		connect.CodeInternal: 500, connect.CodeUnavailable: 503, connect.CodeDataLoss: 500,
		connect.CodeUnauthenticated: 401, 0: 200, 99: 500,
	}
	for code, status := range want {
		if got := HTTPStatus(code); got != status {
			t.Errorf("HTTPStatus(%v) = %d, want %d", code, got, status)
		}
	}
}

func TestDetailJSON(t *testing.T) {
	info, _ := proto.Marshal(&errdetails.ErrorInfo{ErrorCode: "X"})
	for _, enc := range []string{"CgFY", "CgFY===="} { // unpadded and padded
		var got map[string]any
		if err := json.Unmarshal(detailJSON("scalekit.v1.errdetails.ErrorInfo", enc), &got); err != nil {
			t.Fatal(err)
		}
		if got["@type"] != "type.googleapis.com/scalekit.v1.errdetails.ErrorInfo" || got["error_code"] != "X" {
			t.Errorf("%s: %v", enc, got)
		}
	}
	if len(info) != 3 {
		t.Fatalf("test fixture drifted: %x", info)
	}
	var got map[string]any
	if err := json.Unmarshal(detailJSON("acme.v1.Unknown", "CgFY"), &got); err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"@type": "type.googleapis.com/acme.v1.Unknown", "value": "CgFY"}; !reflect.DeepEqual(got, want) {
		t.Errorf("unknown detail %v, want %v", got, want)
	}
	if err := json.Unmarshal(detailJSON("acme.v1.Unknown", "!!"), &got); err != nil {
		t.Fatal(err)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(nil, []protoreflect.ServiceDescriptor{orgService()}); err == nil {
		t.Error("nil target accepted")
	}
	tr, err := New(http.NotFoundHandler(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := serve(t, tr, "GET", "/api/v1/organizations", "")
	wantStatus(t, r, http.StatusNotFound)
}

func TestAllRoutesRegistered(t *testing.T) {
	tr, _ := newOrgTranscoder(t)
	// Every RPC of the service has exactly one route here.
	methods := orgService().Methods()
	seen := map[string]bool{}
	var walk func(n *node)
	walk = func(n *node) {
		for _, rt := range n.routes {
			seen[rt.bind.m.procedure] = true
		}
		for _, c := range n.literals {
			walk(c)
		}
		for _, c := range []*node{n.star, n.deep} {
			if c != nil {
				walk(c)
			}
		}
	}
	walk(&tr.router.root)
	var missing []string
	for i := range methods.Len() {
		p := "/scalekit.v1.organizations.OrganizationService/" + string(methods.Get(i).Name())
		if !seen[p] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 || len(seen) != methods.Len() {
		t.Errorf("missing routes %v (have %v)", missing, slices.Sorted(maps.Keys(seen)))
	}
}

func BenchmarkTranscodeGet(b *testing.B) {
	tr, _ := newOrgTranscoder(b)
	req := httptest.NewRequest("GET", "/api/v1/organizations/org_1", nil)
	req.Header.Set("Authorization", "Bearer good")
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		tr.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}
