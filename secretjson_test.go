package roster

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSecretsLeftOutOfJSON: a generic JSON encoding of a connection or a directory secret
// (the store's plain event data, a debug log) never shows the secret, sealed or not.
func TestSecretsLeftOutOfJSON(t *testing.T) {
	c := Connection{OIDC: OIDCConfig{ClientID: "client", ClientSecret: "s3cret-value", SecretSealed: "sealed-value"}}
	d := DirectorySecret{ID: "sec_1", Hash: "hash-value"}
	for _, v := range []any{c, d} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"s3cret-value", "sealed-value", "hash-value"} {
			if strings.Contains(string(b), secret) {
				t.Fatalf("%T's JSON shows %q: %s", v, secret, b)
			}
		}
	}
}
