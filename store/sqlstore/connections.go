package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/store"
)

const connectionColumns = `id, environment_id, organization_id, conn_type, provider, enabled, debug_enabled, ui_button_title,
	attribute_mapping, sync_profile, jit_provisioning, oidc_config, client_secret_sealed, saml_config, create_time, update_time`

// oidcConfigJSON is the stored form of an OIDC configuration; the client secret is kept
// apart, sealed, and never in this JSON.
type oidcConfigJSON struct {
	Issuer            string   `json:"issuer,omitempty"`
	DiscoveryEndpoint string   `json:"discovery_endpoint,omitempty"`
	AuthorizeURI      string   `json:"authorize_uri,omitempty"`
	TokenURI          string   `json:"token_uri,omitempty"`
	UserInfoURI       string   `json:"user_info_uri,omitempty"`
	JWKSURI           string   `json:"jwks_uri,omitempty"`
	ClientID          string   `json:"client_id,omitempty"`
	Scopes            []string `json:"scopes"`
	TokenAuthBasic    bool     `json:"token_auth_basic"`
	PKCE              bool     `json:"pkce"`
	Manual            bool     `json:"manual"`
}

// samlConfigJSON is the stored form of a SAML configuration.
type samlConfigJSON struct {
	MetadataURL       string   `json:"metadata_url,omitempty"`
	EntityID          string   `json:"entity_id,omitempty"`
	SSOURL            string   `json:"sso_url,omitempty"`
	Certificates      []string `json:"certificates"`
	NameIDFormat      string   `json:"name_id_format"`
	RequestBinding    string   `json:"request_binding"`
	SignRequests      bool     `json:"sign_requests"`
	SigningOption     string   `json:"signing_option"`
	AllowIdPInitiated bool     `json:"allow_idp_initiated"`
	DefaultRedirect   string   `json:"default_redirect_uri,omitempty"`
	ForceAuthn        bool     `json:"force_authn"`
	ClockSkewSeconds  int64    `json:"clock_skew_seconds"`
}

func connectionArgs(c roster.Connection) (mapping, oidc, saml string, err error) {
	if c.OIDC.ClientSecret != "" && c.OIDC.SecretSealed == "" {
		return "", "", "", errors.New("connection client secret must be sealed before it is stored")
	}
	o := c.OIDC
	b, err := json.Marshal(oidcConfigJSON{Issuer: o.Issuer, DiscoveryEndpoint: o.DiscoveryEndpoint, AuthorizeURI: o.AuthorizeURI,
		TokenURI: o.TokenURI, UserInfoURI: o.UserInfoURI, JWKSURI: o.JWKSURI, ClientID: o.ClientID, Scopes: nonNilSlice(o.Scopes),
		TokenAuthBasic: o.TokenAuthBasic, PKCE: o.PKCE, Manual: o.Manual})
	if err != nil {
		return "", "", "", err
	}
	sc := c.SAML
	sb, err := json.Marshal(samlConfigJSON{MetadataURL: sc.MetadataURL, EntityID: sc.EntityID, SSOURL: sc.SSOURL,
		Certificates: nonNilSlice(sc.Certificates), NameIDFormat: sc.NameIDFormat, RequestBinding: sc.RequestBinding,
		SignRequests: sc.SignRequests, SigningOption: sc.SigningOption, AllowIdPInitiated: sc.AllowIdPInitiated,
		DefaultRedirect: sc.DefaultRedirectURI, ForceAuthn: sc.ForceAuthn, ClockSkewSeconds: int64(sc.ClockSkew / time.Second)})
	if err != nil {
		return "", "", "", err
	}
	return jsonText(nonNil(c.AttributeMapping)), string(b), string(sb), nil
}

