package api

import (
	"context"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	"github.com/rosterhq/roster/gen/scalekit/v1/commons"
	orgsv1 "github.com/rosterhq/roster/gen/scalekit/v1/organizations"
	"github.com/rosterhq/roster/gen/scalekit/v1/organizations/organizationsconnect"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// organizations implements scalekit.v1.organizations.OrganizationService.
type organizations struct {
	organizationsconnect.UnimplementedOrganizationServiceHandler
	dir *directory.Service
}

func (h *organizations) CreateOrganization(ctx context.Context, req *connect.Request[orgsv1.CreateOrganizationRequest]) (*connect.Response[orgsv1.CreateOrganizationResponse], error) {
	in := req.Msg.GetOrganization()
	if in == nil {
		return nil, required("organization")
	}
	o, err := h.dir.CreateOrganization(ctx, environment(ctx), roster.NewOrganization{
		DisplayName: in.GetDisplayName(),
		ExternalID:  in.GetExternalId(),
		Metadata:    in.GetMetadata(),
		Slug:        in.GetSlug(),
		LogoURL:     in.GetLogoUrl(),
		RegionCode:  regionFromProto(in.GetRegionCode()),
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&orgsv1.CreateOrganizationResponse{Organization: organizationToProto(o)}), nil
}

func (h *organizations) GetOrganization(ctx context.Context, req *connect.Request[orgsv1.GetOrganizationRequest]) (*connect.Response[orgsv1.GetOrganizationResponse], error) {
	o, err := h.dir.GetOrganization(ctx, environment(ctx), roster.OrganizationRef{ID: req.Msg.GetId(), ExternalID: req.Msg.GetExternalId()})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&orgsv1.GetOrganizationResponse{Organization: organizationToProto(o)}), nil
}

// GetOrganizationByExternalId serves GET /api/v1/organizations:external/{external_id}.
func (h *organizations) GetOrganizationByExternalId(ctx context.Context, req *connect.Request[orgsv1.GetOrganizationRequest]) (*connect.Response[orgsv1.GetOrganizationResponse], error) {
	if req.Msg.GetExternalId() == "" {
		return nil, required("external_id")
	}
	return h.GetOrganization(ctx, req)
}

// UpdateOrganization patches: fields that are not sent are unchanged, metadata merges and an
// empty value removes a key (docs/metadata.md). With an update_mask, exactly the named fields
// are set from the body (absent ones cleared, metadata replaced).
func (h *organizations) UpdateOrganization(ctx context.Context, req *connect.Request[orgsv1.UpdateOrganizationRequest]) (*connect.Response[orgsv1.UpdateOrganizationResponse], error) {
	in := req.Msg.GetOrganization()
	if in == nil {
		return nil, required("organization")
	}
	patch := roster.OrganizationPatch{
		DisplayName: in.DisplayName,
		ExternalID:  in.ExternalId,
		Metadata:    in.GetMetadata(),
		Slug:        in.Slug,
		LogoURL:     in.LogoUrl,
	}
	if mask := req.Msg.GetUpdateMask(); mask != nil && len(mask.GetPaths()) > 0 {
		var err error
		if patch, err = maskedPatch(in, mask.GetPaths()); err != nil {
			return nil, err
		}
	}
	o, err := h.dir.UpdateOrganization(ctx, environment(ctx), roster.OrganizationRef{ID: req.Msg.GetId(), ExternalID: req.Msg.GetExternalId()}, patch)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&orgsv1.UpdateOrganizationResponse{Organization: organizationToProto(o)}), nil
}

func maskedPatch(in *orgsv1.UpdateOrganization, paths []string) (roster.OrganizationPatch, error) {
	var p roster.OrganizationPatch
	var v roster.Violations
	for _, path := range paths {
		switch strings.TrimPrefix(path, "organization.") {
		case "display_name", "displayName":
			p.DisplayName = ptr(in.GetDisplayName())
		case "external_id", "externalId":
			p.ExternalID = ptr(in.GetExternalId())
		case "metadata":
			p.Metadata, p.ReplaceMetadata = in.GetMetadata(), true
		case "slug":
			p.Slug = ptr(in.GetSlug())
		case "logo_url", "logoUrl":
			p.LogoURL = ptr(in.GetLogoUrl())
		default:
			v.Add("update_mask", "field_mask.in", "unknown or read-only field %q (allowed: display_name, external_id, metadata, slug, logo_url)", path)
		}
	}
	return p, v.Err()
}

