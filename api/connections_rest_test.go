package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/rostertest"
)

// TestConnectionsAndDomainsREST covers the ConnectionService and DomainService over REST on
// both backends: validation of the mapping when it is saved, the secret never coming back
// and never stored in plain, domains that belong to one organization, listing by domain.
func TestConnectionsAndDomainsREST(t *testing.T) {
	for _, backend := range rostertest.Backends {
		t.Run(backend, func(t *testing.T) {
			r := rostertest.Start(t, backend)
			token := r.Token(t)
			orgID := newOrgREST(t, r, token, "Acme")
			other := newOrgREST(t, r, token, "Globex")
			defineAttribute(t, r, token, `{"key": "employee_number", "display_name": "Employee number"}`)
			base := "/api/v1/organizations/" + orgID

			// Types Roster does not serve, and unknown organizations, are refused.
			wantStatus(t, r.REST(t, token, "POST", base+"/connections", `{"provider": "OKTA", "type": "PASSWORD"}`), 400)
			wantStatus(t, r.REST(t, token, "POST", "/api/v1/organizations/org_1/connections", `{"provider": "OKTA", "type": "OIDC"}`), 404)
			res := r.REST(t, token, "POST", base+"/connections", `{"provider": "MICROSOFT_AD", "type": "OIDC"}`)
			wantStatus(t, res, 200)
			conn := obj(res.Body, "connection")
			id := conn["id"].(string)
			if !strings.HasPrefix(id, "conn_") || conn["provider"] != "MICROSOFT_AD" || conn["status"] != "DRAFT" {
				t.Fatalf("created: %s", res.Raw)
			}

			// A mapping to an undefined custom attribute, or to a role that does not exist, is
			// refused when it is saved, naming the key; nothing of the update is stored.
			res = r.REST(t, token, "PATCH", base+"/connections/"+id, `{"oidc_config": {"client_id": "abc"},
				"attribute_mapping": {"shoe_size": "shoe", "given_name": "givenName"}}`)
			wantStatus(t, res, 400)
			if !strings.Contains(res.Raw, "connection.attribute_mapping.shoe_size") || !strings.Contains(res.Raw, "define it first") {
				t.Fatalf("undefined attribute: %s", res.Raw)
			}
			res = r.REST(t, token, "PATCH", base+"/connections/"+id, `{"attribute_mapping": {"group:Eng": "no_such_role"}}`)
			wantStatus(t, res, 400)
			if !strings.Contains(res.Raw, "no_such_role") {
				t.Fatalf("unknown role: %s", res.Raw)
			}
			res = r.REST(t, token, "PATCH", base+"/connections/"+id, `{"oidc_config": {"issuer": "not a url"}}`)
			wantStatus(t, res, 400)
			if !strings.Contains(res.Raw, "connection.oidc_config.issuer") {
				t.Fatalf("bad issuer: %s", res.Raw)
			}
			res = r.REST(t, token, "GET", base+"/connections/"+id, "")
			if cfg := obj(res.Body, "connection", "oidc_config"); cfg["client_id"] != nil || len(obj(res.Body, "connection", "attribute_mapping")) != 0 {
				t.Fatalf("a refused update was stored: %s", res.Raw)
			}

			const secret = "provider-secret-0a9f7c2e"
			res = r.REST(t, token, "PATCH", base+"/connections/"+id, `{"oidc_config": {"issuer": "https://login.example.com/tenant/v2.0",
				"client_id": "abc", "client_secret": "`+secret+`", "token_auth_type": "BASIC_AUTH", "pkce_enabled": false},
				"attribute_mapping": {"custom_attributes.employee_number": "employeeId", "given_name": "givenName", "group:Eng": "member"}}`)
			wantStatus(t, res, 200)
			cfg := obj(res.Body, "connection", "oidc_config")
			if strings.Contains(res.Raw, secret) || cfg["client_secret"] != nil || cfg["token_auth_type"] != "BASIC_AUTH" ||
				cfg["pkce_enabled"] != false || obj(res.Body, "connection")["status"] != "COMPLETED" {
				t.Fatalf("configured: %s", res.Raw)
			}
			// Stored sealed, never in plain.
			env, err := r.Directory.DefaultEnvironment(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			stored, err := r.Store.GetConnection(context.Background(), env.ID, id)
			if err != nil || !strings.HasPrefix(stored.OIDC.SecretSealed, "v1.") || strings.Contains(stored.OIDC.SecretSealed, secret) {
				t.Fatalf("stored secret: %v %q", err, stored.OIDC.SecretSealed)
			}
			if got, err := r.Directory.ConnectionSecret(stored); err != nil || got != secret {
				t.Fatalf("the sealed secret does not open: %v", err)
			}

			// Enable, disable; a connection of another organization is not found through this one.
			wantStatus(t, r.REST(t, token, "PATCH", base+"/connections/"+id+":enable", ""), 200)
			wantStatus(t, r.REST(t, token, "GET", "/api/v1/organizations/"+other+"/connections/"+id, ""), 404)
			res = r.REST(t, token, "PATCH", base+"/connections/"+id+":disable", "")
			wantStatus(t, res, 200)
			if res.Body["enabled"] != false {
				t.Fatalf("disable: %s", res.Raw)
			}

			// Domains: one organization per domain; public email domains refused; list, get, delete.
			res = r.REST(t, token, "POST", base+"/domains", `{"domain": "Acme.COM"}`)
			wantStatus(t, res, 200)
			dom := obj(res.Body, "domain")
			if dom["domain"] != "acme.com" || dom["domain_type"] != "ORGANIZATION_DOMAIN" || dom["verification_status"] != "VERIFIED" {
				t.Fatalf("domain: %s", res.Raw)
			}
			wantStatus(t, r.REST(t, token, "POST", "/api/v1/organizations/"+other+"/domains", `{"domain": "acme.com"}`), 409)
			wantStatus(t, r.REST(t, token, "POST", base+"/domains", `{"domain": "gmail.com"}`), 400)
			wantStatus(t, r.REST(t, token, "POST", base+"/domains", `{"domain": "not a domain"}`), 400)
			res = r.REST(t, token, "GET", base+"/domains", "")
			wantStatus(t, res, 200)
			if ds := res.Body["domains"].([]any); len(ds) != 1 {
				t.Fatalf("list: %s", res.Raw)
			}
			res = r.REST(t, token, "GET", "/api/v1/connections?domain=acme.com", "")
			wantStatus(t, res, 200)
			list := res.Body["connections"].([]any)
			if len(list) != 1 || obj(list[0])["id"] != id || obj(list[0])["organization_name"] != "Acme" ||
				obj(list[0])["domains"].([]any)[0] != "acme.com" {
				t.Fatalf("connections by domain: %s", res.Raw)
			}
			domID := dom["id"].(string)
			wantStatus(t, r.REST(t, token, "GET", "/api/v1/organizations/"+other+"/domains/"+domID, ""), 404)
			wantStatus(t, r.REST(t, token, "DELETE", base+"/domains/"+domID, ""), 200)
			wantStatus(t, r.REST(t, token, "GET", base+"/domains/"+domID, ""), 404)

			// Deleting the connection; then it is gone.
			wantStatus(t, r.REST(t, token, "DELETE", base+"/connections/"+id, ""), 200)
			wantStatus(t, r.REST(t, token, "GET", base+"/connections/"+id, ""), 404)
		})
	}
}