// CreateConnection stores a new connection of an existing organization.
func (s *Store) CreateConnection(ctx context.Context, c roster.Connection) error {
	seq, ok := roster.IDNumber(c.ID, roster.PrefixConnection)
	if !ok {
		return fmt.Errorf("malformed connection id %q", c.ID)
	}
	mapping, oidc, saml, err := connectionArgs(c)
	if err != nil {
		return err
	}
	return s.inOtherTx(ctx, func(tx txConn) error {
		// The organization's row lock makes concurrent creates count one after another.
		if _, err := getOrganization(ctx, tx, c.EnvironmentID, roster.OrganizationRef{ID: c.OrganizationID}, s.dialect.RowLock()); err != nil {
			return err
		}
		if err := underCap(ctx, tx, `connections`, c.OrganizationID, roster.MaxConnectionsPerOrganization, "connections"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO connections (`+connectionColumns+`, seq)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
			c.ID, c.EnvironmentID, c.OrganizationID, string(c.Type), c.Provider, c.Enabled, c.DebugEnabled, c.UIButtonTitle,
			mapping, c.SyncProfile, c.JITProvisioning, oidc, c.OIDC.SecretSealed, saml, micros(c.CreateTime), micros(c.UpdateTime), seq)
		if err != nil {
			return err
		}
		return s.recordEvents(ctx, tx, connectionEvent(roster.EventConnectionCreated, c, c.CreateTime, nil))
	})
}

// GetConnection returns one connection of the environment.
func (s *Store) GetConnection(ctx context.Context, environmentID, id string) (roster.Connection, error) {
	return getConnection(ctx, s.read, environmentID, id, "")
}

