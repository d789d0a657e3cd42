package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/directory"
	connv1 "github.com/rosterhq/roster/gen/scalekit/v1/connections"
	"github.com/rosterhq/roster/gen/scalekit/v1/connections/connectionsconnect"
	domainsv1 "github.com/rosterhq/roster/gen/scalekit/v1/domains"
	"github.com/rosterhq/roster/sso"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// connections implements scalekit.v1.connections.ConnectionService for organization SSO
// connections. Environment-level (AgentKit) connections and connection tests answer
// UNIMPLEMENTED.
type connections struct {
	connectionsconnect.UnimplementedConnectionServiceHandler
	dir *directory.Service
	// issuer is Roster's public URL: the base of the redirect URI, ACS URL and SP entity ID
	// that administrators register at their provider.
	issuer string
}

func (h *connections) CreateConnection(ctx context.Context, req *connect.Request[connv1.CreateConnectionRequest]) (*connect.Response[connv1.CreateConnectionResponse], error) {
	in := req.Msg.GetConnection()
	if in == nil {
		return nil, required("connection")
	}
	var typ roster.ConnectionType
	switch in.GetType() {
	case connv1.ConnectionType_OIDC:
		typ = roster.ConnectionOIDC
	case connv1.ConnectionType_SAML:
		typ = roster.ConnectionSAML
	case connv1.ConnectionType_INVALID:
	default:
		typ = roster.ConnectionType(in.GetType().String())
	}
	provider := ""
	switch {
	case in.GetProvider() != connv1.ConnectionProvider_CONNECTION_PROVIDER_UNSPECIFIED:
		provider = in.GetProvider().String()
	case in.GetProviderKey() != "":
		provider = in.GetProviderKey()
	}
	c, err := h.dir.CreateConnection(ctx, environment(ctx), req.Msg.GetOrganizationId(), typ, provider)
	if err != nil {
		return nil, err
	}
	pc, err := h.toProto(ctx, c)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&connv1.CreateConnectionResponse{Connection: pc}), nil
}

func (h *connections) GetConnection(ctx context.Context, req *connect.Request[connv1.GetConnectionRequest]) (*connect.Response[connv1.GetConnectionResponse], error) {
	if err := needOrganization(req.Msg.GetOrganizationId()); err != nil {
		return nil, err
	}
	c, err := h.dir.GetConnection(ctx, environment(ctx), req.Msg.GetOrganizationId(), req.Msg.GetId())
	if err != nil {
		return nil, err
	}
	pc, err := h.toProto(ctx, c)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&connv1.GetConnectionResponse{Connection: pc}), nil
}

func (h *connections) ListConnections(ctx context.Context, req *connect.Request[connv1.ListConnectionsRequest]) (*connect.Response[connv1.ListConnectionsResponse], error) {
	env := environment(ctx)
	list, err := h.dir.ListConnections(ctx, env, req.Msg.GetOrganizationId(), req.Msg.GetDomain())
	if err != nil {
		return nil, err
	}
	out := &connv1.ListConnectionsResponse{Connections: []*connv1.ListConnection{}}
	orgs := map[string]roster.Organization{}
	domains := map[string][]string{}
	for _, c := range list {
		o, ok := orgs[c.OrganizationID]
		if !ok {
			if o, err = h.dir.GetOrganization(ctx, env, roster.OrganizationRef{ID: c.OrganizationID}); err != nil {
				return nil, err
			}
			orgs[c.OrganizationID] = o
			ds, err := h.dir.ListDomains(ctx, env, roster.OrganizationRef{ID: o.ID}, "")
			if err != nil {
				return nil, err
			}
			names := []string{}
			for _, d := range ds {
				names = append(names, d.Name)
			}
			domains[o.ID] = names
		}
		out.Connections = append(out.Connections, &connv1.ListConnection{
			Id: c.ID, Provider: providerToProto(c.Provider), Type: typeToProto(c.Type), Status: statusToProto(c.Status()),
			Enabled: c.Enabled, OrganizationId: c.OrganizationID, UiButtonTitle: c.UIButtonTitle, Domains: domains[o.ID],
			OrganizationName: o.DisplayName, ProviderKey: c.Provider, CreatedAt: timestamppb.New(c.CreateTime),
		})
	}
	return connect.NewResponse(out), nil
}

