package api

import (
	"context"
	"time"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	rosterv1 "github.com/rosterhq/roster/gen/roster/v1"
	"github.com/rosterhq/roster/gen/roster/v1/rosterv1connect"
)

// samlSettings implements roster.v1.SAMLSettingsService: the SAML settings the Scalekit
// messages have no field for.
type samlSettings struct {
	rosterv1connect.UnimplementedSAMLSettingsServiceHandler
	dir *directory.Service
}

func (h *samlSettings) GetSAMLSettings(ctx context.Context, req *connect.Request[rosterv1.GetSAMLSettingsRequest]) (*connect.Response[rosterv1.SAMLSettings], error) {
	c, err := h.samlConnection(ctx, req.Msg.GetOrganizationId(), req.Msg.GetConnectionId())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(samlSettingsToProto(c)), nil
}

func (h *samlSettings) UpdateSAMLSettings(ctx context.Context, req *connect.Request[rosterv1.UpdateSAMLSettingsRequest]) (*connect.Response[rosterv1.SAMLSettings], error) {
	m := req.Msg
	if _, err := h.samlConnection(ctx, m.GetOrganizationId(), m.GetConnectionId()); err != nil {
		return nil, err
	}
	var p roster.SAMLPatch
	if s := m.GetSettings(); s != nil {
		if s.ClockSkewSeconds != nil {
			d := time.Duration(s.GetClockSkewSeconds()) * time.Second
			p.ClockSkew = &d
		}
		p.AllowIdPInitiated = s.AllowIdpInitiatedLogin
	}
	c, err := h.dir.UpdateConnection(ctx, environment(ctx), m.GetOrganizationId(), m.GetConnectionId(), roster.ConnectionPatch{SAML: &p})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(samlSettingsToProto(c)), nil
}

func (h *samlSettings) samlConnection(ctx context.Context, orgID, id string) (roster.Connection, error) {
	if err := needOrganization(orgID); err != nil {
		return roster.Connection{}, err
	}
	c, err := h.dir.GetConnection(ctx, environment(ctx), orgID, id)
	if err != nil {
		return c, err
	}
	if c.Type != roster.ConnectionSAML {
		return c, roster.Errorf(roster.EFailedPrecondition, "connection %s is an %s connection; SAML settings apply to SAML connections", c.ID, c.Type)
	}
	return c, nil
}

func samlSettingsToProto(c roster.Connection) *rosterv1.SAMLSettings {
	skew := uint32(c.SAML.ClockSkew / time.Second)
	allow := c.SAML.AllowIdPInitiated
	return &rosterv1.SAMLSettings{ClockSkewSeconds: &skew, AllowIdpInitiatedLogin: &allow}
}
