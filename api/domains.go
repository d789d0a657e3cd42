package api

import (
	"context"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	domainsv1 "github.com/rosterhq/roster/gen/scalekit/v1/domains"
	"github.com/rosterhq/roster/gen/scalekit/v1/domains/domainsconnect"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// domains implements scalekit.v1.domains.DomainService: the email domains of an
// organization, by which sign-ins are routed. Domains added through the API count as verified
// by the administrator (docs/sso.md); DNS verification is not served.
type domains struct {
	domainsconnect.UnimplementedDomainServiceHandler
	dir *directory.Service
}

func (h *domains) CreateDomain(ctx context.Context, req *connect.Request[domainsv1.CreateDomainRequest]) (*connect.Response[domainsv1.CreateDomainResponse], error) {
	m := req.Msg
	if m.GetDomain() == nil {
		return nil, required("domain")
	}
	typ, err := domainTypeFromProto(m.GetDomain().GetDomainType())
	if err != nil {
		return nil, err
	}
	d, err := h.dir.CreateDomain(ctx, environment(ctx), roster.OrganizationRef{ID: m.GetOrganizationId(), ExternalID: m.GetExternalId()},
		m.GetDomain().GetDomain(), typ)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&domainsv1.CreateDomainResponse{Domain: domainToProto(d)}), nil
}

func (h *domains) GetDomain(ctx context.Context, req *connect.Request[domainsv1.GetDomainRequest]) (*connect.Response[domainsv1.GetDomainResponse], error) {
	m := req.Msg
	d, err := h.dir.GetDomain(ctx, environment(ctx), roster.OrganizationRef{ID: m.GetOrganizationId(), ExternalID: m.GetExternalId()}, m.GetId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&domainsv1.GetDomainResponse{Domain: domainToProto(d)}), nil
}

// ListDomains answers every domain of the organization on one page (an organization has
// few), echoing page_size and page_number as the wire's shape requires.
func (h *domains) ListDomains(ctx context.Context, req *connect.Request[domainsv1.ListDomainRequest]) (*connect.Response[domainsv1.ListDomainResponse], error) {
	m := req.Msg
	typ, err := domainTypeFromProto(m.GetDomainType())
	if err != nil {
		return nil, err
	}
	list, err := h.dir.ListDomains(ctx, environment(ctx), roster.OrganizationRef{ID: m.GetOrganizationId(), ExternalID: m.GetExternalId()}, typ)
	if err != nil {
		return nil, err
	}
	// Page by number, as the message asks: page_size domains from (page_number-1)*page_size,
	// both echoed. Without a page_size the page is every domain (at most
	// roster.MaxDomainsPerOrganization).
	size, number := int(m.GetPageSize().GetValue()), int(m.GetPageNumber().GetValue())
	if number <= 0 {
		number = 1
	}
	if size <= 0 {
		size, number = len(list), 1
	} else {
		from := min((number-1)*size, len(list))
		list = list[from:min(from+size, len(list))]
	}
	out := &domainsv1.ListDomainResponse{PageSize: int32(size), PageNumber: int32(number), Domains: []*domainsv1.Domain{}}
	for _, d := range list {
		out.Domains = append(out.Domains, domainToProto(d))
	}
	return connect.NewResponse(out), nil
}

func (h *domains) DeleteDomain(ctx context.Context, req *connect.Request[domainsv1.DeleteDomainRequest]) (*connect.Response[emptypb.Empty], error) {
	m := req.Msg
	if err := h.dir.DeleteDomain(ctx, environment(ctx), roster.OrganizationRef{ID: m.GetOrganizationId(), ExternalID: m.GetExternalId()}, m.GetId()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&emptypb.Empty{}), nil
}

func domainTypeFromProto(t domainsv1.DomainType) (roster.DomainType, error) {
	switch t {
	case domainsv1.DomainType_DOMAIN_TYPE_UNSPECIFIED:
		return "", nil
	case domainsv1.DomainType_ORGANIZATION_DOMAIN:
		return roster.DomainOrganization, nil
	case domainsv1.DomainType_ALLOWED_EMAIL_DOMAIN:
		return roster.DomainAllowedEmail, nil
	}
	var v roster.Violations
	v.Add("domain.domain_type", "enum.defined_only", "unknown domain type %d", t)
	return "", v.Err()
}

func domainToProto(d roster.Domain) *domainsv1.Domain {
	return &domainsv1.Domain{
		Id: d.ID, Domain: d.Name, EnvironmentId: d.EnvironmentID, OrganizationId: d.OrganizationID,
		VerificationStatus: domainsv1.VerificationStatus_VERIFIED, VerificationMethod: domainsv1.VerificationMethod_ADMIN,
		DomainType: domainsv1.DomainType(domainsv1.DomainType_value[string(d.Type)]),
		CreateTime: timestamppb.New(d.CreateTime), UpdateTime: timestamppb.New(d.UpdateTime),
	}
}