func (h *connections) UpdateConnection(ctx context.Context, req *connect.Request[connv1.UpdateConnectionRequest]) (*connect.Response[connv1.UpdateConnectionResponse], error) {
	if err := needOrganization(req.Msg.GetOrganizationId()); err != nil {
		return nil, err
	}
	in := req.Msg.GetConnection()
	if in == nil {
		return nil, required("connection")
	}
	var p roster.ConnectionPatch
	if in.GetProvider() != connv1.ConnectionProvider_CONNECTION_PROVIDER_UNSPECIFIED {
		s := in.GetProvider().String()
		p.Provider = &s
	}
	p.DebugEnabled = boolValue(in.GetDebugEnabled())
	p.UIButtonTitle = stringValue(in.GetUiButtonTitle())
	if in.AttributeMapping != nil {
		p.AttributeMapping = in.GetAttributeMapping()
	}
	if o := in.GetOidcConfig(); o != nil || in.GetConfigurationType() != connv1.ConfigurationType_CONFIGURATION_TYPE_UNSPECIFIED {
		p.OIDC = oidcPatch(o, in.GetConfigurationType())
		p.SyncProfile, p.JITProvisioning = boolValue(o.GetSyncUserProfileOnLogin()), boolValue(o.GetJitProvisioningWithSsoEnabled())
	}
	if sc := in.GetSamlConfig(); sc != nil {
		sp, err := h.samlPatch(ctx, sc)
		if err != nil {
			return nil, err
		}
		p.SAML = sp
		p.SyncProfile, p.JITProvisioning = boolValue(sc.GetSyncUserProfileOnLogin()), boolValue(sc.GetJitProvisioningWithSsoEnabled())
	}
	c, err := h.dir.UpdateConnection(ctx, environment(ctx), req.Msg.GetOrganizationId(), req.Msg.GetId(), p)
	if err != nil {
		return nil, err
	}
	pc, err := h.toProto(ctx, c)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&connv1.UpdateConnectionResponse{Connection: pc}), nil
}

// samlPatch reads the SAML settings of an update. IdP metadata (a URL, or the metadata XML
// itself pasted into idp_metadata_url) is read by directory.ReadSAMLMetadata and fills the
// IdP's entity ID, SSO URL and certificates; fields given next to it win.
func (h *connections) samlPatch(ctx context.Context, sc *connv1.SAMLConnectionConfigRequest) (*roster.SAMLPatch, error) {
	p := &roster.SAMLPatch{EntityID: stringValue(sc.GetIdpEntityId()), SSOURL: stringValue(sc.GetIdpSsoUrl()),
		SignRequests: boolValue(sc.GetWantRequestSigned()), ForceAuthn: boolValue(sc.GetForceAuthn()),
		DefaultRedirectURI: stringValue(sc.GetDefaultRedirectUri())}
	if md := stringValue(sc.GetIdpMetadataUrl()); md != nil {
		if err := h.dir.ReadSAMLMetadata(ctx, *md, p); err != nil {
			return nil, err
		}
	}
	if c := stringValue(sc.GetIdpCertificate()); c != nil {
		p.Certificates = roster.SplitCertificates(*c)
	}
	if f := sc.GetIdpNameIdFormat(); f != connv1.NameIdFormat_NAME_ID_FORMAT_NIL {
		s := f.String()
		p.NameIDFormat = &s
	}
	if b := sc.GetIdpSsoRequestBinding(); b != connv1.RequestBinding_REQUEST_BINDING_UNSPECIFIED {
		s := b.String()
		p.RequestBinding = &s
	}
	if o := sc.GetSamlSigningOption(); o != connv1.SAMLSigningOptions_SAML_SIGNING_OPTIONS_UNSPECIFIED {
		s := o.String()
		p.SigningOption = &s
	}
	return p, nil
}

