package sso

import (
	"testing"

	"github.com/rosterhq/roster"
)

// TestWorkOSConnectionType: the profile's connection_type names the provider where WorkOS's
// ConnectionType enum (@workos-inc/node 8.13.0) has a name for it, and is generic otherwise.
func TestWorkOSConnectionType(t *testing.T) {
	want := map[roster.ConnectionType]map[string]string{
		roster.ConnectionSAML: {"OKTA": "OktaSAML", "GOOGLE": "GoogleSAML", "MICROSOFT_AD": "AzureSAML", "MICROSOFT": "AzureSAML",
			"AUTH0": "Auth0SAML", "ONELOGIN": "OneLoginSAML", "PING_IDENTITY": "PingOneSAML", "JUMPCLOUD": "JumpCloudSAML",
			"ADFS": "ADFSSAML", "CUSTOM": "GenericSAML", "": "GenericSAML"},
		roster.ConnectionOIDC: {"OKTA": "GenericOIDC", "GOOGLE": "GoogleOAuth", "MICROSOFT_AD": "MicrosoftOAuth", "MICROSOFT": "MicrosoftOAuth",
			"AUTH0": "GenericOIDC", "ONELOGIN": "GenericOIDC", "PING_IDENTITY": "GenericOIDC", "JUMPCLOUD": "GenericOIDC",
			"ADFS": "GenericOIDC", "CUSTOM": "GenericOIDC", "": "GenericOIDC"},
	}
	for typ, byProvider := range want {
		if len(byProvider) != len(roster.ConnectionProviders)+1 {
			t.Fatalf("the test misses providers of %s", typ)
		}
		for _, p := range append([]string{""}, roster.ConnectionProviders...) {
			if got := workosConnectionType(typ, p); got != byProvider[p] {
				t.Errorf("%s %q: connection_type %q, want %q", typ, p, got, byProvider[p])
			}
		}
	}
}
