package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

// restJSON sends a REST request with a token and decodes the answer.
func restJSON(t *testing.T, base, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestSAMLWithSimpleSAMLphp signs a user in through SimpleSAMLphp (Debian's package, a real
// SAML IdP) with the official Scalekit Node SDK as the application, then through an OIDC
// connection of another organization (e2e/node/sso/saml.test.mjs), on both backends.
func TestSAMLWithSimpleSAMLphp(t *testing.T) {
	nodeDeps(t)
	rosterBinary(t)
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			addr := freeAddr(t)
			provider := startIdP(t, "http://"+addr)
			appRedirect := "http://127.0.0.1:9/app/callback"
			srv := startServerAt(t, addr, backendArgs(t, backend),
				"ROSTER_BOOTSTRAP_CLIENT_ID="+bootstrapClientID,
				"ROSTER_BOOTSTRAP_CLIENT_SECRET="+bootstrapClientSecret,
				"ROSTER_BOOTSTRAP_REDIRECT_URIS="+appRedirect)
			_, token := tokenRequest(t, srv.URL, bootstrapClientID, bootstrapClientSecret)

			// The SAML connection comes first: its ACS URL and entity ID are what the IdP's
			// administrator registers, so SimpleSAMLphp is configured from them.
			status, res := restJSON(t, srv.URL, token, "POST", "/api/v1/organizations", `{"display_name": "SAML Co"}`)
			if status != 200 {
				t.Fatalf("create organization: %d %v", status, res)
			}
			org := res["organization"].(map[string]any)["id"].(string)
			status, res = restJSON(t, srv.URL, token, "POST", "/api/v1/organizations/"+org+"/connections", `{"provider": "OKTA", "type": "SAML"}`)
			if status != 200 {
				t.Fatalf("create connection: %d %v", status, res)
			}
			conn := res["connection"].(map[string]any)
			sc := conn["saml_config"].(map[string]any)
			idp := startSimpleSAMLphp(t, sc["sp_entity_id"].(string), sc["sp_assertion_url"].(string), samlUser{
				NameID: "grace@moved-e2e.test",
				Attributes: map[string][]string{
					"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname":    {"Grace"},
					"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname":      {"Hopper"},
					"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress": {"grace@moved-e2e.test"},
					"department":     {"R&D"},
					"employeeNumber": {"1815"},
					"groups":         {"Admins", "Staff"},
				},
			})

			runNodeSuite(t, srv, "sso/saml.test.mjs",
				"APP_REDIRECT_URI="+appRedirect,
				"SAML_ORG_ID="+org,
				"SAML_CONNECTION_ID="+conn["id"].(string),
				"SAML_IDP_METADATA_URL="+idp.MetadataURL,
				"IDP_URL="+provider.URL,
				"IDP_CLIENT_ID="+idpClientID,
				"IDP_CLIENT_SECRET="+idpClientSecret,
			)
			srv.stop(t)
			srv.checkLogsFree(t, "client secret", bootstrapClientSecret)
		})
	}
}
