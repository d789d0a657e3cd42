package dashboard

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sso"
)

// The SSO connection screens (issue 14, part 1): an organization's connections with a create
// form, and a connection's page with the values to give the customer's IT admin (each with a
// copy button, static/copy.js), the identity provider's settings (SAML by metadata URL,
// pasted metadata XML or by hand; OIDC by discovery or manual endpoints), enable / disable
// and delete. Every read and write is the directory.Service call the ConnectionService
// handlers in api/connections.go make (the SAML metadata through the same
// directory.ReadSAMLMetadata), so rules and messages are the API's; the values to copy are
// computed by the same sso functions as the API's redirect_uri, sp_entity_id,
// sp_assertion_url and sp_metadata_url.

// oidcScopes are the scopes the form offers besides openid (always asked): the API's
// OIDCScope enum.
var oidcScopes = []string{"profile", "email", "address", "phone"}

func (h *Handler) registerConnections(m *http.ServeMux) {
	for _, p := range []string{"connections", "connection", "connection-delete"} {
		h.pages[p] = h.parsePage(p)
	}
	m.HandleFunc("GET "+Prefix+"/organizations/{id}/connections", h.session(h.connections))
	m.HandleFunc("POST "+Prefix+"/organizations/{id}/connections", h.session(h.createConnection))
	m.HandleFunc("GET "+Prefix+"/organizations/{id}/connections/{conn}", h.session(h.connection))
	m.HandleFunc("POST "+Prefix+"/organizations/{id}/connections/{conn}/saml", h.session(h.setSAML))
	m.HandleFunc("POST "+Prefix+"/organizations/{id}/connections/{conn}/oidc", h.session(h.setOIDC))
	m.HandleFunc("POST "+Prefix+"/organizations/{id}/connections/{conn}/enabled", h.session(h.setConnectionEnabled))
	m.HandleFunc("GET "+Prefix+"/organizations/{id}/connections/{conn}/delete", h.session(h.confirmDeleteConnection))
	m.HandleFunc("POST "+Prefix+"/organizations/{id}/connections/{conn}/delete", h.session(h.deleteConnection))
}

func connPath(orgID, connID string) string {
	return Prefix + "/organizations/" + url.PathEscape(orgID) + "/connections/" + url.PathEscape(connID)
}

// The list.

type connectionsData struct {
	Org         roster.Organization
	Connections []roster.Connection
	Types       []roster.ConnectionType
	Providers   []string
	Type        string // the create form's values after an error
	Provider    string
}

func (h *Handler) connectionsPage(w http.ResponseWriter, r *http.Request, s request, status int, p page, d connectionsData) {
	ctx, env := r.Context(), h.cfg.Environment
	o, err := h.cfg.Directory.GetOrganization(ctx, env, roster.OrganizationRef{ID: r.PathValue("id")})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if d.Connections, err = h.cfg.Directory.ListConnections(ctx, env, o.ID, ""); err != nil {
		h.fail(w, r, err)
		return
	}
	d.Org, d.Types, d.Providers = o, []roster.ConnectionType{roster.ConnectionSAML, roster.ConnectionOIDC}, roster.ConnectionProviders
	if d.Provider == "" {
		d.Provider = "CUSTOM"
	}
	p.Title, p.Nav, p.Operator, p.CSRF, p.Data = "SSO connections of "+o.DisplayName, "organizations", &s.op, s.csrf, d
	h.render(w, status, "connections", p)
}

func (h *Handler) connections(w http.ResponseWriter, r *http.Request, s request) {
	notice := ""
	if r.URL.Query().Get("done") == "deleted" {
		notice = "Connection deleted: nobody signs in through it any more."
	}
	h.connectionsPage(w, r, s, http.StatusOK, page{Notice: notice}, connectionsData{})
}