func oidcPatch(o *connv1.OIDCConnectionConfig, ct connv1.ConfigurationType) *roster.OIDCPatch {
	p := &roster.OIDCPatch{
		Issuer: stringValue(o.GetIssuer()), DiscoveryEndpoint: stringValue(o.GetDiscoveryEndpoint()),
		AuthorizeURI: stringValue(o.GetAuthorizeUri()), TokenURI: stringValue(o.GetTokenUri()),
		UserInfoURI: stringValue(o.GetUserInfoUri()), JWKSURI: stringValue(o.GetJwksUri()),
		ClientID: stringValue(o.GetClientId()), ClientSecret: stringValue(o.GetClientSecret()),
		PKCE: boolValue(o.GetPkceEnabled()),
	}
	for _, s := range o.GetScopes() {
		if s != connv1.OIDCScope_OIDC_SCOPE_UNSPECIFIED {
			p.Scopes = append(p.Scopes, s.String())
		}
	}
	switch o.GetTokenAuthType() {
	case connv1.TokenAuthType_BASIC_AUTH:
		t := true
		p.TokenAuthBasic = &t
	case connv1.TokenAuthType_URL_PARAMS:
		f := false
		p.TokenAuthBasic = &f
	}
	switch ct {
	case connv1.ConfigurationType_MANUAL:
		t := true
		p.Manual = &t
	case connv1.ConfigurationType_DISCOVERY:
		f := false
		p.Manual = &f
	}
	return p
}

func (h *connections) DeleteConnection(ctx context.Context, req *connect.Request[connv1.DeleteConnectionRequest]) (*connect.Response[emptypb.Empty], error) {
	if err := needOrganization(req.Msg.GetOrganizationId()); err != nil {
		return nil, err
	}
	if err := h.dir.DeleteConnection(ctx, environment(ctx), req.Msg.GetOrganizationId(), req.Msg.GetId()); err != nil {
		return nil, err
	}
	return connect.NewResponse(&emptypb.Empty{}), nil
}

func (h *connections) EnableConnection(ctx context.Context, req *connect.Request[connv1.ToggleConnectionRequest]) (*connect.Response[connv1.ToggleConnectionResponse], error) {
	return h.toggle(ctx, req.Msg, true)
}

func (h *connections) DisableConnection(ctx context.Context, req *connect.Request[connv1.ToggleConnectionRequest]) (*connect.Response[connv1.ToggleConnectionResponse], error) {
	return h.toggle(ctx, req.Msg, false)
}

func (h *connections) toggle(ctx context.Context, m *connv1.ToggleConnectionRequest, on bool) (*connect.Response[connv1.ToggleConnectionResponse], error) {
	if err := needOrganization(m.GetOrganizationId()); err != nil {
		return nil, err
	}
	c, err := h.dir.SetConnectionEnabled(ctx, environment(ctx), m.GetOrganizationId(), m.GetId(), on)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&connv1.ToggleConnectionResponse{Enabled: c.Enabled}), nil
}

// toProto shows a connection; its client secret never leaves Roster.
func (h *connections) toProto(ctx context.Context, c roster.Connection) (*connv1.Connection, error) {
	ds, err := h.dir.ListDomains(ctx, environment(ctx), roster.OrganizationRef{ID: c.OrganizationID}, "")
	if err != nil {
		return nil, err
	}
	return connectionToProto(c, ds, h.issuer), nil
}

// connectionToProto shows a connection with its organization's domains; issuer is Roster's
// public URL (the URLs to register at providers). The client secret is never shown.
func connectionToProto(c roster.Connection, ds []roster.Domain, issuer string) *connv1.Connection {
	org := c.OrganizationID
	mapping := c.AttributeMapping
	if mapping == nil {
		mapping = map[string]string{}
	}
	pc := &connv1.Connection{
		Id: c.ID, Provider: providerToProto(c.Provider), Type: typeToProto(c.Type), Status: statusToProto(c.Status()),
		Enabled: c.Enabled, DebugEnabled: c.DebugEnabled, OrganizationId: &org, UiButtonTitle: c.UIButtonTitle,
		AttributeMapping: mapping, CreateTime: timestamppb.New(c.CreateTime), UpdateTime: timestamppb.New(c.UpdateTime),
		ProviderKey: c.Provider, Domains: []*domainsv1.Domain{},
	}
	for _, d := range ds {
		pc.Domains = append(pc.Domains, domainToProto(d))
	}
	if c.Type == roster.ConnectionOIDC {
		o := c.OIDC
		pc.ConfigurationType = connv1.ConfigurationType_DISCOVERY
		if o.Manual {
			pc.ConfigurationType = connv1.ConfigurationType_MANUAL
		}
		cfg := &connv1.OIDCConnectionConfig{
			Issuer: optString(o.Issuer), DiscoveryEndpoint: optString(o.DiscoveryEndpoint), AuthorizeUri: optString(o.AuthorizeURI),
			TokenUri: optString(o.TokenURI), UserInfoUri: optString(o.UserInfoURI), JwksUri: optString(o.JWKSURI),
			ClientId: optString(o.ClientID), RedirectUri: sso.OIDCRedirectURI(issuer), TokenAuthType: connv1.TokenAuthType_URL_PARAMS,
			PkceEnabled: wrapperspb.Bool(o.PKCE), SyncUserProfileOnLogin: wrapperspb.Bool(c.SyncProfile),
			JitProvisioningWithSsoEnabled: wrapperspb.Bool(c.JITProvisioning), IdpLogoutRequired: wrapperspb.Bool(false),
		}
		if o.TokenAuthBasic {
			cfg.TokenAuthType = connv1.TokenAuthType_BASIC_AUTH
		}
		for _, s := range o.Scopes {
			if v, ok := connv1.OIDCScope_value[s]; ok {
				cfg.Scopes = append(cfg.Scopes, connv1.OIDCScope(v))
			}
		}
		pc.Settings = &connv1.Connection_OidcConfig{OidcConfig: cfg}
	}
	if c.Type == roster.ConnectionSAML {
		pc.Settings = &connv1.Connection_SamlConfig{SamlConfig: samlToProto(c, issuer)}
	}
	return pc
}

