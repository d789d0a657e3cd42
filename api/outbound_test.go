package api_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rosterhq/roster/internal/rostertest"
	"github.com/rosterhq/roster/internal/samltest"
	"github.com/rosterhq/roster/outbound"
)

const metadataRefused = "could not fetch the SAML metadata from the identity provider"

// samlMetadataURL sets a SAML connection's metadata URL and returns the answer.
func samlMetadataURL(t *testing.T, r *rostertest.Roster, token, base, id, u string) rostertest.Response {
	t.Helper()
	return r.REST(t, token, "PATCH", base+"/connections/"+id, fmt.Sprintf(`{"saml_config": {"idp_metadata_url": %q}}`, u))
}

// wantMetadataRefused checks the uniform refusal: 400 on the metadata URL field, and nothing
// of what was (or was not) listening there.
func wantMetadataRefused(t *testing.T, res rostertest.Response, what string) string {
	t.Helper()
	if res.Status != 400 || !strings.Contains(res.Raw, "connection.saml_config.idp_metadata_url") || !strings.Contains(res.Raw, metadataRefused) {
		t.Fatalf("%s: %d %s, want 400 with %q", what, res.Status, res.Raw, metadataRefused)
	}
	for _, leak := range []string{"refused", "timeout", "dial", "HTTP ", "EOF", "not allowed", "XML", "metrics"} {
		if strings.Contains(strings.ReplaceAll(res.Raw, metadataRefused, ""), leak) {
			t.Fatalf("%s: the answer tells %q: %s", what, leak, res.Raw)
		}
	}
	return requestID.ReplaceAllString(res.Raw, "")
}

var requestID = regexp.MustCompile(`"request_id":"[^"]*"`)

func closedLoopbackPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestSAMLMetadataURLCannotReachInternalAddresses: with production's rule, a metadata URL at
// Roster's own /metrics, at any loopback port open or closed, at the cloud metadata address
// or at IPv6 loopback is refused with one and the same error, and nothing is fetched.
func TestSAMLMetadataURLCannotReachInternalAddresses(t *testing.T) {
	var hits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	defer other.Close()
	r := rostertest.Start(t, "sqlite", rostertest.WithOutbound(outbound.Options{}))
	token := r.Token(t)
	base := "/api/v1/organizations/" + newOrgREST(t, r, token, "Acme")
	res := r.REST(t, token, "POST", base+"/connections", `{"provider": "OKTA", "type": "SAML"}`)
	wantStatus(t, res, 200)
	id := obj(res.Body, "connection")["id"].(string)

	port := strings.Split(r.URL, ":")[2]
	var answers []string
	for _, u := range []string{
		r.URL + "/metrics", // Roster itself: open
		"http://" + closedLoopbackPort(t) + "/metadata", // closed
		other.URL + "/metadata",
		"http://localhost:" + port + "/metrics",
		"http://[::1]:" + port + "/metrics",
		"http://[::ffff:127.0.0.1]:" + port + "/metrics",
		"http://169.254.169.254/latest/meta-data/",
	} {
		answers = append(answers, wantMetadataRefused(t, samlMetadataURL(t, r, token, base, id, u), u))
	}
	for _, a := range answers[1:] {
		if a != answers[0] {
			t.Fatalf("answers differ by address:\n%s\n%s", answers[0], a)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("a loopback server received %d requests", hits.Load())
	}
}

// TestSAMLMetadataRedirectInward: a host the rule allows (here one test server stands for a
// public host) that redirects to a loopback address is refused at the redirect.
func TestSAMLMetadataRedirectInward(t *testing.T) {
	idp := samltest.Start(t)
	var target atomic.Value
	public := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.Load().(string), http.StatusFound)
	}))
	defer public.Close()
	allowed := netip.MustParseAddrPort(strings.TrimPrefix(public.URL, "http://"))
	r := rostertest.Start(t, "sqlite", rostertest.WithOutbound(outbound.Options{Allow: func(ap netip.AddrPort) bool { return ap == allowed }}))
	token := r.Token(t)
	base := "/api/v1/organizations/" + newOrgREST(t, r, token, "Acme")
	res := r.REST(t, token, "POST", base+"/connections", `{"provider": "OKTA", "type": "SAML"}`)
	wantStatus(t, res, 200)
	id := obj(res.Body, "connection")["id"].(string)
	for _, to := range []string{r.URL + "/metrics", idp.URL + "/metadata", "http://localhost:" + strings.Split(idp.URL, ":")[2] + "/metadata"} {
		target.Store(to)
		wantMetadataRefused(t, samlMetadataURL(t, r, token, base, id, public.URL+"/metadata"), "redirect to "+to)
	}
	// The same IdP, allowed, works: the refusal was the rule's, not the IdP's.
	r2 := rostertest.Start(t, "sqlite", rostertest.WithOutbound(outbound.Options{AllowPrivateNetworks: true}))
	token2 := r2.Token(t)
	base2 := "/api/v1/organizations/" + newOrgREST(t, r2, token2, "Acme")
	res = r2.REST(t, token2, "POST", base2+"/connections", `{"provider": "OKTA", "type": "SAML"}`)
	id2 := obj(res.Body, "connection")["id"].(string)
	target.Store(idp.URL + "/metadata")
	res = samlMetadataURL(t, r2, token2, base2, id2, public.URL+"/metadata")
	if res.Status != 200 || obj(res.Body, "connection", "saml_config")["idp_entity_id"] != idp.EntityID {
		t.Fatalf("with private networks allowed: %d %s", res.Status, res.Raw)
	}
}
