package api

import (
	"context"
	"github.com/rosterhq/roster/pagetoken"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster"
	rosterv1 "github.com/rosterhq/roster/gen/roster/v1"
	"github.com/rosterhq/roster/gen/roster/v1/rosterv1connect"
	"github.com/rosterhq/roster/store"
	"github.com/rosterhq/roster/webhooks"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// webhookEndpoints implements roster.v1.WebhookService (docs/webhooks.md).
type webhookEndpoints struct {
	rosterv1connect.UnimplementedWebhookServiceHandler
	svc *webhooks.Service
}

func (h *webhookEndpoints) service() (*webhooks.Service, error) {
	if h.svc == nil {
		return nil, roster.Errorf(roster.EFailedPrecondition, "webhooks are not configured on this server")
	}
	return h.svc, nil
}

func webhookToProto(e roster.WebhookEndpoint) *rosterv1.WebhookEndpoint {
	out := &rosterv1.WebhookEndpoint{Id: e.ID, Url: e.URL, Description: e.Description, EventTypes: e.EventTypes,
		Enabled: e.Enabled, DisabledReason: e.DisabledReason, CreateTime: timestamppb.New(e.CreateTime), UpdateTime: timestamppb.New(e.UpdateTime)}
	if e.PreviousSecretSealed != "" && timeNow().Before(e.PreviousSecretUntil) {
		out.PreviousSecretExpireTime = timestamppb.New(e.PreviousSecretUntil)
	}
	return out
}

func (h *webhookEndpoints) CreateWebhookEndpoint(ctx context.Context, req *connect.Request[rosterv1.CreateWebhookEndpointRequest]) (*connect.Response[rosterv1.CreateWebhookEndpointResponse], error) {
	svc, err := h.service()
	if err != nil {
		return nil, err
	}
	in := req.Msg.GetEndpoint()
	e, secret, err := svc.Create(ctx, environment(ctx).ID, webhooks.NewEndpoint{URL: in.GetUrl(), Description: in.GetDescription(),
		EventTypes: in.GetEventTypes(), Disabled: in.GetDisabled()})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rosterv1.CreateWebhookEndpointResponse{Endpoint: webhookToProto(e), Secret: secret}), nil
}

func (h *webhookEndpoints) ListWebhookEndpoints(ctx context.Context, _ *connect.Request[rosterv1.ListWebhookEndpointsRequest]) (*connect.Response[rosterv1.ListWebhookEndpointsResponse], error) {
	svc, err := h.service()
	if err != nil {
		return nil, err
	}
	list, err := svc.List(ctx, environment(ctx).ID)
	if err != nil {
		return nil, err
	}
	out := &rosterv1.ListWebhookEndpointsResponse{Endpoints: make([]*rosterv1.WebhookEndpoint, len(list))}
	for i, e := range list {
		out.Endpoints[i] = webhookToProto(e)
	}
	return connect.NewResponse(out), nil
}

func (h *webhookEndpoints) GetWebhookEndpoint(ctx context.Context, req *connect.Request[rosterv1.GetWebhookEndpointRequest]) (*connect.Response[rosterv1.GetWebhookEndpointResponse], error) {
	svc, err := h.service()
	if err != nil {
		return nil, err
	}
	e, err := svc.Get(ctx, environment(ctx).ID, req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rosterv1.GetWebhookEndpointResponse{Endpoint: webhookToProto(e)}), nil
}

func (h *webhookEndpoints) UpdateWebhookEndpoint(ctx context.Context, req *connect.Request[rosterv1.UpdateWebhookEndpointRequest]) (*connect.Response[rosterv1.UpdateWebhookEndpointResponse], error) {
	svc, err := h.service()
	if err != nil {
		return nil, err
	}
	in := req.Msg.GetEndpoint()
	u := webhooks.EndpointUpdate{URL: in.Url, Description: in.Description, Enabled: in.Enabled}
	if types := in.GetEventTypes(); len(types) > 0 || in.GetAllEventTypes() {
		if len(types) > 0 && in.GetAllEventTypes() {
			var v roster.Violations
			v.Add("endpoint.all_event_types", "exclusive", "cannot be set with event_types")
			return nil, v.Err()
		}
		u.EventTypes = &types
	}
	e, err := svc.Update(ctx, environment(ctx).ID, req.Msg.GetId(), u)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rosterv1.UpdateWebhookEndpointResponse{Endpoint: webhookToProto(e)}), nil
}