func getConnection(ctx context.Context, q querier, environmentID, id, suffix string) (roster.Connection, error) {
	c, err := scanConnection(q.QueryRowContext(ctx, `SELECT `+connectionColumns+` FROM connections WHERE environment_id = $1 AND id = $2`+suffix, environmentID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, notFound("connection")
	}
	return c, err
}

// ListConnections returns the connections that q selects, oldest first.
func (s *Store) ListConnections(ctx context.Context, environmentID string, q store.ConnectionQuery) ([]roster.Connection, error) {
	query := `SELECT ` + connectionColumns + ` FROM connections WHERE environment_id = $1`
	args := []any{environmentID}
	switch {
	case q.OrganizationID != "":
		query += ` AND organization_id = $2`
		args = append(args, q.OrganizationID)
	case q.Domain != "":
		query += ` AND organization_id IN (SELECT organization_id FROM domains WHERE environment_id = $1 AND name = $2)`
		args = append(args, q.Domain)
	}
	query += ` ORDER BY seq`
	if q.Limit > 0 {
		args = append(args, q.Limit+1)
		query += fmt.Sprintf(` LIMIT $%d`, len(args))
	}
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []roster.Connection{}
	for rows.Next() {
		c, err := scanConnection(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// UpdateConnection applies update to a connection in one transaction.
func (s *Store) UpdateConnection(ctx context.Context, environmentID, id string, update func(*roster.Connection) error) (roster.Connection, error) {
	var out roster.Connection
	err := s.inOtherTx(ctx, func(tx txConn) error {
		c, err := getConnection(ctx, tx, environmentID, id, s.dialect.RowLock())
		if err != nil {
			return err
		}
		before := c
		before.AttributeMapping = maps.Clone(c.AttributeMapping)
		before.OIDC.Scopes, before.SAML.Certificates = slices.Clone(c.OIDC.Scopes), slices.Clone(c.SAML.Certificates)
		if err := update(&c); err != nil {
			return err
		}
		mapping, oidc, saml, err := connectionArgs(c)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE connections SET provider = $1, enabled = $2, debug_enabled = $3, ui_button_title = $4,
			attribute_mapping = $5, sync_profile = $6, jit_provisioning = $7, oidc_config = $8, client_secret_sealed = $9,
			saml_config = $10, update_time = $11 WHERE id = $12`,
			c.Provider, c.Enabled, c.DebugEnabled, c.UIButtonTitle, mapping, c.SyncProfile, c.JITProvisioning, oidc,
			c.OIDC.SecretSealed, saml, micros(c.UpdateTime), c.ID)
		if err != nil {
			return err
		}
		out = c
		changed := roster.ConnectionChanges(before, c)
		if len(changed) == 0 {
			return nil
		}
		typ := toggledType(before.Enabled, c.Enabled, roster.EventConnectionUpdated, roster.EventConnectionEnabled, roster.EventConnectionDisabled)
		return s.recordEvents(ctx, tx, connectionEvent(typ, c, c.UpdateTime, changed))
	})
	return out, err
}

// DeleteConnection removes a connection; identities and sign-ins in progress go with it.
func (s *Store) DeleteConnection(ctx context.Context, environmentID, id string) error {
	return s.inTx(ctx, func(tx txConn) error {
		c, err := getConnection(ctx, tx, environmentID, id, s.dialect.RowLock())
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM connections WHERE environment_id = $1 AND id = $2`, environmentID, id); err != nil {
			return err
		}
		return s.recordEvents(ctx, tx, connectionEvent(roster.EventConnectionDeleted, c, time.Now().UTC(), nil))
	})
}

func scanConnection(row interface{ Scan(...any) error }) (roster.Connection, error) {
	var c roster.Connection
	var typ, mapping, oidc, saml string
	var created, updated int64
	if err := row.Scan(&c.ID, &c.EnvironmentID, &c.OrganizationID, &typ, &c.Provider, &c.Enabled, &c.DebugEnabled,
		&c.UIButtonTitle, &mapping, &c.SyncProfile, &c.JITProvisioning, &oidc, &c.OIDC.SecretSealed, &saml, &created, &updated); err != nil {
		return c, err
	}
	var sc samlConfigJSON
	if err := json.Unmarshal([]byte(saml), &sc); err != nil {
		return c, fmt.Errorf("connection %s: %w", c.ID, err)
	}
	var o oidcConfigJSON
	if err := json.Unmarshal([]byte(oidc), &o); err != nil {
		return c, fmt.Errorf("connection %s: %w", c.ID, err)
	}
	if err := json.Unmarshal([]byte(mapping), &c.AttributeMapping); err != nil {
		return c, fmt.Errorf("connection %s: %w", c.ID, err)
	}
	sealed := c.OIDC.SecretSealed
	c.OIDC = roster.OIDCConfig{Issuer: o.Issuer, DiscoveryEndpoint: o.DiscoveryEndpoint, AuthorizeURI: o.AuthorizeURI,
		TokenURI: o.TokenURI, UserInfoURI: o.UserInfoURI, JWKSURI: o.JWKSURI, ClientID: o.ClientID, SecretSealed: sealed,
		Scopes: o.Scopes, TokenAuthBasic: o.TokenAuthBasic, PKCE: o.PKCE, Manual: o.Manual}
	c.SAML = roster.SAMLConfig{MetadataURL: sc.MetadataURL, EntityID: sc.EntityID, SSOURL: sc.SSOURL, Certificates: sc.Certificates,
		NameIDFormat: sc.NameIDFormat, RequestBinding: sc.RequestBinding, SignRequests: sc.SignRequests, SigningOption: sc.SigningOption,
		AllowIdPInitiated: sc.AllowIdPInitiated, DefaultRedirectURI: sc.DefaultRedirect, ForceAuthn: sc.ForceAuthn, ClockSkew: time.Duration(sc.ClockSkewSeconds) * time.Second}
	c.Type = roster.ConnectionType(typ)
	c.CreateTime, c.UpdateTime = fromMicros(created), fromMicros(updated)
	return c, nil
}

// underCap refuses a new row of table for an organization that already has max of them. The
// caller holds the organization's row lock, so that concurrent creates count in turn.
func underCap(ctx context.Context, tx txConn, table, organizationID string, max int, plural string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+` WHERE organization_id = $1`, organizationID).Scan(&n); err != nil {
		return err
	}
	if n >= max {
		return roster.CapReached("organization", "organization_id", plural, n, max)
	}
	return nil
}

const domainColumns = `id, environment_id, organization_id, name, domain_type, create_time, update_time`

// CreateDomain stores a domain of an existing organization.
func (s *Store) CreateDomain(ctx context.Context, d roster.Domain) error {
	seq, ok := roster.IDNumber(d.ID, roster.PrefixDomain)
	if !ok {
		return fmt.Errorf("malformed domain id %q", d.ID)
	}
	return s.inOtherTx(ctx, func(tx txConn) error {
		if _, err := getOrganization(ctx, tx, d.EnvironmentID, roster.OrganizationRef{ID: d.OrganizationID}, s.dialect.RowLock()); err != nil {
			return err
		}
		if err := underCap(ctx, tx, `domains`, d.OrganizationID, roster.MaxDomainsPerOrganization, "domains"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO domains (`+domainColumns+`, seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			d.ID, d.EnvironmentID, d.OrganizationID, d.Name, string(d.Type), micros(d.CreateTime), micros(d.UpdateTime), seq)
		if err != nil {
			return s.conflict(err, func(string) string { return d.Name })
		}
		return s.recordEvents(ctx, tx, domainEvent(roster.EventOrganizationDomainCreated, d, d.CreateTime))
	})
}

// domainEvent is an organization domain's event.
func domainEvent(typ string, d roster.Domain, at time.Time) roster.Event {
	return roster.Event{Type: typ, OccurredAt: at, EnvironmentID: d.EnvironmentID, OrganizationID: d.OrganizationID, Data: d}
}

// GetDomain returns one domain.
func (s *Store) GetDomain(ctx context.Context, environmentID, id string) (roster.Domain, error) {
	return s.oneDomain(ctx, `id`, environmentID, id)
}

// FindDomain returns the domain of a name.
func (s *Store) FindDomain(ctx context.Context, environmentID, name string) (roster.Domain, error) {
	return s.oneDomain(ctx, `name`, environmentID, name)
}

func (s *Store) oneDomain(ctx context.Context, col, environmentID, key string) (roster.Domain, error) {
	d, err := scanDomain(s.read.QueryRowContext(ctx, `SELECT `+domainColumns+` FROM domains WHERE environment_id = $1 AND `+col+` = $2`, environmentID, key))
	if errors.Is(err, sql.ErrNoRows) {
		return d, notFound("domain")
	}
	return d, err
}

// ListDomains returns an organization's domains.
func (s *Store) ListDomains(ctx context.Context, environmentID, organizationID string, typ roster.DomainType) ([]roster.Domain, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+domainColumns+` FROM domains WHERE environment_id = $1 AND organization_id = $2
		AND ($3 = '' OR domain_type = $3) ORDER BY seq`, environmentID, organizationID, string(typ))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []roster.Domain{}
	for rows.Next() {
		d, err := scanDomain(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeleteDomain removes a domain.
func (s *Store) DeleteDomain(ctx context.Context, environmentID, id string) error {
	return s.inOtherTx(ctx, func(tx txConn) error {
		// RETURNING: the domain as last shown, for the event.
		d, err := scanDomain(tx.QueryRowContext(ctx, `DELETE FROM domains WHERE environment_id = $1 AND id = $2 RETURNING `+domainColumns, environmentID, id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("domain")
		} else if err != nil {
			return err
		}
		return s.recordEvents(ctx, tx, domainEvent(roster.EventOrganizationDomainDeleted, d, time.Now().UTC()))
	})
}

func scanDomain(row interface{ Scan(...any) error }) (roster.Domain, error) {
	var d roster.Domain
	var typ string
	var created, updated int64
	if err := row.Scan(&d.ID, &d.EnvironmentID, &d.OrganizationID, &d.Name, &typ, &created, &updated); err != nil {
		return d, err
	}
	d.Type, d.CreateTime, d.UpdateTime = roster.DomainType(typ), fromMicros(created), fromMicros(updated)
	return d, nil
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // maps and slices of strings always marshal
	}
	return string(b)
}
