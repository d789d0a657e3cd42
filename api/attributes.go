package api

import (
	"context"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	rosterv1 "github.com/rosterhq/roster/gen/roster/v1"
	"github.com/rosterhq/roster/gen/roster/v1/rosterv1connect"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// attributes implements roster.v1.UserAttributeService: definitions of custom user attributes.
type attributes struct {
	rosterv1connect.UnimplementedUserAttributeServiceHandler
	dir *directory.Service
}

func (h *attributes) CreateUserAttribute(ctx context.Context, req *connect.Request[rosterv1.CreateUserAttributeRequest]) (*connect.Response[rosterv1.CreateUserAttributeResponse], error) {
	in := req.Msg.GetAttribute()
	if in == nil {
		return nil, required("attribute")
	}
	d, err := h.dir.CreateAttribute(ctx, environment(ctx), roster.AttributeDefinition{
		Key: in.GetKey(), DisplayName: in.GetDisplayName(), Type: roster.AttributeType(in.GetType()), EnumValues: in.GetEnumValues(),
		Pattern: in.GetPattern(), MaxLength: int(min(in.GetMaxLength(), 1<<20)), Required: in.GetRequired(), Unique: in.GetUnique(),
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rosterv1.CreateUserAttributeResponse{Attribute: attributeToProto(d)}), nil
}

func (h *attributes) ListUserAttributes(ctx context.Context, _ *connect.Request[rosterv1.ListUserAttributesRequest]) (*connect.Response[rosterv1.ListUserAttributesResponse], error) {
	list, err := h.dir.ListAttributes(ctx, environment(ctx))
	if err != nil {
		return nil, err
	}
	out := make([]*rosterv1.UserAttribute, len(list))
	for i, d := range list {
		out[i] = attributeToProto(d)
	}
	return connect.NewResponse(&rosterv1.ListUserAttributesResponse{Attributes: out}), nil
}

func (h *attributes) GetUserAttribute(ctx context.Context, req *connect.Request[rosterv1.GetUserAttributeRequest]) (*connect.Response[rosterv1.GetUserAttributeResponse], error) {
	d, err := h.dir.GetAttribute(ctx, environment(ctx), req.Msg.GetKey())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rosterv1.GetUserAttributeResponse{Attribute: attributeToProto(d)}), nil
}

func (h *attributes) UpdateUserAttribute(ctx context.Context, req *connect.Request[rosterv1.UpdateUserAttributeRequest]) (*connect.Response[rosterv1.UpdateUserAttributeResponse], error) {
	in := req.Msg.GetAttribute()
	if in == nil {
		return nil, required("attribute")
	}
	p := roster.AttributePatch{DisplayName: in.DisplayName, Pattern: in.Pattern, Required: in.Required, Unique: in.Unique}
	if in.Type != nil {
		t := roster.AttributeType(*in.Type)
		p.Type = &t
	}
	if len(in.GetEnumValues()) > 0 {
		p.EnumValues = in.GetEnumValues()
	}
	if in.MaxLength != nil {
		n := int(min(*in.MaxLength, 1<<20))
		p.MaxLength = &n
	}
	d, err := h.dir.UpdateAttribute(ctx, environment(ctx), req.Msg.GetKey(), p)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&rosterv1.UpdateUserAttributeResponse{Attribute: attributeToProto(d)}), nil
}

func (h *attributes) DeleteUserAttribute(ctx context.Context, req *connect.Request[rosterv1.DeleteUserAttributeRequest]) (*connect.Response[emptypb.Empty], error) {
	if err := h.dir.DeleteAttribute(ctx, environment(ctx), req.Msg.GetKey()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&emptypb.Empty{}), nil
}

func attributeToProto(d roster.AttributeDefinition) *rosterv1.UserAttribute {
	enum := d.EnumValues
	if enum == nil {
		enum = []string{}
	}
	return &rosterv1.UserAttribute{
		Key: d.Key, DisplayName: d.DisplayName, Type: string(d.Type), EnumValues: enum, Pattern: d.Pattern,
		MaxLength: uint32(d.MaxLength), Required: d.Required, Unique: d.Unique,
		CreateTime: timestamppb.New(d.CreateTime), UpdateTime: timestamppb.New(d.UpdateTime),
	}
}
