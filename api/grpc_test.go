package api_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"github.com/rosterhq/roster/gen/scalekit/v1/errdetails"
	orgsv1 "github.com/rosterhq/roster/gen/scalekit/v1/organizations"
	"github.com/rosterhq/roster/gen/scalekit/v1/organizations/organizationsconnect"
	"github.com/rosterhq/roster/internal/rostertest"
	"golang.org/x/net/http2"
)

// h2cClient speaks HTTP/2 with prior knowledge over plain TCP, as the Scalekit Node SDK does.
func h2cClient() *http.Client {
	return &http.Client{Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
}

func bearer(token string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if token != "" {
				req.Header().Set("Authorization", "Bearer "+token)
			}
			return next(ctx, req)
		}
	}
}

func errorInfoOf(t *testing.T, err error) *errdetails.ErrorInfo {
	t.Helper()
	var ce *connect.Error
	if !errors.As(err, &ce) {
		t.Fatalf("not a connect error: %v", err)
	}
	for _, d := range ce.Details() {
		v, derr := d.Value()
		if derr != nil {
			continue
		}
		if info, ok := v.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	t.Fatalf("no ErrorInfo in %v", err)
	return nil
}

func TestGRPCOverH2C(t *testing.T) {
	forEachBackend(t, func(t *testing.T, r *rostertest.Roster, token string) {
		ctx := context.Background()
		anon := organizationsconnect.NewOrganizationServiceClient(h2cClient(), r.URL, connect.WithGRPC())
		_, err := anon.GetOrganization(ctx, connect.NewRequest(&orgsv1.GetOrganizationRequest{Identities: &orgsv1.GetOrganizationRequest_Id{Id: "org_1"}}))
		if connect.CodeOf(err) != connect.CodeUnauthenticated || errorInfoOf(t, err).GetErrorCode() != "UNAUTHENTICATED" {
			t.Fatalf("without a token: %v", err)
		}
		bad := organizationsconnect.NewOrganizationServiceClient(h2cClient(), r.URL, connect.WithGRPC(), connect.WithInterceptors(bearer("not.a.jwt")))
		if _, err := bad.GetOrganization(ctx, connect.NewRequest(&orgsv1.GetOrganizationRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("with a garbage token: %v", err)
		}

		c := organizationsconnect.NewOrganizationServiceClient(h2cClient(), r.URL, connect.WithGRPC(), connect.WithInterceptors(bearer(token)))
		ext := "CUST-12345-ACME"
		created, err := c.CreateOrganization(ctx, connect.NewRequest(&orgsv1.CreateOrganizationRequest{
			Organization: &orgsv1.CreateOrganization{DisplayName: "Acme Corporation", ExternalId: &ext},
		}))
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.GetOrganization(ctx, connect.NewRequest(&orgsv1.GetOrganizationRequest{Identities: &orgsv1.GetOrganizationRequest_ExternalId{ExternalId: ext}}))
		if err != nil || got.Msg.GetOrganization().GetId() != created.Msg.GetOrganization().GetId() {
			t.Fatalf("get by external id: %v %v", got, err)
		}

		newExt := "NEW-CUST-12345-ACME"
		upd, err := c.UpdateOrganization(ctx, connect.NewRequest(&orgsv1.UpdateOrganizationRequest{
			Identities:   &orgsv1.UpdateOrganizationRequest_ExternalId{ExternalId: ext},
			Organization: &orgsv1.UpdateOrganization{ExternalId: &newExt},
		}))
		if err != nil || upd.Msg.GetOrganization().GetExternalId() != newExt || upd.Msg.GetOrganization().GetDisplayName() != "Acme Corporation" {
			t.Fatalf("update by external id: %v %v", upd, err)
		}

		_, err = c.CreateOrganization(ctx, connect.NewRequest(&orgsv1.CreateOrganizationRequest{Organization: &orgsv1.CreateOrganization{DisplayName: ""}}))
		info := errorInfoOf(t, err)
		if connect.CodeOf(err) != connect.CodeInvalidArgument || info.GetErrorCode() != "INVALID_ARGUMENT" ||
			info.GetValidationErrorInfo().GetFieldViolations()[0].GetField() != "organization.display_name" {
			t.Fatalf("invalid create: %v / %v", err, info)
		}
		_, err = c.CreateOrganization(ctx, connect.NewRequest(&orgsv1.CreateOrganizationRequest{}))
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Fatalf("missing organization: %v", err)
		}
		_, err = c.GetOrganization(ctx, connect.NewRequest(&orgsv1.GetOrganizationRequest{Identities: &orgsv1.GetOrganizationRequest_Id{Id: "org_404"}}))
		if connect.CodeOf(err) != connect.CodeNotFound || errorInfoOf(t, err).GetErrorCode() != "NOT_FOUND" {
			t.Fatalf("missing org: %v", err)
		}
		if _, err := c.DeleteOrganization(ctx, connect.NewRequest(&orgsv1.DeleteOrganizationRequest{Identities: &orgsv1.DeleteOrganizationRequest_Id{Id: created.Msg.GetOrganization().GetId()}})); err != nil {
			t.Fatal(err)
		}
	})
}

// The same handler also answers the Connect protocol and gRPC-Web over HTTP/1.1.
func TestConnectAndGRPCWeb(t *testing.T) {
	r := rostertest.Start(t, "sqlite")
	token := r.Token(t)
	for name, opt := range map[string]connect.ClientOption{"connect": connect.WithProtoJSON(), "grpcweb": connect.WithGRPCWeb()} {
		c := organizationsconnect.NewOrganizationServiceClient(http.DefaultClient, r.URL, opt, connect.WithInterceptors(bearer(token)))
		res, err := c.CreateOrganization(context.Background(), connect.NewRequest(&orgsv1.CreateOrganizationRequest{
			Organization: &orgsv1.CreateOrganization{DisplayName: "Via " + name},
		}))
		if err != nil || res.Msg.GetOrganization().GetDisplayName() != "Via "+name {
			t.Fatalf("%s: %v", name, err)
		}
	}
}