// createConnection is the API's CreateConnection: a disabled, unconfigured connection of a
// type and provider; then its page.
func (h *Handler) createConnection(w http.ResponseWriter, r *http.Request, s request) {
	ctx, env := r.Context(), h.cfg.Environment
	o, err := h.cfg.Directory.GetOrganization(ctx, env, roster.OrganizationRef{ID: r.PathValue("id")})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	typ, provider := strings.TrimSpace(r.PostFormValue("type")), strings.TrimSpace(r.PostFormValue("provider"))
	c, err := h.cfg.Directory.CreateConnection(ctx, env, o.ID, roster.ConnectionType(typ), provider)
	if err != nil {
		if roster.ErrorCode(err) == roster.ENotFound || roster.ErrorCode(err) == roster.EInternal {
			h.fail(w, r, err)
			return
		}
		h.connectionsPage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: fieldErrors(err, "type", "provider")},
			connectionsData{Type: typ, Provider: provider})
		return
	}
	note(r, "connection.create", c.ID)
	http.Redirect(w, r, connPath(o.ID, c.ID)+"?done=created", http.StatusSeeOther)
}

// A connection's page.

// copyValue is a value for the customer's IT admin, shown read-only with a copy button.
type copyValue struct {
	ID, Label, Value, Help string
}

// samlForm and oidcForm are the settings forms' values: the stored ones, or what a refused
// form sent.
type samlForm struct {
	MetadataURL, MetadataXML, EntityID, SSOURL, Certificate, NameIDFormat, Binding string
	SignRequests, ForceAuthn                                                       bool
}

type oidcForm struct {
	Manual                                                                            bool
	Issuer, DiscoveryEndpoint, AuthorizeURI, TokenURI, UserInfoURI, JWKSURI, ClientID string
	Scopes                                                                            map[string]bool
	PKCE, Basic                                                                       bool
}

type certInfo struct {
	Subject  string
	NotAfter time.Time
	Bad      bool
}

type connectionData struct {
	Org         roster.Organization
	Conn        roster.Connection
	Status      roster.ConnectionStatus
	Missing     string // why the connection cannot be enabled yet ("" when complete)
	Values      []copyValue
	SAML        samlForm
	OIDC        oidcForm
	HasSecret   bool
	Certs       []certInfo
	NameIDs     []string
	Bindings    []string
	ScopeChoice []string
	Open        string // the SAML form to show open after an error: url, xml or manual
}

var connNotices = map[string]string{
	"created":  "Connection created. Give the values below to the customer's IT admin, then enter their identity provider's settings.",
	"saml":     "SAML settings saved.",
	"oidc":     "OIDC settings saved.",
	"enabled":  "Connection enabled: its organization's users can sign in through it.",
	"disabled": "Connection disabled: nobody signs in through it until it is enabled again; its settings stay.",
}