func (h *webhookEndpoints) DeleteWebhookEndpoint(ctx context.Context, req *connect.Request[rosterv1.DeleteWebhookEndpointRequest]) (*connect.Response[emptypb.Empty], error) {
	svc, err := h.service()
	if err != nil {
		return nil, err
	}
	if err := svc.Delete(ctx, environment(ctx).ID, req.Msg.GetId()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&emptypb.Empty{}), nil
}

func (h *webhookEndpoints) RotateWebhookSecret(ctx context.Context, req *connect.Request[rosterv1.RotateWebhookSecretRequest]) (*connect.Response[rosterv1.RotateWebhookSecretResponse], error) {
	svc, err := h.service()
	if err != nil {
		return nil, err
	}
	e, secret, err := svc.RotateSecret(ctx, environment(ctx).ID, req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rosterv1.RotateWebhookSecretResponse{Endpoint: webhookToProto(e), Secret: secret}), nil
}

func (h *webhookEndpoints) EnableWebhookEndpoint(ctx context.Context, req *connect.Request[rosterv1.EnableWebhookEndpointRequest]) (*connect.Response[rosterv1.EnableWebhookEndpointResponse], error) {
	svc, err := h.service()
	if err != nil {
		return nil, err
	}
	e, err := svc.Enable(ctx, environment(ctx).ID, req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rosterv1.EnableWebhookEndpointResponse{Endpoint: webhookToProto(e)}), nil
}

// defaultDeliveryPage is the page size of a delivery log request that names none.
const defaultDeliveryPage = 50

func (h *webhookEndpoints) ListWebhookDeliveries(ctx context.Context, req *connect.Request[rosterv1.ListWebhookDeliveriesRequest]) (*connect.Response[rosterv1.ListWebhookDeliveriesResponse], error) {
	svc, err := h.service()
	if err != nil {
		return nil, err
	}
	q := store.WebhookDeliveryQuery{Limit: int(req.Msg.GetPageSize())}
	if q.Limit == 0 {
		q.Limit = defaultDeliveryPage
	}
	// The token holds the Seq of the page's last record, signed like every page token for
	// this endpoint's log (docs/pagination.md): deliveries are only ever appended and trimmed
	// from the oldest, so it stays valid.
	env := environment(ctx)
	list := "webhook_deliveries\x00" + req.Msg.GetId()
	if tok := req.Msg.GetPageToken(); tok != "" {
		c, err := pagetoken.Decode(env.CursorKey, list, tok)
		if err != nil || c.Direction != pagetoken.Next {
			var v roster.Violations
			v.Add("page_token", "valid", "is not a page token of this list")
			return nil, v.Err()
		}
		q.Before = c.Position
	}
	page, err := svc.Deliveries(ctx, env.ID, req.Msg.GetId(), q)
	if err != nil {
		return nil, err
	}
	out := &rosterv1.ListWebhookDeliveriesResponse{Deliveries: make([]*rosterv1.WebhookDelivery, len(page))}
	for i, d := range page {
		out.Deliveries[i] = &rosterv1.WebhookDelivery{EventId: d.EventID, EventType: d.EventType, Attempt: uint32(d.Attempt),
			Manual: d.Manual, Status: uint32(d.Status), Success: d.Success, LatencyMs: uint32(d.Latency.Milliseconds()),
			Error: d.Error, Time: timestamppb.New(d.Time)}
	}
	if len(page) == q.Limit {
		out.NextPageToken = pagetoken.Encode(env.CursorKey, list, pagetoken.Cursor{Direction: pagetoken.Next, Position: page[len(page)-1].Seq})
	}
	return connect.NewResponse(out), nil
}

func (h *webhookEndpoints) RedeliverWebhookEvent(ctx context.Context, req *connect.Request[rosterv1.RedeliverWebhookEventRequest]) (*connect.Response[emptypb.Empty], error) {
	svc, err := h.service()
	if err != nil {
		return nil, err
	}
	if req.Msg.GetEventId() == "" {
		var v roster.Violations
		v.Add("event_id", "required", "is required")
		return nil, v.Err()
	}
	if err := svc.Redeliver(ctx, environment(ctx).ID, req.Msg.GetId(), req.Msg.GetEventId()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&emptypb.Empty{}), nil
}
