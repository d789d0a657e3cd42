package samlauth

import (
	"strings"
	"testing"
	"time"
)

func TestParseMetadata(t *testing.T) {
	_, certPEM, err := NewKeyPair("idp.example", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	body := strings.TrimSpace(certPEM)
	body = strings.TrimPrefix(body, "-----BEGIN CERTIFICATE-----")
	body = strings.TrimSuffix(body, "-----END CERTIFICATE-----")
	md := `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example/entity">
  <IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>` + body + `</X509Certificate></X509Data></KeyInfo></KeyDescriptor>
    <KeyDescriptor use="encryption"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>` + body + `</X509Certificate></X509Data></KeyInfo></KeyDescriptor>
    <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example/post"/>
    <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/redirect"/>
  </IDPSSODescriptor>
</EntityDescriptor>`
	idp, err := ParseMetadata([]byte(md))
	if err != nil {
		t.Fatal(err)
	}
	if idp.EntityID != "https://idp.example/entity" || idp.SSOURL != "https://idp.example/redirect" || len(idp.Certificates) != 1 {
		t.Fatalf("parsed: %+v", idp)
	}
	for name, bad := range map[string]string{
		"not XML":         "hello",
		"no IdP":          `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"></EntityDescriptor>`,
		"no certificate":  strings.ReplaceAll(strings.ReplaceAll(md, body, ""), "<X509Certificate></X509Certificate>", ""),
		"bad certificate": strings.ReplaceAll(md, body, "AAAA"),
	} {
		if _, err := ParseMetadata([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
