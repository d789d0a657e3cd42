package api_test

import (
	"context"
	"fmt"
	"testing"

	"connectrpc.com/connect"
	orgsv1 "github.com/rosterhq/roster/gen/scalekit/v1/organizations"
	"github.com/rosterhq/roster/gen/scalekit/v1/organizations/organizationsconnect"
	"github.com/rosterhq/roster/internal/rostertest"
)

// Hot-path benchmarks through the whole server (HTTP/2 h2c, gRPC protocol, auth, handler,
// store) on each backend, as the Scalekit SDKs call it. Run: make bench.

func benchClient(b *testing.B, backend string) (organizationsconnect.OrganizationServiceClient, *rostertest.Roster) {
	r := rostertest.Start(b, backend)
	return organizationsconnect.NewOrganizationServiceClient(h2cClient(), r.URL, connect.WithGRPC(), connect.WithInterceptors(bearer(r.Token(b)))), r
}

// BenchmarkTokenVerify measures the token check of every API call, for a token the node has
// verified before (the SDKs reuse their token); BenchmarkVerifySignature in package oauth
// measures the first check.
func BenchmarkTokenVerify(b *testing.B) {
	r := rostertest.Start(b, "sqlite")
	token := r.Token(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Tokens.Verify(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCreateOrganization(b *testing.B) {
	for _, backend := range rostertest.Backends {
		b.Run(backend, func(b *testing.B) {
			c, _ := benchClient(b, backend)
			ctx := context.Background()
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				i++
				ext := fmt.Sprintf("bench-%d", i)
				if _, err := c.CreateOrganization(ctx, connect.NewRequest(&orgsv1.CreateOrganizationRequest{
					Organization: &orgsv1.CreateOrganization{DisplayName: "Bench", ExternalId: &ext, Metadata: map[string]string{"plan": "gold"}},
				})); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkGetOrganization(b *testing.B) {
	for _, backend := range rostertest.Backends {
		c, _ := benchClient(b, backend)
		ctx := context.Background()
		ext := "bench-get"
		created, err := c.CreateOrganization(ctx, connect.NewRequest(&orgsv1.CreateOrganizationRequest{
			Organization: &orgsv1.CreateOrganization{DisplayName: "Bench", ExternalId: &ext},
		}))
		if err != nil {
			b.Fatal(err)
		}
		for name, req := range map[string]*orgsv1.GetOrganizationRequest{
			"by_id":          {Identities: &orgsv1.GetOrganizationRequest_Id{Id: created.Msg.GetOrganization().GetId()}},
			"by_external_id": {Identities: &orgsv1.GetOrganizationRequest_ExternalId{ExternalId: ext}},
		} {
			b.Run(backend+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.GetOrganization(ctx, connect.NewRequest(req)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkGetOrganizationParallel measures throughput with concurrent callers.
func BenchmarkGetOrganizationParallel(b *testing.B) {
	for _, backend := range rostertest.Backends {
		b.Run(backend, func(b *testing.B) {
			c, _ := benchClient(b, backend)
			ctx := context.Background()
			created, err := c.CreateOrganization(ctx, connect.NewRequest(&orgsv1.CreateOrganizationRequest{Organization: &orgsv1.CreateOrganization{DisplayName: "Bench"}}))
			if err != nil {
				b.Fatal(err)
			}
			req := &orgsv1.GetOrganizationRequest{Identities: &orgsv1.GetOrganizationRequest_Id{Id: created.Msg.GetOrganization().GetId()}}
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.GetOrganization(ctx, connect.NewRequest(req)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
