package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestOutboundFetchesRefusePrivateNetworks runs `roster serve` as in production (without
// --allow-private-networks): a SAML metadata URL at the server's own /metrics, or at a closed
// loopback port, is refused with the same error, and the server logs the refusal.
func TestOutboundFetchesRefusePrivateNetworks(t *testing.T) {
	srv := startServer(t, backendArgs(t, "sqlite"),
		"ROSTER_ALLOW_PRIVATE_NETWORKS=false",
		"ROSTER_BOOTSTRAP_CLIENT_ID="+bootstrapClientID,
		"ROSTER_BOOTSTRAP_CLIENT_SECRET="+bootstrapClientSecret)
	_, token := tokenRequest(t, srv.URL, bootstrapClientID, bootstrapClientSecret)
	status, res := restJSON(t, srv.URL, token, "POST", "/api/v1/organizations", `{"display_name": "Outbound Co"}`)
	if status != 200 {
		t.Fatalf("create organization: %d %v", status, res)
	}
	org := res["organization"].(map[string]any)["id"].(string)
	status, res = restJSON(t, srv.URL, token, "POST", "/api/v1/organizations/"+org+"/connections", `{"provider": "OKTA", "type": "SAML"}`)
	if status != 200 {
		t.Fatalf("create connection: %d %v", status, res)
	}
	conn := res["connection"].(map[string]any)["id"].(string)
	var messages []string
	for _, u := range []string{srv.URL + "/metrics", "http://" + freeAddr(t) + "/metadata"} {
		status, res = restJSON(t, srv.URL, token, "PATCH", "/api/v1/organizations/"+org+"/connections/"+conn,
			fmt.Sprintf(`{"saml_config": {"idp_metadata_url": %q}}`, u))
		msg, _ := res["message"].(string)
		if status != 400 || !strings.Contains(msg, "could not fetch the SAML metadata from the identity provider") {
			t.Fatalf("metadata URL %s: %d %v", u, status, res)
		}
		messages = append(messages, msg)
	}
	if messages[0] != messages[1] {
		t.Fatalf("an open and a closed port answer differently: %q, %q", messages[0], messages[1])
	}
	if !strings.Contains(srv.stderr.String(), "outbound fetch refused") {
		t.Errorf("the refusal is not in the server log:\n%s", srv.stderr)
	}
	srv.stop(t)
}
