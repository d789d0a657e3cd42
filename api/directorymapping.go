package api

import (
	"context"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	rosterv1 "github.com/rosterhq/roster/gen/roster/v1"
	"github.com/rosterhq/roster/gen/roster/v1/rosterv1connect"
	"github.com/rosterhq/roster/scim/scimdir"
)

// directoryMapping implements roster.v1.DirectoryMappingService: re-applying a directory's
// changed attribute mapping to the users it provisioned (docs/directories.md).
type directoryMapping struct {
	rosterv1connect.UnimplementedDirectoryMappingServiceHandler
	dir *directory.Service
}

func (h *directoryMapping) ReapplyDirectoryMapping(ctx context.Context, req *connect.Request[rosterv1.ReapplyDirectoryMappingRequest]) (*connect.Response[rosterv1.ReapplyDirectoryMappingResponse], error) {
	m := req.Msg
	if err := needOrganization(m.GetOrganizationId()); err != nil {
		return nil, err
	}
	r, err := h.dir.ReapplyDirectoryMapping(ctx, environment(ctx), m.GetOrganizationId(), m.GetDirectoryId(), scimdir.ProfileFunc)
	if err != nil {
		return nil, err
	}
	out := &rosterv1.ReapplyDirectoryMappingResponse{Examined: uint64(r.Examined), Changed: uint64(r.Changed), Unchanged: uint64(r.Unchanged),
		Skipped: uint64(r.Skipped), Failed: uint64(r.Failed), Batches: uint64(r.Batches), Failures: []*rosterv1.ReapplyFailure{}}
	for _, f := range r.Failures {
		out.Failures = append(out.Failures, &rosterv1.ReapplyFailure{DirectoryUserId: f.DirectoryUserID,
			Code: string(roster.ErrorCode(f.Err)), Message: roster.ErrorMessage(f.Err)})
	}
	return connect.NewResponse(out), nil
}