// connectionPage renders a connection's page; d carries a refused form's values (nil: the
// stored ones).
func (h *Handler) connectionPage(w http.ResponseWriter, r *http.Request, s request, status int, p page, d *connectionData) {
	ctx, env := r.Context(), h.cfg.Environment
	orgID := r.PathValue("id")
	o, err := h.cfg.Directory.GetOrganization(ctx, env, roster.OrganizationRef{ID: orgID})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	c, err := h.cfg.Directory.GetConnection(ctx, env, o.ID, r.PathValue("conn"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if d == nil {
		d = &connectionData{SAML: samlFormOf(c), OIDC: oidcFormOf(c)}
	}
	d.Org, d.Conn, d.Status, d.HasSecret = o, c, c.Status(), c.OIDC.HasSecret()
	// What is missing is the rule that refuses enabling, word for word (roster's SetEnabled).
	probe := c
	if err := probe.SetEnabled(true); err != nil {
		d.Missing = roster.ErrorMessage(err)
	}
	issuer := h.issuer(r)
	switch c.Type {
	case roster.ConnectionOIDC:
		d.Values = []copyValue{{ID: "redirect-uri", Label: "Redirect URI", Value: sso.OIDCRedirectURI(issuer),
			Help: "Register it at the identity provider as the application's sign-in redirect (callback) URI."}}
	case roster.ConnectionSAML:
		d.Values = []copyValue{
			{ID: "acs-url", Label: "ACS URL", Value: sso.SAMLACSURL(issuer, c.ID),
				Help: "Assertion consumer service URL (also called single sign-on URL, reply URL): where the identity provider posts its answers."},
			{ID: "sp-entity-id", Label: "SP entity ID", Value: sso.SAMLEntityID(issuer, c.ID),
				Help: "Service provider entity ID (audience URI, identifier)."},
			// As the API's sp_metadata_url: the entity ID is the metadata's URL.
			{ID: "sp-metadata-url", Label: "SP metadata URL", Value: sso.SAMLEntityID(issuer, c.ID),
				Help: "Roster's SAML metadata, for identity providers that read the settings above from a URL."},
		}
		for _, pemText := range c.SAML.Certificates {
			cert, err := roster.ParseCertificatePEM(pemText)
			if err != nil {
				d.Certs = append(d.Certs, certInfo{Bad: true})
				continue
			}
			d.Certs = append(d.Certs, certInfo{Subject: cert.Subject.String(), NotAfter: cert.NotAfter})
		}
	}
	d.NameIDs = []string{roster.NameIDEmail, roster.NameIDUnspecified, roster.NameIDPersistent, roster.NameIDTransient}
	d.Bindings = []string{roster.BindingRedirect, roster.BindingPost}
	d.ScopeChoice = oidcScopes
	p.Title, p.Nav, p.Operator, p.CSRF, p.Data = string(c.Type)+" connection "+c.ID, "organizations", &s.op, s.csrf, d
	h.render(w, status, "connection", p)
}

func samlFormOf(c roster.Connection) samlForm {
	sc := c.SAML
	return samlForm{MetadataURL: sc.MetadataURL, EntityID: sc.EntityID, SSOURL: sc.SSOURL, Certificate: strings.Join(sc.Certificates, "\n"),
		NameIDFormat: sc.NameIDFormat, Binding: sc.RequestBinding, SignRequests: sc.SignRequests, ForceAuthn: sc.ForceAuthn}
}

func oidcFormOf(c roster.Connection) oidcForm {
	o := c.OIDC
	f := oidcForm{Manual: o.Manual, Issuer: o.Issuer, DiscoveryEndpoint: o.DiscoveryEndpoint, AuthorizeURI: o.AuthorizeURI,
		TokenURI: o.TokenURI, UserInfoURI: o.UserInfoURI, JWKSURI: o.JWKSURI, ClientID: o.ClientID, Scopes: map[string]bool{},
		PKCE: o.PKCE, Basic: o.TokenAuthBasic}
	for _, sc := range o.Scopes {
		f.Scopes[sc] = true
	}
	return f
}

func (h *Handler) connection(w http.ResponseWriter, r *http.Request, s request) {
	h.connectionPage(w, r, s, http.StatusOK, page{Notice: connNotices[r.URL.Query().Get("done")]}, nil)
}

func (h *Handler) connDone(w http.ResponseWriter, r *http.Request, done string) {
	http.Redirect(w, r, connPath(r.PathValue("id"), r.PathValue("conn"))+"?done="+done, http.StatusSeeOther)
}

// refused shows the page again with a write's error: its message at the top and each
// violation beside the input it names; not found and internal errors are the error page.
func (h *Handler) refused(w http.ResponseWriter, r *http.Request, s request, err error, d *connectionData, fields map[string]string) {
	if roster.ErrorCode(err) == roster.ENotFound || roster.ErrorCode(err) == roster.EInternal {
		h.fail(w, r, err)
		return
	}
	h.connectionPage(w, r, s, statusOf(err), page{Error: roster.ErrorMessage(err), Fields: fields}, d)
}

// stored is the connection's stored forms, for a refused form to overwrite its own.
func (h *Handler) stored(r *http.Request) (*connectionData, error) {
	c, err := h.cfg.Directory.GetConnection(r.Context(), h.cfg.Environment, r.PathValue("id"), r.PathValue("conn"))
	if err != nil {
		return nil, err
	}
	return &connectionData{SAML: samlFormOf(c), OIDC: oidcFormOf(c)}, nil
}

// setSAML saves the SAML settings from one of three forms (source): a metadata URL fetched
// through the outbound guard, pasted metadata XML, or by hand. The metadata is read by
// directory.ReadSAMLMetadata, as the API's idp_metadata_url; the patch goes through
// UpdateConnection.
func (h *Handler) setSAML(w http.ResponseWriter, r *http.Request, s request) {
	ctx, env, orgID, connID := r.Context(), h.cfg.Environment, r.PathValue("id"), r.PathValue("conn")
	d, err := h.stored(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := r.PostForm
	var p roster.SAMLPatch
	source := f.Get("source")
	var md, mdInput string
	switch source {
	case "url":
		md, mdInput = strings.TrimSpace(f.Get("idp_metadata_url")), "idp_metadata_url"
		d.SAML.MetadataURL = md
		if md == "" {
			var v roster.Violations
			v.Add("connection.saml_config.idp_metadata_url", "required", "enter the identity provider's metadata URL")
			h.refused(w, r, s, v.Err(), withOpen(d, source), map[string]string{mdInput: "enter the identity provider's metadata URL"})
			return
		}
	case "xml":
		// Text that is not XML goes to ReadSAMLMetadata too: the API's message for it.
		md, mdInput = strings.TrimSpace(f.Get("idp_metadata_xml")), "idp_metadata_xml"
		d.SAML.MetadataXML = md
		if md == "" {
			var v roster.Violations
			v.Add("connection.saml_config.idp_metadata_url", "required", "paste the identity provider's metadata XML")
			h.refused(w, r, s, v.Err(), withOpen(d, source), map[string]string{mdInput: "paste the identity provider's metadata XML"})
			return
		}
	default:
		source = "manual"
		entity, ssoURL := strings.TrimSpace(f.Get("idp_entity_id")), strings.TrimSpace(f.Get("idp_sso_url"))
		nameID, binding := f.Get("idp_name_id_format"), f.Get("idp_sso_request_binding")
		sign, force := f.Get("want_request_signed") == "1", f.Get("force_authn") == "1"
		p = roster.SAMLPatch{EntityID: &entity, SSOURL: &ssoURL, NameIDFormat: &nameID, RequestBinding: &binding,
			SignRequests: &sign, ForceAuthn: &force}
		cert := f.Get("idp_certificate")
		if strings.TrimSpace(cert) != "" {
			// As the API's idp_certificate: every PEM block of the text; text that holds none
			// is refused by the domain's check, beside the field.
			p.Certificates = roster.SplitCertificates(cert)
			if p.Certificates == nil {
				p.Certificates = []string{cert}
			}
		}
		d.SAML = samlForm{MetadataURL: d.SAML.MetadataURL, EntityID: entity, SSOURL: ssoURL, Certificate: cert, NameIDFormat: nameID,
			Binding: binding, SignRequests: sign, ForceAuthn: force}
	}
	if md != "" {
		if err := h.cfg.Directory.ReadSAMLMetadata(ctx, md, &p); err != nil {
			fields := fieldErrors(err, "idp_metadata_url")
			if mdInput != "idp_metadata_url" {
				fields = map[string]string{mdInput: fields["idp_metadata_url"]}
			}
			h.refused(w, r, s, err, withOpen(d, source), fields)
			return
		}
	}
	if _, err := h.cfg.Directory.UpdateConnection(ctx, env, orgID, connID, roster.ConnectionPatch{SAML: &p}); err != nil {
		fields := fieldErrors(err, "idp_metadata_url", "idp_entity_id", "idp_sso_url", "idp_certificate", "idp_name_id_format", "idp_sso_request_binding")
		if mdInput != "" && mdInput != "idp_metadata_url" {
			fields[mdInput] = fields["idp_metadata_url"]
		}
		if source != "manual" { // the metadata's own values were refused: say so beside the metadata
			for _, k := range []string{"idp_entity_id", "idp_sso_url", "idp_certificate"} {
				if fields[k] != "" && fields[mdInput] == "" {
					fields[mdInput] = fields[k]
				}
			}
		}
		h.refused(w, r, s, err, withOpen(d, source), fields)
		return
	}
	h.connDone(w, r, "saml")
}

func withOpen(d *connectionData, open string) *connectionData {
	d.Open = open
	return d
}

// setOIDC saves the OIDC settings (UpdateConnection with an OIDCPatch, as the API's
// oidc_config with configuration_type). The client secret is write-only: an empty field
// keeps the stored one.
func (h *Handler) setOIDC(w http.ResponseWriter, r *http.Request, s request) {
	d, err := h.stored(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := r.PostForm
	str := func(k string) *string { v := strings.TrimSpace(f.Get(k)); return &v }
	manual := f.Get("configuration_type") == "MANUAL"
	pkce, basic := f.Get("pkce_enabled") == "1", f.Get("token_auth_type") == "BASIC_AUTH"
	scopes := []string{}
	for _, sc := range f["scopes"] {
		for _, known := range oidcScopes {
			if sc == known {
				scopes = append(scopes, sc)
			}
		}
	}
	p := roster.OIDCPatch{Issuer: str("issuer"), DiscoveryEndpoint: str("discovery_endpoint"), AuthorizeURI: str("authorize_uri"),
		TokenURI: str("token_uri"), UserInfoURI: str("user_info_uri"), JWKSURI: str("jwks_uri"), ClientID: str("client_id"),
		Scopes: scopes, PKCE: &pkce, TokenAuthBasic: &basic, Manual: &manual}
	if secret := f.Get("client_secret"); secret != "" {
		p.ClientSecret = &secret
	}
	if _, err := h.cfg.Directory.UpdateConnection(r.Context(), h.cfg.Environment, r.PathValue("id"), r.PathValue("conn"), roster.ConnectionPatch{OIDC: &p}); err != nil {
		d.OIDC = oidcForm{Manual: manual, Issuer: *p.Issuer, DiscoveryEndpoint: *p.DiscoveryEndpoint, AuthorizeURI: *p.AuthorizeURI,
			TokenURI: *p.TokenURI, UserInfoURI: *p.UserInfoURI, JWKSURI: *p.JWKSURI, ClientID: *p.ClientID, Scopes: map[string]bool{"openid": true},
			PKCE: pkce, Basic: basic}
		for _, sc := range scopes {
			d.OIDC.Scopes[sc] = true
		}
		h.refused(w, r, s, err, d, fieldErrors(err, "issuer", "discovery_endpoint", "authorize_uri", "token_uri", "user_info_uri", "jwks_uri", "client_id", "client_secret"))
		return
	}
	h.connDone(w, r, "oidc")
}

// setConnectionEnabled is the API's EnableConnection / DisableConnection; enabling an
// incomplete connection is refused with the API's message, which names what is missing.
func (h *Handler) setConnectionEnabled(w http.ResponseWriter, r *http.Request, s request) {
	on := r.PostFormValue("enabled") == "1"
	if _, err := h.cfg.Directory.SetConnectionEnabled(r.Context(), h.cfg.Environment, r.PathValue("id"), r.PathValue("conn"), on); err != nil {
		h.refused(w, r, s, err, nil, nil)
		return
	}
	if on {
		h.connDone(w, r, "enabled")
	} else {
		h.connDone(w, r, "disabled")
	}
}

type connectionDeleteData struct {
	Org  roster.Organization
	Conn roster.Connection
}

func (h *Handler) confirmDeleteConnection(w http.ResponseWriter, r *http.Request, s request) {
	ctx, env := r.Context(), h.cfg.Environment
	o, err := h.cfg.Directory.GetOrganization(ctx, env, roster.OrganizationRef{ID: r.PathValue("id")})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	c, err := h.cfg.Directory.GetConnection(ctx, env, o.ID, r.PathValue("conn"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, http.StatusOK, "connection-delete", page{Title: "Delete connection " + c.ID, Nav: "organizations", Operator: &s.op, CSRF: s.csrf,
		Data: connectionDeleteData{Org: o, Conn: c}})
}

// deleteConnection is the API's DeleteConnection; then the organization's connections.
func (h *Handler) deleteConnection(w http.ResponseWriter, r *http.Request, s request) {
	orgID, connID := r.PathValue("id"), r.PathValue("conn")
	if err := h.cfg.Directory.DeleteConnection(r.Context(), h.cfg.Environment, orgID, connID); err != nil {
		h.fail(w, r, err)
		return
	}
	note(r, "connection.delete", connID)
	http.Redirect(w, r, Prefix+"/organizations/"+url.PathEscape(orgID)+"/connections?done=deleted", http.StatusSeeOther)
}