func (h *organizations) ListOrganization(ctx context.Context, req *connect.Request[orgsv1.ListOrganizationsRequest]) (*connect.Response[orgsv1.ListOrganizationsResponse], error) {
	list, err := h.dir.ListOrganizations(ctx, environment(ctx), directory.ListOrganizationsInput{
		PageInput: pageInput(req.Msg.GetPageSize(), req.Msg.GetPageToken()), ExternalID: req.Msg.ExternalId,
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&orgsv1.ListOrganizationsResponse{
		Organizations: organizationsToProto(list.Items), NextPageToken: list.NextToken, PrevPageToken: list.PrevToken, TotalSize: uint32(list.Total),
	}), nil
}

func (h *organizations) SearchOrganization(ctx context.Context, req *connect.Request[orgsv1.SearchOrganizationsRequest]) (*connect.Response[orgsv1.SearchOrganizationsResponse], error) {
	q := req.Msg.GetQuery()
	list, err := h.dir.ListOrganizations(ctx, environment(ctx), directory.ListOrganizationsInput{
		PageInput: pageInput(req.Msg.GetPageSize(), req.Msg.GetPageToken()), Query: &q,
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&orgsv1.SearchOrganizationsResponse{
		Organizations: organizationsToProto(list.Items), NextPageToken: list.NextToken, PrevPageToken: list.PrevToken, TotalSize: uint32(list.Total),
	}), nil
}

func (h *organizations) DeleteOrganization(ctx context.Context, req *connect.Request[orgsv1.DeleteOrganizationRequest]) (*connect.Response[emptypb.Empty], error) {
	if err := h.dir.DeleteOrganization(ctx, environment(ctx), roster.OrganizationRef{ID: req.Msg.GetId(), ExternalID: req.Msg.GetExternalId()}); err != nil {
		return nil, err
	}
	return connect.NewResponse(&emptypb.Empty{}), nil
}

// The organization settings, session policy and admin portal RPCs are not in Roster yet;
// they answer UNIMPLEMENTED with a message that says so.

func notYet(what string) error {
	return roster.Errorf(roster.EUnimplemented, "%s are not available in Roster yet", what)
}

func (h *organizations) GeneratePortalLink(context.Context, *connect.Request[orgsv1.GeneratePortalLinkRequest]) (*connect.Response[orgsv1.GeneratePortalLinkResponse], error) {
	return nil, notYet("admin portal links")
}

func (h *organizations) DeletePortalLink(context.Context, *connect.Request[orgsv1.DeletePortalLinkRequest]) (*connect.Response[emptypb.Empty], error) {
	return nil, notYet("admin portal links")
}

func (h *organizations) DeletePortalLinkByID(context.Context, *connect.Request[orgsv1.DeletePortalLinkByIdRequest]) (*connect.Response[emptypb.Empty], error) {
	return nil, notYet("admin portal links")
}

func (h *organizations) GetPortalLinks(context.Context, *connect.Request[orgsv1.GetPortalLinkRequest]) (*connect.Response[orgsv1.GetPortalLinksResponse], error) {
	return nil, notYet("admin portal links")
}

func (h *organizations) UpdateOrganizationSettings(context.Context, *connect.Request[orgsv1.UpdateOrganizationSettingsRequest]) (*connect.Response[orgsv1.GetOrganizationResponse], error) {
	return nil, notYet("organization settings")
}

func (h *organizations) UpdateOrganizationSessionPolicy(context.Context, *connect.Request[orgsv1.UpdateOrganizationSessionPolicyRequest]) (*connect.Response[orgsv1.UpdateOrganizationSessionPolicyResponse], error) {
	return nil, notYet("organization session policies")
}

func (h *organizations) GetOrganizationSessionPolicy(context.Context, *connect.Request[orgsv1.GetOrganizationSessionPolicyRequest]) (*connect.Response[orgsv1.GetOrganizationSessionPolicyResponse], error) {
	return nil, notYet("organization session policies")
}

func (h *organizations) UpsertUserManagementSettings(context.Context, *connect.Request[orgsv1.UpsertUserManagementSettingsRequest]) (*connect.Response[orgsv1.UpsertUserManagementSettingsResponse], error) {
	return nil, notYet("organization user management settings")
}

func (h *organizations) GetOrganizationUserManagementSetting(context.Context, *connect.Request[orgsv1.GetOrganizationUserManagementSettingsRequest]) (*connect.Response[orgsv1.GetOrganizationUserManagementSettingsResponse], error) {
	return nil, notYet("organization user management settings")
}

func (h *organizations) GetApplicationSessionPolicy(context.Context, *connect.Request[orgsv1.GetApplicationSessionPolicyRequest]) (*connect.Response[orgsv1.GetApplicationSessionPolicyResponse], error) {
	return nil, notYet("application session policies")
}

func organizationToProto(o roster.Organization) *orgsv1.Organization {
	meta := o.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	return &orgsv1.Organization{
		Id:          o.ID,
		CreateTime:  timestamppb.New(o.CreateTime),
		UpdateTime:  timestamppb.New(o.UpdateTime),
		DisplayName: o.DisplayName,
		RegionCode:  regionToProto(o.RegionCode),
		ExternalId:  o.ExternalID,
		Metadata:    meta,
		Settings:    &orgsv1.OrganizationSettings{Features: []*orgsv1.OrganizationSettingsFeature{}},
		Slug:        o.Slug,
		LogoUrl:     o.LogoURL,
	}
}

func organizationsToProto(in []roster.Organization) []*orgsv1.Organization {
	out := make([]*orgsv1.Organization, len(in))
	for i, o := range in {
		out[i] = organizationToProto(o)
	}
	return out
}

func regionFromProto(r commons.RegionCode) string {
	switch r {
	case commons.RegionCode_REGION_CODE_UNSPECIFIED:
		return ""
	case commons.RegionCode_US, commons.RegionCode_EU:
		return r.String()
	}
	return fmt.Sprintf("%d", int32(r)) // refused by validation as unknown
}

func regionToProto(r string) commons.RegionCode {
	return commons.RegionCode(commons.RegionCode_value[r])
}

func required(field string) error {
	var v roster.Violations
	v.Add(field, "required", "is required")
	return v.Err()
}

func ptr[T any](v T) *T { return &v }

func pageInput(size uint32, token string) directory.PageInput {
	if size > 1<<30 {
		size = 1 << 30
	}
	return directory.PageInput{PageSize: int(size), PageToken: token}
}
