package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts a signing secret: "whsec_" + standard base64, with padding, of 32
// random bytes (docs/events.md section 4: the SDKs split on "_" and decode part [1]
// strictly).
const SecretPrefix = "whsec_"

// NewSecret returns a fresh signing secret.
func NewSecret() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand never fails (Go 1.24)
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

func secretKey(secret string) ([]byte, error) {
	enc, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, errors.New("signing secret without whsec_ prefix")
	}
	return base64.StdEncoding.DecodeString(enc)
}

// Sign returns the webhook-signature of a message: "v1," + base64 of
// HMAC-SHA256(key, id + "." + timestamp + "." + body).
func Sign(secret, id string, timestamp int64, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(timestamp, 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Headers returns the headers of one delivery attempt at time at, signed afresh with each
// secret (space-separated "v1,…" signatures: the SDKs accept a message when any matches, so a
// rotation can sign with the old and the new secret). Names are set lower case directly in
// the map (Header.Set would send "Webhook-Id", which the Python SDK does not find).
func Headers(id string, at time.Time, body []byte, secrets ...string) (http.Header, error) {
	ts := at.Unix()
	sigs := make([]string, len(secrets))
	for i, secret := range secrets {
		sig, err := Sign(secret, id, ts, body)
		if err != nil {
			return nil, err
		}
		sigs[i] = sig
	}
	return http.Header{
		"webhook-id":        {id},
		"webhook-timestamp": {strconv.FormatInt(ts, 10)},
		"webhook-signature": {strings.Join(sigs, " ")},
		"Content-Type":      {"application/json"},
		"User-Agent":        {"Roster-Webhooks/1"},
	}, nil
}
