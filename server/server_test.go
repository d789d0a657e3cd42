package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	orgsv1 "github.com/rosterhq/roster/gen/scalekit/v1/organizations"
	"github.com/rosterhq/roster/gen/scalekit/v1/organizations/organizationsconnect"
	"github.com/rosterhq/roster/internal/rostertest"
)

// selfSigned returns a server certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "roster test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// With TLS, gRPC runs over h2 (ALPN) and the token endpoint over HTTP/1.1, on one port.
func TestTLSServesGRPCOverH2(t *testing.T) {
	cert, pool := selfSigned(t)
	// The token request goes over HTTP/1.1, as the SDK's axios sends it.
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
	r := rostertest.Start(t, "sqlite", rostertest.WithTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, h1))
	token := r.Token(t)

	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	c := organizationsconnect.NewOrganizationServiceClient(h2, r.URL, connect.WithGRPC(),
		connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set("Authorization", "Bearer "+token)
				return next(ctx, req)
			}
		})))
	res, err := c.CreateOrganization(context.Background(), connect.NewRequest(&orgsv1.CreateOrganizationRequest{
		Organization: &orgsv1.CreateOrganization{DisplayName: "Over TLS"},
	}))
	if err != nil || res.Msg.GetOrganization().GetDisplayName() != "Over TLS" {
		t.Fatalf("gRPC over h2: %v", err)
	}
	resp, err := h2.Get(r.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("TLS answered %s, want HTTP/2", resp.Proto)
	}
}

// Shutdown stops accepting but lets a request that is still arriving finish.
func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	r := rostertest.Start(t, "sqlite")
	token := r.Token(t)
	body, w := io.Pipe()
	req, _ := http.NewRequest("POST", r.URL+"/api/v1/organizations", body)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		done <- result{status: res.StatusCode, body: string(b)}
	}()
	if _, err := w.Write([]byte(`{"display_name": "In `)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the request is now being read by the server
	stopped := make(chan error, 1)
	go func() { stopped <- r.Stop() }()
	time.Sleep(100 * time.Millisecond) // shutdown has begun
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(r.URL, "http://"), time.Second); err == nil {
		t.Fatal("new connections are still accepted during shutdown")
	}
	w.Write([]byte(`flight"}`))
	w.Close()
	res := <-done
	if res.err != nil || res.status != 200 || !strings.Contains(res.body, "In flight") {
		t.Fatalf("in-flight request: %+v", res)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
