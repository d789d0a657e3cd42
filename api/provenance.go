package api

import (
	"context"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	rosterv1 "github.com/rosterhq/roster/gen/roster/v1"
	"github.com/rosterhq/roster/gen/roster/v1/rosterv1connect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// provenance implements roster.v1.UserProvenanceService: which source last set each of a
// user's profile fields and custom attributes (docs/provenance.md).
type provenance struct {
	rosterv1connect.UnimplementedUserProvenanceServiceHandler
	dir *directory.Service
}

func (h *provenance) GetUserProvenance(ctx context.Context, req *connect.Request[rosterv1.GetUserProvenanceRequest]) (*connect.Response[rosterv1.GetUserProvenanceResponse], error) {
	p, err := h.dir.UserProvenance(ctx, environment(ctx), roster.UserRef{ID: req.Msg.GetId(), ExternalID: req.Msg.GetExternalId()})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rosterv1.GetUserProvenanceResponse{Provenance: &rosterv1.UserProvenance{
		UserId: p.UserID, Fields: fieldSourcesToProto(p.Fields), CustomAttributes: fieldSourcesToProto(p.CustomAttributes)}}), nil
}

var sourceToProto = map[roster.Source]rosterv1.FieldSource{
	roster.SourceAPI: rosterv1.FieldSource_API, roster.SourceSSO: rosterv1.FieldSource_SSO,
	roster.SourceSCIM: rosterv1.FieldSource_SCIM, roster.SourceImport: rosterv1.FieldSource_IMPORT,
}

func fieldSourcesToProto(m map[string]roster.FieldSource) map[string]*rosterv1.FieldProvenance {
	out := make(map[string]*rosterv1.FieldProvenance, len(m))
	for k, s := range m {
		out[k] = &rosterv1.FieldProvenance{Source: sourceToProto[s.Source], SourceId: s.SourceID, UpdateTime: timestamppb.New(s.UpdateTime)}
	}
	return out
}