func samlToProto(c roster.Connection, issuer string) *connv1.SAMLConnectionConfigResponse {
	sc := c.SAML
	out := &connv1.SAMLConnectionConfigResponse{
		SpEntityId: sso.SAMLEntityID(issuer, c.ID), SpAssertionUrl: sso.SAMLACSURL(issuer, c.ID), SpMetadataUrl: sso.SAMLEntityID(issuer, c.ID),
		IdpMetadataUrl: optString(sc.MetadataURL), IdpEntityId: optString(sc.EntityID), IdpSsoUrl: optString(sc.SSOURL),
		IdpCertificates:               []*connv1.IDPCertificate{},
		IdpNameIdFormat:               connv1.NameIdFormat(connv1.NameIdFormat_value[sc.NameIDFormat]),
		IdpSsoRequestBinding:          connv1.RequestBinding(connv1.RequestBinding_value[sc.RequestBinding]),
		SamlSigningOption:             connv1.SAMLSigningOptions(connv1.SAMLSigningOptions_value[sc.SigningOption]),
		AllowIdpInitiatedLogin:        wrapperspb.Bool(false),
		ForceAuthn:                    wrapperspb.Bool(sc.ForceAuthn),
		WantRequestSigned:             wrapperspb.Bool(sc.SignRequests),
		AssertionEncrypted:            wrapperspb.Bool(false),
		SyncUserProfileOnLogin:        wrapperspb.Bool(c.SyncProfile),
		JitProvisioningWithSsoEnabled: wrapperspb.Bool(c.JITProvisioning),
	}
	for _, p := range sc.Certificates {
		cert, err := roster.ParseCertificatePEM(p)
		if err != nil {
			continue
		}
		sum := sha256.Sum256(cert.Raw)
		out.IdpCertificates = append(out.IdpCertificates, &connv1.IDPCertificate{Certificate: p, Id: hex.EncodeToString(sum[:8]),
			Issuer: cert.Issuer.String(), CreateTime: timestamppb.New(cert.NotBefore), ExpiryTime: timestamppb.New(cert.NotAfter)})
	}
	return out
}

func providerToProto(p string) connv1.ConnectionProvider {
	return connv1.ConnectionProvider(connv1.ConnectionProvider_value[p])
}

func typeToProto(t roster.ConnectionType) connv1.ConnectionType {
	return connv1.ConnectionType(connv1.ConnectionType_value[string(t)])
}

func statusToProto(s roster.ConnectionStatus) connv1.ConnectionStatus {
	return connv1.ConnectionStatus(connv1.ConnectionStatus_value[string(s)])
}

func optString(s string) *wrapperspb.StringValue {
	if s == "" {
		return nil
	}
	return wrapperspb.String(s)
}

func stringValue(v *wrapperspb.StringValue) *string {
	if v == nil {
		return nil
	}
	s := v.GetValue()
	return &s
}

func boolValue(v *wrapperspb.BoolValue) *bool {
	if v == nil {
		return nil
	}
	b := v.GetValue()
	return &b
}

func needOrganization(id string) error {
	if id == "" {
		return required("organization_id")
	}
	return nil
}
