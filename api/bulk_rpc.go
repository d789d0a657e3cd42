package api

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	rosterv1 "github.com/rosterhq/roster/gen/roster/v1"
	"github.com/rosterhq/roster/gen/roster/v1/rosterv1connect"
	"google.golang.org/protobuf/proto"
)

const (
	bulkImportProcedure = rosterv1connect.BulkServiceImportUsersProcedure
	bulkExportProcedure = rosterv1connect.BulkServiceExportUsersProcedure
	// exportMessageBytes bounds one message of a gRPC export, far below WithSendMaxBytes.
	exportMessageBytes = MaxMessageBytes
)

// bulk implements roster.v1.BulkService: the gRPC form of the NDJSON import and export.
type bulk struct {
	rosterv1connect.UnimplementedBulkServiceHandler
	dir *directory.Service
}

func (h *bulk) ImportUsers(ctx context.Context, stream *connect.ClientStream[rosterv1.ImportUsersRequest]) (*connect.Response[rosterv1.ImportUsersResponse], error) {
	env := environment(ctx)
	out := &rosterv1.ImportUsersResponse{}
	var sum ImportSummary
	var b importBatch
	onError := func(le LineError) error {
		if len(out.Errors) < MaxReportedErrors {
			out.Errors = append(out.Errors, lineErrorToProto(le))
		}
		return nil
	}
	apply := func() error {
		if len(b.lines) == 0 {
			return nil
		}
		err := applyBatch(ctx, h.dir, env, b, &sum, onError)
		b = importBatch{}
		return err
	}
	num := 0
	for stream.Receive() {
		users := stream.Msg().GetUsers()
		if len(users) > ImportBatchLines {
			return nil, lineError("users", fmt.Sprintf("repeated.max_items=%d", ImportBatchLines),
				"a request holds at most %d users; send more requests on the stream", ImportBatchLines)
		}
		for _, u := range users {
			num++
			il := directory.ImportLine{Number: num}
			var v roster.Violations
			walkText(&v, u.ProtoReflect(), "", "")
			if il.Err = v.Err(); il.Err == nil {
				// A proto3 bool cannot say it was given: over gRPC, false leaves the flag as it is.
				il.User = ImportUserFromProto(u, false, false)
			}
			b.lines = append(b.lines, il)
			b.keys = append(b.keys, lineKey{u.GetEmail(), u.GetExternalId()})
		}
		if len(b.lines) >= ImportBatchLines {
			if err := apply(); err != nil {
				return nil, err
			}
		}
	}
	if err := stream.Err(); err != nil {
		return nil, err
	}
	if err := apply(); err != nil {
		return nil, err
	}
	out.Lines, out.Created, out.Updated, out.Unchanged, out.Failed = uint64(sum.Lines), uint64(sum.Created), uint64(sum.Updated),
		uint64(sum.Unchanged), uint64(sum.Failed)
	return connect.NewResponse(out), nil
}

func lineErrorToProto(le LineError) *rosterv1.ImportLineError {
	out := &rosterv1.ImportLineError{Line: uint64(le.Line), Email: le.Email, ExternalId: le.ExternalID,
		Code: string(roster.ErrorCode(le.Err)), Message: roster.ErrorMessage(le.Err)}
	if e, ok := le.Err.(*roster.Error); ok {
		for _, v := range e.Violations {
			out.FieldViolations = append(out.FieldViolations, &rosterv1.ImportFieldViolation{Field: v.Field, Description: v.Description, Constraint: v.Constraint})
		}
	}
	return out
}

func (h *bulk) ExportUsers(ctx context.Context, req *connect.Request[rosterv1.ExportUsersRequest], stream *connect.ServerStream[rosterv1.ExportUsersResponse]) error {
	var v roster.Violations
	walkText(&v, req.Msg.ProtoReflect(), "", "")
	if err := v.Err(); err != nil {
		return err
	}
	return h.dir.ExportUsers(ctx, environment(ctx), req.Msg.GetOrganizationId(), func(users []roster.User) error {
		msg := &rosterv1.ExportUsersResponse{}
		size := 0
		for _, u := range users {
			pu := userToProto(u)
			n := proto.Size(pu)
			if len(msg.Users) > 0 && size+n > exportMessageBytes {
				if err := stream.Send(msg); err != nil {
					return err
				}
				msg, size = &rosterv1.ExportUsersResponse{}, 0
			}
			msg.Users, size = append(msg.Users, pu), size+n
		}
		if len(msg.Users) == 0 {
			return nil
		}
		return stream.Send(msg)
	})
}
