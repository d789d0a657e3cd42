package api

import (
	"context"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster/directory"
	rosterv1 "github.com/rosterhq/roster/gen/roster/v1"
	"github.com/rosterhq/roster/gen/roster/v1/rosterv1connect"
	"google.golang.org/protobuf/types/known/structpb"
)

// events implements roster.v1.EventService: the change feed (docs/events.md, "The feed").
// Each event is its stored envelope as a Struct, so that gRPC, Connect and REST serve it
// through the same handler, authentication and error mapping as every other call; REST's
// JSON of it equals the stored envelope (keys in another order).
type events struct {
	rosterv1connect.UnimplementedEventServiceHandler
	dir *directory.Service
}

func (h *events) ListEvents(ctx context.Context, req *connect.Request[rosterv1.ListEventsRequest]) (*connect.Response[rosterv1.ListEventsResponse], error) {
	m := req.Msg
	page, err := h.dir.ListEvents(ctx, environment(ctx), directory.EventListInput{After: m.GetAfter(), Types: m.GetTypes(),
		OrganizationID: m.GetOrganizationId(), PageSize: int(min(m.GetPageSize(), 1<<20))})
	if err != nil {
		return nil, err
	}
	out := &rosterv1.ListEventsResponse{Events: make([]*structpb.Struct, len(page.Events)), NextCursor: page.NextCursor, HasMore: page.HasMore}
	for i, e := range page.Events {
		out.Events[i] = &structpb.Struct{}
		if err := out.Events[i].UnmarshalJSON(e.Body); err != nil {
			return nil, err
		}
	}
	return connect.NewResponse(out), nil
}
