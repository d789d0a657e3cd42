package directory

import (
	"context"
	"net/url"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/outbound"
	"github.com/rosterhq/roster/samlauth"
)

// WithOutbound fetches what Roster reads from other servers on an administrator's word (a SAML
// IdP's metadata URL) through g (docs/outbound.md); without it, production's rule: private
// networks refused.
func WithOutbound(g *outbound.Guard) Option { return func(s *Service) { s.outbound = g } }

// metadataField is the field of UpdateConnection that takes an IdP's metadata.
const metadataField = "connection.saml_config.idp_metadata_url"

// ReadSAMLMetadata reads an IdP's SAML metadata into p, the one rule of every entry point
// (the API's idp_metadata_url, the dashboard's metadata URL and pasted XML): md is either
// the metadata XML itself (it starts with "<") or an http(s) URL fetched through the
// service's outbound guard. It fills the IdP's entity ID and SSO URL where p does not set
// them already, and replaces the certificates with the metadata's; MetadataURL records the
// URL ("" for pasted XML). An empty md changes nothing; pasted XML is bounded like a fetched
// document (outbound.DefaultMaxBody). A URL that is not http(s), a fetch
// refused or failed, or a document that is not IdP metadata is a violation of
// connection.saml_config.idp_metadata_url (the fetch's refusals all read alike: nothing of
// what was, or was not, listening there).
func (s *Service) ReadSAMLMetadata(ctx context.Context, md string, p *roster.SAMLPatch) error {
	if md == "" {
		return nil
	}
	var idp samlauth.IdP
	var err error
	if strings.HasPrefix(strings.TrimSpace(md), "<") {
		// The bound of a fetched document holds for a pasted one (the API's messages are
		// smaller anyway; the dashboard's form bodies are not).
		if len(md) > outbound.DefaultMaxBody {
			return invalid(metadataField, "string.max_len=1MiB", "the metadata XML must be at most 1 MiB")
		}
		idp, err = samlauth.ParseMetadata([]byte(md))
		p.MetadataURL = new(string)
	} else {
		if u, perr := url.Parse(md); perr != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return invalid(metadataField, "uri", "must be an http(s) URL or the metadata XML")
		}
		idp, err = samlauth.FetchMetadata(ctx, s.outbound, md)
		p.MetadataURL = &md
	}
	if err != nil {
		return invalid(metadataField, "saml_metadata", err.Error())
	}
	if p.EntityID == nil {
		p.EntityID = &idp.EntityID
	}
	if p.SSOURL == nil {
		p.SSOURL = &idp.SSOURL
	}
	p.Certificates = idp.Certificates
	return nil
}
