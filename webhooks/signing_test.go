package webhooks

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// The Standard Webhooks specification's own test vector.
func TestSignStandardWebhooksVector(t *testing.T) {
	got, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if err != nil || got != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Fatalf("Sign = %q, %v", got, err)
	}
}

func TestNewSecretIsPaddedStdBase64Of32Bytes(t *testing.T) {
	s := NewSecret()
	enc, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok || strings.Contains(enc, "_") || !strings.HasSuffix(enc, "=") {
		t.Fatalf("secret %q", s)
	}
	if key, err := base64.StdEncoding.DecodeString(enc); err != nil || len(key) != 32 {
		t.Fatalf("key of %q: %d bytes, %v", s, len(key), err)
	}
	h, err := Headers("evt_1", time.Unix(1700000000, 900e6), []byte("{}"), s)
	if err != nil || h["webhook-timestamp"][0] != "1700000000" || h["webhook-id"][0] != "evt_1" || !strings.HasPrefix(h["webhook-signature"][0], "v1,") {
		t.Fatalf("headers = %v, %v", h, err)
	}
}

func TestHeadersSignWithEverySecret(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	h, err := Headers("evt_1", time.Unix(1700000000, 0), []byte("{}"), a, b)
	if err != nil {
		t.Fatal(err)
	}
	sa, _ := Sign(a, "evt_1", 1700000000, []byte("{}"))
	sb, _ := Sign(b, "evt_1", 1700000000, []byte("{}"))
	if got := h["webhook-signature"][0]; got != sa+" "+sb {
		t.Fatalf("signature header %q", got)
	}
}
